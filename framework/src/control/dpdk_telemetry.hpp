// DpdkTelemetry: Weft's figures as commands of DPDK's telemetry library
// (rte_telemetry_register_cmd), so DPDK's own client, dpdk-telemetry.py,
// lists and reads them from a running routerd next to DPDK's /ethdev/...:
//
//   /weft/info                 version, graph, uptime, workers, reloads
//   /weft/elements             element ids
//   /weft/element,ID           one element's counters, as `routerctl stats`
//   /weft/workers              each worker's loop counters
//   /weft/ports                port name -> DPDK port id (then /ethdev/stats,ID)
//   /weft/services             service name -> class
//   /weft/service,NAME         a service's metrics
//   /weft/reloads              what reloads did
//   /weft/metrics              every metric family's name
//   /weft/metric,NAME          one family's samples (the Prometheus endpoint's)
//
// DPDK runs the callbacks on its telemetry thread. They never read the
// router's state there: each posts its work to the control thread's event
// loop and waits for the answer (at most 2 s; then the reply is null), so
// nothing is read while a reload changes it. The socket is
// RUNTIME_DIR/dpdk/PREFIX/dpdk_telemetry.v2 (docs/telemetry.md).
#pragma once

#include <utility>  // Boost 1.74 asio uses std::exchange without including it
#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>

namespace weft {

class ControlApi;
class MetricsCollector;
class Runtime;

class DpdkTelemetry {
 public:
  // Registers the commands (once per process) and answers them from now on.
  DpdkTelemetry(boost::asio::io_context& io, const Runtime& rt, ControlApi& api, MetricsCollector& metrics);
  // Stops answering (the commands stay registered: DPDK cannot remove them;
  // they reply null).
  ~DpdkTelemetry();
  DpdkTelemetry(const DpdkTelemetry&) = delete;
  DpdkTelemetry& operator=(const DpdkTelemetry&) = delete;

  // The telemetry socket of this process (empty if DPDK's telemetry is off).
  static std::string socket_path();

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace weft

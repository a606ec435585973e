// TraceSession: one `routerctl trace` — the journey of the next N packets
// (those a filter passes) through a running graph, like VPP's `trace add`.
//
// The workers do the recording (probe_path.cpp): a source marks a packet
// (a dynflag, and an id in the packet's metadata) and saves its first bytes;
// every hop of a marked packet is a record; after an element returns, a
// marked packet it neither handed on nor passed deeper was dropped (the drop
// reasons it counted in that call), held (its held_packets() grew) or
// consumed (sent on a port, absorbed). Each worker writes its own buffer and
// publishes each record with a release store; the session reads them while
// the workers run. Names are copied at start, so a trace outlives a reload.
#pragma once

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/probe.hpp"

namespace weft {

class Runtime;

class TraceSession {
 public:
  // Compiles the filter and allocates every worker's buffer; throws
  // std::invalid_argument (bad filter).
  TraceSession(Runtime& rt, uint32_t generation, uint32_t count, const std::string& filter);
  ~TraceSession();
  TraceSession(const TraceSession&) = delete;
  TraceSession& operator=(const TraceSession&) = delete;

  // Installs the trace on every worker; throws std::runtime_error (and
  // installs nothing) if a worker does not answer.
  void start();
  // Removes it from every worker; the records stay readable. Throws if a
  // worker does not answer (the buffers are then kept alive with the session).
  void stop(const std::string& why);
  bool running() const { return running_; }
  // The packets traced so far, with their journeys (docs/control-protocol.md).
  nlohmann::json view() const;

 private:
  struct NodeNames {
    std::string id, klass;
    std::vector<std::string> outputs, drops, tx_ports;
  };
  void install(bool on);

  Runtime& rt_;
  TraceShared shared_;
  std::unique_ptr<PacketFilter> filter_;
  std::vector<std::unique_ptr<TraceBuffer>> buffers_;  // per worker
  std::vector<NodeNames> nodes_;
  std::vector<unsigned> lcores_;
  double tsc_hz_ = 1;
  bool running_ = false;
  std::string state_ = "starting", why_;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace weft

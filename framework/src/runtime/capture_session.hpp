// CaptureSession: one `routerctl capture` — copies of the packets leaving
// chosen element outputs (or a port's receive or transmit side) written to a
// pcapng file, with the element and the worker in each packet's comment.
//
// The workers copy (rte_pcapng_copy, probe_path.cpp) into a ring; the control
// thread drains the ring, completes each block (its time, its comment) and
// writes it (rte_pcapng_write_packets): a worker never makes a system call.
// A capture is bounded by its count: past it the workers copy nothing more,
// the session writes what is left, removes its taps and closes the file.
// Copies that find no buffer or no room in the ring are counted as lost.
//
// DPDK 22.11's pcapng writer describes one interface per DPDK port: a port
// capture is recorded on its port, in its direction; an element capture on
// the first port, direction unknown, its element named in the comment.
#pragma once

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/probe.hpp"
#include "runtime/probe_control.hpp"

namespace weft {

class Runtime;

class CaptureSession {
 public:
  // Resolves the points against the running graph, compiles the filter,
  // creates the ring and the buffers and opens the file; throws
  // std::invalid_argument naming the mistake (nothing is left behind).
  CaptureSession(Runtime& rt, unsigned id, const CaptureOptions& o);
  ~CaptureSession();
  CaptureSession(const CaptureSession&) = delete;
  CaptureSession& operator=(const CaptureSession&) = delete;

  // Installs the taps on every worker; throws std::runtime_error (nothing
  // installed) if a worker does not answer.
  void start();
  // Writes what the workers copied so far; ends the capture once its count
  // is written (or lost).
  void drain();
  // Removes the taps, writes what is left and closes the file.
  void stop(const std::string& why);
  bool running() const { return running_; }
  unsigned id() const { return id_; }
  nlohmann::json status() const;

 private:
  struct Point {
    size_t node, output;
    uint16_t port_id;
    rte_pcapng_direction direction;
    std::string name;       // cls[web], p0 rx
    bool port_rx = false, port_tx = false;
    uint16_t queues = 1;    // the port's queues in that direction (worker w uses w % queues)
    int fixed_queue = -1;   // a receiver polling one queue
  };
  void resolve(const CaptureOptions& o);
  void install(bool on);
  void write(rte_mbuf** pkts, unsigned n);
  uint64_t lost() const;
  void release();

  Runtime& rt_;
  unsigned id_;
  CaptureOptions opts_;
  std::unique_ptr<PacketFilter> filter_;
  CaptureShared shared_;
  std::vector<Point> points_;
  std::vector<std::unique_ptr<CaptureTap[]>> taps_;  // per point, per worker
  std::vector<std::string> comments_;                // per point * worker
  size_t n_workers_ = 0;
  rte_pcapng* pcapng_ = nullptr;
  uint64_t written_ = 0;
  uint64_t tsc0_ = 0;      // TSC and wall clock (ns) at start: each copy's time is taken from its TSC
  uint64_t wall0_ns_ = 0;
  double tsc_hz_ = 1;
  bool running_ = false;
  bool stuck_ = false;     // a worker did not let go of the taps: the ring and buffers are kept
  std::string state_ = "starting", why_;
  std::chrono::steady_clock::time_point started_, ended_;
};

}  // namespace weft

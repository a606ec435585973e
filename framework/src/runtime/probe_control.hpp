// ProbeControl: the control thread's side of probes (probe.hpp) — runtime
// figures on and off, the packet trace, captures to pcapng. One per Runtime.
//
// Everything it changes on a worker goes through the worker's mailbox and
// runs between two batches; a worker that does not answer within 2 s makes
// the request fail with that message, and nothing is half-installed. A
// reload ends the trace and the captures (their elements belong to the old
// graph) and keeps the runtime figures of kept elements.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace weft {

class Runtime;
class TraceSession;
class CaptureSession;

// A capture point as routerctl names it: an element's output (all of its
// outputs when `output` is empty), or a port's receive or transmit side.
struct CapturePoint {
  std::string element, output;
  std::string port, dir;  // a port: dir "rx" (what its receivers hand on) or "tx" (what reaches its transmitters)
};

struct CaptureOptions {
  std::vector<CapturePoint> points;
  uint64_t count = 1000;
  uint32_t snaplen = 2048;
  std::string filter;  // tcpdump syntax; empty: every packet
  std::string file;    // absolute path, written by routerd
};

class ProbeControl {
 public:
  static constexpr uint32_t kMaxTrace = 10000;
  static constexpr uint64_t kMaxCapture = 100'000'000;
  static constexpr size_t kMaxCaptures = 8;  // running at once

  explicit ProbeControl(Runtime& rt);
  ~ProbeControl();
  ProbeControl(const ProbeControl&) = delete;
  ProbeControl& operator=(const ProbeControl&) = delete;

  // --- Runtime figures ---
  // Turns cycle counting on or off on every worker; throws std::runtime_error
  // if a worker does not answer.
  void set_timing(bool on);
  bool timing() const { return timing_; }
  // Zeroes every figure (on the workers, between batches).
  void clear_figures();
  // The `runtime` reply (docs/control-protocol.md).
  nlohmann::json figures() const;

  // --- Trace ---
  // Starts tracing the next `count` packets that match `filter` (replacing a
  // trace already there); throws std::invalid_argument for a bad count or filter.
  nlohmann::json start_trace(uint32_t count, const std::string& filter);
  // What the trace recorded so far (`{"state": "none"}` without one).
  nlohmann::json trace() const;
  nlohmann::json stop_trace();

  // --- Capture ---
  // Starts a capture; throws std::invalid_argument naming what is wrong.
  nlohmann::json start_capture(const CaptureOptions& o);
  // Every capture (running ones first written out as far as they got).
  nlohmann::json captures();
  nlohmann::json stop_capture(unsigned id);
  // Writes out what running captures copied; finishes those that are done.
  void poll_captures();

  // Ends the trace and every capture (a reload, or routerd stopping).
  void end_sessions(const std::string& why);

 private:
  void schedule_drain();

  Runtime& rt_;
  bool timing_ = false;
  std::chrono::steady_clock::time_point cleared_ = std::chrono::steady_clock::now();
  uint32_t trace_generation_ = 0;
  std::unique_ptr<TraceSession> trace_;
  unsigned next_capture_ = 1;
  std::map<unsigned, std::unique_ptr<CaptureSession>> captures_;
  struct Timer;
  std::unique_ptr<Timer> timer_;
};

}  // namespace weft

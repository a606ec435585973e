// FaultLog: exceptions the framework caught on the control thread, out of a
// plugin's code (a service's start, stop, status, health or command, an
// element's cleanup, a handler on the control thread's event loop). Each is
// logged once and the last few are kept for `routerctl status` (health.faults);
// the router goes on with its last good state.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "core/text.hpp"  // current_exception_text()

namespace weft {

class FaultLog {
 public:
  struct Fault {
    std::string what;
    std::chrono::steady_clock::time_point at;
  };
  static constexpr size_t kKept = 16;
  // Logs `what` (level Error) and keeps it.
  void note(std::string what);
  uint64_t count() const;
  std::vector<Fault> recent() const;  // oldest first

 private:
  mutable std::mutex mu_;
  std::deque<Fault> recent_;
  uint64_t count_ = 0;
};

// The router's one log of control-thread faults.
FaultLog& control_faults();

}  // namespace weft

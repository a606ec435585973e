#include "runtime/fault_log.hpp"

#include "weft/log.hpp"

namespace weft {

void FaultLog::note(std::string what) {
  WEFT_LOG(Error, "%s", what.c_str());
  std::lock_guard lock(mu_);
  count_++;
  recent_.push_back({std::move(what), std::chrono::steady_clock::now()});
  if (recent_.size() > kKept) recent_.pop_front();
}

uint64_t FaultLog::count() const {
  std::lock_guard lock(mu_);
  return count_;
}

std::vector<FaultLog::Fault> FaultLog::recent() const {
  std::lock_guard lock(mu_);
  return {recent_.begin(), recent_.end()};
}

FaultLog& control_faults() {
  static FaultLog log;
  return log;
}

}  // namespace weft

// weft::Counter — a 64-bit counter written by one worker lcore and read by the
// control thread. Relaxed atomics compile to a plain load/add/store on x86, so
// the fast path pays nothing, and the control thread's reads are race-free.
#pragma once

#include <atomic>
#include <cstdint>

namespace weft {

class Counter {
 public:
  void add(uint64_t n) { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  void inc() { add(1); }
  uint64_t get() const { return v_.load(std::memory_order_relaxed); }
  void set(uint64_t n) { v_.store(n, std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

}  // namespace weft

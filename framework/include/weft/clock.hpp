// weft::Clock — the framework's time, for workers and the control thread alike.
//
// The TSC, read with rte_rdtsc(), converted to nanoseconds at a frequency
// Weft measures against the kernel's CLOCK_MONOTONIC_RAW: over 20 ms when
// DPDK starts, then again every second on routerd's control thread, over a
// baseline that grows to a minute. Do not convert TSC cycles with DPDK's
// rte_get_tsc_hz(): DPDK estimates it once, over 100 ms at start-up, and a
// busy machine (a vCPU preempted at that moment) leaves it wrong by a few
// percent for the life of the process, and every rate and timeout with it.
//
//   uint64_t now = weft::Clock::now_ns();          // per batch: no system call, no lock
//   if (now >= deadline_ns) ...                    // timeouts, deadlines, rates
//   deadline_ns = now + 30 * weft::Clock::kNsPerSecond;
//
// now_ns() counts nanoseconds on the clock's own timeline (about 0 when DPDK
// started; not comparable with other clocks). It is monotonic and continuous:
// a recalibration changes how fast it runs from the moment it is published,
// never the time already reached, so nothing that runs on it (a token bucket,
// a deadline) sees time jump forward or back.
//
// hz() is the TSC frequency as last calibrated, for code that must count in
// TSC cycles; it changes slightly at each calibration (calibrations() counts
// them), so re-derive anything computed from it when calibrations() moves,
// or better, count in nanoseconds.
//
// The clock starts with DPDK (before any element initializes) and is read by
// any thread. Its state is published by one writer into a ring of slots: a
// reader never waits for the writer.
#pragma once

#include <rte_cycles.h>

#include <atomic>
#include <cstdint>

namespace weft {

namespace detail {

// TSC -> ns: ns = base_ns + (tsc - base_tsc) * mult / 2^32.
struct ClockMapping {
  uint64_t base_tsc = 0;
  uint64_t base_ns = 0;
  uint64_t mult = 0;  // nanoseconds per cycle, times 2^32
  uint64_t hz = 0;    // cycles per second (what mult was made from)

  uint64_t ns_at(uint64_t tsc) const {
    __extension__ typedef unsigned __int128 u128;
    if (tsc >= base_tsc) return base_ns + static_cast<uint64_t>((u128(tsc - base_tsc) * mult) >> 32);
    // A TSC read just before the mapping was published.
    const uint64_t back = static_cast<uint64_t>((u128(base_tsc - tsc) * mult) >> 32);
    return back < base_ns ? base_ns - back : 0;
  }
};

// The published mappings: the writer fills the slot after the current one,
// then moves `generation` to it. A reader copies the current slot and checks
// that the writer has not come round to that slot meanwhile (it needs three
// more publications, seconds apart), retrying if it has.
struct ClockState {
  static constexpr unsigned kSlots = 4;
  struct Slot {
    std::atomic<uint64_t> base_tsc{0}, base_ns{0}, mult{0}, hz{0};
  };
  std::atomic<uint64_t> generation{0};
  Slot slots[kSlots];

  ClockMapping mapping() const {
    for (;;) {
      const uint64_t g = generation.load(std::memory_order_acquire);
      const Slot& s = slots[g % kSlots];
      ClockMapping m{s.base_tsc.load(std::memory_order_relaxed), s.base_ns.load(std::memory_order_relaxed),
                     s.mult.load(std::memory_order_relaxed), s.hz.load(std::memory_order_relaxed)};
      std::atomic_thread_fence(std::memory_order_acquire);
      if (generation.load(std::memory_order_relaxed) - g < kSlots - 1) return m;
    }
  }
  // One writer at a time (the process's calibrator).
  void publish(const ClockMapping& m) {
    const uint64_t g = generation.load(std::memory_order_relaxed) + 1;
    Slot& s = slots[g % kSlots];
    std::atomic_thread_fence(std::memory_order_release);  // readers of this slot's last use see g-1 first
    s.base_tsc.store(m.base_tsc, std::memory_order_relaxed);
    s.base_ns.store(m.base_ns, std::memory_order_relaxed);
    s.mult.store(m.mult, std::memory_order_relaxed);
    s.hz.store(m.hz, std::memory_order_relaxed);
    generation.store(g, std::memory_order_release);
  }
};

// The process's clock (libweft), kept by the calibrator that DPDK's start starts.
extern ClockState clock_state __attribute__((visibility("default")));

}  // namespace detail

class Clock {
 public:
  static constexpr uint64_t kNsPerSecond = 1000000000;

  // Nanoseconds on the clock's timeline, now.
  static uint64_t now_ns() { return detail::clock_state.mapping().ns_at(rte_rdtsc()); }
  // The same for a TSC value read earlier (rte_rdtsc()).
  static uint64_t ns_at(uint64_t tsc) { return detail::clock_state.mapping().ns_at(tsc); }
  // The TSC frequency as last calibrated, in cycles per second.
  static uint64_t hz() { return detail::clock_state.mapping().hz; }
  // How many times the clock was calibrated (the start counts: 0 until DPDK started).
  static uint64_t calibrations() { return detail::clock_state.generation.load(std::memory_order_acquire); }
  // Seconds as nanoseconds, for deadlines (non-negative seconds; rounds to the nearest ns).
  static uint64_t ns_of_seconds(double s) { return static_cast<uint64_t>(s * double(kNsPerSecond) + 0.5); }
};

}  // namespace weft

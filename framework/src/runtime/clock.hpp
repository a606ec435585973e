// ClockCalibrator: measures the TSC's frequency against CLOCK_MONOTONIC_RAW
// and publishes it into a weft::detail::ClockState (weft/clock.hpp), the
// process's own (weft::Clock) or one of a test's.
//
// A measurement is a pair (TSC, CLOCK_MONOTONIC_RAW) read together, the pair
// with the tightest TSC bracket of a few tries, so that a preemption between
// the two reads cannot skew it. The frequency is the slope between the oldest
// pair of a window (up to a minute of pairs) and the newest: its error is the
// two pairs' brackets over the baseline (well under a part per million after
// a second), whatever the load. A new frequency is published as a mapping
// anchored where the previous mapping had reached, so the clock's time is
// continuous and only its rate changes.
//
// ClockRecalibration runs the process's calibrator every second on an event
// loop (routerd's control thread).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>

#include "weft/clock.hpp"

namespace weft {

class ClockCalibrator {
 public:
  struct Sample {
    uint64_t tsc = 0;  // the middle of the bracket
    int64_t ns = 0;    // CLOCK_MONOTONIC_RAW
    uint64_t gap = 0;  // TSC cycles the bracket spanned
  };
  // Reads the TSC and CLOCK_MONOTONIC_RAW together (best of 8 brackets).
  static Sample read();

  // Pairs older than this leave the window (the TSC's rate may drift slowly).
  static constexpr int64_t kWindowNs = 60'000'000'000;
  // A pair whose bracket spanned more than this is not used (a preemption inside every try).
  static constexpr int64_t kMaxGapNs = 20'000;
  // The shortest baseline a frequency is measured over.
  static constexpr int64_t kMinBaselineNs = 5'000'000;

  explicit ClockCalibrator(detail::ClockState& state) : state_(state) {}

  // Sets the frequency to `hz` (an estimate) from `s` on and forgets earlier
  // pairs: the clock starts at 0 at `s` if it was not running, and goes on
  // from where it is otherwise. `s` is the first pair of the new window.
  void start(uint64_t hz, const Sample& s);
  // Measures the frequency with the new pair `s` and publishes it; false if
  // `s` was not used (bracket too wide, baseline too short, time not moving forward).
  bool add(const Sample& s);

  uint64_t hz() const { return state_.mapping().hz; }
  // The baseline of the latest measurement, in seconds.
  double baseline_s() const { return baseline_s_; }
  uint64_t pairs_refused() const { return refused_; }

  // The calibrator of weft::Clock. Runtime::init_eal starts it with a
  // measurement over `kStartNs`; add(read()) recalibrates it.
  static ClockCalibrator& process();
  static constexpr int64_t kStartNs = 20'000'000;
  // Starts the process's clock: two pairs `kStartNs` apart (sleeps).
  static void start_process_clock();

 private:
  void publish(uint64_t hz, uint64_t at_tsc);

  detail::ClockState& state_;
  std::deque<Sample> window_;
  double baseline_s_ = 0;
  uint64_t refused_ = 0;
};

// Recalibrates the process's clock every `period` on `io` until destroyed.
class ClockRecalibration {
 public:
  explicit ClockRecalibration(boost::asio::io_context& io,
                              std::chrono::milliseconds period = std::chrono::milliseconds(1000));
  ~ClockRecalibration();
  ClockRecalibration(const ClockRecalibration&) = delete;
  ClockRecalibration& operator=(const ClockRecalibration&) = delete;

 private:
  void arm();
  boost::asio::steady_timer timer_;
  std::chrono::milliseconds period_;
};

}  // namespace weft

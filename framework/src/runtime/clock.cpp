// The framework's clock (weft/clock.hpp): its state, and the calibrator that keeps it.
#include "runtime/clock.hpp"

#include <rte_cycles.h>
#include <time.h>

#include <cmath>
#include <thread>

#include "weft/log.hpp"

namespace weft {

namespace detail {
ClockState clock_state;
}  // namespace detail

namespace {

// Cycles per second between two pairs.
double slope(const ClockCalibrator::Sample& a, const ClockCalibrator::Sample& b) {
  return double(b.tsc - a.tsc) * 1e9 / double(b.ns - a.ns);
}

}  // namespace

ClockCalibrator::Sample ClockCalibrator::read() {
  Sample best;
  best.gap = UINT64_MAX;
  for (int i = 0; i < 8; i++) {
    timespec ts{};
    const uint64_t t0 = rte_rdtsc();
    clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
    const uint64_t t1 = rte_rdtsc();
    if (t1 - t0 < best.gap) {
      best.gap = t1 - t0;
      best.tsc = t0 + (t1 - t0) / 2;
      best.ns = int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
    }
  }
  return best;
}

void ClockCalibrator::publish(uint64_t hz, uint64_t at_tsc) {
  detail::ClockMapping m;
  m.base_tsc = at_tsc;
  // Running: go on from the time reached, so no reader sees time jump.
  m.base_ns = state_.generation.load(std::memory_order_relaxed) ? state_.mapping().ns_at(at_tsc) : 0;
  m.hz = hz;
  m.mult = static_cast<uint64_t>(std::llround(1e9 * 4294967296.0 / double(hz)));
  state_.publish(m);
}

void ClockCalibrator::start(uint64_t hz, const Sample& s) {
  window_.clear();
  window_.push_back(s);
  baseline_s_ = 0;
  publish(hz, s.tsc);
}

bool ClockCalibrator::add(const Sample& s) {
  if (window_.empty()) return false;  // not started
  const Sample& last = window_.back();
  const double gap_ns = double(s.gap) * 1e9 / double(hz());
  if (gap_ns > double(kMaxGapNs) || s.ns - last.ns < kMinBaselineNs || s.tsc <= last.tsc) {
    refused_++;
    return false;
  }
  // The oldest pair that keeps the baseline within the window.
  while (window_.size() > 1 && s.ns - window_[1].ns >= kWindowNs) window_.pop_front();
  double hz = slope(window_.front(), s);
  // A rate that moved by more than 1 % since the previous pair, half a second
  // or more ago, is a new rate (a host that changed the TSC's frequency):
  // measure from the previous pair on. Two such pairs agree to 1e-4 whatever the load.
  if (const double recent = slope(last, s); s.ns - last.ns >= 500'000'000 && std::abs(recent / hz - 1) > 0.01) {
    WEFT_LOG(Warning, "clock: the TSC now runs at %.3f MHz (it ran at %.3f MHz): measuring again from here",
             recent / 1e6, hz / 1e6);
    window_.erase(window_.begin(), window_.end() - 1);
    hz = recent;
  }
  window_.push_back(s);
  baseline_s_ = double(s.ns - window_.front().ns) / 1e9;
  publish(static_cast<uint64_t>(std::llround(hz)), s.tsc);
  return true;
}

ClockCalibrator& ClockCalibrator::process() {
  static ClockCalibrator c(detail::clock_state);
  return c;
}

void ClockCalibrator::start_process_clock() {
  ClockCalibrator& c = process();
  c.start(rte_get_tsc_hz(), read());
  // A pair refused (a bracket spanning a preemption each of 8 tries) is
  // measured again; in the unlikely worst case the clock starts at DPDK's
  // estimate and the first recalibration corrects it.
  for (int i = 0; i < 5; i++) {
    std::this_thread::sleep_for(std::chrono::nanoseconds(kStartNs));
    if (c.add(read())) break;
  }
  const double dpdk = double(rte_get_tsc_hz()), hz = double(c.hz());
  if (std::abs(dpdk / hz - 1) > 0.001)
    WEFT_LOG(Notice, "clock: DPDK estimated the TSC at %.3f MHz; measured %.3f MHz (DPDK off by %+.2f %%): "
             "Weft's clock runs at the measured frequency", dpdk / 1e6, hz / 1e6, 100 * (dpdk / hz - 1));
}

ClockRecalibration::ClockRecalibration(boost::asio::io_context& io, std::chrono::milliseconds period)
    : timer_(io), period_(period) {
  arm();
}

ClockRecalibration::~ClockRecalibration() { timer_.cancel(); }

void ClockRecalibration::arm() {
  timer_.expires_after(period_);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    ClockCalibrator::process().add(ClockCalibrator::read());
    arm();
  });
}

}  // namespace weft

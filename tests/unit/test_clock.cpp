// weft::Clock and its calibrator. The calibrator is checked first on pairs
// the test makes (a TSC of a known frequency, noise, a frequency change),
// then on the real TSC against CLOCK_MONOTONIC_RAW, starting from a
// deliberately wrong estimate; last, a RateLimiter metering real time through
// a recalibration that corrects that estimate: its rate changes at once,
// with no burst and no gap.
#include <catch2/catch.hpp>

#include <rte_pause.h>
#include <time.h>

#include <atomic>
#include <cmath>
#include <thread>

#include "runtime/clock.hpp"
#include "test_env.hpp"
#include "weft/clock.hpp"

using namespace weft;
using namespace weft::test;

namespace {

using Sample = ClockCalibrator::Sample;

constexpr double kTrueHz = 2.5e9;

// The pair a TSC of `hz` cycles per second shows at `ns` (started at 10^12 cycles).
Sample pair_at(int64_t ns, double hz = kTrueHz, uint64_t gap = 100) {
  return {static_cast<uint64_t>(1e12 + double(ns) * hz / 1e9), ns, gap};
}

int64_t raw_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
  return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// weft::Clock and CLOCK_MONOTONIC_RAW read together (the tightest of a few brackets).
struct Both {
  uint64_t clock_ns;
  int64_t raw;
};
Both both() {
  Both best{};
  int64_t best_gap = INT64_MAX;
  for (int i = 0; i < 8; i++) {
    const int64_t r0 = raw_ns();
    const uint64_t c = Clock::now_ns();
    const int64_t r1 = raw_ns();
    if (r1 - r0 < best_gap) {
      best_gap = r1 - r0;
      best = {c, r0 + (r1 - r0) / 2};
    }
  }
  return best;
}

// How fast weft::Clock ran against CLOCK_MONOTONIC_RAW between two readings (1 = right).
double rate(const Both& a, const Both& b) { return double(b.clock_ns - a.clock_ns) / double(b.raw - a.raw); }

}  // namespace

TEST_CASE("ClockCalibrator measures the TSC from pairs, whatever the first estimate", "[clock]") {
  detail::ClockState state;
  ClockCalibrator c(state);
  c.start(static_cast<uint64_t>(kTrueHz * 0.97), pair_at(0));  // 3 % low: the clock runs 3 % fast
  const detail::ClockMapping wrong = state.mapping();
  CHECK(wrong.base_ns == 0);
  CHECK(std::abs(double(wrong.ns_at(pair_at(1'000'000'000).tsc)) / 1e9 - 1 / 0.97) < 1e-6);

  const Sample s = pair_at(1'000'000'000);
  const uint64_t reached = state.mapping().ns_at(s.tsc);
  REQUIRE(c.add(s));
  const detail::ClockMapping right = state.mapping();
  CHECK(right.hz == static_cast<uint64_t>(kTrueHz));
  CHECK(state.generation.load() == 2);
  // Continuous: the new mapping goes on from the time the old one reached there...
  CHECK(right.ns_at(s.tsc) == reached);
  // ...and runs at the TSC's rate from there: one second of cycles is one second.
  const uint64_t one_s = static_cast<uint64_t>(kTrueHz);
  CHECK(right.ns_at(s.tsc + one_s) - right.ns_at(s.tsc) == Approx(1'000'000'000).margin(1));
  // A TSC value read just before the publication maps just before it.
  CHECK(reached - right.ns_at(s.tsc - 2500) == Approx(1000).margin(1));
}

TEST_CASE("ClockCalibrator refuses pairs it cannot trust", "[clock]") {
  detail::ClockState state;
  ClockCalibrator c(state);
  CHECK_FALSE(c.add(pair_at(0)));  // not started
  c.start(static_cast<uint64_t>(kTrueHz), pair_at(0));
  const uint64_t g = state.generation.load();
  // A bracket spanning 100 us (preempted between the two reads), too short a
  // baseline, time going back: refused, and nothing is published.
  CHECK_FALSE(c.add(pair_at(1'000'000'000, kTrueHz, 250'000)));
  CHECK_FALSE(c.add(pair_at(1'000'000)));
  CHECK_FALSE(c.add(pair_at(-1'000'000'000)));
  CHECK(c.pairs_refused() == 3);
  CHECK(state.generation.load() == g);
  CHECK(c.add(pair_at(2'000'000'000)));
  CHECK(state.generation.load() == g + 1);
}

TEST_CASE("ClockCalibrator: noisy pairs, a baseline that grows to a minute and slides", "[clock]") {
  detail::ClockState state;
  ClockCalibrator c(state);
  // Each pair's CLOCK_MONOTONIC_RAW reading is off by up to +-2 us (a wide bracket).
  auto noisy = [](int64_t i) {
    Sample s = pair_at(i * 1'000'000'000);
    s.ns += (i % 3 - 1) * 2000;
    return s;
  };
  c.start(static_cast<uint64_t>(kTrueHz * 1.05), noisy(0));
  REQUIRE(c.add(noisy(1)));
  CHECK(std::abs(double(c.hz()) / kTrueHz - 1) < 5e-6);  // 4 us over 1 s
  for (int64_t i = 2; i <= 90; i++) REQUIRE(c.add(noisy(i)));
  CHECK(std::abs(double(c.hz()) / kTrueHz - 1) < 1e-7);  // 4 us over 60 s
  CHECK(c.baseline_s() == Approx(60).margin(1.01));
}

TEST_CASE("ClockCalibrator follows a TSC whose rate changes", "[clock]") {
  detail::ClockState state;
  ClockCalibrator c(state);
  c.start(static_cast<uint64_t>(kTrueHz), pair_at(0));
  for (int64_t i = 1; i <= 10; i++) REQUIRE(c.add(pair_at(i * 1'000'000'000)));
  CHECK(c.hz() == static_cast<uint64_t>(kTrueHz));
  // From second 10 on, 2 GHz (a host that changed the TSC's rate).
  const Sample at10 = pair_at(10'000'000'000);
  auto after = [&](int64_t s) {
    return Sample{at10.tsc + static_cast<uint64_t>(double(s) * 2.0), 10'000'000'000 + s, 100};
  };
  REQUIRE(c.add(after(1'000'000'000)));
  CHECK(c.hz() == 2'000'000'000);  // measured from the previous pair, not averaged over ten seconds
  REQUIRE(c.add(after(2'000'000'000)));
  CHECK(c.hz() == 2'000'000'000);
  CHECK(c.baseline_s() == Approx(2));
}

TEST_CASE("ClockState: readers never see a torn mapping while the writer publishes", "[clock]") {
  detail::ClockState state;
  auto mapping_of = [](uint64_t hz) {
    return detail::ClockMapping{hz, hz * 3, static_cast<uint64_t>(std::llround(1e9 * 4294967296.0 / double(hz))),
                                hz};
  };
  state.publish(mapping_of(1'000'000'000));
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> torn{0}, reads{0};
  // The reader checks that each mapping is one the writer wrote whole.
  std::thread reader([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      const detail::ClockMapping m = state.mapping();
      const detail::ClockMapping want = mapping_of(m.hz);
      if (m.base_tsc != want.base_tsc || m.base_ns != want.base_ns || m.mult != want.mult) torn++;
      reads++;
    }
  });
  // The writer publishes every microsecond or so: a million times faster than routerd does.
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
  uint64_t published = 0;
  while (std::chrono::steady_clock::now() < end || reads.load() < 1000) {
    state.publish(mapping_of(1'000'000'000 + (++published % 1'000'000) * 977));
    for (int i = 0; i < 100; i++) rte_pause();
  }
  stop = true;
  reader.join();
  INFO(published << " publications, " << reads.load() << " reads");
  CHECK(torn.load() == 0);
  CHECK(reads.load() >= 1000);
}

TEST_CASE("weft::Clock runs at CLOCK_MONOTONIC_RAW's rate, from a wrong estimate after one recalibration",
          "[clock]") {
  eal();
  REQUIRE(Clock::calibrations() >= 2);  // DPDK's estimate, then the start-up measurement
  // As measured at start-up (20 ms): right to 0.2 % at worst (two 20 us brackets), far better in practice.
  Both a = both();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  Both b = both();
  CHECK(std::abs(rate(a, b) - 1) < 2e-3);

  // A deliberately wrong estimate, 10 % high: the clock runs 10 % slow...
  ClockCalibrator& cal = ClockCalibrator::process();
  const uint64_t measured = Clock::hz();
  cal.start(measured + measured / 10, ClockCalibrator::read());
  a = both();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  b = both();
  CHECK(std::abs(rate(a, b) - 1 / 1.1) < 1e-3);
  // ...until the next recalibration, which measures over those 100 ms.
  REQUIRE(cal.add(ClockCalibrator::read()));
  CHECK(std::abs(double(Clock::hz()) / double(measured) - 1) < 1e-3);
  a = both();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  b = both();
  CHECK(std::abs(rate(a, b) - 1) < 1e-3);
  // And it never went back.
  CHECK(b.clock_ns > a.clock_ns);
}

TEST_CASE("A running RateLimiter takes a recalibration at once, with no burst and no gap", "[clock][ratelimiter]") {
  eal();
  // The limiter admits 2000 packets per second of weft::Clock. Its buckets
  // hold 2.5 s of tokens, so none overflow while the test sleeps. The rate
  // is low and the intervals long (500 ms) so that the check does not hang on
  // the machine's speed: a drain (256 packets a push) outruns the tokens by
  // far even under the sanitizers on a loaded machine, and the tolerance (2 %)
  // is 10 ms of scheduling delay between the limiter's clock read and ours.
  GraphHarness h(R"(
elements:
  rl: {class: RateLimiter, unit: pps, rate: 2k, burst: 5k, excess_burst: 0, action: mark, red: drop}
  out: Capture
connections:
  - rl -> out
)",
                 loader(), pool());
  const std::vector<uint8_t> f = eth(0x0800, ipv4("10.0.0.1", "10.0.0.2", 17, ports(1, 2)));
  auto counter = [&](const char* name) { return std::stoull(h.read_handler("rl", name)); };
  // Pushes 256-packet batches until one has a red packet (the bucket is empty):
  // the green packets it took, and CLOCK_MONOTONIC_RAW after the last push.
  auto drain = [&] {
    const uint64_t green0 = counter("green");
    int64_t after = 0;
    for (;;) {
      const uint64_t red = counter("red");
      Batch b;
      for (int i = 0; i < 256; i++) b.add(packet(f));
      h.push("rl", b);
      after = raw_ns();
      auto got = h.take("out");
      free_all(got);
      if (counter("red") > red) break;
    }
    return std::pair{counter("green") - green0, after};
  };
  // Tokens that `ns` of CLOCK_MONOTONIC_RAW bring, with the clock running `speed` times too fast.
  auto tokens = [](int64_t ns, double speed) { return 2000.0 * speed * double(ns) / 1e9; };
  auto close_to = [](uint64_t got, double want) { return std::abs(double(got) - want) <= 0.02 * want + 3; };

  ClockCalibrator& cal = ClockCalibrator::process();
  const uint64_t measured = Clock::hz();
  // The estimate is half the frequency: every cycle counts twice, the clock runs 2x fast.
  cal.start(measured / 2, ClockCalibrator::read());
  // Each drain takes every token that came since the previous one's last push.
  auto [full, t0] = drain();
  CHECK(full >= 5000);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto [g1, t1] = drain();
  INFO("at 2x: " << g1 << " green over " << (t1 - t0) / 1e6 << " ms");
  CHECK(close_to(g1, tokens(t1 - t0, 2)));

  // Across a recalibration: 250 ms at 2x, then 250 ms at the right rate. A
  // clock that jumped there (to CLOCK_MONOTONIC_RAW's time, say) would give
  // a burst or a gap of 250 ms of tokens.
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  const Sample s = ClockCalibrator::read();
  REQUIRE(cal.add(s));
  CHECK(std::abs(double(Clock::hz()) / double(measured) - 1) < 1e-3);
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  auto [g2, t2] = drain();
  const double want2 = tokens(s.ns - t1, 2) + tokens(t2 - s.ns, 1);
  INFO("across the recalibration: " << g2 << " green, " << want2 << " expected");
  CHECK(close_to(g2, want2));

  // Afterwards, at the right rate.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto [g3, t3] = drain();
  INFO("after: " << g3 << " green over " << (t3 - t2) / 1e6 << " ms");
  CHECK(close_to(g3, tokens(t3 - t2, 1)));
}

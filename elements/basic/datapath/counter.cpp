#include "datapath/counter.hpp"

#include <cstdio>

#include "weft/clock.hpp"

namespace weft::basic {

const ElementClass& Counter::klass() {
  static const ElementClass k =
      ElementClass::make<Counter>("Counter")
          .describe("Counts packets and bytes and measures the rate.",
                    "Packets pass unchanged. `rate` reports packets and bits per second since the previous read "
                    "of `rate` (or since start); `reset` zeroes the counts.")
          .input("in")
          .output("out")
          .read("count", "packets seen since start or reset", [](const Counter& e) { return std::to_string(e.count_); })
          .read("byte_count", "bytes seen since start or reset",
                [](const Counter& e) { return std::to_string(e.bytes_); })
          .read("rate", "packets/s and bits/s since the previous read of rate", [](const Counter& e) { return e.rate(); })
          .write("reset", "zero the counts (any value)", [](Counter& e, const std::string&) { e.reset(); });
  return k;
}

void Counter::push(uint16_t, Batch& b) {
  uint64_t bytes = 0;
  for (uint16_t i = 0; i < b.count; i++) bytes += b.pkts[i]->pkt_len;
  count_ += b.count;
  bytes_ += bytes;
  output(0, b);
}

StateCarry Counter::take_state(Element& old) {
  auto& o = static_cast<Counter&>(old);
  count_ = o.count_;
  bytes_ = o.bytes_;
  rate_ns_ = o.rate_ns_;
  rate_count_ = o.rate_count_;
  rate_bytes_ = o.rate_bytes_;
  return StateCarry::kept("count, byte_count and rate carried over");
}

std::string Counter::rate() const {
  uint64_t now = Clock::now_ns();
  double secs = rate_ns_ ? double(now - rate_ns_) / 1e9 : 0.0;
  double pps = secs > 0 ? double(count_ - rate_count_) / secs : 0.0;
  double bps = secs > 0 ? double(bytes_ - rate_bytes_) * 8.0 / secs : 0.0;
  rate_ns_ = now;
  rate_count_ = count_;
  rate_bytes_ = bytes_;
  char buf[96];
  std::snprintf(buf, sizeof buf, "%.0f pps %.0f bps", pps, bps);
  return std::string(buf);
}

void Counter::reset() {
  count_ = bytes_ = rate_count_ = rate_bytes_ = 0;
  rate_ns_ = Clock::now_ns();
}

}  // namespace weft::basic

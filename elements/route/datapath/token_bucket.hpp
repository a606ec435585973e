// TokenBucket — the rate limit of the ICMP elements (RFC 1812 4.3.2.8,
// RFC 4443 2.4(f)): `rate` messages per second on average, `burst` at once.
//
// Counted in nanoseconds of weft::Clock, so a recalibration of the TSC
// changes nothing. The bucket holds credit in nanoseconds: every message
// costs 1e9/rate ns of credit, credit grows with time up to burst messages'
// worth. It starts full. One per element instance (per worker): an element
// divides the router-wide rate and burst by its number of workers.
#pragma once

#include <algorithm>
#include <cstdint>

#include "weft/clock.hpp"

namespace weft::route {

class TokenBucket {
 public:
  // rate 0: no limit. burst is at least 1 message.
  void configure(double rate, uint64_t burst, uint64_t now_ns) {
    unlimited_ = rate <= 0;
    cost_ns_ = unlimited_ ? 0 : std::max<uint64_t>(1, static_cast<uint64_t>(double(Clock::kNsPerSecond) / rate));
    cap_ns_ = cost_ns_ * std::max<uint64_t>(1, burst);
    credit_ns_ = cap_ns_;
    last_ns_ = now_ns;
  }
  // True (and one message's credit taken) if a message may go at `now_ns`.
  bool take(uint64_t now_ns) {
    if (unlimited_) return true;
    if (now_ns > last_ns_) {
      credit_ns_ = std::min(cap_ns_, credit_ns_ + (now_ns - last_ns_));
      last_ns_ = now_ns;
    }
    if (credit_ns_ < cost_ns_) return false;
    credit_ns_ -= cost_ns_;
    return true;
  }
  // Whole messages that may go now (for handlers).
  uint64_t tokens(uint64_t now_ns) const {
    if (unlimited_) return UINT64_MAX;
    const uint64_t c = std::min(cap_ns_, credit_ns_ + (now_ns > last_ns_ ? now_ns - last_ns_ : 0));
    return c / cost_ns_;
  }
  bool unlimited() const { return unlimited_; }

 private:
  bool unlimited_ = true;
  uint64_t cost_ns_ = 0, cap_ns_ = 0, credit_ns_ = 0, last_ns_ = 0;
};

// The share of a router-wide rate and burst one of `workers` instances gets
// (each worker sends what it alone decides; the sum stays within the limit).
struct RateShare {
  double rate;
  uint64_t burst;
  static RateShare of(double rate, uint64_t burst, unsigned workers) {
    const unsigned n = std::max(1u, workers);
    return {rate / n, std::max<uint64_t>(1, burst / n)};
  }
};

}  // namespace weft::route

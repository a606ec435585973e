// RateLimiter — police traffic with token buckets (srTCM, RFC 2697; trTCM, RFC 2698).
// Its class declaration (rate_limiter.cpp) is its manual: `routerctl elements
// --doc RateLimiter`.
//
// Every packet leaves with its color in the color metadata (weft::fields::
// color(): 0 green, 1 yellow, 2 red). Meters are DPDK's rte_meter, read with
// one timestamp per batch, in nanoseconds of weft::Clock (the TSC at its
// calibrated frequency: recalibrations change no profile and, the clock being
// continuous, give no burst and no gap); their token periods are refined (at
// least 1000 ns, rounded to the nearest) so rates are exact to 0.05%. In bps mode a
// packet weighs its frame length (pkt_len: Ethernet header included, no FCS,
// preamble or gap); in pps mode it weighs 1. A bucket holds at most its
// burst, so the burst should exceed what the rate delivers between two
// batches.
//
// Keys live in an rte_hash per worker (values index a flat array of meters)
// and never expire. When the table is full, or a packet lacks the key's
// fields, the packet is metered by one shared meter and counted, never
// dropped for that. Each worker meters what it receives: with N workers,
// `key: none` admits up to N times the rate.
//
// In mark mode the DSCP of IPv4 (checksum updated incrementally, RFC 1624)
// and IPv6 (traffic class) packets is rewritten, ECN bits kept; other
// packets pass unchanged. On reload the buckets and the key table move to
// the new RateLimiter of the same id when mode, unit, rates, bursts, key
// settings and clock are unchanged (take_state swaps pointers: O(1)).
#pragma once

#include <rte_hash.h>
#include <rte_meter.h>

#include <string>

#include "weft/element.hpp"
#include "weft/fields.hpp"

namespace weft::qos {

class RateLimiter final : public Element {
 public:
  enum class Key : uint8_t { None, Flow, Vni, SrcPrefix };
  // The parameters the buckets and the key table depend on.
  struct Buckets {
    bool trtcm = false;
    bool pps = false;
    bool manual_clock = false;
    uint64_t cir = 0, cbs = 0, ebs = 0, pir = 0, pbs = 0;  // units/s and units (bytes or packets)
    bool operator==(const Buckets&) const = default;
  };
  struct Keying {
    Key key = Key::None;
    unsigned prefix_len = 24, prefix_len6 = 64;
    uint32_t max_keys = 65536;
    bool operator==(const Keying&) const = default;
  };

  static const ElementClass& klass();
  void configure(ConfigContext& ctx) override;
  void initialize(InitContext& ctx) override;
  void cleanup() override;
  void push(uint16_t, Batch& b) override;
  StateCarry take_state(Element& old) override;

 private:
  union Meter {
    rte_meter_srtcm sr;
    rte_meter_trtcm tr;
  };
  // A packet's key: 40 bytes, zero-padded, compared bytewise by rte_hash.
  struct FlowKey {
    uint8_t family;  // 4, 6; 0 for a VNI
    uint8_t proto;
    uint16_t sport, dport;
    uint16_t pad;
    uint8_t src[16], dst[16];
  };
  static_assert(sizeof(FlowKey) == 40);

  static inline Drop kRed;

  void init_meter(Meter& m, uint64_t now);
  rte_color check(Meter& m, uint64_t now, uint32_t len, rte_color in);
  // Fills `k`; false if the packet lacks the key's fields.
  bool key_of(rte_mbuf* m, FlowKey& k) const;
  // Finds (or adds) the meters of b's packets.
  void lookup(Batch& b, Meter** meters, uint64_t now);
  void mark(rte_mbuf* m, rte_color c) const;
  std::string profile_text() const;
  std::string time_us() const;
  void set_time_us(const std::string& v);

  Buckets buckets_;
  Keying keying_;
  bool color_aware_ = false;
  bool split_ = true;
  bool drop_red_ = false;
  int dscp_[3] = {-1, 12, 14};  // -1: keep

  rte_meter_srtcm_profile sr_profile_{};
  rte_meter_trtcm_profile tr_profile_{};
  Meter single_{};  // key none, and the shared meter of keyed modes
  rte_hash* table_ = nullptr;
  Meter* meters_ = nullptr;  // max_keys, indexed by the value stored in table_
  uint32_t used_ = 0;        // meters_ handed out
  uint64_t start_ns_ = 0;   // weft::Clock when the element started (time_us 0)
  uint64_t manual_ns_ = 0;  // the time with `clock: manual`
  uint64_t last_ns_ = 0;    // the latest time a meter saw

  uint64_t colored_[3] = {0, 0, 0};
  uint64_t table_full_ = 0, unkeyed_ = 0;
  fields::Color color_;
  fields::Vni vni_;
};

}  // namespace weft::qos

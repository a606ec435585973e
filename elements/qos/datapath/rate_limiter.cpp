#include "datapath/rate_limiter.hpp"

#include <rte_byteorder.h>
#include <rte_errno.h>
#include <rte_ether.h>
#include <rte_hash_crc.h>
#include <rte_ip.h>
#include <rte_malloc.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include <map>
#include <optional>
#include <stdexcept>

#include "weft/clock.hpp"
#include "weft/packet.hpp"

namespace weft::qos {

const ElementClass& RateLimiter::klass() {
  static const ElementClass k =
      ElementClass::make<RateLimiter>("RateLimiter")
          .describe("Polices traffic with srTCM (RFC 2697) or trTCM (RFC 2698) token buckets: colors, splits or "
                    "marks, optionally per key.",
                    "Every packet is metered (DPDK rte_meter, one timestamp of the framework's clock per batch) "
                    "and gets a color: "
                    "green, yellow or red, written to its color metadata. `action: split` sends it to the output "
                    "of its color; `action: mark` sends everything to `out` with the DSCP of IPv4/IPv6 packets "
                    "rewritten per color. `red: drop` drops red packets (reason red) in both actions.\n"
                    "Units: with `unit: bps` rates are bits/s and bursts bytes (a packet weighs its frame length, "
                    "Ethernet header included, no FCS); with `unit: pps` rates are packets/s and bursts packets. "
                    "Rates and bursts take k, M and G suffixes (10M = 10000000). Buckets start full; a bucket "
                    "holds at most its burst.\n"
                    "Keys: `key: flow | vni | src_prefix` gives each flow, VNI or source prefix its own meter, in "
                    "an rte_hash of `max_keys` per worker. Keys never expire (handler reset_keys forgets them). "
                    "Packets that find the table full, or lack the key's fields (non-IP, no VNI metadata), are "
                    "metered by one shared meter and counted by the table_full and unkeyed handlers. Each worker "
                    "meters what it receives: with N workers, `key: none` admits up to N times the rate.\n"
                    "Reload: buckets and keys carry over when mode, unit, rates, bursts, key settings and clock are "
                    "unchanged.\n"
                    "`clock: manual` freezes time: it moves only when the time_us handler is written, so tests "
                    "get exact colors.\n"
                    "Example:\n"
                    "  police: {class: RateLimiter, rate: 100M, burst: 125k, red: drop}\n"
                    "  per_flow: {class: RateLimiter, unit: pps, rate: 10k, key: flow, action: mark}\n"
                    "  two_rate: {class: RateLimiter, mode: trtcm, rate: 10M, peak_rate: 20M}")
          .input("in")
          .outputs_from_config("split: green, yellow, red (no red with `red: drop`); mark: out")
          .param("mode", ParamType::String, "srtcm", "srtcm (RFC 2697) or trtcm (RFC 2698)")
          .param("unit", ParamType::String, "bps", "bps: rates in bits/s, bursts in bytes; pps: packets/s, packets")
          .required("rate", ParamType::String, "committed rate (CIR); suffixes k, M, G")
          .param("burst", ParamType::String, "",
                 "committed burst (CBS); default: 10 ms of rate (>= 1518 B or 1 packet)")
          .param("excess_burst", ParamType::String, "", "excess burst (EBS), srtcm only; default: burst")
          .param("peak_rate", ParamType::String, "", "peak rate (PIR), trtcm only and required there; >= rate")
          .param("peak_burst", ParamType::String, "", "peak burst (PBS), trtcm only; default: 10 ms of peak_rate")
          .param("color_aware", ParamType::Bool, "false", "input color from the packet's color metadata (else green)")
          .param("key", ParamType::String, "none",
                 "one meter per: none; flow (IP addresses, protocol, TCP/UDP/SCTP ports; fragments and other "
                 "protocols without ports); vni (the VNI metadata); src_prefix (the source address masked to "
                 "prefix_len or prefix_len6)")
          .param("prefix_len", ParamType::UInt, "24", "key src_prefix: IPv4 prefix length 0-32")
          .param("prefix_len6", ParamType::UInt, "64", "key src_prefix: IPv6 prefix length 0-128")
          .param("max_keys", ParamType::UInt, "65536", "keys per worker (8 to 16777216)")
          .param("action", ParamType::String, "split", "split: one output per color; mark: rewrite DSCP, output out")
          .param("dscp_green", ParamType::String, "keep",
                 "mark: DSCP of green packets: 0-63, keep, be, ef, af11..af43 or cs0..cs7")
          .param("dscp_yellow", ParamType::String, "af12",
                 "mark: DSCP of yellow packets: 0-63, keep, be, ef, af11..af43 or cs0..cs7")
          .param("dscp_red", ParamType::String, "af13",
                 "mark: DSCP of red packets: 0-63, keep, be, ef, af11..af43 or cs0..cs7")
          .param("red", ParamType::String, "pass", "red packets: pass or drop")
          .param("clock", ParamType::String, "tsc",
                 "tsc (the framework's clock: the TSC, calibrated), or manual: time moves only by writing time_us "
                 "(tests)")
          .drop(kRed, "red", "a red packet with `red: drop`")
          .read("green", "packets metered green",
                [](const RateLimiter& e) { return std::to_string(e.colored_[RTE_COLOR_GREEN]); })
          .read("yellow", "packets metered yellow",
                [](const RateLimiter& e) { return std::to_string(e.colored_[RTE_COLOR_YELLOW]); })
          .read("red", "packets metered red (dropped or not)",
                [](const RateLimiter& e) { return std::to_string(e.colored_[RTE_COLOR_RED]); })
          .read("keys", "keys in the table", [](const RateLimiter& e) { return std::to_string(e.used_); })
          .read("table_full", "packets metered by the shared meter because the key table was full",
                [](const RateLimiter& e) { return std::to_string(e.table_full_); })
          .read("unkeyed", "packets without the key's fields, metered by the shared meter",
                [](const RateLimiter& e) { return std::to_string(e.unkeyed_); })
          .read("profile", "the buckets as configured", [](const RateLimiter& e) { return e.profile_text(); })
          .write("reset_keys", "forget every key (any value)",
                 [](RateLimiter& e, const std::string&) {
                   if (e.table_) rte_hash_reset(e.table_);
                   e.used_ = 0;
                 })
          .read_write(
              "time_us", "the meters' time in microseconds since start (writable with clock: manual)",
              [](const RateLimiter& e) { return e.time_us(); },
              [](RateLimiter& e, const std::string& v) { e.set_time_us(v); });
  return k;
}

namespace {

constexpr uint64_t kMaxAmount = 1000000000000000ULL;  // 10^15: a petabit, far beyond any port

// "10M", "1.5G", "64k", "1000": a non-negative amount, or nothing.
std::optional<uint64_t> parse_amount(std::string s) {
  double mult = 1;
  if (!s.empty()) {
    switch (s.back()) {
      case 'k':
      case 'K': mult = 1e3; break;
      case 'M': mult = 1e6; break;
      case 'G': mult = 1e9; break;
      default: break;
    }
  }
  if (mult != 1) s.pop_back();
  if (s.empty() || !(std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '.')) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(v)) return std::nullopt;
  v = std::round(v * mult);
  if (v < 0 || v > double(kMaxAmount)) return std::nullopt;
  return static_cast<uint64_t>(v);
}

uint64_t amount(const Params& p, const char* name) {
  const ParamValue n = p.value(name);
  auto v = n.is_scalar() ? parse_amount(n.text(name)) : std::nullopt;
  if (!v)
    throw ConfigError(p.mark(name), std::string(name) +
                                        ": expected a number with an optional k, M or G suffix (10M = 10000000)");
  return *v;
}

int parse_dscp(const Params& p, const char* name) {
  static const std::map<std::string, int> names = {
      {"keep", -1}, {"be", 0},    {"cs0", 0},   {"cs1", 8},   {"af11", 10}, {"af12", 12}, {"af13", 14},
      {"cs2", 16},  {"af21", 18}, {"af22", 20}, {"af23", 22}, {"cs3", 24},  {"af31", 26}, {"af32", 28},
      {"af33", 30}, {"cs4", 32},  {"af41", 34}, {"af42", 36}, {"af43", 38}, {"cs5", 40},  {"ef", 46},
      {"cs6", 48},  {"cs7", 56}};
  const std::string s = p.get<std::string>(name);
  std::string lower = s;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (auto it = names.find(lower); it != names.end()) return it->second;
  char* end = nullptr;
  long v = std::strtol(s.c_str(), &end, 10);
  if (!s.empty() && end == s.c_str() + s.size() && v >= 0 && v <= 63) return static_cast<int>(v);
  throw ConfigError(p.mark(name), std::string(name) + ": expected 0-63, keep, be, ef, af11..af43 or cs0..cs7");
}

// The meters count time in nanoseconds of weft::Clock, not in TSC cycles:
// DPDK's profile holds its token period in the meter's time unit, so a
// profile made for 1 GHz never changes when the clock is recalibrated, and
// the clock's time is continuous, so a recalibration gives no burst and no
// gap. DPDK rounds a period down to whole units, with periods of at least
// 100: up to 1% too fast. Periods of at least 1000 ns, rounded to the
// nearest, keep the error under 0.05% while tokens still arrive in small
// steps (a 10 Gbit/s bucket gains 1250 bytes a microsecond).
constexpr uint64_t kMeterHz = Clock::kNsPerSecond;

void refine_period(uint64_t rate, uint64_t& period, uint64_t& per_period) {
  constexpr double kMinUnits = 1000.0;
  const double ns = double(kMeterHz) / double(rate);  // per unit (byte or packet)
  const uint64_t n = ns >= kMinUnits ? 1 : static_cast<uint64_t>(std::ceil(kMinUnits / ns));
  period = static_cast<uint64_t>(std::llround(ns * double(n)));
  per_period = n;
}

bool is_tag(uint16_t type) { return type == RTE_ETHER_TYPE_VLAN || type == RTE_ETHER_TYPE_QINQ; }

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

// Where the IP header starts (after up to two VLAN tags); false if not IP.
bool locate_ip(const rte_mbuf* m, uint32_t& off, bool& v6) {
  uint8_t buf[2];
  const auto* p = static_cast<const uint8_t*>(rte_pktmbuf_read(m, 12, 2, buf));
  if (!p) return false;
  uint16_t type = be16(p);
  off = RTE_ETHER_HDR_LEN;
  for (int tags = 0; tags < 2 && is_tag(type); tags++) {
    p = static_cast<const uint8_t*>(rte_pktmbuf_read(m, off + 2, 2, buf));
    if (!p) return false;
    type = be16(p);
    off += sizeof(rte_vlan_hdr);
  }
  if (type == RTE_ETHER_TYPE_IPV4) v6 = false;
  else if (type == RTE_ETHER_TYPE_IPV6) v6 = true;
  else return false;
  return true;
}

void mask_prefix(uint8_t* addr, unsigned bytes, unsigned len) {
  for (unsigned i = 0; i < bytes; i++) {
    unsigned bits = len > i * 8 ? std::min(8u, len - i * 8) : 0;
    addr[i] &= static_cast<uint8_t>(0xff00 >> bits);
  }
}

bool is_ipv6_ext(uint8_t nh) { return nh == 0 || nh == 43 || nh == 60 || nh == 44 || nh == 51; }

}  // namespace

void RateLimiter::configure(ConfigContext& ctx) {
  const Params& p = ctx.params();
  const std::string mode = p.get<std::string>("mode");
  if (mode != "srtcm" && mode != "trtcm") throw ConfigError(p.mark("mode"), "mode: expected srtcm or trtcm");
  const std::string unit = p.get<std::string>("unit");
  if (unit != "bps" && unit != "pps") throw ConfigError(p.mark("unit"), "unit: expected bps or pps");
  buckets_.trtcm = mode == "trtcm";
  buckets_.pps = unit == "pps";
  const bool pps = buckets_.pps;

  // Meter units: bytes (bps) or packets (pps).
  auto rate_of = [&](const char* name) {
    uint64_t r = amount(p, name);
    if (!pps) {
      if (r < 8) throw ConfigError(p.mark(name), std::string(name) + ": at least 8 bits/s");
      return (r + 4) / 8;
    }
    if (r < 1) throw ConfigError(p.mark(name), std::string(name) + ": at least 1 packet/s");
    return r;
  };
  auto default_burst = [&](uint64_t rate) { return std::max<uint64_t>(rate / 100, pps ? 1 : 1518); };
  auto only_with = [&](const char* name, bool allowed, const char* where) {
    if (p.given(name) && !allowed) throw ConfigError(p.mark(name), std::string(name) + " applies to " + where);
  };

  buckets_.cir = rate_of("rate");
  buckets_.cbs = p.given("burst") ? amount(p, "burst") : default_burst(buckets_.cir);
  if (buckets_.cbs == 0) throw ConfigError(p.mark("burst"), "burst: must be at least 1");
  only_with("excess_burst", !buckets_.trtcm, "mode: srtcm");
  only_with("peak_rate", buckets_.trtcm, "mode: trtcm");
  only_with("peak_burst", buckets_.trtcm, "mode: trtcm");
  if (buckets_.trtcm) {
    if (!p.given("peak_rate")) throw ConfigError(p.element_mark(), "mode: trtcm needs peak_rate (PIR)");
    buckets_.pir = rate_of("peak_rate");
    if (buckets_.pir < buckets_.cir) throw ConfigError(p.mark("peak_rate"), "peak_rate must be at least rate");
    buckets_.pbs = p.given("peak_burst") ? amount(p, "peak_burst") : default_burst(buckets_.pir);
    if (buckets_.pbs == 0) throw ConfigError(p.mark("peak_burst"), "peak_burst: must be at least 1");
  } else {
    buckets_.ebs = p.given("excess_burst") ? amount(p, "excess_burst") : buckets_.cbs;
  }

  color_aware_ = p.get<bool>("color_aware");
  static const std::map<std::string, Key> keys = {
      {"none", Key::None}, {"flow", Key::Flow}, {"vni", Key::Vni}, {"src_prefix", Key::SrcPrefix}};
  auto key = keys.find(p.get<std::string>("key"));
  if (key == keys.end()) throw ConfigError(p.mark("key"), "key: expected none, flow, vni or src_prefix");
  keying_.key = key->second;
  only_with("prefix_len", keying_.key == Key::SrcPrefix, "key: src_prefix");
  only_with("prefix_len6", keying_.key == Key::SrcPrefix, "key: src_prefix");
  only_with("max_keys", keying_.key != Key::None, "key: flow, vni or src_prefix");
  keying_.prefix_len = p.get<uint32_t>("prefix_len");
  if (keying_.prefix_len > 32) throw ConfigError(p.mark("prefix_len"), "prefix_len must be 0-32");
  keying_.prefix_len6 = p.get<uint32_t>("prefix_len6");
  if (keying_.prefix_len6 > 128) throw ConfigError(p.mark("prefix_len6"), "prefix_len6 must be 0-128");
  uint64_t max_keys = p.get<uint64_t>("max_keys");
  if (max_keys < 8 || max_keys > (1u << 24)) throw ConfigError(p.mark("max_keys"), "max_keys must be 8 to 16777216");
  keying_.max_keys = keying_.key == Key::None ? 0 : static_cast<uint32_t>(max_keys);

  const std::string action = p.get<std::string>("action");
  if (action != "split" && action != "mark") throw ConfigError(p.mark("action"), "action: expected split or mark");
  split_ = action == "split";
  only_with("dscp_green", !split_, "action: mark");
  only_with("dscp_yellow", !split_, "action: mark");
  only_with("dscp_red", !split_, "action: mark");
  dscp_[RTE_COLOR_GREEN] = parse_dscp(p, "dscp_green");
  dscp_[RTE_COLOR_YELLOW] = parse_dscp(p, "dscp_yellow");
  dscp_[RTE_COLOR_RED] = parse_dscp(p, "dscp_red");
  const std::string red = p.get<std::string>("red");
  if (red != "pass" && red != "drop") throw ConfigError(p.mark("red"), "red: expected pass or drop");
  drop_red_ = red == "drop";
  const std::string clock = p.get<std::string>("clock");
  if (clock != "tsc" && clock != "manual") throw ConfigError(p.mark("clock"), "clock: expected tsc or manual");
  buckets_.manual_clock = clock == "manual";

  if (!split_) ctx.set_outputs({"out"});
  else if (drop_red_) ctx.set_outputs({"green", "yellow"});
  else ctx.set_outputs({"green", "yellow", "red"});
}

void RateLimiter::initialize(InitContext& ctx) {
  color_ = fields::color();
  if (keying_.key == Key::Vni) vni_ = fields::vni();
  if (buckets_.trtcm) {
    rte_meter_trtcm_params params{buckets_.cir, buckets_.pir, buckets_.cbs, buckets_.pbs};
    if (rte_meter_trtcm_profile_config(&tr_profile_, &params) != 0)
      throw InitError("RateLimiter " + id() + ": DPDK refused the trTCM profile");
    refine_period(buckets_.cir, tr_profile_.cir_period, tr_profile_.cir_bytes_per_period);
    refine_period(buckets_.pir, tr_profile_.pir_period, tr_profile_.pir_bytes_per_period);
  } else {
    rte_meter_srtcm_params params{buckets_.cir, buckets_.cbs, buckets_.ebs};
    if (rte_meter_srtcm_profile_config(&sr_profile_, &params) != 0)
      throw InitError("RateLimiter " + id() + ": DPDK refused the srTCM profile");
    refine_period(buckets_.cir, sr_profile_.cir_period, sr_profile_.cir_bytes_per_period);
  }
  start_ns_ = manual_ns_ = last_ns_ = Clock::now_ns();
  init_meter(single_, last_ns_);
  if (keying_.key == Key::None) return;

  static std::atomic<unsigned> serial{0};
  const std::string name = "wrl" + std::to_string(serial.fetch_add(1));
  rte_hash_parameters hp{};
  hp.name = name.c_str();
  hp.entries = keying_.max_keys;
  hp.key_len = sizeof(FlowKey);
  hp.hash_func = rte_hash_crc;
  hp.socket_id = ctx.socket();
  table_ = rte_hash_create(&hp);
  if (!table_) throw InitError("RateLimiter " + id() + ": cannot create the key table: " + rte_strerror(rte_errno));
  meters_ = static_cast<Meter*>(
      rte_zmalloc_socket("weft_rate_limiter", sizeof(Meter) * keying_.max_keys, RTE_CACHE_LINE_SIZE, ctx.socket()));
  if (!meters_) {
    rte_hash_free(table_);
    table_ = nullptr;
    throw InitError("RateLimiter " + id() + ": no memory for " + std::to_string(keying_.max_keys) + " meters");
  }
}

void RateLimiter::cleanup() {
  if (table_) rte_hash_free(table_);
  table_ = nullptr;
  rte_free(meters_);
  meters_ = nullptr;
  used_ = 0;
}

void RateLimiter::init_meter(Meter& m, uint64_t now) {
  // Full buckets, last filled `now` (not DPDK's own clock: tests bring theirs).
  if (buckets_.trtcm) {
    rte_meter_trtcm_config(&m.tr, &tr_profile_);
    m.tr.time_tc = m.tr.time_tp = now;
  } else {
    rte_meter_srtcm_config(&m.sr, &sr_profile_);
    m.sr.time = now;
  }
}

inline rte_color RateLimiter::check(Meter& m, uint64_t now, uint32_t len, rte_color in) {
  if (buckets_.trtcm)
    return color_aware_ ? rte_meter_trtcm_color_aware_check(&m.tr, &tr_profile_, now, len, in)
                        : rte_meter_trtcm_color_blind_check(&m.tr, &tr_profile_, now, len);
  return color_aware_ ? rte_meter_srtcm_color_aware_check(&m.sr, &sr_profile_, now, len, in)
                      : rte_meter_srtcm_color_blind_check(&m.sr, &sr_profile_, now, len);
}

bool RateLimiter::key_of(rte_mbuf* m, FlowKey& k) const {
  std::memset(&k, 0, sizeof k);
  if (keying_.key == Key::Vni) {
    if (!vni_.has(m)) return false;
    const uint32_t v = vni_.get(m);
    std::memcpy(k.src, &v, sizeof v);
    return true;
  }
  uint32_t off = 0;
  bool v6 = false;
  if (!locate_ip(m, off, v6)) return false;
  uint8_t buf[40];
  uint32_t l4 = 0;
  bool ports = false;
  if (!v6) {
    const auto* ip = static_cast<const rte_ipv4_hdr*>(rte_pktmbuf_read(m, off, sizeof(rte_ipv4_hdr), buf));
    if (!ip || (ip->version_ihl >> 4) != 4 || (ip->version_ihl & 0xf) < 5) return false;
    k.family = 4;
    std::memcpy(k.src, &ip->src_addr, 4);
    if (keying_.key == Key::SrcPrefix) {
      mask_prefix(k.src, 4, keying_.prefix_len);
      return true;
    }
    std::memcpy(k.dst, &ip->dst_addr, 4);
    k.proto = ip->next_proto_id;
    const uint16_t frag = rte_be_to_cpu_16(ip->fragment_offset);
    ports = (frag & (RTE_IPV4_HDR_OFFSET_MASK | RTE_IPV4_HDR_MF_FLAG)) == 0;
    l4 = off + (ip->version_ihl & 0xfu) * 4u;
  } else {
    const auto* ip = static_cast<const rte_ipv6_hdr*>(rte_pktmbuf_read(m, off, sizeof(rte_ipv6_hdr), buf));
    if (!ip || (rte_be_to_cpu_32(ip->vtc_flow) >> 28) != 6) return false;
    k.family = 6;
    std::memcpy(k.src, ip->src_addr, 16);
    if (keying_.key == Key::SrcPrefix) {
      mask_prefix(k.src, 16, keying_.prefix_len6);
      return true;
    }
    std::memcpy(k.dst, ip->dst_addr, 16);
    uint8_t nh = ip->proto;
    l4 = off + sizeof(rte_ipv6_hdr);
    ports = true;
    for (int i = 0; i < 8 && is_ipv6_ext(nh); i++) {
      const auto* ext = static_cast<const uint8_t*>(rte_pktmbuf_read(m, l4, 8, buf));
      if (!ext) {
        ports = false;
        break;
      }
      if (nh == 44) ports = false;  // a fragment: key on addresses and protocol
      l4 += nh == 44 ? 8u : nh == 51 ? (ext[1] + 2u) * 4u : (ext[1] + 1u) * 8u;
      nh = ext[0];
    }
    if (is_ipv6_ext(nh)) ports = false;
    k.proto = nh;
  }
  if (ports && (k.proto == IPPROTO_TCP || k.proto == IPPROTO_UDP || k.proto == IPPROTO_SCTP)) {
    if (const auto* p = static_cast<const uint8_t*>(rte_pktmbuf_read(m, l4, 4, buf))) {
      std::memcpy(&k.sport, p, 2);
      std::memcpy(&k.dport, p + 2, 2);
    }
  }
  return true;
}

void RateLimiter::lookup(Batch& b, Meter** meters, uint64_t now) {
  FlowKey keys[RTE_HASH_LOOKUP_BULK_MAX];
  const void* kp[RTE_HASH_LOOKUP_BULK_MAX];
  uint16_t at[RTE_HASH_LOOKUP_BULK_MAX];
  void* data[RTE_HASH_LOOKUP_BULK_MAX];
  for (uint16_t base = 0; base < b.count; base += RTE_HASH_LOOKUP_BULK_MAX) {
    const uint16_t end = static_cast<uint16_t>(std::min<unsigned>(b.count, base + RTE_HASH_LOOKUP_BULK_MAX));
    uint32_t n = 0;
    for (uint16_t i = base; i < end; i++) {
      if (key_of(b.pkts[i], keys[n])) {
        kp[n] = &keys[n];
        at[n++] = i;
      } else {
        meters[i] = &single_;
        unkeyed_++;
      }
    }
    if (n == 0) continue;
    uint64_t hits = 0;
    if (rte_hash_lookup_bulk_data(table_, kp, n, &hits, data) < 0) hits = 0;
    for (uint32_t j = 0; j < n; j++) {
      if (hits & (1ULL << j)) {
        meters[at[j]] = &meters_[reinterpret_cast<uintptr_t>(data[j])];
        continue;
      }
      // A new key, unless an earlier packet of this chunk just added it.
      void* d = nullptr;
      if (rte_hash_lookup_data(table_, kp[j], &d) >= 0) {
        meters[at[j]] = &meters_[reinterpret_cast<uintptr_t>(d)];
      } else if (used_ < keying_.max_keys &&
                 rte_hash_add_key_data(table_, kp[j], reinterpret_cast<void*>(uintptr_t{used_})) == 0) {
        init_meter(meters_[used_], now);
        meters[at[j]] = &meters_[used_++];
      } else {
        meters[at[j]] = &single_;
        table_full_++;
      }
    }
  }
}

void RateLimiter::mark(rte_mbuf* m, rte_color c) const {
  const int dscp = dscp_[c];
  if (dscp < 0) return;
  uint32_t off = 0;
  bool v6 = false;
  if (!locate_ip(m, off, v6)) return;
  uint8_t buf[12];
  if (!v6) {
    const auto* h = static_cast<const uint8_t*>(rte_pktmbuf_read(m, off, 12, buf));
    if (!h || (h[0] >> 4) != 4) return;
    const uint8_t tos = static_cast<uint8_t>(dscp << 2 | (h[1] & 0x3));
    if (tos == h[1]) return;
    // RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m'), m the 16-bit word holding the TOS.
    const uint16_t old_word = be16(h), new_word = static_cast<uint16_t>(h[0] << 8 | tos);
    uint32_t sum = uint32_t(uint16_t(~be16(h + 10))) + uint16_t(~old_word) + new_word;
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    const uint16_t cks = static_cast<uint16_t>(~sum);
    const uint8_t cks_bytes[2] = {static_cast<uint8_t>(cks >> 8), static_cast<uint8_t>(cks)};
    write_bytes(m, off + 1, &tos, 1);
    write_bytes(m, off + 10, cks_bytes, 2);
  } else {
    const auto* h = static_cast<const uint8_t*>(rte_pktmbuf_read(m, off, 4, buf));
    if (!h || (h[0] >> 4) != 6) return;
    // Version(4) | traffic class (DSCP 6, ECN 2) | flow label(20).
    const uint8_t b0 = static_cast<uint8_t>(0x60 | dscp >> 2);
    const uint8_t b1 = static_cast<uint8_t>((dscp & 0x3) << 6 | (h[1] & 0x3f));
    const uint8_t out[2] = {b0, b1};
    if (h[0] != b0 || h[1] != b1) write_bytes(m, off, out, 2);
  }
}

void RateLimiter::push(uint16_t, Batch& b) {
  uint64_t now = buckets_.manual_clock ? manual_ns_ : Clock::now_ns();
  if (now < last_ns_) now = last_ns_;  // a meter must never see time go back
  last_ns_ = now;
  Meter* meters[kBatchCapacity];
  if (keying_.key == Key::None) std::fill(meters, meters + b.count, &single_);
  else lookup(b, meters, now);
  uint16_t kept = 0;
  for (uint16_t i = 0; i < b.count; i++) {
    rte_mbuf* m = b.pkts[i];
    rte_color in = RTE_COLOR_GREEN;
    if (color_aware_ && color_.has(m)) {
      const uint8_t c = color_.get(m);
      in = c == 0 ? RTE_COLOR_GREEN : c == 1 ? RTE_COLOR_YELLOW : RTE_COLOR_RED;
    }
    const rte_color c = check(*meters[i], now, buckets_.pps ? 1 : m->pkt_len, in);
    colored_[c]++;
    color_.set(m, static_cast<uint8_t>(c));
    if (c == RTE_COLOR_RED && drop_red_) {
      drop(m, kRed);
    } else if (split_) {
      emit(static_cast<uint16_t>(c), m);
    } else {
      mark(m, c);
      b.pkts[kept++] = m;
    }
  }
  b.count = kept;
  if (kept) output(0, b);
}

StateCarry RateLimiter::take_state(Element& old_el) {
  auto& old = static_cast<RateLimiter&>(old_el);
  std::copy(std::begin(old.colored_), std::end(old.colored_), std::begin(colored_));
  table_full_ = old.table_full_;
  unkeyed_ = old.unkeyed_;
  std::string changed;
  auto differs = [&](bool d, const char* what) {
    if (d) changed += (changed.empty() ? "" : ", ") + std::string(what);
  };
  const Buckets &a = old.buckets_, &n = buckets_;
  differs(a.trtcm != n.trtcm, "mode");
  differs(a.pps != n.pps, "unit");
  differs(a.cir != n.cir, "rate");
  differs(a.cbs != n.cbs, "burst");
  differs(a.ebs != n.ebs, "excess_burst");
  differs(a.pir != n.pir, "peak_rate");
  differs(a.pbs != n.pbs, "peak_burst");
  differs(a.manual_clock != n.manual_clock, "clock");
  differs(old.keying_.key != keying_.key, "key");
  differs(old.keying_.prefix_len != keying_.prefix_len || old.keying_.prefix_len6 != keying_.prefix_len6,
          "prefix_len");
  differs(old.keying_.max_keys != keying_.max_keys, "max_keys");
  if (!changed.empty())
    return StateCarry::reset(changed + " changed: buckets start full" +
                             (keying_.key == Key::None ? "" : ", keys start afresh") + " (color counts carried)");
  single_ = old.single_;
  start_ns_ = old.start_ns_;  // the meters' timeline goes on
  manual_ns_ = old.manual_ns_;
  last_ns_ = old.last_ns_;
  std::swap(table_, old.table_);  // O(1): keys and meters stay where they are
  std::swap(meters_, old.meters_);
  std::swap(used_, old.used_);
  if (keying_.key == Key::None) return StateCarry::kept("token buckets and color counts carried over");
  return StateCarry::kept("token buckets, " + std::to_string(used_) + " key(s) and color counts carried over");
}

std::string RateLimiter::profile_text() const {
  const char* u = buckets_.pps ? " packets" : " bytes";
  const char* r = buckets_.pps ? " packets/s" : " bytes/s";
  std::string s = buckets_.trtcm ? "trtcm" : "srtcm";
  s += ": CIR " + std::to_string(buckets_.cir) + r + ", CBS " + std::to_string(buckets_.cbs) + u;
  if (buckets_.trtcm)
    s += ", PIR " + std::to_string(buckets_.pir) + r + ", PBS " + std::to_string(buckets_.pbs) + u;
  else
    s += ", EBS " + std::to_string(buckets_.ebs) + u;
  static const char* key_names[] = {"none", "flow", "vni", "src_prefix"};
  s += "; key " + std::string(key_names[static_cast<int>(keying_.key)]);
  if (keying_.key == Key::SrcPrefix)
    s += " /" + std::to_string(keying_.prefix_len) + " /" + std::to_string(keying_.prefix_len6);
  if (keying_.key != Key::None) s += ", max_keys " + std::to_string(keying_.max_keys);
  return s;
}

std::string RateLimiter::time_us() const {
  const uint64_t now = buckets_.manual_clock ? manual_ns_ : Clock::now_ns();
  return std::to_string((now - start_ns_) / 1000);
}

void RateLimiter::set_time_us(const std::string& v) {
  if (!buckets_.manual_clock) throw std::invalid_argument("time_us is writable with `clock: manual` only");
  if (v.empty() || v.size() > 15 || v.find_first_not_of("0123456789") != std::string::npos)
    throw std::invalid_argument("time_us: expected microseconds, a non-negative integer");
  const uint64_t t = start_ns_ + std::stoull(v) * 1000;
  if (t < manual_ns_) throw std::invalid_argument("time_us: time only moves forward");
  manual_ns_ = t;
}

}  // namespace weft::qos

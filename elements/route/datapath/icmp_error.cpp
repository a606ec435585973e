#include "datapath/icmp_error.hpp"

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "weft/clock.hpp"

namespace weft::route {

const ElementClass& IcmpError::klass() {
  static const ElementClass k =
      ElementClass::make<IcmpError>("IcmpError")
          .describe("Sends the ICMP or ICMPv6 error a packet calls for (time exceeded, unreachable, fragmentation "
                    "needed / packet too big) back to its source, rate-limited.",
                    "Takes Ethernet frames carrying IPv4 or IPv6 as received. What to send comes from the "
                    "packet's ICMP error metadata (weft_icmp_error: type, code, ingress interface, MTU), which "
                    "IpLookup sets on its `icmp` output; a packet without it gets the element's fixed `type` "
                    "and `code` (as Click's ICMPError), else it is dropped (no_metadata).\n"
                    "The error is a new packet: an Ethernet header with the ethertype set and both MACs zero, "
                    "an IPv4 header (TOS 0xc0, internetwork control, RFC 1812 4.3.2.5; TTL 64; not DF) or IPv6 "
                    "header (hop limit 64), the ICMP header (fragmentation needed carries the next-hop MTU, RFC "
                    "1191; packet too big the MTU, RFC 4443 3.2; parameter problem the pointer), then as much "
                    "of the original IP packet as fits: 576 bytes in all for IPv4 (RFC 1812 4.3.2.3), 1280 "
                    "for IPv6 (RFC 4443 2.4(c)). Its destination is the original's source; its source the "
                    "address of the interface the original arrived on (the ingress metadata ArpNd sets, else the "
                    "ICMP metadata's, else its port's) that suits that destination (Interface::source_for: one on the same subnet, else the interface's first of the "
                    "family). Route it with a second IpLookup (`icmp -> err -> lookup2`), which writes the "
                    "MACs. Checksums are computed in full (ICMPv6 with its pseudo-header).\n"
                    "Never sent (RFC 1812 4.3.2.7, RFC 4443 2.4(e)), dropped as not_eligible: about an ICMP "
                    "or ICMPv6 error message, a non-first fragment, a packet to a multicast or broadcast "
                    "address (255.255.255.255, our subnets' broadcasts, 224.0.0.0/4, ff00::/8) or sent to a "
                    "link-layer multicast or broadcast address (except IPv6 packet too big and parameter "
                    "problem code 2), a packet whose source is not one host (0.0.0.0/8, 127.0.0.0/8, "
                    "224.0.0.0/3; ::, ::1, ff00::/8). IPv6 extension headers are walked to find the "
                    "fragment header and the upper-layer protocol.\n"
                    "Rate limit: a token bucket on the framework's clock, `rate` errors per second with "
                    "bursts of `burst`, for the whole router (each of N workers gets rate/N and burst/N, at "
                    "least 1); `rate: 0` removes the limit. The original is consumed: counted under the drop "
                    "reason `answered` once its error is sent, or under the reason it got none. Handlers "
                    "count the errors sent by kind (`time_exceeded`, `unreachable`, `too_big`, `other`), "
                    "each as `IPv4 IPv6`.\n"
                    "Fixed errors: `type: time_exceeded` (`code: ttl` or `reassembly`), `type: unreachable` "
                    "(`code: net`, `host`, `port` or `prohibited`: ICMPv4 3/0, 3/1, 3/3, 3/13; ICMPv6 1/0, "
                    "1/3, 1/4, 1/1), `type: too_big` (`mtu` required: ICMPv4 3/4, ICMPv6 2).\n"
                    "Example:\n"
                    "  err: {class: IcmpError, interfaces: ifaces}\n"
                    "  lookup[icmp] -> err -> lookup2\n"
                    "  ttl: {class: IcmpError, interfaces: ifaces, type: time_exceeded}")
          .input("in")
          .output("out")
          .uses<InterfacesHandle>("interfaces", "the Interfaces service: ingress interfaces and their addresses")
          .param("type", ParamType::String, "\"\"",
                 "the error of packets without metadata: time_exceeded, unreachable or too_big (\"\": none)")
          .param("code", ParamType::String, "\"\"",
                 "with type: ttl (default) or reassembly; net, host (default), port or prohibited")
          .param("mtu", ParamType::UInt, "0", "with type too_big: the MTU to report (68-65535)")
          .param("rate", ParamType::Double, "1000", "errors per second, router-wide (0: no limit)")
          .param("burst", ParamType::UInt, "50", "errors sent at once before the rate applies")
          .drop(kNotIp, "not_ip", "neither IPv4 nor IPv6 after the Ethernet header, or a bad IP version")
          .drop(kTruncated, "truncated", "the frame ends inside its IP header")
          .drop(kNoMetadata, "no_metadata", "no ICMP error metadata and no fixed `type`")
          .drop(kNotEligible, "not_eligible", "no error may be sent about it (RFC 1812 4.3.2.7, RFC 4443 2.4(e))")
          .drop(kNoSource, "no_source_address",
                "the ingress interface is unknown or has no address of the packet's family")
          .drop(kRateLimited, "rate_limited", "an error beyond the rate limit")
          .drop(kAllocFailed, "alloc_failed", "the packet pool is empty (or its buffers too small)")
          .drop(kAnswered, "answered", "the original, consumed once its error was sent")
          .read("time_exceeded", "time exceeded errors sent: IPv4 IPv6",
                [](const IcmpError& e) { return e.counts_text(kTimeExceeded); })
          .read("unreachable", "destination unreachable errors sent (not fragmentation needed): IPv4 IPv6",
                [](const IcmpError& e) { return e.counts_text(kUnreachable); })
          .read("too_big", "fragmentation needed (IPv4) and packet too big (IPv6) errors sent: IPv4 IPv6",
                [](const IcmpError& e) { return e.counts_text(kTooBig); })
          .read("other", "other errors sent (parameter problem, ...): IPv4 IPv6",
                [](const IcmpError& e) { return e.counts_text(kOtherKind); })
          .read("tokens", "errors this worker may send at once now", [](const IcmpError& e) {
            return e.bucket_.unlimited() ? std::string("unlimited") : std::to_string(e.bucket_.tokens(Clock::now_ns()));
          });
  return k;
}

void IcmpError::configure(ConfigContext& ctx) {
  const Params& p = ctx.params();
  rate_ = p.get<double>("rate");
  if (!std::isfinite(rate_) || rate_ < 0 || rate_ > 1e9)
    throw ConfigError(p.mark("rate"), "rate: expected 0 (no limit) to 1e9 errors per second");
  burst_ = p.get<uint64_t>("burst");
  if (burst_ < 1 || burst_ > 1000000) throw ConfigError(p.mark("burst"), "burst: expected 1 to 1000000");
  const std::string type = p.get<std::string>("type"), code = p.get<std::string>("code");
  const uint64_t mtu = p.get<uint64_t>("mtu");
  fixed_ = Fixed{};
  if (type.empty()) {
    if (!code.empty()) throw ConfigError(p.mark("code"), "code: only with a type");
    if (mtu) throw ConfigError(p.mark("mtu"), "mtu: only with type too_big");
    return;
  }
  fixed_.set = true;
  if (type == "time_exceeded") {
    fixed_.type4 = icmp4::kTimeExceeded;
    fixed_.type6 = icmp6::kTimeExceeded;
    if (code.empty() || code == "ttl") fixed_.code4 = fixed_.code6 = 0;
    else if (code == "reassembly") fixed_.code4 = fixed_.code6 = 1;
    else throw ConfigError(p.mark("code"), "code: time_exceeded takes ttl or reassembly");
  } else if (type == "unreachable") {
    fixed_.type4 = icmp4::kUnreachable;
    fixed_.type6 = icmp6::kUnreachable;
    if (code == "net") {
      fixed_.code4 = icmp4::kNetUnreachable;
      fixed_.code6 = icmp6::kNoRoute;
    } else if (code.empty() || code == "host") {
      fixed_.code4 = icmp4::kHostUnreachable;
      fixed_.code6 = icmp6::kAddressUnreachable;
    } else if (code == "port") {
      fixed_.code4 = 3;
      fixed_.code6 = 4;
    } else if (code == "prohibited") {
      fixed_.code4 = icmp4::kAdminProhibited;
      fixed_.code6 = icmp6::kAdminProhibited;
    } else {
      throw ConfigError(p.mark("code"), "code: unreachable takes net, host, port or prohibited");
    }
  } else if (type == "too_big") {
    fixed_.type4 = icmp4::kUnreachable;
    fixed_.code4 = icmp4::kFragNeeded;
    fixed_.type6 = icmp6::kPacketTooBig;
    fixed_.code6 = 0;
    if (!code.empty()) throw ConfigError(p.mark("code"), "code: too_big takes none");
    if (mtu < 68 || mtu > 65535) throw ConfigError(p.mark("mtu"), "mtu: type too_big needs an MTU of 68-65535");
    fixed_.mtu = static_cast<uint32_t>(mtu);
  } else {
    throw ConfigError(p.mark("type"), "type: expected time_exceeded, unreachable or too_big");
  }
  if (type != "too_big" && mtu) throw ConfigError(p.mark("mtu"), "mtu: only with type too_big");
}

void IcmpError::initialize(InitContext& ctx) {
  handle_ = ctx.service<const InterfacesHandle>("interfaces");
  table_ = handle_->interfaces();
  if (!table_) throw InitError("the Interfaces service has no interface table");
  pool_ = ctx.mempool();
  meta_ = icmp_error_slot();
  ingress_ = ingress_slot();
  broadcast4_.clear();
  for (const Interface& i : table_->all())
    for (const Prefix& p : i.addresses) {
      if (!p.v4() || p.len > 30) continue;
      uint32_t a;
      std::memcpy(&a, p.addr.data(), 4);
      broadcast4_.push_back(rte_cpu_to_be_32(rte_be_to_cpu_32(a) | (p.len == 0 ? 0xffffffffu : (1u << (32 - p.len)) - 1)));
    }
  const RateShare s = RateShare::of(rate_, burst_, ctx.worker_count());
  bucket_.configure(s.rate, s.burst, Clock::now_ns());
  ip_id_ = static_cast<uint16_t>(ctx.worker_index() << 12);
}

void IcmpError::cleanup() {
  table_.reset();
  handle_.reset();
  pool_ = nullptr;
}

StateCarry IcmpError::take_state(Element& old_el) {
  auto& old = static_cast<IcmpError&>(old_el);
  sent_ = old.sent_;
  ip_id_ = old.ip_id_;
  if (old.rate_ != rate_ || old.burst_ != burst_) return StateCarry::reset("rate or burst changed: the bucket starts full");
  bucket_ = old.bucket_;
  return StateCarry::kept("token bucket and counts");
}

std::string IcmpError::counts_text(Kind k) const {
  return std::to_string(sent_[0][k]) + " " + std::to_string(sent_[1][k]);
}

IcmpError::Kind IcmpError::kind_of(bool v6, uint8_t type, uint8_t code) {
  if (!v6) {
    if (type == icmp4::kTimeExceeded) return kTimeExceeded;
    if (type == icmp4::kUnreachable) return code == icmp4::kFragNeeded ? kTooBig : kUnreachable;
    return kOtherKind;
  }
  if (type == icmp6::kTimeExceeded) return kTimeExceeded;
  if (type == icmp6::kUnreachable) return kUnreachable;
  if (type == icmp6::kPacketTooBig) return kTooBig;
  return kOtherKind;
}

namespace {

constexpr uint32_t kEth = sizeof(rte_ether_hdr);

// ICMPv4 types that are error messages (RFC 1812 4.3.2.7: never an error about one).
bool icmp4_error_type(uint8_t t) { return t == 3 || t == 4 || t == 5 || t == 11 || t == 12; }

bool single_host4(uint32_t s_be) {
  const uint32_t s = rte_be_to_cpu_32(s_be);
  return (s >> 24) != 0 && (s >> 24) != 127 && (s & 0xe0000000u) != 0xe0000000u;
}

bool single_host6(const uint8_t* a) {
  static const uint8_t kZero[15] = {};
  return a[0] != 0xff && !(std::memcmp(a, kZero, 15) == 0 && (a[15] == 0 || a[15] == 1));
}

}  // namespace

bool IcmpError::eligible4(const rte_mbuf* m, const uint8_t* l3, uint32_t ihl, bool l2_multicast) const {
  const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(l3);
  if (l2_multicast) return false;
  if (ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_OFFSET_MASK)) return false;
  if (!single_host4(ip->src_addr)) return false;
  const uint32_t d = rte_be_to_cpu_32(ip->dst_addr);
  if ((d & 0xe0000000u) == 0xe0000000u || (d >> 24) == 0) return false;  // multicast, class E, broadcast, 0/8
  for (uint32_t b : broadcast4_)
    if (b == ip->dst_addr) return false;
  if (ip->next_proto_id == IPPROTO_ICMP) {
    uint8_t t;
    const auto* p = static_cast<const uint8_t*>(rte_pktmbuf_read(m, kEth + ihl, 1, &t));
    if (!p || icmp4_error_type(*p)) return false;  // unreadable: take it for an error, to be safe
  }
  return true;
}

bool IcmpError::eligible6(const rte_mbuf* m, const uint8_t* l3, uint8_t type, uint8_t code, bool l2_multicast) const {
  const auto* ip = reinterpret_cast<const rte_ipv6_hdr*>(l3);
  // RFC 4443 2.4(e.2, e.3): packet too big and parameter problem code 2 may answer multicast.
  const bool multicast_ok = type == icmp6::kPacketTooBig || (type == 4 && code == 2);
  if ((l2_multicast || ip->dst_addr[0] == 0xff) && !multicast_ok) return false;
  if (!single_host6(ip->src_addr)) return false;
  // Walk the extension headers to the fragment header and the upper layer.
  uint8_t next = ip->proto;
  uint32_t off = kEth + sizeof(rte_ipv6_hdr);
  for (int hops = 0; hops < 16; hops++) {
    uint8_t buf[4];
    switch (next) {
      case IPPROTO_HOPOPTS:
      case IPPROTO_ROUTING:
      case IPPROTO_DSTOPTS:
      case IPPROTO_AH: {
        const auto* h = static_cast<const uint8_t*>(rte_pktmbuf_read(m, off, 2, buf));
        if (!h) return true;  // the chain is cut short: not an ICMPv6 error we can see
        off += next == IPPROTO_AH ? (h[1] + 2u) * 4u : (h[1] + 1u) * 8u;
        next = h[0];
        break;
      }
      case IPPROTO_FRAGMENT: {
        const auto* h = static_cast<const uint8_t*>(rte_pktmbuf_read(m, off, 4, buf));
        if (!h) return true;
        if ((uint16_t(h[2] << 8 | h[3]) >> 3) != 0) return false;  // a non-first fragment
        off += 8;
        next = h[0];
        break;
      }
      case IPPROTO_ICMPV6: {
        const auto* t = static_cast<const uint8_t*>(rte_pktmbuf_read(m, off, 1, buf));
        return t && *t >= 128;  // an error message (type < 128), or unreadable: none
      }
      default: return true;
    }
  }
  return true;
}

rte_mbuf* IcmpError::build4(const rte_mbuf* m, const uint8_t* l3, uint32_t avail, const IpAddr& src, uint8_t type,
                            uint8_t code, uint32_t info) {
  constexpr uint32_t kHdr = sizeof(rte_ipv4_hdr) + sizeof(rte_icmp_hdr);
  rte_mbuf* e = rte_pktmbuf_alloc(pool_);
  if (!e) return nullptr;
  const uint32_t room = rte_pktmbuf_tailroom(e);
  if (room < kEth + kHdr) {
    rte_pktmbuf_free(e);
    return nullptr;
  }
  const uint32_t quote = std::min({avail, kMax4 - kHdr, room - kEth - kHdr});
  auto* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(e, static_cast<uint16_t>(kEth + kHdr + quote)));
  auto* eth = reinterpret_cast<rte_ether_hdr*>(p);
  std::memset(eth, 0, sizeof *eth);
  eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
  const auto* orig = reinterpret_cast<const rte_ipv4_hdr*>(l3);
  ip->version_ihl = 0x45;
  ip->type_of_service = 0xc0;
  ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(kHdr + quote));
  ip->packet_id = rte_cpu_to_be_16(ip_id_++);
  ip->fragment_offset = 0;
  ip->time_to_live = 64;
  ip->next_proto_id = IPPROTO_ICMP;
  ip->hdr_checksum = 0;
  std::memcpy(&ip->src_addr, src.data(), 4);
  ip->dst_addr = orig->src_addr;
  ip->hdr_checksum = rte_ipv4_cksum(ip);
  auto* icmp = reinterpret_cast<uint8_t*>(ip + 1);
  std::memset(icmp, 0, sizeof(rte_icmp_hdr));
  icmp[0] = type;
  icmp[1] = code;
  if (type == icmp4::kUnreachable && code == icmp4::kFragNeeded) {  // RFC 1191: next-hop MTU in the low 16 bits
    icmp[6] = static_cast<uint8_t>(info >> 8);
    icmp[7] = static_cast<uint8_t>(info);
  } else if (type == 12) {  // parameter problem: the pointer
    icmp[4] = static_cast<uint8_t>(info);
  }
  uint8_t* q = icmp + sizeof(rte_icmp_hdr);
  const void* r = rte_pktmbuf_read(m, kEth, quote, q);
  if (r != q) std::memcpy(q, r, quote);
  const uint16_t ck = static_cast<uint16_t>(~rte_raw_cksum(icmp, sizeof(rte_icmp_hdr) + quote));
  std::memcpy(icmp + 2, &ck, 2);  // rte_raw_cksum sums in memory order: store as is
  return e;
}

rte_mbuf* IcmpError::build6(const rte_mbuf* m, const uint8_t* l3, uint32_t avail, const IpAddr& src, uint8_t type,
                            uint8_t code, uint32_t info) {
  constexpr uint32_t kHdr = sizeof(rte_ipv6_hdr) + sizeof(rte_icmp_hdr);
  rte_mbuf* e = rte_pktmbuf_alloc(pool_);
  if (!e) return nullptr;
  const uint32_t room = rte_pktmbuf_tailroom(e);
  if (room < kEth + kHdr) {
    rte_pktmbuf_free(e);
    return nullptr;
  }
  const uint32_t quote = std::min({avail, kMax6 - kHdr, room - kEth - kHdr});
  auto* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(e, static_cast<uint16_t>(kEth + kHdr + quote)));
  auto* eth = reinterpret_cast<rte_ether_hdr*>(p);
  std::memset(eth, 0, sizeof *eth);
  eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6);
  auto* ip = reinterpret_cast<rte_ipv6_hdr*>(eth + 1);
  const auto* orig = reinterpret_cast<const rte_ipv6_hdr*>(l3);
  ip->vtc_flow = rte_cpu_to_be_32(6u << 28);
  ip->payload_len = rte_cpu_to_be_16(static_cast<uint16_t>(sizeof(rte_icmp_hdr) + quote));
  ip->proto = IPPROTO_ICMPV6;
  ip->hop_limits = 64;
  std::memcpy(ip->src_addr, src.data(), 16);
  std::memcpy(ip->dst_addr, orig->src_addr, 16);
  auto* icmp = reinterpret_cast<uint8_t*>(ip + 1);
  std::memset(icmp, 0, sizeof(rte_icmp_hdr));
  icmp[0] = type;
  icmp[1] = code;
  if (type == icmp6::kPacketTooBig || type == 4) {  // the MTU (RFC 4443 3.2), the pointer (3.4)
    const uint32_t v = rte_cpu_to_be_32(info);
    std::memcpy(icmp + 4, &v, 4);
  }
  uint8_t* q = icmp + sizeof(rte_icmp_hdr);
  const void* r = rte_pktmbuf_read(m, kEth, quote, q);
  if (r != q) std::memcpy(q, r, quote);
  const uint16_t ck = rte_ipv6_udptcp_cksum(ip, icmp);  // the pseudo-header's protocol is 58
  std::memcpy(icmp + 2, &ck, 2);
  return e;
}

void IcmpError::handle(rte_mbuf* m) {
  if (m->data_len < kEth) return drop(m, kTruncated);
  const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
  const bool v4 = eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
  if (!v4 && eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6)) return drop(m, kNotIp);
  const auto* l3 = reinterpret_cast<const uint8_t*>(eth + 1);
  uint32_t ihl = sizeof(rte_ipv6_hdr), length;  // header length, IP length as the header says
  if (v4) {
    if (m->data_len < kEth + sizeof(rte_ipv4_hdr)) return drop(m, kTruncated);
    ihl = (l3[0] & 0xf) * 4u;
    if ((l3[0] >> 4) != 4 || ihl < sizeof(rte_ipv4_hdr)) return drop(m, kNotIp);
    if (m->data_len < kEth + ihl) return drop(m, kTruncated);
    length = rte_be_to_cpu_16(reinterpret_cast<const rte_ipv4_hdr*>(l3)->total_length);
  } else {
    if (m->data_len < kEth + sizeof(rte_ipv6_hdr)) return drop(m, kTruncated);
    if ((l3[0] >> 4) != 6) return drop(m, kNotIp);
    length = sizeof(rte_ipv6_hdr) + rte_be_to_cpu_16(reinterpret_cast<const rte_ipv6_hdr*>(l3)->payload_len);
  }
  uint8_t type, code;
  uint32_t info;
  uint16_t iface = kNoInterface;
  if (meta_.has(m)) {
    const IcmpErrorMeta& e = meta_.get(m);
    type = e.type;
    code = e.code;
    info = e.info;
    iface = e.iface;
  } else if (fixed_.set) {
    type = v4 ? fixed_.type4 : fixed_.type6;
    code = v4 ? fixed_.code4 : fixed_.code6;
    info = fixed_.mtu;
  } else {
    return drop(m, kNoMetadata);
  }
  const bool l2_multicast = (eth->dst_addr.addr_bytes[0] & 1) != 0;
  if (v4 ? !eligible4(m, l3, ihl, l2_multicast) : !eligible6(m, l3, type, code, l2_multicast))
    return drop(m, kNotEligible);
  // The ingress metadata (ArpNd) knows an overlay's or a VLAN's interface;
  // the ICMP metadata's (IpLookup) and the port only know the port's.
  const Interface* in = ingress_.has(m) ? table_->by_id(ingress_.get(m)) : nullptr;
  if (!in) in = iface != kNoInterface ? table_->by_id(iface) : table_->by_port(m->port);
  if (!in) return drop(m, kNoSource);
  IpAddr dst;
  if (v4) dst = Ip4::of(reinterpret_cast<const uint8_t*>(&reinterpret_cast<const rte_ipv4_hdr*>(l3)->src_addr));
  else dst = Ip6::of(reinterpret_cast<const rte_ipv6_hdr*>(l3)->src_addr);
  const IpAddr src = in->source_for(dst);
  if (src.version != dst.version) return drop(m, kNoSource);
  if (!bucket_.take(now_)) return drop(m, kRateLimited);
  const uint32_t avail = std::min(length, m->pkt_len - kEth);
  rte_mbuf* e = v4 ? build4(m, l3, avail, src, type, code, info) : build6(m, l3, avail, src, type, code, info);
  if (!e) return drop(m, kAllocFailed);
  e->port = m->port;
  sent_[v4 ? 0 : 1][kind_of(!v4, type, code)]++;
  emit(0, e);
  drop(m, kAnswered);
}

void IcmpError::push(uint16_t, Batch& b) {
  now_ = Clock::now_ns();
  for (uint16_t i = 0; i < b.count; i++) handle(b.pkts[i]);
  b.clear();
}

}  // namespace weft::route

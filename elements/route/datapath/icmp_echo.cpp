#include "datapath/icmp_echo.hpp"

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>

#include <cmath>
#include <cstring>

#include "weft/clock.hpp"

namespace weft::route {

const ElementClass& IcmpEcho::klass() {
  static const ElementClass k =
      ElementClass::make<IcmpEcho>("IcmpEcho")
          .describe("Answers ICMP and ICMPv6 echo requests to the router's own addresses, in place, rate-limited.",
                    "Takes Ethernet frames for the router (IpLocal's `local` output). An echo request (ICMP type "
                    "8, ICMPv6 type 128 right after the IPv6 header) whose destination is an address of the "
                    "Interfaces service `interfaces` becomes its echo reply in the same buffer and leaves on "
                    "`out`: source and destination addresses swapped (the reply comes from the address the "
                    "request was sent to), TTL / hop limit 64, the destination MAC is the request's source MAC "
                    "and the source MAC the MAC of the interface it arrived on (the ingress metadata ArpNd sets, "
                    "else the interface of its port, else the interface owning the address), Ethernet padding trimmed, identifier, sequence and data "
                    "kept. The IPv4 header checksum is recomputed; the request's ICMP checksum is verified "
                    "(ICMPv6: with its pseudo-header) and the reply's updated for the type it changes (RFC "
                    "1624). Connect `out` to the PortTx of the port the requests come in on.\n"
                    "Everything else goes to `other` untouched: other protocols and ICMP types, fragments "
                    "(the host stack reassembles), IPv6 packets with extension headers, requests to addresses "
                    "that are not ours (send `other` to the host path). Dropped: requests from a source no "
                    "reply may go to (unspecified, loopback, multicast, broadcast, class E), a bad checksum, "
                    "a truncated packet, and replies beyond the rate limit.\n"
                    "Rate limit: a token bucket on the framework's clock, `rate` replies per second with bursts "
                    "of `burst`, for the whole router (each of N workers gets rate/N and burst/N, at least 1); "
                    "`rate: 0` removes the limit. Reload keeps the bucket and the counts when rate and burst "
                    "are unchanged.\n"
                    "Example:\n"
                    "  echo: {class: IcmpEcho, interfaces: ifaces}\n"
                    "  local[local] -> echo; echo[out] -> tx_p0; echo[other] -> host")
          .input("in")
          .output("out")
          .output("other")
          .uses<InterfacesHandle>("interfaces", "the Interfaces service whose addresses answer")
          .param("rate", ParamType::Double, "1000", "echo replies per second, router-wide (0: no limit)")
          .param("burst", ParamType::UInt, "50", "replies sent at once before the rate applies")
          .drop(kTruncated, "truncated", "the frame ends inside its headers or before the IP length")
          .drop(kBadChecksum, "bad_checksum", "the echo request's ICMP checksum is wrong")
          .drop(kBadSource, "bad_source", "the request's source is unspecified, loopback, multicast or broadcast")
          .drop(kRateLimited, "rate_limited", "a reply beyond the rate limit (the request is dropped)")
          .read("replied4", "ICMP echo replies sent", [](const IcmpEcho& e) { return std::to_string(e.replied4_); })
          .read("replied6", "ICMPv6 echo replies sent", [](const IcmpEcho& e) { return std::to_string(e.replied6_); })
          .read("tokens", "replies this worker may send at once now",
                [](const IcmpEcho& e) {
                  return e.bucket_.unlimited() ? std::string("unlimited")
                                               : std::to_string(e.bucket_.tokens(Clock::now_ns()));
                });
  return k;
}

void IcmpEcho::configure(ConfigContext& ctx) {
  const Params& p = ctx.params();
  rate_ = p.get<double>("rate");
  if (!std::isfinite(rate_) || rate_ < 0 || rate_ > 1e9)
    throw ConfigError(p.mark("rate"), "rate: expected 0 (no limit) to 1e9 replies per second");
  burst_ = p.get<uint64_t>("burst");
  if (burst_ < 1 || burst_ > 1000000) throw ConfigError(p.mark("burst"), "burst: expected 1 to 1000000");
}

void IcmpEcho::initialize(InitContext& ctx) {
  handle_ = ctx.service<const InterfacesHandle>("interfaces");
  table_ = handle_->interfaces();
  if (!table_) throw InitError("the Interfaces service has no interface table");
  ingress_ = ingress_slot();
  local_origin_ = fields::local_origin();
  const RateShare s = RateShare::of(rate_, burst_, ctx.worker_count());
  bucket_.configure(s.rate, s.burst, Clock::now_ns());
}

void IcmpEcho::cleanup() {
  table_.reset();
  handle_.reset();
}

StateCarry IcmpEcho::take_state(Element& old_el) {
  auto& old = static_cast<IcmpEcho&>(old_el);
  replied4_ = old.replied4_;
  replied6_ = old.replied6_;
  if (old.rate_ != rate_ || old.burst_ != burst_) return StateCarry::reset("rate or burst changed: the bucket starts full");
  bucket_ = old.bucket_;
  return StateCarry::kept("token bucket and counts");
}

namespace {

// HC' = ~(~HC + ~m + m') (RFC 1624, eqn. 3): the checksum after one 16-bit word changed.
inline uint16_t checksum_update(uint16_t hc_be, uint16_t old_word, uint16_t new_word) {
  uint32_t sum = static_cast<uint16_t>(~rte_be_to_cpu_16(hc_be));
  sum += static_cast<uint16_t>(~old_word);
  sum += new_word;
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return rte_cpu_to_be_16(static_cast<uint16_t>(~sum));
}

inline bool bad_source4(uint32_t s_be) {
  const uint32_t s = rte_be_to_cpu_32(s_be);
  return (s >> 24) == 0 || (s >> 24) == 127 || (s & 0xe0000000u) == 0xe0000000u;
}

inline bool bad_source6(const uint8_t* a) {
  static const uint8_t kZero[15] = {};
  return a[0] == 0xff || (std::memcmp(a, kZero, 15) == 0 && (a[15] == 0 || a[15] == 1));
}

inline void swap_macs(rte_ether_hdr* eth, const Interface* out) {
  std::memcpy(eth->dst_addr.addr_bytes, eth->src_addr.addr_bytes, 6);
  std::memcpy(eth->src_addr.addr_bytes, out->mac.bytes.data(), 6);
}

}  // namespace

const Interface* IcmpEcho::egress(rte_mbuf* m, const Interface* owner) const {
  const Interface* i = ingress_of(*table_, ingress_, m);
  return i ? i : owner;
}

IcmpEcho::Verdict IcmpEcho::reply4(rte_mbuf* m) {
  constexpr uint32_t kEth = sizeof(rte_ether_hdr);
  if (m->data_len < kEth + sizeof(rte_ipv4_hdr)) return Verdict::Truncated;
  auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
  const uint32_t ihl = (ip->version_ihl & 0xf) * 4u;
  if ((ip->version_ihl >> 4) != 4 || ihl < sizeof(rte_ipv4_hdr)) return Verdict::Other;
  if (ip->next_proto_id != IPPROTO_ICMP) return Verdict::Other;
  if (ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)) return Verdict::Other;
  const uint32_t total = rte_be_to_cpu_16(ip->total_length);
  if (total < ihl + sizeof(rte_icmp_hdr) || m->pkt_len < kEth + total) return Verdict::Truncated;
  if (m->data_len < kEth + ihl + sizeof(rte_icmp_hdr)) return Verdict::Other;  // headers split: the host stack's
  auto* icmp = reinterpret_cast<rte_icmp_hdr*>(reinterpret_cast<uint8_t*>(ip) + ihl);
  if (icmp->icmp_type != RTE_IP_ICMP_ECHO_REQUEST) return Verdict::Other;
  const Interface* owner = table_->local4(ip->dst_addr);
  if (!owner) return Verdict::Other;
  if (bad_source4(ip->src_addr)) return Verdict::BadSource;
  uint16_t sum;
  if (rte_raw_cksum_mbuf(m, kEth + ihl, total - ihl, &sum) != 0 || sum != 0xffff) return Verdict::BadChecksum;
  if (!bucket_.take(now_)) return Verdict::Limited;
  const uint32_t dst = ip->dst_addr;
  ip->dst_addr = ip->src_addr;
  ip->src_addr = dst;
  ip->time_to_live = 64;
  ip->hdr_checksum = 0;
  ip->hdr_checksum = rte_ipv4_cksum(ip);
  icmp->icmp_cksum = checksum_update(icmp->icmp_cksum, static_cast<uint16_t>(RTE_IP_ICMP_ECHO_REQUEST << 8 | icmp->icmp_code),
                                     static_cast<uint16_t>(RTE_IP_ICMP_ECHO_REPLY << 8 | icmp->icmp_code));
  icmp->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
  swap_macs(eth, egress(m, owner));
  if (m->pkt_len > kEth + total) rte_pktmbuf_trim(m, static_cast<uint16_t>(m->pkt_len - kEth - total));
  replied4_++;
  return Verdict::Reply;
}

IcmpEcho::Verdict IcmpEcho::reply6(rte_mbuf* m) {
  constexpr uint32_t kEth = sizeof(rte_ether_hdr), kIp = sizeof(rte_ipv6_hdr);
  if (m->data_len < kEth + kIp) return Verdict::Truncated;
  auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
  auto* ip = reinterpret_cast<rte_ipv6_hdr*>(eth + 1);
  if ((rte_be_to_cpu_32(ip->vtc_flow) >> 28) != 6) return Verdict::Other;
  if (ip->proto != IPPROTO_ICMPV6) return Verdict::Other;
  const uint32_t plen = rte_be_to_cpu_16(ip->payload_len);
  if (plen < sizeof(rte_icmp_hdr) || m->pkt_len < kEth + kIp + plen) return Verdict::Truncated;
  if (m->data_len < kEth + kIp + sizeof(rte_icmp_hdr)) return Verdict::Other;
  auto* icmp = reinterpret_cast<rte_icmp_hdr*>(ip + 1);
  if (icmp->icmp_type != icmp6::kEchoRequest) return Verdict::Other;
  const Interface* owner = table_->local6(ip->dst_addr);
  if (!owner) return Verdict::Other;
  if (bad_source6(ip->src_addr)) return Verdict::BadSource;
  uint16_t sum;
  if (rte_raw_cksum_mbuf(m, kEth + kIp, plen, &sum) != 0) return Verdict::Truncated;
  uint32_t s = uint32_t(sum) + rte_ipv6_phdr_cksum(ip, 0);
  s = (s & 0xffff) + (s >> 16);
  if (s != 0xffff) return Verdict::BadChecksum;
  if (!bucket_.take(now_)) return Verdict::Limited;
  uint8_t dst[16];
  std::memcpy(dst, ip->dst_addr, 16);
  std::memcpy(ip->dst_addr, ip->src_addr, 16);
  std::memcpy(ip->src_addr, dst, 16);
  ip->hop_limits = 64;
  icmp->icmp_cksum = checksum_update(icmp->icmp_cksum, static_cast<uint16_t>(icmp6::kEchoRequest << 8 | icmp->icmp_code),
                                     static_cast<uint16_t>(icmp6::kEchoReply << 8 | icmp->icmp_code));
  icmp->icmp_type = icmp6::kEchoReply;
  swap_macs(eth, egress(m, owner));
  if (m->pkt_len > kEth + kIp + plen) rte_pktmbuf_trim(m, static_cast<uint16_t>(m->pkt_len - kEth - kIp - plen));
  replied6_++;
  return Verdict::Reply;
}

void IcmpEcho::push(uint16_t, Batch& b) {
  now_ = Clock::now_ns();  // once per batch
  for (uint16_t i = 0; i < b.count; i++) {
    rte_mbuf* m = b.pkts[i];
    if (m->data_len < sizeof(rte_ether_hdr)) {
      drop(m, kTruncated);
      continue;
    }
    const uint16_t type = rte_pktmbuf_mtod(m, const rte_ether_hdr*)->ether_type;
    Verdict v = type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4)   ? reply4(m)
                : type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6) ? reply6(m)
                                                                : Verdict::Other;
    switch (v) {
      case Verdict::Reply:
        local_origin_.set(m);
        emit(kOut, m);
        break;
      case Verdict::Limited: drop(m, kRateLimited); break;
      case Verdict::Other: emit(kOther, m); break;
      case Verdict::Truncated: drop(m, kTruncated); break;
      case Verdict::BadChecksum: drop(m, kBadChecksum); break;
      case Verdict::BadSource: drop(m, kBadSource); break;
    }
  }
  b.clear();
}

}  // namespace weft::route

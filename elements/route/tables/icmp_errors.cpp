#include "tables/icmp_errors.hpp"

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <cstring>

namespace weft::route::icmp_errors {

namespace {

constexpr uint32_t kEth = sizeof(rte_ether_hdr);
constexpr uint32_t kIcmp = sizeof(rte_icmp_hdr);

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

bool eligible4(const rte_mbuf* m, const uint8_t* l3, uint32_t ihl, bool l2_multicast, std::span<const uint32_t> broadcasts4) {
  const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(l3);
  if (l2_multicast) return false;
  if (ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_OFFSET_MASK)) return false;
  if (!single_host4(ip->src_addr)) return false;
  const uint32_t d = rte_be_to_cpu_32(ip->dst_addr);
  if ((d & 0xe0000000u) == 0xe0000000u || (d >> 24) == 0) return false;  // multicast, class E, broadcast, 0/8
  for (uint32_t b : broadcasts4)
    if (b == ip->dst_addr) return false;
  if (ip->next_proto_id == IPPROTO_ICMP) {
    uint8_t t;
    const auto* p = static_cast<const uint8_t*>(rte_pktmbuf_read(m, kEth + ihl, 1, &t));
    if (!p || icmp4_error_type(*p)) return false;  // unreadable: take it for an error, to be safe
  }
  return true;
}

bool eligible6(const rte_mbuf* m, const uint8_t* l3, uint8_t type, uint8_t code, bool l2_multicast) {
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

// A new mbuf holding an Ethernet header (MACs zero, `ethertype`), `hdr`
// bytes of headers and as much of `avail` as fits in `max` (with the
// headers); `quote` says how much. Null: no mbuf.
uint8_t* start(rte_mempool* pool, uint16_t ethertype, uint32_t hdr, uint32_t avail, uint32_t max, rte_mbuf*& e,
               uint32_t& quote) {
  e = rte_pktmbuf_alloc(pool);
  if (!e) return nullptr;
  const uint32_t room = rte_pktmbuf_tailroom(e);
  if (room < kEth + hdr) {
    rte_pktmbuf_free(e);
    e = nullptr;
    return nullptr;
  }
  quote = std::min({avail, max - hdr, room - kEth - hdr});
  auto* eth = reinterpret_cast<rte_ether_hdr*>(rte_pktmbuf_append(e, static_cast<uint16_t>(kEth + hdr + quote)));
  std::memset(eth, 0, sizeof *eth);
  eth->ether_type = rte_cpu_to_be_16(ethertype);
  return reinterpret_cast<uint8_t*>(eth + 1);
}

// The ICMP header (type, code, the zeroed rest) and the quote of m's IP packet.
uint8_t* fill_icmp(uint8_t* icmp, const rte_mbuf* m, uint8_t type, uint8_t code, uint32_t quote) {
  std::memset(icmp, 0, kIcmp);
  icmp[0] = type;
  icmp[1] = code;
  uint8_t* q = icmp + kIcmp;
  const void* r = rte_pktmbuf_read(m, kEth, quote, q);
  if (r != q) std::memcpy(q, r, quote);
  return icmp;
}

}  // namespace

Verdict examine(const rte_mbuf* m, uint8_t type, uint8_t code, std::span<const uint32_t> broadcasts4, Offender& o) {
  if (m->data_len < kEth) return Verdict::Truncated;
  const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
  o.v4 = eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
  if (!o.v4 && eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6)) return Verdict::NotIp;
  o.l3 = reinterpret_cast<const uint8_t*>(eth + 1);
  uint32_t length;  // the IP packet's length as its header says
  if (o.v4) {
    if (m->data_len < kEth + sizeof(rte_ipv4_hdr)) return Verdict::Truncated;
    o.ihl = (o.l3[0] & 0xf) * 4u;
    if ((o.l3[0] >> 4) != 4 || o.ihl < sizeof(rte_ipv4_hdr)) return Verdict::NotIp;
    if (m->data_len < kEth + o.ihl) return Verdict::Truncated;
    const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(o.l3);
    length = rte_be_to_cpu_16(ip->total_length);
    o.source = Ip4::of(reinterpret_cast<const uint8_t*>(&ip->src_addr));
  } else {
    if (m->data_len < kEth + sizeof(rte_ipv6_hdr)) return Verdict::Truncated;
    if ((o.l3[0] >> 4) != 6) return Verdict::NotIp;
    o.ihl = sizeof(rte_ipv6_hdr);
    const auto* ip = reinterpret_cast<const rte_ipv6_hdr*>(o.l3);
    length = sizeof(rte_ipv6_hdr) + rte_be_to_cpu_16(ip->payload_len);
    o.source = Ip6::of(ip->src_addr);
  }
  const bool l2_multicast = (eth->dst_addr.addr_bytes[0] & 1) != 0;
  if (o.v4 ? !eligible4(m, o.l3, o.ihl, l2_multicast, broadcasts4) : !eligible6(m, o.l3, type, code, l2_multicast))
    return Verdict::NotEligible;
  o.avail = std::min(length, m->pkt_len - kEth);
  return Verdict::Ok;
}

std::vector<uint32_t> broadcasts4(const InterfaceTable& table) {
  std::vector<uint32_t> out;
  for (const Interface& i : table.all())
    for (const Prefix& p : i.addresses) {
      if (!p.v4() || p.len > 30) continue;
      uint32_t a;
      std::memcpy(&a, p.addr.data(), 4);
      out.push_back(rte_cpu_to_be_32(rte_be_to_cpu_32(a) | (p.len == 0 ? 0xffffffffu : (1u << (32 - p.len)) - 1)));
    }
  return out;
}

rte_mbuf* build(rte_mempool* pool, const rte_mbuf* m, const Offender& o, const IpAddr& src, uint8_t type,
                uint8_t code, uint32_t info, uint16_t ip_id) {
  rte_mbuf* e = nullptr;
  uint32_t quote = 0;
  if (o.v4) {
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(
        start(pool, RTE_ETHER_TYPE_IPV4, sizeof(rte_ipv4_hdr) + kIcmp, o.avail, kMax4, e, quote));
    if (!ip) return nullptr;
    const auto* orig = reinterpret_cast<const rte_ipv4_hdr*>(o.l3);
    std::memset(ip, 0, sizeof *ip);
    ip->version_ihl = 0x45;
    ip->type_of_service = 0xc0;  // internetwork control (RFC 1812 4.3.2.5)
    ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(sizeof(rte_ipv4_hdr) + kIcmp + quote));
    ip->packet_id = rte_cpu_to_be_16(ip_id);
    ip->time_to_live = 64;
    ip->next_proto_id = IPPROTO_ICMP;
    std::memcpy(&ip->src_addr, src.data(), 4);
    ip->dst_addr = orig->src_addr;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    uint8_t* icmp = fill_icmp(reinterpret_cast<uint8_t*>(ip + 1), m, type, code, quote);
    if (type == 3 && code == 4) {  // fragmentation needed (RFC 1191): next-hop MTU in the low 16 bits
      icmp[6] = static_cast<uint8_t>(info >> 8);
      icmp[7] = static_cast<uint8_t>(info);
    } else if (type == 12) {  // parameter problem: the pointer
      icmp[4] = static_cast<uint8_t>(info);
    }
    const uint16_t ck = static_cast<uint16_t>(~rte_raw_cksum(icmp, kIcmp + quote));
    std::memcpy(icmp + 2, &ck, 2);  // rte_raw_cksum sums in memory order: store as is
    return e;
  }
  auto* ip = reinterpret_cast<rte_ipv6_hdr*>(
      start(pool, RTE_ETHER_TYPE_IPV6, sizeof(rte_ipv6_hdr) + kIcmp, o.avail, kMax6, e, quote));
  if (!ip) return nullptr;
  const auto* orig = reinterpret_cast<const rte_ipv6_hdr*>(o.l3);
  ip->vtc_flow = rte_cpu_to_be_32(6u << 28);
  ip->payload_len = rte_cpu_to_be_16(static_cast<uint16_t>(kIcmp + quote));
  ip->proto = IPPROTO_ICMPV6;
  ip->hop_limits = 64;
  std::memcpy(ip->src_addr, src.data(), 16);
  std::memcpy(ip->dst_addr, orig->src_addr, 16);
  uint8_t* icmp = fill_icmp(reinterpret_cast<uint8_t*>(ip + 1), m, type, code, quote);
  if (type == 2 || type == 4) {  // packet too big: the MTU (RFC 4443 3.2); parameter problem: the pointer (3.4)
    const uint32_t v = rte_cpu_to_be_32(info);
    std::memcpy(icmp + 4, &v, 4);
  }
  const uint16_t ck = rte_ipv6_udptcp_cksum(ip, icmp);  // the pseudo-header's protocol is 58
  std::memcpy(icmp + 2, &ck, 2);
  return e;
}

}  // namespace weft::route::icmp_errors

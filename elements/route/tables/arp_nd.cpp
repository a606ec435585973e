#include "tables/arp_nd.hpp"

#include <arpa/inet.h>

namespace weft::route::nd {

namespace {

constexpr uint8_t kOptSourceLl = 1, kOptTargetLl = 2;
constexpr size_t kIcmp6Off = sizeof(rte_ether_hdr) + sizeof(rte_ipv6_hdr);

}  // namespace

uint16_t icmp6_sum(const rte_ipv6_hdr* ip, const uint8_t* msg, size_t len) {
  uint32_t sum = rte_raw_cksum(ip->src_addr, 16);
  sum += rte_raw_cksum(ip->dst_addr, 16);
  sum += rte_cpu_to_be_16(static_cast<uint16_t>(len)) + rte_cpu_to_be_16(IPPROTO_ICMPV6);
  sum += rte_raw_cksum(msg, len);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

namespace {

void write_ipv6(uint8_t* out, const Mac& src_mac, const Mac& dst_mac, const Ip6& src, const Ip6& dst, uint16_t payload) {
  auto* eth = reinterpret_cast<rte_ether_hdr*>(out);
  std::memcpy(eth->dst_addr.addr_bytes, dst_mac.data(), 6);
  std::memcpy(eth->src_addr.addr_bytes, src_mac.data(), 6);
  eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6);
  auto* ip = reinterpret_cast<rte_ipv6_hdr*>(eth + 1);
  ip->vtc_flow = rte_cpu_to_be_32(6u << 28);
  ip->payload_len = rte_cpu_to_be_16(payload);
  ip->proto = IPPROTO_ICMPV6;
  ip->hop_limits = 255;
  std::memcpy(ip->src_addr, src.data(), 16);
  std::memcpy(ip->dst_addr, dst.data(), 16);
}

void finish_icmp6(uint8_t* out, size_t len) {
  auto* ip = reinterpret_cast<rte_ipv6_hdr*>(out + sizeof(rte_ether_hdr));
  uint8_t* msg = out + kIcmp6Off;
  msg[2] = msg[3] = 0;
  uint16_t ck = static_cast<uint16_t>(~icmp6_sum(ip, msg, len));
  if (ck == 0) ck = 0xffff;
  std::memcpy(msg + 2, &ck, 2);
}

}  // namespace

Verdict parse_arp(const uint8_t* frame, size_t len, Arp& out) {
  if (len < sizeof(rte_ether_hdr)) return Verdict::Truncated;
  const auto* eth = reinterpret_cast<const rte_ether_hdr*>(frame);
  if (eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP)) return Verdict::NotArpNd;
  if (len < kArpFrame) return Verdict::Truncated;
  const auto* a = reinterpret_cast<const rte_arp_hdr*>(eth + 1);
  if (a->arp_hardware != rte_cpu_to_be_16(RTE_ARP_HRD_ETHER) || a->arp_protocol != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) ||
      a->arp_hlen != 6 || a->arp_plen != 4)
    return Verdict::BadArp;
  const uint16_t op = rte_be_to_cpu_16(a->arp_opcode);
  if (op != RTE_ARP_OP_REQUEST && op != RTE_ARP_OP_REPLY) return Verdict::BadArp;
  out.op = op;
  out.sender_mac = Mac::of(a->arp_data.arp_sha.addr_bytes);
  out.target_mac = Mac::of(a->arp_data.arp_tha.addr_bytes);
  std::memcpy(&out.sender_ip, &a->arp_data.arp_sip, 4);
  std::memcpy(&out.target_ip, &a->arp_data.arp_tip, 4);
  // A sender must be a unicast station (RFC 1812 3.3.2: never learn a multicast MAC).
  if (out.sender_mac.multicast() || out.sender_mac.zero()) return Verdict::BadArp;
  return Verdict::Ok;
}

Verdict parse_nd(const uint8_t* frame, size_t len, Nd& out) {
  if (len < sizeof(rte_ether_hdr)) return Verdict::Truncated;
  const auto* eth = reinterpret_cast<const rte_ether_hdr*>(frame);
  if (eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6)) return Verdict::NotArpNd;
  if (len < kIcmp6Off + 4) {
    if (len >= kIcmp6Off && reinterpret_cast<const rte_ipv6_hdr*>(eth + 1)->proto == IPPROTO_ICMPV6)
      return Verdict::Truncated;
    return Verdict::NotArpNd;
  }
  const auto* ip = reinterpret_cast<const rte_ipv6_hdr*>(eth + 1);
  if (ip->proto != IPPROTO_ICMPV6) return Verdict::NotArpNd;
  const uint8_t* msg = frame + kIcmp6Off;
  const uint8_t type = msg[0];
  if (type < 133 || type > 137) return Verdict::NotArpNd;
  const size_t plen = rte_be_to_cpu_16(ip->payload_len);
  if (kIcmp6Off + plen > len) return Verdict::Truncated;
  if (ip->hop_limits != 255 || msg[1] != 0) return Verdict::BadNd;
  if (icmp6_sum(ip, msg, plen) != 0xffff) return Verdict::BadNd;
  out = Nd{};
  out.type = type;
  out.src = Ip6::of(ip->src_addr);
  out.dst = Ip6::of(ip->dst_addr);
  size_t fixed;
  switch (type) {
    case 133: fixed = 8; break;             // RS: type, code, cksum, reserved
    case 134: fixed = 16; break;            // RA
    case 135: case 136: fixed = 24; break;  // NS/NA: + target
    default: fixed = 40; break;             // redirect: + target + destination
  }
  if (plen < fixed) return Verdict::BadNd;
  if (type == 135 || type == 136 || type == 137) {
    out.target = Ip6::of(msg + 8);
    if (out.target.bytes[0] == 0xff) return Verdict::BadNd;  // a multicast target (RFC 4861 7.1.1)
  }
  if (type == 136) {
    out.router = (msg[4] & 0x80) != 0;
    out.solicited = (msg[4] & 0x40) != 0;
    out.override_flag = (msg[4] & 0x20) != 0;
    if (out.solicited && out.dst.bytes[0] == 0xff) return Verdict::BadNd;  // RFC 4861 7.1.2
  }
  const bool unspecified_src = out.src == Ip6{};
  if (type == 135 && unspecified_src && out.dst.bytes[0] != 0xff) return Verdict::BadNd;  // DAD goes to solicited-node
  // Options: each a multiple of 8 bytes, never 0 (RFC 4861 4.6).
  for (size_t o = fixed; o < plen;) {
    if (plen - o < 2) return Verdict::BadNd;
    const size_t olen = size_t(msg[o + 1]) * 8;
    if (olen == 0 || o + olen > plen) return Verdict::BadNd;
    const uint8_t ot = msg[o];
    if ((ot == kOptSourceLl && type != 136) || (ot == kOptTargetLl && (type == 136 || type == 137))) {
      if (olen != 8) return Verdict::BadNd;  // Ethernet: 6 bytes + type + length
      out.has_lladdr = true;
      out.lladdr = Mac::of(msg + o + 2);
    }
    o += olen;
  }
  // DAD probes carry no source link-layer option (RFC 4861 7.1.1).
  if (type == 135 && unspecified_src && out.has_lladdr) return Verdict::BadNd;
  if (out.has_lladdr && (out.lladdr.multicast() || out.lladdr.zero())) return Verdict::BadNd;
  return Verdict::Ok;
}

void build_arp(uint8_t* out, uint16_t op, const Mac& eth_src, const Mac& eth_dst, const Mac& sender_mac,
               uint32_t sender_ip, const Mac& target_mac, uint32_t target_ip) {
  auto* eth = reinterpret_cast<rte_ether_hdr*>(out);
  std::memcpy(eth->dst_addr.addr_bytes, eth_dst.data(), 6);
  std::memcpy(eth->src_addr.addr_bytes, eth_src.data(), 6);
  eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
  auto* a = reinterpret_cast<rte_arp_hdr*>(eth + 1);
  a->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
  a->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
  a->arp_hlen = 6;
  a->arp_plen = 4;
  a->arp_opcode = rte_cpu_to_be_16(op);
  std::memcpy(a->arp_data.arp_sha.addr_bytes, sender_mac.data(), 6);
  std::memcpy(&a->arp_data.arp_sip, &sender_ip, 4);
  std::memcpy(a->arp_data.arp_tha.addr_bytes, target_mac.data(), 6);
  std::memcpy(&a->arp_data.arp_tip, &target_ip, 4);
}

void build_ns(uint8_t* out, const Mac& src_mac, const Ip6& src_ip, const Ip6& target, const Mac* unicast_mac) {
  const Ip6 dst = unicast_mac ? target : solicited_node(target);
  const Mac dmac = unicast_mac ? *unicast_mac : multicast_mac(dst);
  write_ipv6(out, src_mac, dmac, src_ip, dst, 32);
  uint8_t* msg = out + kIcmp6Off;
  std::memset(msg, 0, 32);
  msg[0] = 135;
  std::memcpy(msg + 8, target.data(), 16);
  msg[24] = kOptSourceLl;
  msg[25] = 1;
  std::memcpy(msg + 26, src_mac.data(), 6);
  finish_icmp6(out, 32);
}

void build_na(uint8_t* out, const Mac& src_mac, const Ip6& src_ip, const Ip6& dst_ip, const Mac& dst_mac,
              const Ip6& target, bool solicited, bool override_flag, bool router) {
  write_ipv6(out, src_mac, dst_mac, src_ip, dst_ip, 32);
  uint8_t* msg = out + kIcmp6Off;
  std::memset(msg, 0, 32);
  msg[0] = 136;
  msg[4] = static_cast<uint8_t>((router ? 0x80 : 0) | (solicited ? 0x40 : 0) | (override_flag ? 0x20 : 0));
  std::memcpy(msg + 8, target.data(), 16);
  msg[24] = kOptTargetLl;
  msg[25] = 1;
  std::memcpy(msg + 26, src_mac.data(), 6);
  finish_icmp6(out, 32);
}

Ip6 solicited_node(const Ip6& a) {
  Ip6 s = *Ip6::parse("ff02::1:ff00:0");
  s.bytes[13] = a.bytes[13];
  s.bytes[14] = a.bytes[14];
  s.bytes[15] = a.bytes[15];
  return s;
}

Mac multicast_mac(const Ip6& a) { return Mac{{0x33, 0x33, a.bytes[12], a.bytes[13], a.bytes[14], a.bytes[15]}}; }

Ip6 link_local_of(const Mac& m) {
  Ip6 a;
  a.bytes[0] = 0xfe;
  a.bytes[1] = 0x80;
  a.bytes[8] = static_cast<uint8_t>(m.bytes[0] ^ 0x02);
  a.bytes[9] = m.bytes[1];
  a.bytes[10] = m.bytes[2];
  a.bytes[11] = 0xff;
  a.bytes[12] = 0xfe;
  a.bytes[13] = m.bytes[3];
  a.bytes[14] = m.bytes[4];
  a.bytes[15] = m.bytes[5];
  return a;
}

}  // namespace weft::route::nd

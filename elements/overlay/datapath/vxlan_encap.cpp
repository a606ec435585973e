#include "datapath/vxlan_encap.hpp"

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_hash_crc.h>
#include <rte_ip.h>
#include <rte_udp.h>
#include <rte_vxlan.h>

#include <algorithm>
#include <cstring>

namespace weft::overlay {

constexpr uint16_t kUdpVxlanLen = sizeof(rte_udp_hdr) + sizeof(rte_vxlan_hdr);
constexpr uint32_t kVxlanFlagI = 0x08000000;  // the I flag, first byte of the header

const ElementClass& VxlanEncap::klass() {
  static const ElementClass k =
      ElementClass::make<VxlanEncap>("VxlanEncap")
          .describe("Encapsulates Ethernet frames in VXLAN (RFC 7348) over IPv4 or IPv6.",
                    "Puts outer Ethernet, IP, UDP and VXLAN headers in front of each frame (in its headroom; the "
                    "frame is not copied). The VNI is `vni`, or the packet's VNI metadata (set by VxlanDecap or "
                    "a lookup). The outer destination is `remote_ip`, or the packet's underlay metadata (family, "
                    "address, and a non-zero udp_port that replaces `dst_port`); its MAC is `remote_mac`, or the "
                    "underlay metadata's mac. The UDP source port is a hash of the inner flow (MAC addresses, "
                    "ethertype, IP addresses, protocol, ports) mapped into src_port_min..src_port_max, so one "
                    "flow keeps one path through ECMP underlays. The outer IPv4 header carries its checksum and "
                    "the DF bit (`dont_fragment`); the UDP checksum is 0 over IPv4 and computed over IPv6. "
                    "Packets whose outer IP packet would exceed `mtu` are dropped (too_big), never fragmented.\n"
                    "Without `local_mac` (and `remote_mac`), the outer Ethernet addresses are left zero: route the "
                    "outer packet with an IpLookup whose `interfaces` resolve the underlay's next hop (ARP/ND), "
                    "as the router routes any packet it originates (`enc -> underlay_lookup -> tx`); the "
                    "underlay metadata's mac is then not used.\n"
                    "Example:\n"
                    "  enc: {class: VxlanEncap, vni: 100, local_ip: 192.0.2.1, remote_ip: 192.0.2.2,\n"
                    "        local_mac: 02:00:00:00:00:01, remote_mac: 02:00:00:00:00:02}\n"
                    "  routed: {class: VxlanEncap, vni: 100, local_ip: 192.0.2.1, remote_ip: 192.0.2.2}")
          .input("in")
          .output("out")
          .param("vni", ParamType::UInt, "", "VNI 0-16777215; absent: the packet's VNI metadata")
          .required("local_ip", ParamType::Ip, "outer source address, IPv4 or IPv6")
          .param("remote_ip", ParamType::Ip, "",
                 "outer destination address (same family); absent: the packet's underlay metadata")
          .param("local_mac", ParamType::Mac, "",
                 "outer source MAC; absent (and remote_mac too): both outer MACs are left zero for an IpLookup "
                 "downstream to write (the underlay routed, its next hop resolved by ARP/ND)")
          .param("remote_mac", ParamType::Mac, "", "outer destination MAC; absent: the underlay metadata's mac")
          .param("dst_port", ParamType::UInt, "4789", "outer UDP destination port")
          .param("src_port_min", ParamType::UInt, "49152", "lowest outer UDP source port (flow hash range)")
          .param("src_port_max", ParamType::UInt, "65535", "highest outer UDP source port (flow hash range)")
          .param("ttl", ParamType::UInt, "64", "outer TTL (IPv4) or hop limit (IPv6), 1-255")
          .param("dont_fragment", ParamType::Bool, "true", "set the DF bit of the outer IPv4 header")
          .param("mtu", ParamType::UInt, "1500", "largest outer IP packet; larger ones are dropped (too_big)")
          .drop(kNoVni, "no_vni", "no `vni` parameter and no VNI metadata on the packet")
          .drop(kBadVni, "bad_vni", "the VNI metadata is above 16777215")
          .drop(kNoDestination, "no_destination", "no `remote_ip` parameter and no underlay metadata on the packet")
          .drop(kFamilyMismatch, "family_mismatch", "the underlay metadata's address family differs from local_ip's")
          .drop(kNoDestinationMac, "no_destination_mac",
                "no `remote_mac` parameter and no MAC in the underlay metadata (local_mac given)")
          .drop(kRunt, "runt", "the frame is shorter than an Ethernet header")
          .drop(kTooBig, "too_big", "the outer IP packet would exceed `mtu`")
          .drop(kSharedBuffer, "shared_buffer", "the packet's buffer is shared with another packet (a clone)")
          .drop(kNoHeadroom, "no_headroom", "too little headroom for the outer headers (50 bytes IPv4, 70 IPv6)");
  return k;
}

namespace {

uint16_t port_param(const Params& p, const char* name) {
  const uint64_t v = p.get<uint64_t>(name);
  if (v < 1 || v > 65535) throw ConfigError(p.mark(name), std::string(name) + " must be 1-65535");
  return static_cast<uint16_t>(v);
}

// Whether prepending may write in front of the first segment's data: only
// if nobody else sees that buffer.
bool writable(const rte_mbuf* m) {
  if (rte_mbuf_refcnt_read(m) != 1 || RTE_MBUF_CLONED(m)) return false;
  return !RTE_MBUF_HAS_EXTBUF(m) || rte_mbuf_ext_refcnt_read(m->shinfo) == 1;
}

bool has_ports(uint8_t proto) { return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP; }

// The fields the source port hashes; zero where the frame has none.
struct FlowKey {
  uint8_t macs[12];
  uint16_t ethertype;
  uint8_t proto;
  uint8_t pad;
  uint8_t addrs[32];
  uint8_t ports[4];
};

// The one's-complement sum of `len` bytes from `off`, segment by segment.
// Not rte_raw_cksum_mbuf: DPDK 22.11's truncates a segment's unreduced sum to
// 16 bits before byte-swapping it (segments starting at an odd position), so
// carries are lost and the checksum is wrong.
uint16_t sum_segments(const rte_mbuf* m, uint32_t off, uint32_t len) {
  const rte_mbuf* seg = m;
  while (off >= seg->data_len) {
    off -= seg->data_len;
    seg = seg->next;
  }
  uint32_t sum = 0;
  for (uint32_t done = 0; done < len; seg = seg->next, off = 0) {
    const uint32_t n = std::min<uint32_t>(seg->data_len - off, len - done);
    uint16_t part = rte_raw_cksum(rte_pktmbuf_mtod_offset(seg, const uint8_t*, off), n);
    if (done & 1) part = rte_bswap16(part);
    sum += part;
    done += n;
  }
  sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>((sum & 0xffff) + (sum >> 16));
}

}  // namespace

void VxlanEncap::configure(ConfigContext& ctx) {
  const Params& p = ctx.params();
  if (p.given("vni")) {
    const uint64_t v = p.get<uint64_t>("vni");
    if (v > 0xffffff) throw ConfigError(p.mark("vni"), "vni must be 0-16777215 (24 bits)");
    vni_param_ = static_cast<uint32_t>(v);
  }
  local_ = p.get<IpAddr>("local_ip");
  if (p.given("remote_ip")) {
    remote_ = p.get<IpAddr>("remote_ip");
    if (remote_->version != local_.version)
      throw ConfigError(p.mark("remote_ip"), "remote_ip is IPv" + std::to_string(remote_->version) +
                                                 " but local_ip is IPv" + std::to_string(local_.version) +
                                                 ": the outer header has one family");
  }
  routed_ = !p.given("local_mac");
  const Mac local_mac = routed_ ? Mac{} : p.get<Mac>("local_mac");
  if (p.given("remote_mac")) {
    if (routed_)
      throw ConfigError(p.mark("remote_mac"),
                        "remote_mac without local_mac: give both, or neither (an IpLookup downstream writes them)");
    remote_mac_ = p.get<Mac>("remote_mac");
  }
  dst_port_ = port_param(p, "dst_port");
  src_min_ = port_param(p, "src_port_min");
  src_max_ = port_param(p, "src_port_max");
  if (src_min_ > src_max_)
    throw ConfigError(p.mark(p.given("src_port_max") ? "src_port_max" : "src_port_min"),
                      "src_port_min (" + std::to_string(src_min_) + ") is above src_port_max (" +
                          std::to_string(src_max_) + ")");
  const uint64_t ttl = p.get<uint64_t>("ttl");
  if (ttl < 1 || ttl > 255) throw ConfigError(p.mark("ttl"), "ttl must be 1-255");
  ttl_ = static_cast<uint8_t>(ttl);
  df_ = p.get<bool>("dont_fragment");
  ip_len_ = local_.v4() ? sizeof(rte_ipv4_hdr) : sizeof(rte_ipv6_hdr);
  overhead_ = static_cast<uint16_t>(RTE_ETHER_HDR_LEN + ip_len_ + kUdpVxlanLen);
  const uint64_t mtu = p.get<uint64_t>("mtu");
  const uint64_t min_mtu = ip_len_ + kUdpVxlanLen + RTE_ETHER_HDR_LEN;
  if (mtu < min_mtu || mtu > 65535)
    throw ConfigError(p.mark("mtu"), "mtu must be " + std::to_string(min_mtu) +
                                         "-65535 (outer IP, UDP and VXLAN headers and an Ethernet header fit)");
  mtu_ = static_cast<uint32_t>(mtu);

  // Every field that does not change per packet, once.
  std::memset(template_, 0, sizeof template_);
  uint8_t* t = template_;
  if (remote_mac_) std::memcpy(t, remote_mac_->data(), 6);
  std::memcpy(t + 6, local_mac.data(), 6);
  const uint16_t type = rte_cpu_to_be_16(local_.v4() ? RTE_ETHER_TYPE_IPV4 : RTE_ETHER_TYPE_IPV6);
  std::memcpy(t + 12, &type, 2);
  t += RTE_ETHER_HDR_LEN;
  if (local_.v4()) {
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(t);
    ip->version_ihl = RTE_IPV4_VHL_DEF;
    ip->fragment_offset = rte_cpu_to_be_16(df_ ? RTE_IPV4_HDR_DF_FLAG : 0);
    ip->time_to_live = ttl_;
    ip->next_proto_id = IPPROTO_UDP;
    std::memcpy(&ip->src_addr, local_.bytes.data(), 4);
    if (remote_) std::memcpy(&ip->dst_addr, remote_->bytes.data(), 4);
  } else {
    auto* ip = reinterpret_cast<rte_ipv6_hdr*>(t);
    ip->vtc_flow = rte_cpu_to_be_32(6u << 28);
    ip->proto = IPPROTO_UDP;
    ip->hop_limits = ttl_;
    std::memcpy(ip->src_addr, local_.bytes.data(), 16);
    if (remote_) std::memcpy(ip->dst_addr, remote_->bytes.data(), 16);
  }
  t += ip_len_;
  auto* udp = reinterpret_cast<rte_udp_hdr*>(t);
  udp->dst_port = rte_cpu_to_be_16(dst_port_);
  auto* vx = reinterpret_cast<rte_vxlan_hdr*>(udp + 1);
  vx->vx_flags = rte_cpu_to_be_32(kVxlanFlagI);
}

void VxlanEncap::initialize(InitContext&) {
  vni_ = fields::vni();
  underlay_ = fields::underlay();
  local_origin_ = fields::local_origin();
}

uint16_t VxlanEncap::source_port(rte_mbuf* m, uint16_t min, uint16_t max) {
  FlowKey k{};
  uint8_t buf[sizeof(rte_ipv6_hdr)];
  uint16_t type = 0;
  uint32_t off = RTE_ETHER_HDR_LEN;
  if (const auto* eth = static_cast<const rte_ether_hdr*>(rte_pktmbuf_read(m, 0, RTE_ETHER_HDR_LEN, buf))) {
    std::memcpy(k.macs, eth, 12);
    type = rte_be_to_cpu_16(eth->ether_type);
  }
  for (int tags = 0; (type == RTE_ETHER_TYPE_VLAN || type == RTE_ETHER_TYPE_QINQ) && tags < 2; tags++) {
    const auto* v = static_cast<const rte_vlan_hdr*>(rte_pktmbuf_read(m, off, sizeof(rte_vlan_hdr), buf));
    type = v ? rte_be_to_cpu_16(v->eth_proto) : 0;
    off += sizeof(rte_vlan_hdr);
  }
  k.ethertype = type;
  uint32_t l4 = 0;
  if (type == RTE_ETHER_TYPE_IPV4) {
    const auto* ip = static_cast<const rte_ipv4_hdr*>(rte_pktmbuf_read(m, off, sizeof(rte_ipv4_hdr), buf));
    if (ip && (ip->version_ihl >> 4) == 4 && (ip->version_ihl & 0xf) >= 5) {
      std::memcpy(k.addrs, &ip->src_addr, 8);
      k.proto = ip->next_proto_id;
      // Fragments carry no ports (after the first): leave them out for all.
      const bool fragment =
          (rte_be_to_cpu_16(ip->fragment_offset) & (RTE_IPV4_HDR_OFFSET_MASK | RTE_IPV4_HDR_MF_FLAG)) != 0;
      if (!fragment && has_ports(k.proto)) l4 = off + rte_ipv4_hdr_len(ip);
    }
  } else if (type == RTE_ETHER_TYPE_IPV6) {
    const auto* ip = static_cast<const rte_ipv6_hdr*>(rte_pktmbuf_read(m, off, sizeof(rte_ipv6_hdr), buf));
    if (ip && (rte_be_to_cpu_32(ip->vtc_flow) >> 28) == 6) {
      std::memcpy(k.addrs, ip->src_addr, 32);
      k.proto = ip->proto;  // extension headers are not followed: their flows hash without ports
      if (has_ports(k.proto)) l4 = off + sizeof(rte_ipv6_hdr);
    }
  }
  if (l4)
    if (const void* ports = rte_pktmbuf_read(m, l4, 4, buf)) std::memcpy(k.ports, ports, 4);
  const uint32_t hash = rte_hash_crc(&k, sizeof k, 0);
  const uint64_t range = static_cast<uint64_t>(max - min) + 1;
  return static_cast<uint16_t>(min + ((hash * range) >> 32));
}

const Drop* VxlanEncap::encapsulate(rte_mbuf* m) {
  uint32_t vni;
  if (vni_param_) {
    vni = *vni_param_;
  } else {
    if (!vni_.has(m)) return &kNoVni;
    vni = vni_.get(m);
    if (vni > 0xffffff) return &kBadVni;
  }
  const bool mac_wanted = !remote_mac_ && !routed_;
  const fields::Underlay* u = (!remote_ || mac_wanted) && underlay_.has(m) ? &underlay_.get(m) : nullptr;
  const uint8_t* dst_ip = nullptr;  // null: the template's remote_ip
  uint16_t dst_port = dst_port_;
  if (!remote_) {
    if (!u) return &kNoDestination;
    if (u->family != local_.version) return &kFamilyMismatch;
    dst_ip = u->addr;
    if (u->udp_port) dst_port = u->udp_port;
  }
  const uint8_t* dst_mac = nullptr;  // null: the template's remote_mac (zero when routed)
  if (mac_wanted) {
    if (!u || !u->has_mac) return &kNoDestinationMac;
    dst_mac = u->mac;
  }
  const uint32_t inner = m->pkt_len;
  if (inner < RTE_ETHER_HDR_LEN) return &kRunt;
  if (ip_len_ + kUdpVxlanLen + inner > mtu_) return &kTooBig;
  if (!writable(m)) return &kSharedBuffer;
  if (rte_pktmbuf_headroom(m) < overhead_) return &kNoHeadroom;

  const uint16_t src_port = source_port(m, src_min_, src_max_);
  auto* h = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, overhead_));
  std::memcpy(h, template_, overhead_);
  if (dst_mac) std::memcpy(h, dst_mac, 6);
  auto* udp = reinterpret_cast<rte_udp_hdr*>(h + RTE_ETHER_HDR_LEN + ip_len_);
  udp->src_port = rte_cpu_to_be_16(src_port);
  udp->dst_port = rte_cpu_to_be_16(dst_port);
  udp->dgram_len = rte_cpu_to_be_16(static_cast<uint16_t>(kUdpVxlanLen + inner));
  reinterpret_cast<rte_vxlan_hdr*>(udp + 1)->vx_vni = rte_cpu_to_be_32(vni << 8);
  if (local_.v4()) {
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(h + RTE_ETHER_HDR_LEN);
    ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(ip_len_ + kUdpVxlanLen + inner));
    if (dst_ip) std::memcpy(&ip->dst_addr, dst_ip, 4);
    // RFC 6864: the ID only matters for datagrams that may be fragmented.
    if (!df_) ip->packet_id = rte_cpu_to_be_16(next_id_++);
    ip->hdr_checksum = rte_ipv4_cksum(ip);
  } else {
    auto* ip = reinterpret_cast<rte_ipv6_hdr*>(h + RTE_ETHER_HDR_LEN);
    ip->payload_len = rte_cpu_to_be_16(static_cast<uint16_t>(kUdpVxlanLen + inner));
    if (dst_ip) std::memcpy(ip->dst_addr, dst_ip, 16);
    if (rte_pktmbuf_is_contiguous(m)) {
      udp->dgram_cksum = rte_ipv6_udptcp_cksum(ip, udp);
    } else {
      uint32_t sum = sum_segments(m, RTE_ETHER_HDR_LEN + ip_len_, kUdpVxlanLen + inner) + rte_ipv6_phdr_cksum(ip, 0);
      sum = (sum & 0xffff) + (sum >> 16);
      sum = (sum & 0xffff) + (sum >> 16);
      const uint16_t cksum = static_cast<uint16_t>(~sum);
      udp->dgram_cksum = cksum == 0 ? 0xffff : cksum;  // RFC 768: a computed 0 is sent as all ones
    }
  }
  m->packet_type = 0;  // the NIC's RX classification described the inner frame
  // Inner offloads (checksums, TSO) the packet asked for: tell the NIC where
  // the inner headers now are. A packet already tunnelled is left as it is.
  constexpr uint64_t kInnerOffloads =
      RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_L4_MASK | RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_UDP_SEG;
  if ((m->ol_flags & kInnerOffloads) && !(m->ol_flags & RTE_MBUF_F_TX_TUNNEL_MASK)) {
    m->outer_l2_len = RTE_ETHER_HDR_LEN;
    m->outer_l3_len = ip_len_;
    m->l2_len += kUdpVxlanLen;
    m->ol_flags |= RTE_MBUF_F_TX_TUNNEL_VXLAN | (local_.v4() ? RTE_MBUF_F_TX_OUTER_IPV4 : RTE_MBUF_F_TX_OUTER_IPV6);
  }
  return nullptr;
}

void VxlanEncap::push(uint16_t, Batch& b) {
  uint16_t kept = 0;
  for (uint16_t i = 0; i < b.count; i++) {
    rte_mbuf* m = b.pkts[i];
    if (const Drop* bad = encapsulate(m)) {
      drop(m, *bad);
      continue;
    }
    local_origin_.set(m);
    b.pkts[kept++] = m;
  }
  b.count = kept;
  if (kept) output(0, b);
}

}  // namespace weft::overlay

#include "datapath/vxlan_decap.hpp"

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_udp.h>
#include <rte_vxlan.h>

#include <algorithm>
#include <cstring>

namespace weft::overlay {

constexpr uint32_t kVxlanLen = sizeof(rte_vxlan_hdr);
constexpr uint32_t kVxlanFlagI = 0x08000000;  // the I flag, first byte of the header
constexpr uint8_t kIpv6Fragment = 44;
constexpr uint64_t kOuterRxResults = RTE_MBUF_F_RX_IP_CKSUM_MASK | RTE_MBUF_F_RX_L4_CKSUM_MASK |
                                     RTE_MBUF_F_RX_OUTER_IP_CKSUM_BAD | RTE_MBUF_F_RX_OUTER_L4_CKSUM_MASK;

const ElementClass& VxlanDecap::klass() {
  static const ElementClass k =
      ElementClass::make<VxlanDecap>("VxlanDecap")
          .describe("Checks VXLAN packets (RFC 7348) and strips their outer headers, sorting by VNI.",
                    "Validates the outer Ethernet (one VLAN tag allowed), IPv4 (version, header length, total "
                    "length, checksum, not a fragment) or IPv6 (version, payload length), UDP (destination "
                    "`port`, length) and VXLAN header (I flag set; reserved fields ignored), and the outer "
                    "destination against `local_ip` when given. Every failure is a drop with its reason. A good "
                    "packet loses its outer headers (and any Ethernet padding), gets the VNI metadata and the "
                    "underlay metadata (outer source address, UDP source port and MAC, for a reply path), and "
                    "leaves by `out` or, with `vnis`, by the output named for its VNI or `default`. The UDP "
                    "checksum is not verified.\n"
                    "Example:\n"
                    "  dec: {class: VxlanDecap, local_ip: 192.0.2.1, vnis: {tenant_a: 100, tenant_b: 200}}\n"
                    "  connections: [dec[tenant_a] -> a, dec[tenant_b] -> b, dec[default] -> other]")
          .input("in")
          .outputs_from_config("`out`; with `vnis`: the names in `vnis`, in order, then `default`")
          .param("port", ParamType::UInt, "4789", "UDP destination port of VXLAN packets")
          .param("local_ip", ParamType::Ip, "", "outer destination packets must have (IPv4 or IPv6)")
          .param("vnis", ParamType::Map, "", "output name -> VNI, e.g. {tenant_a: 100}; other VNIs go to `default`")
          .drop(kRunt, "runt", "shorter than an Ethernet header (and its VLAN tag)")
          .drop(kNotIp, "not_ip", "the outer ethertype is neither IPv4 nor IPv6")
          .drop(kTruncIp, "truncated_ip", "the packet ends inside the outer IP header")
          .drop(kBadIpHeader, "bad_ip_header", "wrong IP version, or IPv4 header length below 20")
          .drop(kBadIpLength, "bad_ip_length", "IP total or payload length shorter than its header or longer than the packet")
          .drop(kBadIpChecksum, "bad_ip_checksum", "wrong outer IPv4 header checksum")
          .drop(kIpFragment, "ip_fragment", "the outer IP packet is a fragment")
          .drop(kNotLocal, "not_local", "the outer destination is not `local_ip`")
          .drop(kNotUdp, "not_udp", "the outer protocol is not UDP (IPv6 extension headers are not followed)")
          .drop(kTruncUdp, "truncated_udp", "fewer than 8 bytes of UDP header")
          .drop(kWrongPort, "wrong_port", "the UDP destination port is not `port`")
          .drop(kBadUdpLength, "bad_udp_length", "the UDP length differs from the IP payload length")
          .drop(kTruncVxlan, "truncated_vxlan", "the UDP payload is shorter than the 8-byte VXLAN header")
          .drop(kBadFlags, "bad_flags", "the VXLAN I flag (0x08) is not set")
          .drop(kTruncInner, "truncated_inner", "the inner frame is shorter than an Ethernet header")
          .read("vnis", "the VNI of each named output, one `name vni` per line", [](const VxlanDecap& e) {
            if (e.names_.empty()) return std::string("(no vnis: every VNI leaves by out)\n");
            std::string s;
            for (const auto& [name, vni] : e.names_) s += name + " " + std::to_string(vni) + "\n";
            s += "default (every other VNI)\n";
            return s;
          });
  return k;
}

void VxlanDecap::configure(ConfigContext& ctx) {
  const Params& p = ctx.params();
  const uint64_t port = p.get<uint64_t>("port");
  if (port < 1 || port > 65535) throw ConfigError(p.mark("port"), "port must be 1-65535");
  port_ = static_cast<uint16_t>(port);
  if (p.given("local_ip")) local_ = p.get<IpAddr>("local_ip");
  std::vector<std::string> outputs;
  if (p.given("vnis")) {
    const ParamValue map = p.value("vnis");
    if (map.size() == 0)
      throw ConfigError(p.mark("vnis"), "vnis: give at least one `output: VNI` pair, or leave vnis out");
    for (const ParamValue::Entry& e : map.entries()) {
      const std::string& name = e.key;
      if (name.empty() || name == "default" || name == "out")
        throw ConfigError(e.key_mark, "vnis: '" + name + "' cannot name a VNI's output (`default` takes "
                                                         "the other VNIs, `out` is the output without vnis)");
      const std::string what = "vnis: " + name;
      const uint64_t v = e.value.as<uint64_t>(what);
      if (v > 0xffffff) throw ConfigError(e.value.mark(), what + ": expected a VNI 0-16777215");
      const auto vni = static_cast<uint32_t>(v);
      for (const auto& [other, other_vni] : names_) {
        if (other == name) throw ConfigError(e.key_mark, "vnis: output '" + name + "' named twice");
        if (other_vni == vni)
          throw ConfigError(e.value.mark(),
                            "vnis: VNI " + std::to_string(vni) + " already goes to output '" + other + "'");
      }
      by_vni_.emplace_back(vni, static_cast<uint16_t>(names_.size()));
      names_.emplace_back(name, vni);
      outputs.push_back(name);
    }
    outputs.push_back("default");
    std::sort(by_vni_.begin(), by_vni_.end());
  } else {
    outputs.push_back("out");
  }
  ctx.set_outputs(std::move(outputs));
}

void VxlanDecap::initialize(InitContext&) {
  vni_ = fields::vni();
  underlay_ = fields::underlay();
  local_origin_ = fields::local_origin();
}

const Drop* VxlanDecap::check(rte_mbuf* m, Outer& o) const {
  uint8_t eth_buf[RTE_ETHER_HDR_LEN], ip_buf[60], udp_buf[sizeof(rte_udp_hdr)], vx_buf[kVxlanLen];
  const auto* eth = static_cast<const rte_ether_hdr*>(rte_pktmbuf_read(m, 0, RTE_ETHER_HDR_LEN, eth_buf));
  if (!eth) return &kRunt;
  std::memcpy(o.source.mac, eth->src_addr.addr_bytes, 6);
  uint16_t type = rte_be_to_cpu_16(eth->ether_type);
  uint32_t off = RTE_ETHER_HDR_LEN;
  if (type == RTE_ETHER_TYPE_VLAN || type == RTE_ETHER_TYPE_QINQ) {
    const auto* v = static_cast<const rte_vlan_hdr*>(rte_pktmbuf_read(m, off, sizeof(rte_vlan_hdr), eth_buf));
    if (!v) return &kRunt;
    type = rte_be_to_cpu_16(v->eth_proto);
    off += sizeof(rte_vlan_hdr);
  }
  uint32_t l4 = 0, ip_end = 0;
  if (type == RTE_ETHER_TYPE_IPV4) {
    const auto* ip = static_cast<const rte_ipv4_hdr*>(rte_pktmbuf_read(m, off, sizeof(rte_ipv4_hdr), ip_buf));
    if (!ip) return &kTruncIp;
    if ((ip->version_ihl >> 4) != 4 || (ip->version_ihl & 0xf) < 5) return &kBadIpHeader;
    const uint32_t ihl = rte_ipv4_hdr_len(ip);
    if (ihl > sizeof(rte_ipv4_hdr)) {  // options: the checksum covers them too
      ip = static_cast<const rte_ipv4_hdr*>(rte_pktmbuf_read(m, off, ihl, ip_buf));
      if (!ip) return &kTruncIp;
    }
    const uint32_t total = rte_be_to_cpu_16(ip->total_length);
    if (total < ihl || off + total > m->pkt_len) return &kBadIpLength;
    if (rte_raw_cksum(ip, ihl) != 0xffff) return &kBadIpChecksum;
    if (rte_be_to_cpu_16(ip->fragment_offset) & (RTE_IPV4_HDR_OFFSET_MASK | RTE_IPV4_HDR_MF_FLAG))
      return &kIpFragment;
    if (local_ && (!local_->v4() || std::memcmp(local_->data(), &ip->dst_addr, 4) != 0)) return &kNotLocal;
    if (ip->next_proto_id != IPPROTO_UDP) return &kNotUdp;
    o.source.family = 4;
    std::memcpy(o.source.addr, &ip->src_addr, 4);
    l4 = off + ihl;
    ip_end = off + total;
  } else if (type == RTE_ETHER_TYPE_IPV6) {
    const auto* ip = static_cast<const rte_ipv6_hdr*>(rte_pktmbuf_read(m, off, sizeof(rte_ipv6_hdr), ip_buf));
    if (!ip) return &kTruncIp;
    if ((rte_be_to_cpu_32(ip->vtc_flow) >> 28) != 6) return &kBadIpHeader;
    const uint32_t payload = rte_be_to_cpu_16(ip->payload_len);
    if (off + sizeof(rte_ipv6_hdr) + payload > m->pkt_len) return &kBadIpLength;
    if (ip->proto == kIpv6Fragment) return &kIpFragment;
    if (local_ && (!local_->v6() || std::memcmp(local_->data(), ip->dst_addr, 16) != 0)) return &kNotLocal;
    if (ip->proto != IPPROTO_UDP) return &kNotUdp;
    o.source.family = 6;
    std::memcpy(o.source.addr, ip->src_addr, 16);
    l4 = off + sizeof(rte_ipv6_hdr);
    ip_end = l4 + payload;
  } else {
    return &kNotIp;
  }
  // From here on every read lies within the IP packet, which lies within the
  // mbuf (checked above).
  if (ip_end - l4 < sizeof(rte_udp_hdr)) return &kTruncUdp;
  const auto* udp = static_cast<const rte_udp_hdr*>(rte_pktmbuf_read(m, l4, sizeof(rte_udp_hdr), udp_buf));
  if (!udp) return &kTruncUdp;
  if (rte_be_to_cpu_16(udp->dst_port) != port_) return &kWrongPort;
  const uint32_t udp_len = rte_be_to_cpu_16(udp->dgram_len);
  if (udp_len != ip_end - l4) return &kBadUdpLength;
  if (udp_len < sizeof(rte_udp_hdr) + kVxlanLen) return &kTruncVxlan;
  const auto* vx = static_cast<const rte_vxlan_hdr*>(rte_pktmbuf_read(m, l4 + sizeof(rte_udp_hdr), kVxlanLen, vx_buf));
  if (!vx) return &kTruncVxlan;
  if (!(rte_be_to_cpu_32(vx->vx_flags) & kVxlanFlagI)) return &kBadFlags;
  o.inner_off = l4 + sizeof(rte_udp_hdr) + kVxlanLen;
  o.inner_len = udp_len - sizeof(rte_udp_hdr) - kVxlanLen;
  if (o.inner_len < RTE_ETHER_HDR_LEN) return &kTruncInner;
  o.vni = rte_be_to_cpu_32(vx->vx_vni) >> 8;
  // The peer's source port is a flow hash, not where it listens: a reply
  // encapsulated from this metadata goes to the encapsulator's own port.
  o.source.udp_port = 0;
  o.source.has_mac = 1;
  return nullptr;
}

namespace {

// Cuts the packet to its first `len` bytes (drops Ethernet padding).
void trim_to(rte_mbuf* m, uint32_t len) {
  if (m->pkt_len == len) return;
  rte_mbuf* seg = m;
  uint32_t left = len;
  uint16_t segs = 1;
  while (left > seg->data_len) {
    left -= seg->data_len;
    seg = seg->next;
    segs++;
  }
  seg->data_len = static_cast<uint16_t>(left);
  rte_mbuf* rest = seg->next;
  seg->next = nullptr;
  m->nb_segs = segs;
  m->pkt_len = len;
  if (rest) rte_pktmbuf_free(rest);
}

// Removes the first `len` bytes (fewer than pkt_len) and returns the packet's
// head, which is another segment if the first ones held only outer headers.
rte_mbuf* strip_front(rte_mbuf* m, uint32_t len) {
  if (len < m->data_len || !m->next) {
    rte_pktmbuf_adj(m, static_cast<uint16_t>(len));
    return m;
  }
  rte_mbuf* head = m;
  uint32_t left = len;
  uint16_t gone = 0;
  while (left >= head->data_len) {
    left -= head->data_len;
    head = head->next;
    gone++;
  }
  // The packet's own fields move to the new head; buffer flags stay per segment.
  constexpr uint64_t kBufferFlags = RTE_MBUF_F_INDIRECT | RTE_MBUF_F_EXTERNAL;
  head->pkt_len = m->pkt_len - len;
  head->nb_segs = static_cast<uint16_t>(m->nb_segs - gone);
  head->port = m->port;
  head->ol_flags = (m->ol_flags & ~kBufferFlags) | (head->ol_flags & kBufferFlags);
  head->packet_type = m->packet_type;
  head->vlan_tci = m->vlan_tci;
  head->vlan_tci_outer = m->vlan_tci_outer;
  head->hash = m->hash;
  head->tx_offload = m->tx_offload;
  rte_mbuf_dynfield_copy(head, m);
  copy_metadata(head, m);
  head->data_off = static_cast<uint16_t>(head->data_off + left);
  head->data_len = static_cast<uint16_t>(head->data_len - left);
  for (uint16_t i = 0; i < gone; i++) {
    rte_mbuf* next = m->next;
    m->next = nullptr;
    m->nb_segs = 1;
    rte_pktmbuf_free_seg(m);
    m = next;
  }
  return head;
}

}  // namespace

uint16_t VxlanDecap::output_for(uint32_t vni) const {
  auto it = std::lower_bound(by_vni_.begin(), by_vni_.end(), std::make_pair(vni, uint16_t{0}));
  if (it != by_vni_.end() && it->first == vni) return it->second;
  return static_cast<uint16_t>(names_.size());  // default
}

void VxlanDecap::push(uint16_t, Batch& b) {
  uint16_t kept = 0;
  for (uint16_t i = 0; i < b.count; i++) {
    rte_mbuf* m = b.pkts[i];
    Outer o;
    if (const Drop* bad = check(m, o)) {
      drop(m, *bad);
      continue;
    }
    trim_to(m, o.inner_off + o.inner_len);
    m = strip_front(m, o.inner_off);
    // What the NIC found in the outer headers says nothing about the frame.
    m->packet_type = 0;
    m->ol_flags &= ~kOuterRxResults;
    vni_.set(m, o.vni);
    underlay_.set(m, o.source);
    local_origin_.clear(m);  // the inner packet is someone else's, even if the outer was ours
    if (names_.empty()) b.pkts[kept++] = m;
    else emit(output_for(o.vni), m);
  }
  b.count = kept;
  if (kept) output(0, b);
}

}  // namespace weft::overlay

#include "datapath/ip_local.hpp"

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>

#include <cstring>
#include <sstream>

namespace weft::route {

const ElementClass& IpLocal::klass() {
  static const ElementClass k =
      ElementClass::make<IpLocal>("IpLocal")
          .describe("Splits IP traffic into what the router forwards, what is addressed to it, and the link's "
                    "control traffic the host stack wants.",
                    "Takes Ethernet frames carrying IPv4 or IPv6 right after the Ethernet header and sends each "
                    "to one output:\n"
                    "  local    the destination is one of the router's addresses (an address of an interface of "
                    "the Interfaces service `interfaces`, IPv6 link-locals included): echo requests for "
                    "IcmpEcho, the rest for the host path\n"
                    "  control  link-local control traffic: IPv4 224.0.0.0/24 (OSPF, VRRP, ...), "
                    "255.255.255.255 and the broadcast address of each of our IPv4 subnets (/30 and shorter); "
                    "IPv6 link-local-scope multicast (ff02::/16: all-nodes, all-routers, solicited-node, "
                    "OSPFv3, ...). Send it to the host path: BGP, OSPF and BFD then reach the kernel as through "
                    "a NIC\n"
                    "  forward  unicast for someone else: to IpLookup\n"
                    "Dropped with a reason: other multicast (the router does not route multicast), martian "
                    "addresses (RFC 1812 5.3.7: a loopback, multicast or class E source, a 0.0.0.0/8 source "
                    "except towards control traffic, a loopback or 0.0.0.0/8 destination; IPv6: a loopback or "
                    "multicast source, an unspecified source except towards control traffic, a loopback or "
                    "unspecified destination), link-local destinations that are not ours (169.254.0.0/16 and "
                    "fe80::/10 are never forwarded), and bad headers.\n"
                    "IPv4 headers are checked (version, header length, total length) and, for packets it "
                    "delivers (local, control), the header checksum (a NIC's verdict is used when it gave "
                    "one); packets it forwards are checked by IpLookup. IPv6: version and payload length. The "
                    "address table is built when the graph starts (a reload that changes the interfaces "
                    "builds it again); handler `addresses` shows it. One pass per packet over a small flat "
                    "table; no lock, no allocation.\n"
                    "Example:\n"
                    "  local:  {class: IpLocal, interfaces: ifaces}\n"
                    "  rx -> local; local[forward] -> lookup; local[local] -> echo; local[control] -> host")
          .input("in")
          .output("forward")
          .output("local")
          .output("control")
          .uses<InterfacesHandle>("interfaces", "the Interfaces service whose addresses are the router's")
          .drop(kNotIp, "not_ip", "neither IPv4 nor IPv6 after the Ethernet header")
          .drop(kTruncated, "truncated", "the frame ends inside its IP header or before the IP length")
          .drop(kBadIp, "bad_ip", "bad IP version, IPv4 header length, total length or header checksum")
          .drop(kMulticast, "multicast", "multicast beyond the link (not 224.0.0.0/24, not link-local scope)")
          .drop(kMartian, "martian", "a source or destination address no packet may carry (RFC 1812 5.3.7)")
          .drop(kLinkLocal, "link_local", "a link-local destination (169.254.0.0/16, fe80::/10) not ours")
          .read("addresses", "the table: each address with local or broadcast",
                [](const IpLocal& e) { return e.table_text(); });
  return k;
}

void IpLocal::initialize(InitContext& ctx) {
  handle_ = ctx.service<const InterfacesHandle>("interfaces");
  table_ = handle_->interfaces();
  addr4_.clear();
  addr6_.clear();
  if (!table_) return;
  auto has4 = [this](uint32_t a, bool bc) {
    for (const auto& x : addr4_)
      if (x.addr == a && x.broadcast == bc) return true;
    return false;
  };
  for (const Interface& i : table_->all()) {
    for (const Prefix& p : i.addresses) {
      if (p.v4()) {
        uint32_t a;
        std::memcpy(&a, p.addr.data(), 4);
        if (!has4(a, false)) addr4_.push_back({a, false});
        if (p.len <= 30) {
          const uint32_t host_mask = p.len == 0 ? 0xffffffffu : (1u << (32 - p.len)) - 1;
          const uint32_t bc = rte_cpu_to_be_32(rte_be_to_cpu_32(a) | host_mask);
          if (!has4(bc, true)) addr4_.push_back({bc, true});
        }
      } else {
        Addr6 x;
        std::memcpy(x.addr, p.addr.data(), 16);
        addr6_.push_back(x);
      }
    }
    Addr6 ll;
    std::memcpy(ll.addr, i.link_local.data(), 16);
    if (ll.addr[0] == 0xfe) addr6_.push_back(ll);
  }
}

void IpLocal::cleanup() {
  table_.reset();
  handle_.reset();
}

std::string IpLocal::table_text() const {
  std::ostringstream o;
  for (const auto& a : addr4_) o << Ip4::of(reinterpret_cast<const uint8_t*>(&a.addr)).str() << (a.broadcast ? " broadcast\n" : " local\n");
  for (const auto& a : addr6_) o << Ip6::of(a.addr).str() << " local\n";
  return o.str();
}

IpLocal::Dest IpLocal::classify4(uint32_t dst) const {
  for (const auto& a : addr4_)
    if (a.addr == dst) return a.broadcast ? Dest::Control : Dest::Local;
  const uint32_t d = rte_be_to_cpu_32(dst);
  if (d == 0xffffffffu) return Dest::Control;
  if ((d & 0xffffff00u) == 0xe0000000u) return Dest::Control;  // 224.0.0.0/24
  if ((d & 0xf0000000u) == 0xe0000000u) return Dest::Multicast;
  if ((d >> 24) == 127 || (d >> 24) == 0 || (d & 0xf0000000u) == 0xf0000000u) return Dest::Martian;
  if ((d & 0xffff0000u) == 0xa9fe0000u) return Dest::LinkLocal;  // 169.254.0.0/16
  return Dest::Forward;
}

namespace {

bool is_loopback6(const uint8_t* a) {
  static const uint8_t kLoop[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return std::memcmp(a, kLoop, 16) == 0;
}
bool is_unspecified6(const uint8_t* a) {
  static const uint8_t kZero[16] = {};
  return std::memcmp(a, kZero, 16) == 0;
}

}  // namespace

IpLocal::Dest IpLocal::classify6(const uint8_t* dst) const {
  if (dst[0] == 0xff) return (dst[1] & 0x0f) == 2 ? Dest::Control : Dest::Multicast;  // scope 2: link-local
  for (const auto& a : addr6_)
    if (std::memcmp(a.addr, dst, 16) == 0) return Dest::Local;
  if (dst[0] == 0xfe && (dst[1] & 0xc0) == 0x80) return Dest::LinkLocal;  // fe80::/10
  if (is_loopback6(dst) || is_unspecified6(dst)) return Dest::Martian;
  return Dest::Forward;
}

void IpLocal::classify(rte_mbuf* m) {
  if (m->data_len < sizeof(rte_ether_hdr)) return drop(m, kTruncated);
  const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
  Dest d;
  if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4)) {
    if (m->data_len < sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr)) return drop(m, kTruncated);
    const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(eth + 1);
    const unsigned ihl = (ip->version_ihl & 0xf) * 4u;
    if ((ip->version_ihl >> 4) != 4 || ihl < sizeof(rte_ipv4_hdr)) return drop(m, kBadIp);
    const unsigned total = rte_be_to_cpu_16(ip->total_length);
    if (total < ihl) return drop(m, kBadIp);
    if (m->data_len < sizeof(rte_ether_hdr) + ihl || m->pkt_len < sizeof(rte_ether_hdr) + total)
      return drop(m, kTruncated);
    d = classify4(ip->dst_addr);
    const uint32_t s = rte_be_to_cpu_32(ip->src_addr);
    const bool bad_src = (s >> 24) == 127 || (s & 0xe0000000u) == 0xe0000000u ||  // loopback, multicast, class E
                         ((s >> 24) == 0 && d != Dest::Control);
    if (bad_src && d != Dest::Multicast) d = Dest::Martian;
    if (d == Dest::Local || d == Dest::Control) {
      const uint64_t ck = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
      if (ck == RTE_MBUF_F_RX_IP_CKSUM_BAD || (ck != RTE_MBUF_F_RX_IP_CKSUM_GOOD && rte_raw_cksum(ip, ihl) != 0xffff))
        return drop(m, kBadIp);
    }
  } else if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6)) {
    if (m->data_len < sizeof(rte_ether_hdr) + sizeof(rte_ipv6_hdr)) return drop(m, kTruncated);
    const auto* ip = reinterpret_cast<const rte_ipv6_hdr*>(eth + 1);
    if ((rte_be_to_cpu_32(ip->vtc_flow) >> 28) != 6) return drop(m, kBadIp);
    if (m->pkt_len < sizeof(rte_ether_hdr) + sizeof(rte_ipv6_hdr) + rte_be_to_cpu_16(ip->payload_len))
      return drop(m, kTruncated);
    d = classify6(ip->dst_addr);
    const bool bad_src = ip->src_addr[0] == 0xff || is_loopback6(ip->src_addr) ||
                         (is_unspecified6(ip->src_addr) && d != Dest::Control);
    if (bad_src && d != Dest::Multicast) d = Dest::Martian;
  } else {
    return drop(m, kNotIp);
  }
  switch (d) {
    case Dest::Forward: return emit(kForward, m);
    case Dest::Local: return emit(kLocal, m);
    case Dest::Control: return emit(kControl, m);
    case Dest::Multicast: return drop(m, kMulticast);
    case Dest::LinkLocal: return drop(m, kLinkLocal);
    case Dest::Martian: return drop(m, kMartian);
  }
}

void IpLocal::push(uint16_t, Batch& b) {
  for (uint16_t i = 0; i < b.count; i++) classify(b.pkts[i]);
  b.clear();
}

}  // namespace weft::route

#include "datapath/ip_lookup.hpp"

#include <arpa/inet.h>
#include <rte_ether.h>
#include <rte_ip.h>

#include <set>


namespace weft::route {

const ElementClass& IpLookup::klass() {
  static const ElementClass k =
      ElementClass::make<IpLookup>("IpLookup")
          .describe("Routes IPv4 and IPv6 packets with a Fib service's routes: longest-prefix match, ECMP, "
                    "TTL, Ethernet rewrite.",
                    "Looks each packet's destination up in routing table `table` of the Fib service `fib` "
                    "(rte_lpm / rte_lpm6, in bulk), picks an ECMP member by a flow hash, decrements the TTL "
                    "or hop limit (IPv4 checksum updated incrementally; not for a packet the router originated "
                    "itself, marked weft_local_origin by IcmpError, IcmpEcho, VxlanEncap or the Interfaces "
                    "service: its TTL is neither checked nor decremented, RFC 1812 4.2.2.9, and the mark is "
                    "cleared), writes the next hop's MAC as "
                    "destination and the interface's as source, records the next hop in the weft_nexthop "
                    "metadata if asked (`nexthop_metadata`), and sends the packet to the output the route's interface maps to (the Fib "
                    "service's `interfaces`). Handles both families; expects IPv4/IPv6 right after the "
                    "Ethernet header. A link-local destination (169.254.0.0/16, fe80::/10) is never routed "
                    "(RFC 3927 7, RFC 4291 2.5.6): dropped as link_local, as IpLocal does.\n\n"
                    "With `interfaces` (an Interfaces service), each output is the interface of that name: next "
                    "hops without a MAC in the route are resolved through the service's neighbour table (ARP, "
                    "ND; a packet whose neighbour is not known yet waits in the service, which sends it when "
                    "the neighbour answers), and packets above the interface's MTU are not sent (IPv4 with DF "
                    "and IPv6: an ICMP error; IPv4 without DF: dropped, as fragmentation is not done).\n\n"
                    "With `icmp: true`, packets that deserve an ICMP error leave on output `icmp` instead of being "
                    "dropped, carrying what the error is (the weft_icmp_error metadata) for an IcmpError element: "
                    "TTL exceeded (time exceeded), no route (net unreachable), unreachable routes (host "
                    "unreachable; IPv6 no route), prohibit routes (administratively prohibited), above the MTU "
                    "(fragmentation needed / packet too big, with the MTU). Blackhole routes drop silently. The error "
                    "is sourced from the interface the packet came in on (the weft_ingress_interface metadata ArpNd "
                    "sets, else its port's).")
          .input("in")
          .outputs_from_config("the names listed in `outputs`")
          .uses<FibHandle>("fib", "the Fib service whose routes to use")
          .uses_optional<InterfacesHandle>("interfaces",
                                           "an Interfaces service: outputs are its interfaces (neighbours resolved "
                                           "dynamically, MTU checked)")
          .param("icmp", ParamType::Bool, "false", "add output `icmp` for packets that deserve an ICMP error")
          .param("table", ParamType::UInt, "254", "routing table (zebra table id; 254 is main)")
          .required("outputs", ParamType::List, "output names (targets of the Fib service's interfaces)")
          .param("nexthop_metadata", ParamType::Bool, "false",
                 "write the next hop (address, output) into the weft_nexthop metadata (20 bytes of mbuf "
                 "dynamic-field space)")
          .drop(kNoRoute, "no_route", "no route to the destination")
          .drop(kBlackhole, "blackhole", "the route is a blackhole")
          .drop(kUnreachable, "unreachable", "the route is unreachable")
          .drop(kProhibit, "prohibit", "the route is prohibit")
          .drop(kTtl, "ttl_exceeded", "TTL or hop limit would reach 0 (and no `icmp` output)")
          .drop(kNoOutput, "no_output", "the route's interface maps to no output of this element")
          .drop(kNoNeighbor, "no_neighbor", "the next hop's MAC is unknown")
          .drop(kNotIp, "not_ip", "neither IPv4 nor IPv6 after the Ethernet header")
          .drop(kTruncated, "truncated", "shorter than its headers")
          .drop(kBadIp, "bad_ip", "bad IP version, header length or IPv4 header checksum")
          .drop(kTooBig, "too_big", "above the egress interface's MTU, IPv4 with DF or IPv6 (and no `icmp` output)")
          .drop(kNeedsFragmentation, "needs_fragmentation", "IPv4 without DF above the egress MTU (not fragmented)")
          .drop(kHoldFull, "hold_full", "the next hop is being resolved and the Interfaces service's queue was full")
          .drop(kLinkLocal, "link_local", "a link-local destination (169.254.0.0/16, fe80::/10): never routed");
  return k;
}

void IpLookup::configure(ConfigContext& ctx) {
  const Params& p = ctx.params();
  uint64_t t = p.get<uint64_t>("table");
  if (t > UINT32_MAX) throw ConfigError(p.mark("table"), "table: expected 0..4294967295");
  table_id_ = static_cast<uint32_t>(t);
  outputs_.clear();
  std::set<std::string> seen;
  for (const ParamValue& n : p.value("outputs").items()) {
    const std::string name = n.as<std::string>("outputs");
    if (name.empty()) throw ConfigError(n.mark(), "outputs: expected names");
    if (!seen.insert(name).second) throw ConfigError(n.mark(), "outputs: '" + name + "' listed twice");
    outputs_.push_back(name);
  }
  if (outputs_.empty()) throw ConfigError(p.mark("outputs"), "outputs: at least one output name");
  if (outputs_.size() >= kMaxIfaces) throw ConfigError(p.mark("outputs"), "outputs: at most 255 names");
  set_nexthop_ = p.get<bool>("nexthop_metadata");
  icmp_ = p.get<bool>("icmp");
  use_ifs_ = p.given("interfaces");
  std::vector<std::string> outs = outputs_;
  if (icmp_) {
    if (seen.count("icmp")) throw ConfigError(p.mark("outputs"), "outputs: 'icmp' is the ICMP output's name (icmp: true)");
    icmp_out_ = static_cast<uint16_t>(outs.size());
    outs.push_back("icmp");
  }
  ctx.set_outputs(outs);
}

void IpLookup::initialize(InitContext& ctx) {
  handle_ = ctx.service<const FibHandle>("fib");
  const FibTable* t = handle_->table(table_id_);
  if (!t)
    throw InitError("the Fib service already has max_tables (" + std::to_string(handle_->max_tables()) +
                    ") routing tables; table " + std::to_string(table_id_) + " does not fit");
  table_ = t;
  fib_ = &handle_->fib();
  out_of_iface_.fill(kNoIface);
  for (size_t o = 0; o < outputs_.size(); o++) {
    uint16_t id;
    try {
      id = handle_->iface_id(outputs_[o]);
    } catch (const std::exception& e) {
      throw InitError(e.what());
    }
    out_of_iface_[id] = static_cast<uint16_t>(o);
  }
  if (set_nexthop_) nexthop_ = nexthop_slot();
  if (icmp_) icmp_meta_ = icmp_error_slot();
  ingress_ = ingress_slot();
  local_ = fields::local_origin();
  out_mtu_.fill(0);
  out_iface_.fill(kNoInterface);
  if (use_ifs_) {
    ifs_ = ctx.service<const InterfacesHandle>("interfaces");
    if_table_ = ifs_->interfaces();
    cache_ = &ifs_->neighbors();
    front_.init(cache_, kFrontLines);
    for (size_t o = 0; o < outputs_.size(); o++) {
      const Interface* i = if_table_->by_name(outputs_[o]);
      if (!i) throw InitError("outputs: '" + outputs_[o] + "' is not an interface of the Interfaces service");
      out_iface_[o] = i->id;
      out_mtu_[o] = i->mtu;
    }
    pending_ = pending_slot();
  }
}

void IpLookup::cleanup() {
  cache_ = nullptr;
  if_table_.reset();
  ifs_.reset();
  table_ = nullptr;
  fib_ = nullptr;
  handle_.reset();
}

namespace {

// TTL - 1 and the header checksum updated for it: HC' = ~(~HC + ~m + m')
// (RFC 1624, eqn. 3), m the 16-bit word holding TTL and protocol.
inline void decrement_ttl(rte_ipv4_hdr* ip) {
  uint16_t old_word = static_cast<uint16_t>((ip->time_to_live << 8) | ip->next_proto_id);
  ip->time_to_live--;
  uint16_t new_word = static_cast<uint16_t>((ip->time_to_live << 8) | ip->next_proto_id);
  uint32_t sum = static_cast<uint16_t>(~rte_be_to_cpu_16(ip->hdr_checksum));
  sum += static_cast<uint16_t>(~old_word);
  sum += new_word;
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  ip->hdr_checksum = rte_cpu_to_be_16(static_cast<uint16_t>(~sum));
}

inline bool has_ports(uint8_t proto) { return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP; }

}  // namespace

void IpLookup::icmp_or_drop(rte_mbuf* m, const Drop& reason, uint8_t type, uint8_t code, uint32_t info) {
  if (!icmp_) return drop(m, reason);
  // The interface the packet came in on (ArpNd's mark knows a VLAN's or an
  // overlay's), so that the error is sourced from its address.
  IcmpErrorMeta meta{type, code, kNoInterface, info};
  if (ingress_.has(m)) meta.iface = ingress_.get(m);
  else if (if_table_)
    if (const Interface* in = if_table_->by_port(m->port)) meta.iface = in->id;
  icmp_meta_.set(m, meta);
  emit(icmp_out_, m);
}

void IpLookup::forward(rte_mbuf* m, const Entry* e, bool v6, const NeighborTable* nb, uint64_t now) {
  switch (e->action) {
    case Action::Forward: break;
    case Action::Blackhole: return drop(m, kBlackhole);
    case Action::Unreachable:
      return v6 ? icmp_or_drop(m, kUnreachable, icmp6::kUnreachable, icmp6::kNoRoute)
                : icmp_or_drop(m, kUnreachable, icmp4::kUnreachable, icmp4::kHostUnreachable);
    case Action::Prohibit:
      return v6 ? icmp_or_drop(m, kProhibit, icmp6::kUnreachable, icmp6::kAdminProhibited)
                : icmp_or_drop(m, kProhibit, icmp4::kUnreachable, icmp4::kAdminProhibited);
  }
  auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
  auto* l3 = reinterpret_cast<uint8_t*>(eth + 1);
  const uint8_t* src;
  const uint8_t* dst;
  uint8_t proto;
  size_t l4;
  const bool own = local_.test(m);  // ours: its TTL is not checked (RFC 1812 4.2.2.9)
  if (!v6) {
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(l3);
    if (ip->time_to_live <= 1 && !own) return icmp_or_drop(m, kTtl, icmp4::kTimeExceeded, 0);
    src = reinterpret_cast<const uint8_t*>(&ip->src_addr);
    dst = reinterpret_cast<const uint8_t*>(&ip->dst_addr);
    proto = ip->next_proto_id;
    // Only unfragmented packets have ports at a place every packet of the flow shares.
    bool whole = (ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)) == 0;
    l4 = whole ? sizeof(rte_ether_hdr) + static_cast<size_t>((ip->version_ihl & 0xf) * 4) : SIZE_MAX;
  } else {
    auto* ip = reinterpret_cast<rte_ipv6_hdr*>(l3);
    if (ip->hop_limits <= 1 && !own) return icmp_or_drop(m, kTtl, icmp6::kTimeExceeded, 0);
    src = ip->src_addr;
    dst = ip->dst_addr;
    proto = ip->proto;
    l4 = sizeof(rte_ether_hdr) + sizeof(rte_ipv6_hdr);
  }
  const Member* mb = &e->members[0];
  if (e->n_buckets > 1) {
    uint32_t ports = 0;
    if (has_ports(proto) && l4 != SIZE_MAX && l4 + 4 <= m->data_len)
      std::memcpy(&ports, rte_pktmbuf_mtod_offset(m, const uint8_t*, l4), 4);
    uint32_t h = v6 ? flow_hash6(src, dst, ports, proto) : flow_hash4(src, dst, ports, proto);
    mb = &pick_member(*e, h);
  }
  if (mb->iface >= kMaxIfaces || out_of_iface_[mb->iface] == kNoIface) return drop(m, kNoOutput);
  const uint16_t out = out_of_iface_[mb->iface];
  if (const uint16_t mtu = out_mtu_[out]; mtu && m->pkt_len - sizeof(rte_ether_hdr) > mtu) {
    if (v6) return icmp_or_drop(m, kTooBig, icmp6::kPacketTooBig, 0, mtu);
    if (reinterpret_cast<const rte_ipv4_hdr*>(l3)->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG))
      return icmp_or_drop(m, kTooBig, icmp4::kUnreachable, icmp4::kFragNeeded, mtu);
    return drop(m, kNeedsFragmentation);
  }
  const uint8_t* dmac = mb->has_mac ? mb->dst_mac : nullptr;
  if (mb->direct && nb && nb->size()) dmac = nb->find(v6 ? AF_INET6 : AF_INET, dst);
  if (!dmac && cache_) {
    const uint16_t iface = out_iface_[out];
    const uint8_t* nh = mb->direct ? dst : mb->gateway;
    uint8_t mac[6];
    if (v6 ? front_.find6(iface, nh, mac, now) : front_.find4(iface, nh, mac, now))
      return deliver(m, mb, out, v6, dst, mac);
    // Not in this worker's front: looked up in bulk once the batch's
    // packets are all here (resolve_waiting).
    NeighborKey& k = keys_[n_waiting_];
    k = NeighborKey{};
    k.iface = iface;
    k.family = v6 ? AF_INET6 : AF_INET;
    std::memcpy(k.addr, nh, v6 ? 16 : 4);
    Waiting& w = waiting_[n_waiting_++];
    w.m = m;
    w.mb = mb;
    w.out = out;
    w.v6 = v6;
    w.dst = dst;
    return;
  }
  if (!dmac) return drop(m, kNoNeighbor);
  deliver(m, mb, out, v6, dst, dmac);
}

// The router's own packets keep their TTL; the mark is spent (a packet
// leaving IpLookup is routed).
inline void IpLookup::decrement_unless_own(rte_mbuf* m, uint8_t* l3, bool v6) {
  if (local_.test(m)) return local_.clear(m);
  if (!v6) decrement_ttl(reinterpret_cast<rte_ipv4_hdr*>(l3));
  else reinterpret_cast<rte_ipv6_hdr*>(l3)->hop_limits--;
}

inline void IpLookup::deliver(rte_mbuf* m, const Member* mb, uint16_t out, bool v6, const uint8_t* dst, const uint8_t* dmac) {
  auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
  auto* l3 = reinterpret_cast<uint8_t*>(eth + 1);
  if (set_nexthop_) {
    Nexthop nh;
    std::memset(nh.addr, 0, sizeof nh.addr);
    std::memcpy(nh.addr, mb->direct ? dst : mb->gateway, v6 ? 16 : 4);
    nh.output = out;
    nh.family = v6 ? AF_INET6 : AF_INET;
    nh.direct = mb->direct;
    nexthop_.set(m, nh);
  }
  decrement_unless_own(m, l3, v6);
  std::memcpy(eth->dst_addr.addr_bytes, dmac, 6);
  std::memcpy(eth->src_addr.addr_bytes, mb->src_mac, 6);
  emit(out, m);
}

void IpLookup::resolve_waiting(uint64_t now) {
  if (!n_waiting_) return;
  uint8_t macs[kBatchCapacity][6];
  bool found[kBatchCapacity];
  cache_->lookup_bulk(keys_, n_waiting_, macs, found, now, &front_);
  for (unsigned i = 0; i < n_waiting_; i++) {
    const Waiting& w = waiting_[i];
    if (found[i]) {
      deliver(w.m, w.mb, w.out, w.v6, w.dst, macs[i]);
      continue;
    }
    // Not resolved (yet): the Interfaces service holds the packet, asks,
    // and sends it (Ethernet addresses written) when the neighbour answers.
    uint8_t* l3 = rte_pktmbuf_mtod_offset(w.m, uint8_t*, sizeof(rte_ether_hdr));
    decrement_unless_own(w.m, l3, w.v6);
    PendingNeighbor p{};
    std::memcpy(p.addr, keys_[i].addr, 16);
    p.iface = keys_[i].iface;
    p.family = keys_[i].family;
    pending_.set(w.m, p);
    if (!ifs_->hold(w.m)) drop(w.m, kHoldFull);
  }
  n_waiting_ = 0;
}

void IpLookup::push(uint16_t, Batch& b) {
  FibSnapshot snap = FibSnapshot::of(*fib_, *table_);
  const NeighborTable* nb = fib_->neighbors();
  const uint64_t now = cache_ ? rte_rdtsc() : 0;
  if (cache_) front_.sync();
  uint32_t ip4[kBatchCapacity], hop4[kBatchCapacity];
  uint8_t ip6[kBatchCapacity][16];
  int32_t hop6[kBatchCapacity];
  rte_mbuf* m4[kBatchCapacity];
  rte_mbuf* m6[kBatchCapacity];
  unsigned n4 = 0, n6 = 0;
  for (uint16_t i = 0; i < b.count; i++) {
    rte_mbuf* m = b.pkts[i];
    if (m->data_len < sizeof(rte_ether_hdr)) {
      drop(m, kTruncated);
      continue;
    }
    const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
    if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4)) {
      if (m->data_len < sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr)) {
        drop(m, kTruncated);
        continue;
      }
      const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(eth + 1);
      const unsigned ihl = (ip->version_ihl & 0xf) * 4u;
      if ((ip->version_ihl >> 4) != 4 || ihl < sizeof(rte_ipv4_hdr)) {
        drop(m, kBadIp);
        continue;
      }
      const unsigned total = rte_be_to_cpu_16(ip->total_length);
      if (m->data_len < sizeof(rte_ether_hdr) + ihl || m->pkt_len < sizeof(rte_ether_hdr) + total) {
        drop(m, kTruncated);
        continue;
      }
      const uint64_t ck = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
      if (total < ihl || ck == RTE_MBUF_F_RX_IP_CKSUM_BAD ||
          (ck != RTE_MBUF_F_RX_IP_CKSUM_GOOD && rte_raw_cksum(ip, ihl) != 0xffff)) {
        drop(m, kBadIp);
        continue;
      }
      ip4[n4] = rte_be_to_cpu_32(ip->dst_addr);
      if ((ip4[n4] & 0xffff0000u) == 0xa9fe0000u) {  // 169.254.0.0/16
        drop(m, kLinkLocal);
        continue;
      }
      prefetch_v4(snap, ip4[n4]);
      m4[n4++] = m;
    } else if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6)) {
      if (m->data_len < sizeof(rte_ether_hdr) + sizeof(rte_ipv6_hdr)) {
        drop(m, kTruncated);
        continue;
      }
      const auto* ip = reinterpret_cast<const rte_ipv6_hdr*>(eth + 1);
      if ((rte_be_to_cpu_32(ip->vtc_flow) >> 28) != 6) {
        drop(m, kBadIp);
        continue;
      }
      if (m->pkt_len < sizeof(rte_ether_hdr) + sizeof(rte_ipv6_hdr) + rte_be_to_cpu_16(ip->payload_len)) {
        drop(m, kTruncated);
        continue;
      }
      if (ip->dst_addr[0] == 0xfe && (ip->dst_addr[1] & 0xc0) == 0x80) {  // fe80::/10
        drop(m, kLinkLocal);
        continue;
      }
      std::memcpy(ip6[n6], ip->dst_addr, 16);
      m6[n6++] = m;
    } else {
      drop(m, kNotIp);
    }
  }
  if (n4) {
    lookup_v4(snap, ip4, hop4, n4);
    for (unsigned i = 0; i < n4; i++) {
      if (const Entry* e = entry_of4(snap, hop4[i])) forward(m4[i], e, false, nb, now);
      else icmp_or_drop(m4[i], kNoRoute, icmp4::kUnreachable, icmp4::kNetUnreachable);
    }
    resolve_waiting(now);
  }
  if (n6) {
    snap.add_v6(*table_);
    lookup_v6(snap, ip6, hop6, n6);
    for (unsigned i = 0; i < n6; i++) {
      if (const Entry* e = entry_of6(snap, hop6[i])) forward(m6[i], e, true, nb, now);
      else icmp_or_drop(m6[i], kNoRoute, icmp6::kUnreachable, icmp6::kNoRoute);
    }
    resolve_waiting(now);
  }
}

}  // namespace weft::route

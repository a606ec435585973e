#include "datapath/arp_nd_element.hpp"

#include <rte_ring.h>

#include <algorithm>

#include "tables/arp_nd.hpp"
#include "weft/clock.hpp"

namespace weft::route {

const ElementClass& ArpNd::klass() {
  static const ElementClass k =
      ElementClass::make<ArpNd>("ArpNd")
          .describe("ARP and IPv6 Neighbour Discovery for one interface: answers for our addresses, hands what "
                    "it learns to the Interfaces service, sends what that service sends.",
                    "Takes every frame of the interface's port (or VLAN; for an interface without a port, the "
                    "frames the graph carries for it, such as a VxlanDecap output). An ARP request for one of the "
                    "interface's addresses gets its reply, and a neighbour solicitation for one of them (or its "
                    "link-local address) its advertisement (solicited, override, router; a duplicate address "
                    "probe for our address is answered to all nodes, defending it), on `out`. ARP and neighbour "
                    "discovery that may teach the service something (requests for us, replies, advertisements, "
                    "gratuitous ARP) go to the Interfaces service; replies and advertisements are also copied "
                    "to `host` (so the host path's kernel learns its neighbours from the same answers), as are "
                    "router solicitations and advertisements and redirects. Everything that is neither ARP nor "
                    "ND leaves on `other`, marked with the interface it arrived on (the weft_ingress_interface metadata, "
                    "which IcmpEcho, IcmpError and the Interfaces service read before the port: an interface "
                    "without a port or on a VLAN is known by it). Malformed messages are dropped with a reason (RFC 4861: hop limit "
                    "255, code 0, checksum, option lengths) and never reach the table. At most `rate` ARP/ND "
                    "packets per second (per worker) are handled; the rest are dropped (rate_limited), so a "
                    "flood cannot starve forwarding. It also sends, on `out`, what the service queued for the "
                    "interface: requests, probes, gratuitous announcements and the packets that waited for a "
                    "neighbour (polled every loop). Connect `out` to the port's PortTx (through VlanPush for a "
                    "VLAN interface; through the VxlanEncap of an overlay interface).")
          .input("in")
          .poll()
          .outputs_from_config("out, other, and host if `host: true`")
          .uses<InterfacesHandle>("interfaces", "the Interfaces service that declares the interface")
          .required("interface", ParamType::String, "the interface's name (in the Interfaces service)")
          .param("host", ParamType::Bool, "false", "copy replies, advertisements and router discovery to output `host`")
          .param("rate", ParamType::Double, "10000", "ARP/ND packets handled per second, per worker (0: no limit)")
          .drop(kBadArp, "bad_arp", "not Ethernet/IPv4 ARP, an unknown operation, or a multicast sender")
          .drop(kBadNd, "bad_nd", "neighbour discovery with a hop limit other than 255, a bad checksum, code, length or option")
          .drop(kTruncated, "truncated", "shorter than its headers")
          .drop(kNotOurs, "not_ours", "a request or solicitation for an address that is not ours")
          .drop(kNoHost, "no_host", "router discovery or a redirect, and no host output")
          .drop(kRateLimited, "rate_limited", "above `rate` ARP/ND packets per second")
          .drop(kPuntFull, "punt_full", "the Interfaces service's queue was full")
          .drop(kAllocFailed, "alloc_failed", "no packet buffer for a reply or a copy");
  return k;
}

void ArpNd::configure(ConfigContext& ctx) {
  const Params& p = ctx.params();
  iface_name_ = p.get<std::string>("interface");
  if (iface_name_.empty()) throw ConfigError(p.mark("interface"), "interface: expected a name");
  host_ = p.get<bool>("host");
  rate_ = p.get<double>("rate");
  if (!(rate_ >= 0) || rate_ > 1e9) throw ConfigError(p.mark("rate"), "rate: expected 0..1e9 packets per second");
  burst_ = std::max(32.0, rate_ / 10);
  tokens_ = burst_;
  std::vector<std::string> outs{"out", "other"};
  if (host_) outs.push_back("host");
  ctx.set_outputs(outs);
}

void ArpNd::initialize(InitContext& ctx) {
  handle_ = ctx.service<const InterfacesHandle>("interfaces");
  table_ = handle_->interfaces();
  iface_ = table_->by_name(iface_name_);
  if (!iface_) throw InitError("interface: the Interfaces service has no interface '" + iface_name_ + "'");
  ring_ = handle_->tx_ring(iface_->id);
  pool_ = ctx.mempool();
  pending_ = pending_slot();
  ingress_ = ingress_slot();
  local_origin_ = fields::local_origin();
}

void ArpNd::cleanup() {
  ring_ = nullptr;
  iface_ = nullptr;
  table_.reset();
  handle_.reset();
}

bool ArpNd::allow() {
  if (rate_ == 0) return true;
  const uint64_t now = Clock::now_ns();
  tokens_ = std::min(burst_, tokens_ + double(now - last_ns_) * 1e-9 * rate_);
  last_ns_ = now;
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

void ArpNd::to_host(rte_mbuf* m) {
  if (!host_) return;
  rte_mbuf* c = rte_pktmbuf_copy(m, pool_, 0, UINT32_MAX);
  if (!c) return count_drop(kAllocFailed);
  emit(host_out_, c);
}

void ArpNd::punt(rte_mbuf* m) {
  PendingNeighbor p{};
  p.iface = iface_->id;
  pending_.set(m, p);
  if (!handle_->punt(m)) drop(m, kPuntFull);
}

void ArpNd::push(uint16_t, Batch& b) {
  const Interface& i = *iface_;
  for (uint16_t k = 0; k < b.count; k++) {
    rte_mbuf* m = b.pkts[k];
    const uint8_t* f = rte_pktmbuf_mtod(m, const uint8_t*);
    nd::Arp a;
    nd::Verdict v = nd::parse_arp(f, m->data_len, a);
    if (v == nd::Verdict::Ok) {
      if (!allow()) {
        drop(m, kRateLimited);
        continue;
      }
      const IpAddr target(Ip4::of(reinterpret_cast<const uint8_t*>(&a.target_ip)));
      const bool for_us = i.owns(target);
      const bool gratuitous = a.sender_ip == a.target_ip;
      if (a.op == RTE_ARP_OP_REQUEST && for_us) {
        rte_mbuf* r = rte_pktmbuf_alloc(pool_);
        if (r && rte_pktmbuf_append(r, nd::kArpFrame)) {
          nd::build_arp(rte_pktmbuf_mtod(r, uint8_t*), RTE_ARP_OP_REPLY, i.mac, a.sender_mac, i.mac, a.target_ip,
                        a.sender_mac, a.sender_ip);
          local_origin_.set(r);
          emit(out_, r);
        } else {
          if (r) rte_pktmbuf_free(r);
          count_drop(kAllocFailed);
        }
        if (a.sender_ip != 0) punt(m);
        else rte_pktmbuf_free(m);  // an address probe: answered, nothing to learn
      } else if ((a.op == RTE_ARP_OP_REPLY && for_us) || gratuitous) {
        to_host(m);
        punt(m);
      } else {
        drop(m, kNotOurs);
      }
      continue;
    }
    if (v != nd::Verdict::NotArpNd) {
      drop(m, v == nd::Verdict::Truncated ? kTruncated : kBadArp);
      continue;
    }
    nd::Nd n;
    v = nd::parse_nd(f, m->data_len, n);
    if (v == nd::Verdict::NotArpNd) {
      ingress_.set(m, i.id);  // for whoever answers it: the port may not tell (an overlay, a VLAN)
      emit(other_, m);
      continue;
    }
    if (v != nd::Verdict::Ok) {
      drop(m, v == nd::Verdict::Truncated ? kTruncated : kBadNd);
      continue;
    }
    if (!allow()) {
      drop(m, kRateLimited);
      continue;
    }
    switch (n.type) {
      case icmp6::kNeighborSolicit: {
        if (!i.owns(IpAddr(n.target))) {
          drop(m, kNotOurs);
          break;
        }
        const bool dad = n.src == Ip6{};
        const auto* eth = reinterpret_cast<const rte_ether_hdr*>(f);
        const Ip6 dst = dad ? nd::all_nodes() : n.src;
        const Mac dmac = dad ? nd::multicast_mac(dst) : n.has_lladdr ? n.lladdr : Mac::of(eth->src_addr.addr_bytes);
        rte_mbuf* r = rte_pktmbuf_alloc(pool_);
        if (r && rte_pktmbuf_append(r, nd::kNdFrame)) {
          nd::build_na(rte_pktmbuf_mtod(r, uint8_t*), i.mac, n.target, dst, dmac, n.target, !dad, true, true);
          local_origin_.set(r);
          emit(out_, r);
        } else {
          if (r) rte_pktmbuf_free(r);
          count_drop(kAllocFailed);
        }
        punt(m);  // to learn the sender, or to log a duplicate address probe
        break;
      }
      case icmp6::kNeighborAdvert:
        to_host(m);
        punt(m);
        break;
      default:  // router solicitation/advertisement, redirect: the host's business
        if (host_) emit(host_out_, m);
        else drop(m, kNoHost);
        break;
    }
  }
}

bool ArpNd::run() {
  if (!ring_) return false;
  rte_mbuf* ms[32];
  const unsigned n = rte_ring_mc_dequeue_burst(ring_, reinterpret_cast<void**>(ms), 32, nullptr);
  for (unsigned k = 0; k < n; k++) emit(out_, ms[k]);
  return n != 0;
}

}  // namespace weft::route

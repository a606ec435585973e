// Nat44's per-packet path: parse, look the batch up in the shared table (one
// bulk lookup per 64 packets, no lock), rewrite addresses, ports and
// checksums in place, and — for packets without a session — the slow path
// that decides what session a packet may open.
#include <arpa/inet.h>
#include <rte_ether.h>
#include <rte_hash.h>
#include <rte_prefetch.h>

#include <algorithm>
#include <cstring>

#include "datapath/checksum.hpp"
#include "datapath/header_window.hpp"
#include "datapath/nat44.hpp"
#include "tables/tcp_state.hpp"

namespace weft::nat {

namespace {

constexpr unsigned kChunk = RTE_HASH_LOOKUP_BULK_MAX;
constexpr unsigned kMissAhead1 = 6, kMissAhead2 = 3;  // prefetch distances, in packets without a session

constexpr uint8_t kIcmpEchoReply = 0, kIcmpUnreachable = 3, kIcmpSourceQuench = 4, kIcmpEcho = 8,
                  kIcmpTimeExceeded = 11, kIcmpParamProblem = 12;
// Bytes of the L4 header the rewrite touches (ports/identifier and checksum).
uint32_t l4_rewrite_len(uint8_t proto) { return proto == IPPROTO_TCP ? 18 : 8; }

}  // namespace

const Drop* Nat44::parse(rte_mbuf* m, bool from_inside, Parsed& p) const {
  Window w;
  if (!w.open(m, 0, RTE_ETHER_HDR_LEN)) return &kRunt;
  uint16_t type = ld16(w.p + 12);
  uint32_t off = RTE_ETHER_HDR_LEN;
  for (int tags = 0; tags < 2 && (type == htons(RTE_ETHER_TYPE_VLAN) || type == htons(RTE_ETHER_TYPE_QINQ)); tags++) {
    if (!w.open(m, off, 4)) return &kRunt;
    type = ld16(w.p + 2);
    off += 4;
  }
  if (type != htons(RTE_ETHER_TYPE_IPV4)) return &kNotIpv4;
  if (!w.open(m, off, 20)) return &kTruncatedIp;
  const uint8_t vihl = w.p[0];
  if ((vihl >> 4) != 4 || (vihl & 15) < 5) return &kBadIp;
  const uint32_t ihl = (vihl & 15u) * 4;
  const uint32_t total = ntohs(ld16(w.p + 2));
  if (total < ihl) return &kBadIp;
  if (off + total > m->pkt_len) return &kTruncatedIp;  // also an IHL past the end
  if (ntohs(ld16(w.p + 6)) & 0x1fff) return &kFragment;
  p.proto = w.p[9];
  p.l3 = static_cast<uint16_t>(off);
  p.l4 = static_cast<uint16_t>(off + ihl);
  p.l4_len = static_cast<uint16_t>(total - ihl);
  p.icmp_error = false;
  p.tcp_flags = 0;
  FlowKey& k = p.key;
  k.src_ip = ld32(w.p + 12);
  k.dst_ip = ld32(w.p + 16);
  k.proto = p.proto;
  k.kind = from_inside ? kKeyFromInside : kKeyFromOutside;
  k.zero = 0;
  switch (p.proto) {
    case IPPROTO_TCP:
      if (p.l4_len < 20 || !w.open(m, p.l4, 20) || (w.p[12] >> 4) < 5) return &kTruncatedL4;
      k.src_port = ld16(w.p);
      k.dst_port = ld16(w.p + 2);
      p.tcp_flags = w.p[13];
      return nullptr;
    case IPPROTO_UDP:
      if (p.l4_len < 8 || !w.open(m, p.l4, 8)) return &kTruncatedL4;
      k.src_port = ld16(w.p);
      k.dst_port = ld16(w.p + 2);
      return nullptr;
    case IPPROTO_ICMP: {
      if (p.l4_len < 8 || !w.open(m, p.l4, 8)) return &kTruncatedL4;
      p.icmp_type = w.p[0];
      switch (p.icmp_type) {
        case kIcmpEcho:
        case kIcmpEchoReply: {
          // The identifier stands for the inside host's port.
          uint16_t id = ld16(w.p + 4);
          k.src_port = from_inside ? id : 0;
          k.dst_port = from_inside ? 0 : id;
          return nullptr;
        }
        case kIcmpUnreachable:
        case kIcmpSourceQuench:
        case kIcmpTimeExceeded:
        case kIcmpParamProblem:
          p.icmp_error = true;
          return nullptr;
        default:
          return &kUnsupportedIcmp;
      }
    }
    default:
      return &kUnsupportedProtocol;
  }
}

uint32_t Nat44::timeout_of(const Session& s) const {
  if (s.proto == IPPROTO_UDP) return t_udp_;
  if (s.proto == IPPROTO_ICMP) return t_icmp_;
  uint8_t t = __atomic_load_n(&s.tcp, __ATOMIC_RELAXED);
  bool closing = (t & kRst) || ((t & kFinIn) && (t & kFinOut));
  return (t & kEstablished) && !closing ? t_established_ : t_transitory_;
}

void Nat44::rewrite(rte_mbuf* m, const Parsed& p, bool from_inside, uint32_t sip, uint16_t sport, uint32_t dip,
                    uint16_t dport) const {
  Window w;
  w.open(m, p.l3, p.l4 - p.l3 + l4_rewrite_len(p.proto));  // parse() checked these bytes exist
  uint8_t* ip = w.p;
  uint8_t* l4 = ip + (p.l4 - p.l3);
  uint32_t d_addr = 0;
  if (uint32_t o = ld32(ip + 12); o != sip) {
    d_addr += csum_delta32(o, sip);
    st32(ip + 12, sip);
  }
  if (uint32_t o = ld32(ip + 16); o != dip) {
    d_addr += csum_delta32(o, dip);
    st32(ip + 16, dip);
  }
  if (d_addr) st16(ip + 10, csum_apply(ld16(ip + 10), d_addr));
  if (p.proto == IPPROTO_ICMP) {
    // No pseudo-header: only the identifier counts.
    uint16_t id = from_inside ? sport : dport, o = ld16(l4 + 4);
    if (id != o) {
      st16(l4 + 4, id);
      st16(l4 + 2, csum_apply(ld16(l4 + 2), csum_delta16(o, id)));
    }
  } else {
    uint32_t d = d_addr;  // the pseudo-header carries the addresses
    if (uint16_t o = ld16(l4); o != sport) {
      d += csum_delta16(o, sport);
      st16(l4, sport);
    }
    if (uint16_t o = ld16(l4 + 2); o != dport) {
      d += csum_delta16(o, dport);
      st16(l4 + 2, dport);
    }
    if (d) {
      if (p.proto == IPPROTO_TCP) st16(l4 + 16, csum_apply(ld16(l4 + 16), d));
      else st16(l4 + 6, udp_csum_apply(ld16(l4 + 6), d));
    }
  }
  w.commit(m);
}

void Nat44::forward(rte_mbuf* m, const Parsed& p, bool from_inside, void* data, uint32_t now) {
  const uint32_t idx = data_index(data);
  const bool second = data_second(data);
  Session& s = table_->session(idx);
  const FlowKey& k = p.key;
  uint32_t sip = k.src_ip, dip = k.dst_ip;
  uint16_t sport = k.src_port, dport = k.dst_port;
  uint16_t out = kOutInside;
  bool from_in_host = false;
  if (from_inside && !second) {  // from the session's inside host
    sip = s.ext_ip;
    sport = s.ext_port;
    from_in_host = true;
    if (s.kind == kHairpin) {
      const HairpinPeer& peer = table_->peer(idx);
      dip = peer.ip;
      dport = peer.port;
    } else {
      out = kOutOutside;
    }
  } else if (from_inside) {  // a hairpinned reply: from the peer to the inside host
    sip = s.rem_ip;
    sport = s.rem_port;
    dip = s.in_ip;
    dport = s.in_port;
  } else {  // from outside to the inside host
    dip = s.in_ip;
    dport = s.in_port;
  }
  if (s.proto == IPPROTO_TCP) update_tcp(s, from_in_host, p.tcp_flags);
  table_->touch(idx, now + timeout_of(s));
  rewrite(m, p, from_inside, sip, sport, dip, dport);
  emit(out, m);
}

const Drop* Nat44::make_inside_session(const Parsed& p, NewSession& n) const {
  const FlowKey& k = p.key;
  if (k.proto == IPPROTO_ICMP && p.icmp_type != kIcmpEcho) return &kNoMapping;  // a reply without a request
  if (!allowed_inside(k.src_ip)) return &kNotInside;
  n.proto = k.proto;
  n.in_ip = k.src_ip;
  n.in_port = k.src_port;
  n.rem_ip = k.dst_ip;
  n.rem_port = k.dst_port;
  // Hairpinning: the destination is one of our external endpoints.
  auto fwd = fwd_out_.empty() ? fwd_out_.end()
                              : fwd_out_.find((uint64_t{k.proto} << 48) | (uint64_t{k.dst_ip} << 16) | k.dst_port);
  if (fwd != fwd_out_.end() || is_external(k.dst_ip)) {
    if (k.proto == IPPROTO_ICMP) return &kNoMapping;  // hairpinned echo is not supported
    n.kind = kHairpin;
    if (fwd != fwd_out_.end()) {
      n.peer_static = true;
      n.peer_ip = fwd->second.ip;
      n.peer_port = fwd->second.port;
    } else if (auto one = one_out_.find(k.dst_ip); one != one_out_.end()) {
      n.peer_static = true;
      n.peer_ip = one->second;
      n.peer_port = k.dst_port;
    } else if (!table_->resolve_external(k.proto, k.dst_ip, k.dst_port, n.peer_ip, n.peer_port)) {
      return &kNoMapping;
    }
  }
  // The source side: a static mapping fixes the external endpoint.
  if (fwd_in_.empty() && one_in_.empty()) return nullptr;
  if (auto it = fwd_in_.find((uint64_t{k.proto} << 48) | (uint64_t{k.src_ip} << 16) | k.src_port);
      it != fwd_in_.end()) {
    n.ext_given = true;
    n.ext_ip = it->second.ip;
    n.ext_port = it->second.port;
  } else if (auto one = one_in_.find(k.src_ip); one != one_in_.end()) {
    n.ext_given = true;
    n.ext_ip = one->second;
    n.ext_port = k.src_port;
  }
  return nullptr;
}

const Drop* Nat44::make_outside_session(const Parsed& p, NewSession& n) const {
  const FlowKey& k = p.key;
  n.proto = k.proto;
  n.kind = kOutsideInitiated;
  n.rem_ip = k.src_ip;
  n.rem_port = k.src_port;
  n.ext_given = true;
  n.ext_ip = k.dst_ip;
  n.ext_port = k.dst_port;
  if (k.proto != IPPROTO_ICMP) {
    auto fwd = fwd_out_.find((uint64_t{k.proto} << 48) | (uint64_t{k.dst_ip} << 16) | k.dst_port);
    if (fwd != fwd_out_.end()) {
      n.in_ip = fwd->second.ip;
      n.in_port = fwd->second.port;
      return nullptr;
    }
  }
  auto one = one_out_.find(k.dst_ip);
  if (one == one_out_.end()) return &kNoMapping;
  if (k.proto == IPPROTO_ICMP && p.icmp_type != kIcmpEcho) return &kNoMapping;
  n.in_ip = one->second;
  n.in_port = k.dst_port;  // 1:1 keeps ports (and echo identifiers)
  return nullptr;
}

void Nat44::miss(rte_mbuf* m, const Parsed& p, bool from_inside, uint32_t now) {
  NewSession n;
  const Drop* reason = from_inside ? make_inside_session(p, n) : make_outside_session(p, n);
  if (reason) {
    drop(m, *reason);
    return;
  }
  n.timeout = p.proto == IPPROTO_TCP ? t_transitory_ : p.proto == IPPROTO_UDP ? t_udp_ : t_icmp_;
  uint32_t idx = 0;
  switch (table_->create(cache_, n, now, idx)) {
    case Created::kNew:
      // The packet's own key: the first one from inside, the second from outside.
      forward(m, p, from_inside, key_data(idx, !from_inside), now);
      return;
    case Created::kExists: {
      void* d = nullptr;
      if (rte_hash_lookup_data(table_->hash(), &p.key, &d) < 0) break;
      forward(m, p, from_inside, d, now);
      return;
    }
    case Created::kSourceLimit:
      drop(m, kSourceLimit);
      return;
    case Created::kTableFull:
      drop(m, kTableFull);
      return;
    case Created::kPoolExhausted:
      drop(m, kPoolExhausted);
      return;
    case Created::kNoMapping:
    case Created::kHostsFull:  // IPv6 hosts only
      break;
  }
  drop(m, kNoMapping);
}

void Nat44::icmp_error(rte_mbuf* m, const Parsed& p, bool from_inside) {
  // The quoted packet: from outside, one we sent (src = external endpoint);
  // from inside, one an inside host received (dst = inside endpoint).
  const uint32_t inner = p.l4 + 8u;
  const uint32_t quoted = p.l4_len - 8u;
  Window w;
  if (p.l4_len < 8 + 20 || !w.open(m, inner, 20)) {
    drop(m, kTruncatedIcmpInner);
    return;
  }
  const uint8_t vihl = w.p[0];
  const uint32_t ihl = (vihl & 15u) * 4;
  const uint8_t proto = w.p[9];
  if ((vihl >> 4) != 4 || ihl < 20 || quoted < ihl + 8) {
    drop(m, kTruncatedIcmpInner);
    return;
  }
  if (ntohs(ld16(w.p + 6)) & 0x1fff) {
    drop(m, kFragment);
    return;
  }
  if (proto != IPPROTO_TCP && proto != IPPROTO_UDP && proto != IPPROTO_ICMP) {
    drop(m, kUnsupportedProtocol);
    return;
  }
  const uint32_t cover = std::min<uint32_t>(quoted - ihl, l4_rewrite_len(proto));
  if (!w.open(m, p.l3, inner - p.l3 + ihl + cover)) {
    drop(m, kTruncatedIcmpInner);
    return;
  }
  uint8_t* ip = w.p;
  uint8_t* icmp = ip + (p.l4 - p.l3);
  uint8_t* iip = icmp + 8;
  uint8_t* il4 = iip + ihl;
  if (proto == IPPROTO_ICMP && il4[0] != kIcmpEcho && il4[0] != kIcmpEchoReply) {
    drop(m, kUnsupportedIcmp);  // an error about an error
    return;
  }
  const uint32_t isrc = ld32(iip + 12), idst = ld32(iip + 16);
  FlowKey k;
  k.proto = proto;
  k.src_ip = idst;  // the reverse of the quoted packet
  k.dst_ip = isrc;
  if (proto == IPPROTO_ICMP) {
    const uint16_t id = ld16(il4 + 4);
    k.src_port = from_inside ? id : 0;
    k.dst_port = from_inside ? 0 : id;
  } else {
    k.src_port = ld16(il4 + 2);
    k.dst_port = ld16(il4);
  }
  k.kind = from_inside ? kKeyFromInside : kKeyFromOutside;
  void* d = nullptr;
  if (rte_hash_lookup_data(table_->hash(), &k, &d) < 0) {
    drop(m, kNoMapping);
    return;
  }
  const Session& s = table_->session(data_index(d));
  if (s.kind == kHairpin || data_second(d) == from_inside || (!from_inside && ld32(ip + 16) != s.ext_ip)) {
    drop(m, kNoMapping);
    return;
  }
  // Outer header: to the inside host, or from our external address.
  uint8_t* outer_field = from_inside ? ip + 12 : ip + 16;
  const uint32_t outer_new = from_inside ? s.ext_ip : s.in_ip;
  if (uint32_t o = ld32(outer_field); o != outer_new) {
    st32(outer_field, outer_new);
    st16(ip + 10, csum_apply(ld16(ip + 10), csum_delta32(o, outer_new)));
  }
  // Inner header: the address and port that were translated, back the other way.
  uint32_t d_icmp = 0;  // changes inside the ICMP message, for its checksum
  uint8_t* ia = from_inside ? iip + 16 : iip + 12;
  const uint32_t ia_old = ld32(ia), ia_new = from_inside ? s.ext_ip : s.in_ip;
  const uint32_t d_ia = csum_delta32(ia_old, ia_new);
  st32(ia, ia_new);
  const uint16_t ic_old = ld16(iip + 10), ic_new = csum_apply(ic_old, d_ia);
  st16(iip + 10, ic_new);
  d_icmp += d_ia + csum_delta16(ic_old, ic_new);
  const uint16_t port_new = from_inside ? s.ext_port : s.in_port;
  if (proto == IPPROTO_ICMP) {
    const uint16_t id_old = ld16(il4 + 4);
    st16(il4 + 4, port_new);
    const uint16_t c_old = ld16(il4 + 2), c_new = csum_apply(c_old, csum_delta16(id_old, port_new));
    st16(il4 + 2, c_new);
    d_icmp += csum_delta16(id_old, port_new) + csum_delta16(c_old, c_new);
  } else {
    uint8_t* pf = from_inside ? il4 + 2 : il4;
    const uint16_t p_old = ld16(pf);
    st16(pf, port_new);
    d_icmp += csum_delta16(p_old, port_new);
    const uint32_t d_l4 = d_ia + csum_delta16(p_old, port_new);
    uint8_t* cf = proto == IPPROTO_TCP ? il4 + 16 : il4 + 6;
    if (cover >= l4_rewrite_len(proto)) {  // the quoted checksum is there to fix
      const uint16_t c_old = ld16(cf);
      const uint16_t c_new = proto == IPPROTO_TCP ? csum_apply(c_old, d_l4) : udp_csum_apply(c_old, d_l4);
      st16(cf, c_new);
      d_icmp += csum_delta16(c_old, c_new);
    }
  }
  st16(icmp + 2, csum_apply(ld16(icmp + 2), d_icmp));
  w.commit(m);
  emit(from_inside ? kOutOutside : kOutInside, m);
}

void Nat44::push(uint16_t input, Batch& b) {
  const bool from_inside = input == kInInside;
  const uint32_t now = table_->now();
  Parsed ps[kChunk];
  const void* keys[kChunk];
  rte_mbuf* pk[kChunk];
  void* data[kChunk];
  for (uint16_t base = 0; base < b.count; base = static_cast<uint16_t>(base + kChunk)) {
    const unsigned n = std::min<unsigned>(kChunk, b.count - base);
    unsigned k = 0;
    for (unsigned i = 0; i < n; i++) {
      rte_mbuf* m = b.pkts[base + i];
      if (const Drop* r = parse(m, from_inside, ps[k])) {
        drop(m, *r);
        continue;
      }
      if (ps[k].icmp_error) {
        icmp_error(m, ps[k], from_inside);
        continue;
      }
      pk[k] = m;
      keys[k] = &ps[k].key;
      k++;
    }
    if (k == 0) continue;
    uint64_t hits = 0;
    rte_hash_lookup_bulk_data(table_->hash(), keys, k, &hits, data);
    for (unsigned j = 0; j < k; j++)
      if (hits & (1ULL << j)) {
        rte_prefetch0(&table_->session(data_index(data[j])));
        table_->prefetch_deadline(data_index(data[j]));
      }
    // Packets without a session open one under their stripe's lock: start
    // loading what that will touch a few misses ahead (stage 1 the stripe,
    // stage 2 the map slots it leads to), so the misses overlap.
    uint8_t miss_at[kChunk];
    unsigned nm = 0;
    if (from_inside)
      for (unsigned j = 0; j < k; j++)
        if (!(hits & (1ULL << j))) miss_at[nm++] = static_cast<uint8_t>(j);
    auto stage1 = [&](unsigned q) {
      if (q < nm) table_->prefetch_stripe(ps[miss_at[q]].key.src_ip);
    };
    auto stage2 = [&](unsigned q) {
      if (q < nm) {
        const FlowKey& f = ps[miss_at[q]].key;
        table_->prefetch_maps(f.src_ip, f.src_port, f.proto);
      }
    };
    for (unsigned q = 0; q < kMissAhead1; q++) stage1(q);
    for (unsigned q = 0; q < kMissAhead2; q++) stage2(q);
    unsigned q = 0;
    for (unsigned j = 0; j < k; j++) {
      if (hits & (1ULL << j)) {
        forward(pk[j], ps[j], from_inside, data[j], now);
        continue;
      }
      stage2(q + kMissAhead2);
      stage1(q + kMissAhead1);
      q++;
      miss(pk[j], ps[j], from_inside, now);
    }
    table_->finish(cache_);  // the new sessions' keys from outside
  }
  b.clear();
}

}  // namespace weft::nat

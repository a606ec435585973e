// Nat64's per-packet path: parse, find the IPv6 source's host id and the
// session (one bulk lookup each per 64 packets, no lock), build the other
// family's headers (RFC 7915) with incrementally updated L4 checksums and put
// them in place of the old ones, and — for IPv6 packets without a session —
// the slow path that opens one.
#include <arpa/inet.h>
#include <rte_ether.h>
#include <rte_hash.h>
#include <rte_prefetch.h>

#include <algorithm>
#include <cstring>

#include "datapath/nat64.hpp"
#include "datapath/xlat.hpp"

namespace weft::nat {

namespace {

constexpr unsigned kChunk = RTE_HASH_LOOKUP_BULK_MAX;
constexpr unsigned kAhead = 6, kAhead2 = 3;  // prefetch distances, in packets
constexpr unsigned kMaxExtensionHeaders = 8;
constexpr uint8_t kNextHopByHop = 0, kNextRouting = 43, kNextFragment = 44, kNextDestOpts = 60;
constexpr uint8_t kIcmp6EchoRequest = 128, kIcmp6EchoReply = 129;
constexpr uint8_t kIcmpEchoReply = 0, kIcmpUnreachable = 3, kIcmpEcho = 8, kIcmpTimeExceeded = 11,
                  kIcmpParamProblem = 12;
constexpr uint8_t kIpoptEnd = 0, kIpoptNoop = 1, kIpoptLsrr = 131, kIpoptSsrr = 137;

// Bytes of the L4 header a translation rewrites (ports/identifier and checksum).
uint32_t l4_rewrite_len(uint8_t proto) { return proto == IPPROTO_TCP ? 18 : 8; }

// Reads the Ethernet (and VLAN) header: the offset of the IP header and its
// EtherType, or false for a runt.
bool parse_l2(rte_mbuf* m, uint32_t& off, uint16_t& type) {
  Window w;
  if (!w.open(m, 0, RTE_ETHER_HDR_LEN)) return false;
  type = ld16(w.p + 12);
  off = RTE_ETHER_HDR_LEN;
  for (int tags = 0; tags < 2 && (type == htons(RTE_ETHER_TYPE_VLAN) || type == htons(RTE_ETHER_TYPE_QINQ)); tags++) {
    if (!w.open(m, off, 4)) return false;
    type = ld16(w.p + 2);
    off += 4;
  }
  return true;
}

// An unexpired loose or strict source route among IPv4 options (RFC 7915
// section 4.1: such a packet is not translated).
bool source_routed(const uint8_t* opt, uint32_t len) {
  for (uint32_t i = 0; i < len;) {
    const uint8_t t = opt[i];
    if (t == kIpoptEnd) return false;
    if (t == kIpoptNoop) {
      i++;
      continue;
    }
    if (i + 1 >= len || opt[i + 1] < 2) return false;  // malformed: nothing more to read
    if ((t == kIpoptLsrr || t == kIpoptSsrr) && i + 2 < len && opt[i + 2] <= opt[i + 1]) return true;
    i += opt[i + 1];
  }
  return false;
}

}  // namespace

const Drop* Nat64::parse6(rte_mbuf* m, Parsed& p) const {
  uint32_t off;
  uint16_t type;
  if (!parse_l2(m, off, type)) return &kRunt;
  if (type != htons(RTE_ETHER_TYPE_IPV6)) return &kNotIpv6;
  Window w;
  if (!w.open(m, off, 40)) return &kTruncated;
  if ((w.p[0] >> 4) != 6) return &kNotIpv6;
  const uint32_t end = off + 40 + ntohs(ld16(w.p + 4));
  if (end > m->pkt_len) return &kTruncated;
  uint32_t v4dst;
  if (!prefix_.extract(w.p + 24, v4dst)) return &kNotPrefix;
  p.l3 = static_cast<uint16_t>(off);
  p.tclass = static_cast<uint8_t>((w.p[0] << 4) | (w.p[1] >> 4));
  p.hop = w.p[7];
  std::memcpy(p.src6.a, w.p + 8, 16);
  p.addr_sum = sum16(w.p + 8, 32);
  uint8_t next = w.p[6];
  if (p.hop <= 1) return &kHopLimit;
  if (reserved_ipv4(v4dst)) return &kReservedAddress;
  if (table_->pool().index_of(ntohl(v4dst)) >= 0) return &kHairpin;

  // Extension headers: hop-by-hop, destination options and a routing header
  // without segments left are removed; an atomic fragment header too.
  uint32_t l4 = off + 40;
  unsigned seen = 0;
  while (next == kNextHopByHop || next == kNextRouting || next == kNextDestOpts || next == kNextFragment) {
    if (++seen > kMaxExtensionHeaders) return &kUnsupportedProtocol;
    if (l4 + 8 > end || !w.open(m, l4, 8)) return &kTruncated;
    if (next == kNextFragment) {
      const uint16_t fo = ntohs(ld16(w.p + 2));
      if ((fo & 0xfff9) != 0) return &kFragment;  // an offset or more fragments: not atomic
    } else if (next == kNextRouting && w.p[3] != 0) {
      return &kSourceRoute;
    }
    const uint32_t len = next == kNextFragment ? 8 : (w.p[1] + 1u) * 8;
    next = w.p[0];
    l4 += len;
    if (l4 > end) return &kTruncated;
  }
  if (end - l4 + 20 > 65535) return &kBadIp;  // would not fit an IPv4 total length
  p.l4 = static_cast<uint16_t>(l4);
  p.l4_len = static_cast<uint16_t>(end - l4);
  p.proto = next;
  p.icmp_error = false;
  p.tcp_flags = 0;
  FlowKey& k = p.key;
  k.src_ip = 0;  // the host id, once looked up
  k.dst_ip = v4dst;
  k.kind = kKeyFromInside;
  k.zero = 0;
  switch (next) {
    case IPPROTO_TCP:
      if (p.l4_len < 20 || !w.open(m, l4, 20) || (w.p[12] >> 4) < 5) return &kTruncated;
      k.proto = IPPROTO_TCP;
      k.src_port = ld16(w.p);
      k.dst_port = ld16(w.p + 2);
      p.tcp_flags = w.p[13];
      return nullptr;
    case IPPROTO_UDP:
      if (p.l4_len < 8 || !w.open(m, l4, 8)) return &kTruncated;
      if (ld16(w.p + 6) == 0) return &kBadChecksum;  // mandatory in IPv6
      k.proto = IPPROTO_UDP;
      k.src_port = ld16(w.p);
      k.dst_port = ld16(w.p + 2);
      return nullptr;
    case kProtoIcmp6:
      if (p.l4_len < 8 || !w.open(m, l4, 8)) return &kTruncated;
      p.icmp_type = w.p[0];
      k.proto = IPPROTO_ICMP;  // sessions know one protocol for both sides
      if (p.icmp_type == kIcmp6EchoRequest || p.icmp_type == kIcmp6EchoReply) {
        k.src_port = ld16(w.p + 4);  // the identifier stands for the host's port
        k.dst_port = 0;
        return nullptr;
      }
      if (p.icmp_type >= 1 && p.icmp_type <= 4) {
        p.icmp_error = true;
        return nullptr;
      }
      return &kUnsupportedIcmp;
    default:
      return &kUnsupportedProtocol;
  }
}

const Drop* Nat64::parse4(rte_mbuf* m, Parsed& p) const {
  uint32_t off;
  uint16_t type;
  if (!parse_l2(m, off, type)) return &kRunt;
  if (type != htons(RTE_ETHER_TYPE_IPV4)) return &kNotIpv4;
  Window w;
  if (!w.open(m, off, 20)) return &kTruncated;
  const uint8_t vihl = w.p[0];
  if ((vihl >> 4) != 4 || (vihl & 15) < 5) return &kBadIp;
  const uint32_t ihl = (vihl & 15u) * 4;
  const uint32_t total = ntohs(ld16(w.p + 2));
  if (total < ihl) return &kBadIp;
  if (off + total > m->pkt_len) return &kTruncated;
  if (!w.open(m, off, ihl)) return &kTruncated;
  // The header is not carried over, so its checksum must be right now.
  if (csum_fold(sum16(w.p, ihl)) != 0xffff) return &kBadChecksum;
  if (ntohs(ld16(w.p + 6)) & 0x3fff) return &kFragment;  // MF or an offset
  p.hop = w.p[8];
  if (p.hop <= 1) return &kHopLimit;
  const uint32_t src = ld32(w.p + 12);
  if (reserved_ipv4(src)) return &kReservedAddress;
  if (ihl > 20 && source_routed(w.p + 20, ihl - 20)) return &kSourceRoute;
  p.l3 = static_cast<uint16_t>(off);
  p.l4 = static_cast<uint16_t>(off + ihl);
  p.l4_len = static_cast<uint16_t>(total - ihl);
  p.proto = w.p[9];
  p.tclass = w.p[1];
  p.addr_sum = sum16(w.p + 12, 8);
  p.icmp_error = false;
  p.tcp_flags = 0;
  FlowKey& k = p.key;
  k.src_ip = src;
  k.dst_ip = ld32(w.p + 16);
  k.proto = p.proto;
  k.kind = kKeyFromOutside;
  k.zero = 0;
  switch (p.proto) {
    case IPPROTO_TCP:
      if (p.l4_len < 20 || !w.open(m, p.l4, 20) || (w.p[12] >> 4) < 5) return &kTruncated;
      k.src_port = ld16(w.p);
      k.dst_port = ld16(w.p + 2);
      p.tcp_flags = w.p[13];
      return nullptr;
    case IPPROTO_UDP:
      if (p.l4_len < 8 || !w.open(m, p.l4, 8)) return &kTruncated;
      k.src_port = ld16(w.p);
      k.dst_port = ld16(w.p + 2);
      return nullptr;
    case IPPROTO_ICMP:
      if (p.l4_len < 8 || !w.open(m, p.l4, 8)) return &kTruncated;
      p.icmp_type = w.p[0];
      switch (p.icmp_type) {
        case kIcmpEchoReply:  // only replies: requests from IPv4 open nothing
          k.src_port = 0;
          k.dst_port = ld16(w.p + 4);
          return nullptr;
        case kIcmpEcho:
          return &kNoSession;
        case kIcmpUnreachable:
        case kIcmpTimeExceeded:
        case kIcmpParamProblem:
          p.icmp_error = true;
          return nullptr;
        default:  // source quench, redirect, timestamps, router discovery...: single-hop or obsolete
          return &kUnsupportedIcmp;
      }
    default:
      return &kUnsupportedProtocol;
  }
}

void Nat64::forward6(rte_mbuf* m, const Parsed& p, uint32_t idx, uint32_t now) {
  Session& s = table_->session(idx);
  if (p.proto == IPPROTO_TCP) update_tcp(s, true, p.tcp_flags);
  table_->touch(idx, now + timeouts_.of(s));

  const uint32_t rw = l4_rewrite_len(p.key.proto);
  uint8_t out[22 + 20 + 18];
  Window w;
  w.open(m, 0, p.l3);  // parse6() checked every byte read here exists
  std::memcpy(out, w.p, p.l3);
  st16(out + p.l3 - 2, htons(RTE_ETHER_TYPE_IPV4));
  uint8_t* ip = out + p.l3;
  const uint16_t total = static_cast<uint16_t>(20 + p.l4_len);
  ip[0] = 0x45;
  ip[1] = p.tclass;
  st16(ip + 2, htons(total));
  st16(ip + 4, htons(next_ip_id()));
  st16(ip + 6, total > 1260 ? htons(0x4000) : 0);  // DF only where IPv6 would not fragment either (RFC 7915 5.1)
  ip[8] = static_cast<uint8_t>(p.hop - 1);
  ip[9] = p.key.proto;
  st16(ip + 10, 0);
  st32(ip + 12, s.ext_ip);
  st32(ip + 16, p.key.dst_ip);
  st16(ip + 10, csum_final(sum16(ip, 20)));

  uint8_t* l4 = ip + 20;
  w.open(m, p.l4, rw);
  std::memcpy(l4, w.p, rw);
  if (p.key.proto == IPPROTO_ICMP) {
    // ICMPv6's checksum covers a pseudo-header, ICMPv4's does not.
    const uint16_t tc_old = ld16(l4), id_old = ld16(l4 + 4);
    l4[0] = p.icmp_type == kIcmp6EchoRequest ? kIcmpEcho : kIcmpEchoReply;
    l4[1] = 0;
    st16(l4 + 4, s.ext_port);
    const uint32_t d = csum_neg(p.addr_sum + pseudo_rest(p.l4_len, kProtoIcmp6)) + csum_delta16(tc_old, ld16(l4)) +
                       csum_delta16(id_old, s.ext_port);
    st16(l4 + 2, csum_apply(ld16(l4 + 2), d));
  } else {
    // The pseudo-headers differ only in their addresses.
    uint32_t d = csum_neg(p.addr_sum) + sum16(ip + 12, 8) + csum_delta16(ld16(l4), s.ext_port);
    st16(l4, s.ext_port);
    if (p.proto == IPPROTO_TCP) st16(l4 + 16, csum_apply(ld16(l4 + 16), d));
    else st16(l4 + 6, udp_csum_apply(ld16(l4 + 6), d));
  }
  if (!replace_head(m, p.l4 + rw, out, p.l3 + 20 + rw)) {
    drop(m, kNoHeadroom);
    return;
  }
  emit(kTo4, m);
}

void Nat64::forward4(rte_mbuf* m, const Parsed& p, uint32_t idx, uint32_t now) {
  Session& s = table_->session(idx);
  if (p.proto == IPPROTO_TCP) update_tcp(s, false, p.tcp_flags);
  table_->touch(idx, now + timeouts_.of(s));

  const uint32_t rw = l4_rewrite_len(p.proto);
  uint8_t out[22 + 40 + 18];
  Window w;
  w.open(m, 0, p.l3);
  std::memcpy(out, w.p, p.l3);
  st16(out + p.l3 - 2, htons(RTE_ETHER_TYPE_IPV6));
  uint8_t* ip = out + p.l3;
  ip[0] = static_cast<uint8_t>(0x60 | (p.tclass >> 4));
  ip[1] = static_cast<uint8_t>(p.tclass << 4);
  ip[2] = ip[3] = 0;
  st16(ip + 4, htons(p.l4_len));
  ip[6] = p.proto == IPPROTO_ICMP ? kProtoIcmp6 : p.proto;
  ip[7] = static_cast<uint8_t>(p.hop - 1);
  prefix_.embed(p.key.src_ip, ip + 8);
  std::memcpy(ip + 24, table_->host_address(s.in_ip), 16);

  uint8_t* l4 = ip + 40;
  w.open(m, p.l4, rw);
  std::memcpy(l4, w.p, rw);
  bool udp_zero = false;
  if (p.proto == IPPROTO_ICMP) {
    const uint16_t tc_old = ld16(l4), id_old = ld16(l4 + 4);
    l4[0] = kIcmp6EchoReply;  // parse4() lets only echo replies through
    l4[1] = 0;
    st16(l4 + 4, s.in_port);
    const uint32_t d = sum16(ip + 8, 32) + pseudo_rest(p.l4_len, kProtoIcmp6) + csum_delta16(tc_old, ld16(l4)) +
                       csum_delta16(id_old, s.in_port);
    st16(l4 + 2, csum_apply(ld16(l4 + 2), d));
  } else {
    uint32_t d = csum_neg(p.addr_sum) + sum16(ip + 8, 32) + csum_delta16(ld16(l4 + 2), s.in_port);
    st16(l4 + 2, s.in_port);
    if (p.proto == IPPROTO_TCP) st16(l4 + 16, csum_apply(ld16(l4 + 16), d));
    else if (ld16(l4 + 6) != 0) st16(l4 + 6, udp_csum_apply(ld16(l4 + 6), d));
    else udp_zero = true;  // IPv4 may leave it out, IPv6 may not: computed below
  }
  const uint32_t l4_off = p.l3 + 40u;
  if (!replace_head(m, p.l4 + rw, out, l4_off + rw)) {
    drop(m, kNoHeadroom);
    return;
  }
  if (udp_zero) {
    uint16_t raw = 0;
    rte_raw_cksum_mbuf(m, l4_off, p.l4_len, &raw);  // the field is 0 in the data summed
    uint16_t c = csum_final(uint32_t{raw} + sum16(ip + 8, 32) + pseudo_rest(p.l4_len, IPPROTO_UDP));
    if (c == 0) c = 0xffff;
    write_bytes(m, l4_off + 6, &c, 2);
  }
  emit(kTo6, m);
}

void Nat64::miss6(rte_mbuf* m, Parsed& p, uint32_t now) {
  if (p.key.proto == IPPROTO_ICMP && p.icmp_type != kIcmp6EchoRequest) {
    drop(m, kNoSession);  // a reply without a request
    return;
  }
  if (!allowed_inside(p.src6.a)) {
    drop(m, kNotInside);
    return;
  }
  NewSession n;
  n.proto = p.key.proto;
  n.in_port = p.key.src_port;
  n.rem_ip = p.key.dst_ip;
  n.rem_port = p.key.dst_port;
  n.timeout = timeouts_.initial(p.key.proto);
  uint32_t idx = 0;
  switch (table_->create6(cache_, p.src6, n, now, idx)) {
    case Created::kNew:
    case Created::kExists:
      p.key.src_ip = n.in_ip;
      forward6(m, p, idx, now);
      return;
    case Created::kSourceLimit:
      drop(m, kSourceLimit);
      return;
    case Created::kTableFull:
      drop(m, kTableFull);
      return;
    case Created::kPoolExhausted:
      drop(m, kPoolExhausted);
      return;
    case Created::kHostsFull:
      drop(m, kHostsFull);
      return;
    case Created::kNoMapping:
      break;
  }
  drop(m, kNoSession);
}

void Nat64::push(uint16_t input, Batch& b) {
  const bool from6 = input == kFrom6;
  const uint32_t now = table_->now();
  Parsed ps[kChunk];
  rte_mbuf* pk[kChunk];
  const void* keys[kChunk];
  void* data[kChunk];
  uint8_t slot[kChunk];  // per packet: kHit, kMiss (from IPv6: a known host), kNewHost, kError
  uint32_t sidx[kChunk];
  enum : uint8_t { kHit, kMiss, kNewHost, kError };
  for (uint16_t base = 0; base < b.count; base = static_cast<uint16_t>(base + kChunk)) {
    const unsigned n = std::min<unsigned>(kChunk, b.count - base);
    unsigned k = 0;
    for (unsigned i = 0; i < n; i++) {
      rte_mbuf* m = b.pkts[base + i];
      if (const Drop* r = from6 ? parse6(m, ps[k]) : parse4(m, ps[k])) {
        drop(m, *r);
        continue;
      }
      pk[k] = m;
      slot[k] = ps[k].icmp_error ? kError : from6 ? kNewHost : kMiss;
      k++;
    }
    if (k == 0) continue;
    // Gather the packets to look up (not the ICMP errors); from IPv6, first
    // their sources' host ids.
    unsigned q = 0;
    uint8_t at[kChunk];
    for (unsigned j = 0; j < k; j++)
      if (slot[j] != kError) {
        at[q] = static_cast<uint8_t>(j);
        keys[q++] = from6 ? static_cast<const void*>(&ps[j].src6) : &ps[j].key;
      }
    if (from6 && q) {
      uint64_t hits = 0;
      rte_hash_lookup_bulk_data(table_->hosts(), keys, q, &hits, data);
      unsigned q2 = 0;
      for (unsigned i = 0; i < q; i++)
        if (hits & (1ULL << i)) {
          Parsed& p = ps[at[i]];
          p.key.src_ip = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(data[i]));
          slot[at[i]] = kMiss;  // until its session is found
          at[q2] = at[i];
          keys[q2++] = &p.key;
        }
      q = q2;
    }
    if (q) {
      uint64_t hits = 0;
      rte_hash_lookup_bulk_data(table_->hash(), keys, q, &hits, data);
      for (unsigned i = 0; i < q; i++)
        if (hits & (1ULL << i)) {
          const uint32_t idx = data_index(data[i]);
          slot[at[i]] = kHit;
          sidx[at[i]] = idx;
          rte_prefetch0(&table_->session(idx));
          table_->prefetch_deadline(idx);
        }
    }
    // A few packets ahead, start loading what comes after the session: from
    // IPv4 its host's address, from IPv6 (a new session of a known host) the
    // lock stripe and map slots the slow path will use.
    auto ahead = [&](unsigned j) {
      if (j >= k) return;
      if (slot[j] == kHit && !from6) table_->prefetch_host(table_->session(sidx[j]).in_ip);
      else if (slot[j] == kMiss && from6) table_->prefetch_stripe(ps[j].key.src_ip);
    };
    auto ahead2 = [&](unsigned j) {
      if (j < k && slot[j] == kMiss && from6) table_->prefetch_maps(ps[j].key.src_ip, ps[j].key.src_port, ps[j].key.proto);
    };
    for (unsigned j = 0; j < kAhead; j++) ahead(j);
    for (unsigned j = 0; j < kAhead2; j++) ahead2(j);
    for (unsigned j = 0; j < k; j++) {
      ahead(j + kAhead);
      ahead2(j + kAhead2);
      switch (slot[j]) {
        case kHit:
          if (from6) forward6(pk[j], ps[j], sidx[j], now);
          else forward4(pk[j], ps[j], sidx[j], now);
          break;
        case kMiss:
        case kNewHost:
          if (from6) miss6(pk[j], ps[j], now);
          else drop(pk[j], kNoSession);
          break;
        default: {
          if (const Drop* r = from6 ? icmp6_error(pk[j], ps[j]) : icmp4_error(pk[j], ps[j])) drop(pk[j], *r);
        }
      }
    }
    if (from6) table_->finish(cache_);  // the new sessions' keys from IPv4
  }
  b.clear();
}

}  // namespace weft::nat

// Helpers for IPv6 <-> IPv4 translation (Nat64): one's-complement sums of
// header bytes, the IPv4 address classes RFC 7915 translators refuse, and
// replacing a packet's leading bytes with headers of another length.
#pragma once

#include <arpa/inet.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include <cstdint>

#include "datapath/checksum.hpp"
#include "datapath/header_window.hpp"
#include "weft/packet.hpp"

namespace weft::nat {

inline constexpr uint8_t kProtoIcmp6 = 58;

// Sum of the 16-bit words at p (n bytes; an odd last byte is padded with
// zero), as they lie in memory.
inline uint32_t sum16(const uint8_t* p, uint32_t n) {
  uint32_t s = 0;
  uint32_t i = 0;
  for (; i + 1 < n; i += 2) s += ld16(p + i);
  if (i < n) {
    const uint8_t last[2] = {p[i], 0};
    s += ld16(last);
  }
  return s;
}

// A delta term that removes `sum` from a checksum (one's-complement negation).
inline uint32_t csum_neg(uint32_t sum) { return static_cast<uint16_t>(~csum_fold(sum)); }

// The checksum field value for data summing to `sum`.
inline uint16_t csum_final(uint32_t sum) { return static_cast<uint16_t>(~csum_fold(sum)); }

// The pseudo-header words besides the addresses: length and protocol, both
// the same 16-bit values in IPv4's and IPv6's pseudo-headers (a length below
// 65536 has a zero upper word in IPv6's 32-bit field).
inline uint32_t pseudo_rest(uint32_t l4_len, uint8_t proto) {
  return uint32_t{htons(static_cast<uint16_t>(l4_len))} + htons(proto);
}

// IPv4 addresses a NAT64 never translates to or from: 0/8, 127/8,
// 169.254/16, 224/4 (multicast), 240/4 (reserved and broadcast).
inline bool reserved_ipv4(uint32_t net) {
  const uint32_t a = ntohl(net);
  const uint8_t top = static_cast<uint8_t>(a >> 24);
  return top == 0 || top == 127 || top >= 224 || (a >> 16) == 0xa9fe;
}

// Replaces the first `old_len` bytes of the packet with the `n` bytes at
// `src`, growing into the headroom or shrinking from the front (whatever
// the segment layout). False if the mbuf cannot do it (no headroom, or a
// first segment shorter than the bytes to remove and a last segment
// shorter than those to trim); the packet is then left unusable.
inline bool replace_head(rte_mbuf* m, uint32_t old_len, const uint8_t* src, uint32_t n) {
  if (n > old_len) {
    if (n - old_len > UINT16_MAX || !rte_pktmbuf_prepend(m, static_cast<uint16_t>(n - old_len))) return false;
    write_bytes(m, 0, src, n);
    return true;
  }
  const uint32_t cut = old_len - n;
  if (cut <= m->data_len) {
    write_bytes(m, cut, src, n);
    return cut == 0 || rte_pktmbuf_adj(m, static_cast<uint16_t>(cut)) != nullptr;
  }
  if (old_len == m->pkt_len && cut <= UINT16_MAX && rte_pktmbuf_trim(m, static_cast<uint16_t>(cut)) == 0) {  // the whole packet: cut the tail
    write_bytes(m, 0, src, n);
    return true;
  }
  return false;
}

}  // namespace weft::nat

// Header access shared by the NAT elements: unaligned loads and stores of
// network-order words, and Window, a bounded view of header bytes that works
// whatever the mbuf's segment layout.
#pragma once

#include <rte_mbuf.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace weft::nat {

// The largest header run a NAT rewrites at once: an ICMPv6 error's outer IPv6
// header (40) + ICMPv6 (8) + quoted IPv6 header (40) + quoted TCP up to its
// checksum (18), rounded up; NAT44's worst case (60 + 8 + 60 + 18) fits too.
inline constexpr uint16_t kWindowMax = 160;

inline uint16_t ld16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
inline uint32_t ld32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline void st16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }
inline void st32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }

// `len` header bytes at `off`: in place when they lie in the first segment
// (the usual case), else a copy that commit() writes back across segments.
// Never reads past the end of the packet.
struct Window {
  uint8_t* p = nullptr;
  uint32_t off = 0, len = 0;
  bool copied = false;
  alignas(8) uint8_t buf[kWindowMax];

  bool open(rte_mbuf* m, uint32_t offset, uint32_t n) {
    if (n > kWindowMax || offset + n > m->pkt_len) return false;
    off = offset;
    len = n;
    if (offset + n <= m->data_len) {
      p = rte_pktmbuf_mtod_offset(m, uint8_t*, offset);
      copied = false;
      return true;
    }
    const void* r = rte_pktmbuf_read(m, offset, n, buf);
    if (!r) return false;
    if (r != buf) std::memcpy(buf, r, n);
    p = buf;
    copied = true;
    return true;
  }
  void commit(rte_mbuf* m) const {
    if (!copied) return;
    uint32_t o = off, left = len;
    const uint8_t* src = buf;
    for (rte_mbuf* s = m; s && left; s = s->next) {
      if (o >= s->data_len) {
        o -= s->data_len;
        continue;
      }
      uint32_t n = std::min<uint32_t>(left, s->data_len - o);
      std::memcpy(rte_pktmbuf_mtod_offset(s, uint8_t*, o), src, n);
      src += n;
      left -= n;
      o = 0;
    }
  }
};

}  // namespace weft::nat

// Finding the IP header of an Ethernet frame and updating a checksum, for the
// example's elements.
#pragma once

#include <rte_byteorder.h>
#include <rte_mbuf.h>

#include <cstdint>

namespace example {

// Where the IP header starts and which version it is, after up to two VLAN
// tags (802.1Q 0x8100, 802.1ad 0x88a8). version 0: not IP, or cut short.
struct L3 {
  uint32_t offset = 0;
  int version = 0;
  bool truncated = false;  // the frame ends inside the Ethernet or VLAN headers
};

inline L3 find_l3(const rte_mbuf* m) {
  L3 r;
  uint8_t buf[2];
  uint32_t off = 12;  // the EtherType after the two MAC addresses
  for (int tags = 0;; tags++) {
    const auto* p = static_cast<const uint8_t*>(rte_pktmbuf_read(m, off, 2, buf));
    if (!p) {
      r.truncated = true;
      return r;
    }
    const uint16_t type = static_cast<uint16_t>(p[0] << 8 | p[1]);
    off += 2;
    if ((type == 0x8100 || type == 0x88a8) && tags < 2) {
      off += 2;  // the tag's TCI; the next EtherType follows
      continue;
    }
    r.offset = off;
    r.version = type == 0x0800 ? 4 : type == 0x86dd ? 6 : 0;
    return r;
  }
}

// RFC 1624 (eqn. 3): the Internet checksum after one 16-bit word of the
// covered data changed from `old_word` to `new_word` (host byte order).
inline uint16_t checksum_update(uint16_t checksum, uint16_t old_word, uint16_t new_word) {
  uint32_t sum = static_cast<uint16_t>(~checksum) + static_cast<uint16_t>(~old_word) + uint32_t{new_word};
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

}  // namespace example

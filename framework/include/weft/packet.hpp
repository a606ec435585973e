// Small helpers for reading and writing packet bytes safely, whatever the
// segment layout. (Reading: DPDK's rte_pktmbuf_read.)
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "weft/dpdk.hpp"

namespace weft {

// Writes `len` bytes at offset `off` of the packet, across segments. The
// caller checks off + len <= pkt_len (bytes past the end are not written).
inline void write_bytes(rte_mbuf* m, uint32_t off, const void* data, uint32_t len) {
  const auto* src = static_cast<const uint8_t*>(data);
  for (rte_mbuf* seg = m; seg && len; seg = seg->next) {
    if (off >= seg->data_len) {
      off -= seg->data_len;
      continue;
    }
    uint32_t n = std::min<uint32_t>(len, seg->data_len - off);
    std::memcpy(rte_pktmbuf_mtod_offset(seg, uint8_t*, off), src, n);
    src += n;
    len -= n;
    off = 0;
  }
}

}  // namespace weft

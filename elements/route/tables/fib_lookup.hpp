// The FIB's read side, shared by IpLookup and the benchmarks: bulk
// longest-prefix lookups resolved to next-hop entries, and the flow hash
// that picks an ECMP member. Runs on workers; lock-free (see fib.hpp).
#pragma once

#include <rte_hash_crc.h>
#include <rte_lpm.h>
#include <rte_lpm6.h>
#include <rte_prefetch.h>

#include <cstring>

#include "fib_tables.hpp"
#include "weft/metadata.hpp"

namespace weft::route {

// What one batch reads from a table: loaded once per batch, so a batch sees
// one version of each table (the worker's quiescent state comes after it).
// of() loads the entries and the IPv4 table; add_v6() the IPv6 side, for
// batches that have IPv6 packets.
struct FibSnapshot {
  const Entry* entries = nullptr;
  const rte_lpm* v4 = nullptr;
  const rte_lpm6* v6 = nullptr;
  uint32_t v6_default = Lpm6Pair::kNone;

  static FibSnapshot of(const Fib& fib, const FibTable& t) {
    FibSnapshot s;
    s.entries = fib.entries();
    s.v4 = t.v4.load(std::memory_order_acquire);
    return s;
  }
  void add_v6(const FibTable& t) {
    v6 = t.v6.load(std::memory_order_acquire);
    v6_default = t.v6_default.load(std::memory_order_acquire);
  }
};

// n IPv4 destinations (host order) -> LPM results in `hops`; entry_of4()
// turns one into its entry. (Kept apart: resolving all entries in a second
// pass right after the lookups costs more than the lookups themselves on a
// large table, as the dependent loads stall the misses still in flight;
// IpLookup resolves each packet's entry when it handles the packet.)
inline void lookup_v4(const FibSnapshot& s, const uint32_t* ips, uint32_t* hops, unsigned n) {
  if (!s.v4) {
    for (unsigned i = 0; i < n; i++) hops[i] = 0;
    return;
  }
  rte_lpm_lookup_bulk(s.v4, ips, hops, n);
}
inline const Entry* entry_of4(const FibSnapshot& s, uint32_t hop) {
  return (hop & RTE_LPM_LOOKUP_SUCCESS) ? &s.entries[hop & 0x00ffffff] : nullptr;
}

// n IPv6 destinations -> LPM results (-1: miss); entry_of6() applies ::/0
// to a miss.
inline void lookup_v6(const FibSnapshot& s, uint8_t (*ips)[16], int32_t* hops, unsigned n) {
  if (!s.v6) {
    for (unsigned i = 0; i < n; i++) hops[i] = -1;
    return;
  }
  rte_lpm6_lookup_bulk_func(s.v6, ips, hops, n);
}
inline const Entry* entry_of6(const FibSnapshot& s, int32_t hop) {
  if (hop >= 0) return &s.entries[hop];
  return s.v6_default == Lpm6Pair::kNone ? nullptr : &s.entries[s.v6_default];
}

// Starts the miss on dst's tbl24 entry early (IpLookup does it while parsing).
inline void prefetch_v4(const FibSnapshot& s, uint32_t dst) {
  if (s.v4) rte_prefetch0(&s.v4->tbl24[dst >> 8]);
}

// Flow hash for ECMP: CRC32-C (rte_hash_crc) over source, destination and
// (TCP/UDP/SCTP, unfragmented) the 4 bytes of ports XOR the protocol, each
// as it lies in the packet. docs/routing.md gives the exact recipe.
inline constexpr uint32_t kFlowSeed = 0x57454654;  // "WEFT"

inline uint32_t flow_hash4(const uint8_t* src, const uint8_t* dst, uint32_t ports, uint8_t proto) {
  uint32_t a, b;
  std::memcpy(&a, src, 4);
  std::memcpy(&b, dst, 4);
  uint32_t h = rte_hash_crc_4byte(a, kFlowSeed);
  h = rte_hash_crc_4byte(b, h);
  return rte_hash_crc_4byte(ports ^ proto, h);
}

// rte_hash_crc(p, 16, init) without its unaligned 8-byte loads (addresses
// sit at odd offsets in packets): the same value.
inline uint32_t crc_16bytes(const uint8_t* p, uint32_t init) {
  uint64_t w[2];
  std::memcpy(w, p, 16);
  return rte_hash_crc_8byte(w[1], rte_hash_crc_8byte(w[0], init));
}

inline uint32_t flow_hash6(const uint8_t* src, const uint8_t* dst, uint32_t ports, uint8_t proto) {
  uint32_t h = crc_16bytes(src, kFlowSeed);
  h = crc_16bytes(dst, h);
  return rte_hash_crc_4byte(ports ^ proto, h);
}

// Where a routed packet goes next, for elements downstream (an encapsulator,
// a neighbour resolver). Proposed for weft/fields.hpp as fields::nexthop().
struct Nexthop {
  uint8_t addr[16];  // gateway (IPv4 in the first 4 bytes), or the destination if `direct`
  uint16_t output;   // the IpLookup output index it left by
  uint8_t family;    // AF_INET / AF_INET6 of `addr`
  uint8_t direct;    // 1: no gateway, `addr` is the packet's destination
};
static_assert(sizeof(Nexthop) == 20);
using NexthopSlot = MetaSlot<Nexthop>;
inline NexthopSlot nexthop_slot() { return NexthopSlot("weft_nexthop"); }

}  // namespace weft::route

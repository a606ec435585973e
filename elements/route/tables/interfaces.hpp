// The router's L3 interfaces and its neighbours, as workers read them.
//
// An Interfaces service (control/interfaces_service.hpp) declares the
// interfaces (a port, its MAC, MTU, optional VLAN, IPv4 and IPv6 addresses,
// its host-path kernel interface) and resolves neighbours with ARP and
// Neighbour Discovery. It publishes an InterfacesHandle:
//
//   * interfaces(): an immutable InterfaceTable. A reload that changes the
//     interfaces builds a new one; elements take theirs at initialize(), so
//     a worker sees one table per graph.
//   * neighbors(): one neighbour cache for all workers (DPDK rte_hash in its
//     lock-free reader/writer mode), written by the control thread only.
//     Entries are never freed under a reader: removal waits for an RCU grace
//     period.
//   * the rings between workers and the control thread: packets waiting for
//     a neighbour and received ARP/ND go to the control thread (punt(),
//     hold()); what the control thread sends (requests, replies, gratuitous
//     ARP, packets whose neighbour resolved) waits in one ring per interface
//     that the interface's ArpNd element drains on every loop.
//
// Interface ids (Interface::id) are stable for the life of the service
// (across reloads): neighbour keys and rings use them.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "weft/metadata.hpp"
#include "weft/net.hpp"

struct rte_hash;
struct rte_ring;

namespace weft::route {

inline constexpr uint16_t kNoInterface = 0xffff;
inline constexpr unsigned kMaxInterfaces = 256;  // interface ids are below this

// --- ICMP errors -------------------------------------------------------------

// What an IcmpError element needs to build the error for a packet: set by
// the element that found the problem (IpLookup on its `icmp` output).
struct IcmpErrorMeta {
  uint8_t type;   // ICMPv4 type for IPv4 packets, ICMPv6 type for IPv6 packets
  uint8_t code;
  uint16_t iface; // the interface the packet arrived on (kNoInterface: by its port)
  uint32_t info;  // the next-hop MTU (fragmentation needed, packet too big), else 0
};
static_assert(sizeof(IcmpErrorMeta) == 8);
using IcmpErrorSlot = MetaSlot<IcmpErrorMeta>;
inline IcmpErrorSlot icmp_error_slot() { return IcmpErrorSlot("weft_icmp_error"); }

// ICMP types and codes used across the family.
namespace icmp4 {
inline constexpr uint8_t kEchoReply = 0, kUnreachable = 3, kEchoRequest = 8, kTimeExceeded = 11;
inline constexpr uint8_t kNetUnreachable = 0, kHostUnreachable = 1, kFragNeeded = 4, kAdminProhibited = 13;
}  // namespace icmp4
namespace icmp6 {
inline constexpr uint8_t kUnreachable = 1, kPacketTooBig = 2, kTimeExceeded = 3, kEchoRequest = 128, kEchoReply = 129;
inline constexpr uint8_t kRouterSolicit = 133, kRouterAdvert = 134, kNeighborSolicit = 135, kNeighborAdvert = 136,
                         kRedirect = 137;
inline constexpr uint8_t kNoRoute = 0, kAdminProhibited = 1, kAddressUnreachable = 3, kRejectRoute = 6;
}  // namespace icmp6

// --- interfaces ---------------------------------------------------------------

struct Interface {
  uint16_t id = kNoInterface;  // stable while the service lives
  std::string name;            // IpLookup outputs and the Fib map to interfaces by this name
  std::string port;            // the graph port it sits on
  uint16_t port_id = 0xffff;   // DPDK port id (0xffff: the port's device is not there)
  Mac mac;
  uint16_t mtu = 1500;
  uint16_t vlan = 0;               // 802.1Q VLAN id, 0: untagged
  std::vector<Prefix> addresses;   // as configured (host bits kept), IPv4 then IPv6
  Ip6 link_local;                  // fe80::/64 from the MAC (modified EUI-64)
  std::string host_ifname;         // the kernel interface of its host path ("" none)
  // The first IPv4 address (network order, 0: none) and the first global
  // IPv6 address (else the link-local): sources of ICMP errors and probes.
  uint32_t src4 = 0;
  Ip6 src6;

  bool has_v4() const { return src4 != 0; }
  // The address of ours to send to `dst` from: one on dst's subnet, else the first of its family.
  IpAddr source_for(const IpAddr& dst) const;
  bool owns(const IpAddr& a) const;  // one of its addresses (or its link-local)
};

// Immutable once built; shared by the elements of one graph.
class InterfaceTable {
 public:
  InterfaceTable() { by_port_.fill(kNoInterface); }
  // Building (the control thread): interfaces in declaration order; ids
  // must be unique and below kMaxInterfaces.
  void add(Interface i);

  size_t size() const { return list_.size(); }
  const std::vector<Interface>& all() const { return list_; }
  const Interface* by_id(uint16_t id) const {
    return id < kMaxInterfaces && index_of_id_[id] != kNoInterface ? &list_[index_of_id_[id]] : nullptr;
  }
  const Interface* by_name(std::string_view name) const;
  // The untagged interface on DPDK port `port_id` (null: none).
  const Interface* by_port(uint16_t port_id) const {
    return port_id < by_port_.size() && by_port_[port_id] != kNoInterface ? &list_[by_port_[port_id]] : nullptr;
  }
  // The interface on port `port_id` and VLAN `vlan` (0: untagged).
  const Interface* by_port_vlan(uint16_t port_id, uint16_t vlan) const;
  // The interface that owns local address `a` (IPv4 in network order / 16
  // bytes of IPv6, link-locals included), null if it is not ours.
  const Interface* local4(uint32_t a) const {
    for (const auto& l : local4_)
      if (l.addr == a) return &list_[l.index];
    return nullptr;
  }
  const Interface* local6(const uint8_t* a) const {
    for (const auto& l : local6_)
      if (std::memcmp(l.addr, a, 16) == 0) return &list_[l.index];
    return nullptr;
  }

 private:
  std::vector<Interface> list_;
  std::array<uint16_t, 1024> by_port_;  // DPDK port id -> list index (untagged)
  std::array<uint16_t, kMaxInterfaces> index_of_id_ = make_none();
  struct Local4 {
    uint32_t addr;
    uint16_t index;
  };
  struct Local6 {
    uint8_t addr[16];
    uint16_t index;
  };
  std::vector<Local4> local4_;
  std::vector<Local6> local6_;
  static std::array<uint16_t, kMaxInterfaces> make_none() {
    std::array<uint16_t, kMaxInterfaces> a;
    a.fill(kNoInterface);
    return a;
  }
};

// --- neighbours -------------------------------------------------------------

// The key of a neighbour: interface id, family, address (IPv4 in the first 4 bytes).
struct NeighborKey {
  uint16_t iface;
  uint8_t family;  // AF_INET / AF_INET6
  uint8_t pad = 0;
  uint8_t addr[16];
};
static_assert(sizeof(NeighborKey) == 20);

// A neighbour as workers see it. `mac` packs the MAC (byte i in bits
// 8i..8i+7), a generation (bits 48..62) and kUsable (bit 63); the control
// thread stores it whole, workers load it. The generation changes each time
// the hash position is given to a new neighbour, so a worker's NeighborFront
// line that remembers a position also knows whether it is still the same
// neighbour's.
struct NeighborEntry {
  static constexpr uint64_t kUsable = 1ull << 63;
  static constexpr unsigned kGenShift = 48;
  static constexpr uint64_t kGenMask = 0x7fff;
  std::atomic<uint64_t> mac{0};
  std::atomic<uint64_t> used{0};  // last TSC a worker forwarded through it (for stale -> delay)

  static uint64_t gen_of(uint64_t v) { return (v >> kGenShift) & kGenMask; }
  // A usable entry of generation `gen`.
  static uint64_t pack(const Mac& m, uint64_t gen = 0) {
    uint64_t v = 0;
    for (int i = 0; i < 6; i++) v |= uint64_t(m.bytes[size_t(i)]) << (8 * i);
    return v | (gen & kGenMask) << kGenShift | kUsable;
  }
  // Not usable (unknown, unresolved or removed), of generation `gen`.
  static uint64_t unusable(uint64_t gen) { return (gen & kGenMask) << kGenShift; }
  static void unpack(uint64_t v, uint8_t* out) {
    for (int i = 0; i < 6; i++) out[i] = uint8_t(v >> (8 * i));
  }
  // Marks it used, at most about once per 2^24 cycles, to keep the line shared.
  void touch(uint64_t now_tsc) {
    if ((used.load(std::memory_order_relaxed) >> 24) != (now_tsc >> 24)) used.store(now_tsc, std::memory_order_relaxed);
  }
};

// Packets waiting for a neighbour carry what to resolve (set before hold()).
struct PendingNeighbor {
  uint8_t addr[16];
  uint16_t iface;
  uint8_t family;
  uint8_t pad;
};
static_assert(sizeof(PendingNeighbor) == 20);
using PendingSlot = MetaSlot<PendingNeighbor>;
inline PendingSlot pending_slot() { return PendingSlot("weft_neighbor_pending"); }

class NeighborFront;

// What the control thread shares with workers (the read side of the service).
class NeighborCache {
 public:
  NeighborCache(rte_hash* h, NeighborEntry* entries) : hash_(h), entries_(entries) {}
  // The usable MAC of a neighbour into `mac` (6 bytes); false if unknown or
  // not (yet) resolved. Marks the entry used.
  bool lookup(uint16_t iface, uint8_t family, const uint8_t* addr, uint8_t* mac, uint64_t now_tsc) const;
  // The same for n keys at once (rte_hash_lookup_bulk): found[i] says
  // whether macs[i] holds key i's usable MAC. Keys must be zero-padded.
  // With `front`, each key found usable is remembered there.
  void lookup_bulk(const NeighborKey* keys, unsigned n, uint8_t (*macs)[6], bool* found, uint64_t now_tsc,
                   NeighborFront* front = nullptr) const;
  NeighborEntry* entries() const { return entries_; }
  rte_hash* hash() const { return hash_; }
  // Bumped by the control thread every kEpochCreates neighbours it creates:
  // a NeighborFront forgets everything when it changes, so the 15-bit
  // generation of a position cannot wrap under one of its lines.
  static constexpr uint64_t kEpochCreates = 4096;
  uint64_t epoch() const { return epoch_.load(std::memory_order_acquire); }
  void next_epoch() { epoch_.fetch_add(1, std::memory_order_release); }
  // Bumped by the control thread whenever a usable entry stops being usable
  // or changes its MAC (before a removed one's position can be reused): a
  // NeighborFront, which copies usable MACs, forgets everything when it moves.
  uint64_t invalidations() const { return invalidations_.load(std::memory_order_acquire); }
  void invalidate() { invalidations_.fetch_add(1, std::memory_order_release); }

 private:
  rte_hash* hash_;
  NeighborEntry* entries_;
  std::atomic<uint64_t> epoch_{0};
  std::atomic<uint64_t> invalidations_{0};
};

// One worker's front to the shared NeighborCache (an element instance owns
// one): set-associative tables of (interface, address) -> (usable MAC, hash
// position) filled by lookup_bulk, one for IPv4 (sets of four 16-byte ways,
// one cache line) and one for IPv6 (sets of two 32-byte ways). A hit costs
// one cache line of this worker's own, like a static table's lookup: no
// rte_hash lookup, no load of the shared entry, no key to build. The ways
// are copies, so the front forgets them all at the start of a batch (sync)
// once the cache counts an invalidation (a MAC changed, an entry became
// unusable or went) or a new epoch; within a batch already running, a way
// may serve the MAC it copied, as a worker that read the entry just before
// the change would. A removed entry's position is reused only after an RCU
// grace period, so no way outlives it.
class NeighborFront {
 public:
  // `lines` IPv4 ways and half as many IPv6 ways (rounded up to a power of
  // two): 32 bytes per line in all.
  void init(const NeighborCache* c, unsigned lines);
  bool ready() const { return cache_ != nullptr; }
  // Once per batch: forgets everything if the cache's epoch or invalidations moved.
  void sync() {
    const uint64_t e = cache_->epoch();
    const uint64_t inv = cache_->invalidations();
    if (e != epoch_ || inv != invalidations_) clear(e, inv);
  }
  // The usable MAC of IPv4 neighbour `addr` (4 bytes, network order) on
  // interface `iface` into `mac`, if a way knows it (marks the entry used, at
  // most once per way per 2^24 cycles).
  bool find4(uint16_t iface, const uint8_t* addr, uint8_t* mac, uint64_t now_tsc) {
    uint32_t a;
    std::memcpy(&a, addr, 4);
    const uint32_t want = uint32_t(iface + 1) << kIfaceShift;
    Set4& s = sets4_[hash4(iface, a) & mask4_];
    for (Way4& w : s.way)
      if (w.addr == a && (w.tag & ~kPosMask) == want) return hit(w, mac, now_tsc);
    return false;
  }
  // The same for IPv6 neighbour `addr` (16 bytes).
  bool find6(uint16_t iface, const uint8_t* addr, uint8_t* mac, uint64_t now_tsc) {
    const uint32_t want = uint32_t(iface + 1) << kIfaceShift;
    Set6& s = sets6_[hash6(iface, addr) & mask6_];
    for (Way6& w : s.way)
      if ((w.tag & ~kPosMask) == want && std::memcmp(w.addr, addr, 16) == 0) return hit(w, mac, now_tsc);
    return false;
  }
  bool find(const NeighborKey& k, uint8_t* mac, uint64_t now_tsc) {
    return k.family == AF_INET ? find4(k.iface, k.addr, mac, now_tsc) : find6(k.iface, k.addr, mac, now_tsc);
  }
  // k is at `pos` with usable entry word v, touched at now_tsc.
  void remember(const NeighborKey& k, int32_t pos, uint64_t v, uint64_t now_tsc);

 private:
  // tag: (interface id + 1) << kIfaceShift | hash position; 0: an empty way.
  static constexpr unsigned kIfaceShift = 23;
  static constexpr uint32_t kPosMask = (1u << kIfaceShift) - 1;
  struct Way4 {
    uint32_t addr;
    uint32_t tag;
    uint8_t mac[6];
    uint16_t touched;  // (TSC >> 24) when the entry was last marked used through this way
  };
  struct Way6 {
    uint8_t addr[16];
    uint32_t tag;
    uint8_t mac[6];
    uint16_t touched;
    uint32_t pad;
  };
  struct alignas(64) Set4 {
    Way4 way[4];
  };
  struct alignas(64) Set6 {
    Way6 way[2];
  };
  static_assert(sizeof(Set4) == 64 && sizeof(Set6) == 64);
  template <class W>
  bool hit(W& w, uint8_t* mac, uint64_t now_tsc) {
    std::memcpy(mac, w.mac, 6);
    if (const auto t = uint16_t(now_tsc >> 24); w.touched != t) {
      w.touched = t;
      entries_[w.tag & kPosMask].touch(now_tsc);
    }
    return true;
  }
  static size_t hash4(uint16_t iface, uint32_t a) {
    return size_t(((uint64_t(a) << 16 | iface) * 0x9e3779b97f4a7c15ull) >> 40);
  }
  static size_t hash6(uint16_t iface, const uint8_t* addr) {
    uint32_t w[4];
    std::memcpy(w, addr, 16);
    return hash4(iface, w[0] ^ w[1] ^ w[2] ^ w[3]);
  }
  void clear(uint64_t epoch, uint64_t invalidations);
  const NeighborCache* cache_ = nullptr;
  NeighborEntry* entries_ = nullptr;
  std::vector<Set4> sets4_;
  std::vector<Set6> sets6_;
  size_t mask4_ = 0, mask6_ = 0;
  unsigned victim_ = 0;  // the way a full set gives up next (round robin)
  uint64_t epoch_ = 0;
  uint64_t invalidations_ = 0;
};

// Counters workers bump on the shared rings (atomics: several workers).
struct NeighborRingCounters {
  std::atomic<uint64_t> punted{0}, punt_full{0}, held{0}, hold_full{0};
  std::atomic<uint64_t> wakeups{0};  // times a worker woke the control thread
};

// What an Interfaces service publishes (InitContext::service<InterfacesHandle>).
class InterfacesHandle {
 public:
  static constexpr std::string_view kServiceHandle = "route.interfaces";
  virtual ~InterfacesHandle() = default;
  // The interfaces of the graph being built (take it at initialize()).
  virtual std::shared_ptr<const InterfaceTable> interfaces() const = 0;
  virtual const NeighborCache& neighbors() const = 0;
  // Worker side: hands ARP/ND packets to the control thread (false: the
  // ring is full; the caller still owns and drops the packet).
  virtual bool punt(rte_mbuf* m) const = 0;
  // Worker side: a packet whose next hop (pending_slot()) is not resolved;
  // the control thread queues it, resolves, sends or drops it (false: ring full).
  virtual bool hold(rte_mbuf* m) const = 0;
  // The ring of what the control thread sends on interface `id` (null: none).
  virtual rte_ring* tx_ring(uint16_t id) const = 0;
};

}  // namespace weft::route

// Fib: the forwarding table workers read — per routing table an IPv4 rte_lpm
// (Lpm4) and an IPv6 rte_lpm6 pair (Lpm6Pair) — and the next-hop entries the
// LPM values index.
//
// Readers (IpLookup on every worker) are lock-free: they load a table's LPM
// pointers, look addresses up in bulk and read the next-hop entries. Writers
// are the control thread only (FibService). RCU (rte_rcu_qsbr, every worker
// reports a quiescent state once per loop) makes that safe:
//
//  * next-hop entries are immutable once published: new content takes a new
//    index, and an index no route uses any more is reused only after a grace
//    period that started after the last table pointing to it was updated
//    (entries released during a batch get their RCU token in commit());
//  * IPv4 tbl8 groups are recycled after a grace period (Lpm4);
//  * IPv6 copies are swapped and synchronized (Lpm6Pair);
//  * the neighbour snapshot used for directly connected routes is replaced
//    whole and freed after a grace period.
//
// Entries with identical content are shared (a table of a million routes
// over four next hops uses four entries), reference-counted by the routes
// pointing to them.
#pragma once

#include <sys/socket.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tables/lpm4.hpp"
#include "tables/lpm6.hpp"
#include "weft/net.hpp"

struct rte_lpm;
struct rte_lpm6;
struct rte_rcu_qsbr;

namespace weft::route {

// --- what workers read -----------------------------------------------------

enum class Action : uint8_t { Forward = 0, Blackhole = 1, Unreachable = 2, Prohibit = 3 };

inline constexpr uint16_t kNoIface = 0xffff;
inline constexpr unsigned kMaxIfaces = 256;
inline constexpr unsigned kMaxMembers = 16;  // ECMP width kept per route (more are counted and ignored)
inline constexpr unsigned kBuckets = 64;     // weighted ECMP: member chosen by buckets[hash % n_buckets]

struct Member {
  uint8_t gateway[16];  // IPv4 in the first 4 bytes; unset when `direct`
  uint16_t iface;       // interface id (Fib::iface_id), kNoIface: zebra's interface is not configured
  uint8_t has_mac;      // dst_mac is the gateway's MAC (from `neighbors`)
  uint8_t direct;       // no gateway: the packet's destination is the next hop
  uint8_t src_mac[6];   // the interface's MAC
  uint8_t dst_mac[6];
};
static_assert(sizeof(Member) == 32);

struct alignas(64) Entry {
  Action action;
  uint8_t family;     // of the gateways (AF_INET / AF_INET6), 0: none
  uint8_t n_members;  // >= 1 when action is Forward
  uint8_t n_buckets;
  uint32_t vni;       // VXLAN VNI of the first member (FPM encap), 0: none
  Member members[kMaxMembers];
  uint8_t buckets[kBuckets];  // member indexes, weight-proportional
};

// One routing table as readers see it. The LPM pointers are null until the
// table's first route of that family arrives.
struct FibTable {
  uint32_t id = 0;
  std::atomic<const rte_lpm*> v4{nullptr};
  std::atomic<const rte_lpm6*> v6{nullptr};
  std::atomic<uint32_t> v6_default{Lpm6Pair::kNone};  // ::/0 (rte_lpm6 has no depth 0)
};

// Static neighbours, read by workers for directly connected routes (the
// packet's destination is the next hop). Open addressing; immutable.
class NeighborTable {
 public:
  struct Slot {
    uint8_t family = 0;  // 0: empty
    uint8_t mac[6];
    uint8_t addr[16];
  };
  explicit NeighborTable(size_t entries);
  void insert(uint8_t family, const uint8_t* addr, const uint8_t* mac);
  const uint8_t* find(uint8_t family, const uint8_t* addr) const {
    if (slots_.empty()) return nullptr;
    size_t len = family == AF_INET ? 4 : 16;
    for (size_t i = hash(family, addr) & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.family == 0) return nullptr;
      if (s.family == family && std::memcmp(s.addr, addr, len) == 0) return s.mac;
    }
  }
  size_t size() const { return count_; }

 private:
  static size_t hash(uint8_t family, const uint8_t* addr);
  std::vector<Slot> slots_;
  size_t mask_ = 0, count_ = 0;
};

// --- the writer's side -----------------------------------------------------

struct FibSizes {
  uint32_t max_routes = 1048576;  // IPv4 rules per table
  uint32_t max_routes6 = 65536;   // IPv6 rules per table
  uint32_t tbl8 = 65536;          // IPv4 tbl8 groups per table (routes longer than /24)
  uint32_t tbl8_6 = 32768;        // IPv6 tbl8 groups per table, per copy
  uint32_t max_nexthops = 16384;  // distinct next-hop entries
  uint32_t max_tables = 16;
  bool operator==(const FibSizes&) const = default;
};

struct FibCounters {
  uint64_t route_sets = 0, route_removes = 0;
  uint64_t table_full = 0;     // a route refused: max_routes/max_routes6/tbl8 reached
  uint64_t nexthops_full = 0;  // a route refused: max_nexthops reached
  uint64_t tables_full = 0;    // a route refused: max_tables reached
  uint64_t alloc_failed = 0;   // an LPM could not be created (DPDK memory)
  uint64_t commits = 0;
};

class Fib {
 public:
  Fib(rte_rcu_qsbr* rcu, int socket, FibSizes sizes);
  ~Fib();
  Fib(const Fib&) = delete;
  Fib& operator=(const Fib&) = delete;

  // The RCU variable the readers report to (null: no concurrent readers).
  rte_rcu_qsbr* rcu() const { return rcu_; }
  // New sizes: LPMs are rebuilt at the new sizes, routes kept (routes that
  // no longer fit are dropped and counted).
  void resize(const FibSizes& s);
  const FibSizes& sizes() const { return sizes_; }

  // The reader's view of table `id`, created if new (stable address). Null
  // if max_tables tables exist already.
  FibTable* table(uint32_t id);
  // The next-hop entries, indexed by the LPM values. Readers load this once
  // per batch (it moves only when max_nexthops grows).
  const Entry* entries() const { return entries_view_.load(std::memory_order_acquire); }
  // The static neighbours (for directly connected routes); loaded once per batch.
  const NeighborTable* neighbors() const { return neighbors_.load(std::memory_order_acquire); }

  // Interface ids: stable small numbers for output names; entries carry
  // them, each IpLookup maps them to its own outputs. Throws
  // std::length_error past kMaxIfaces names.
  uint16_t iface_id(const std::string& name);
  const std::vector<std::string>& iface_names() const { return iface_names_; }

  // Points table/prefix at an entry with this content (shared with other
  // routes of the same content). Returns "" or why the route was refused.
  std::string set(uint32_t table, const Prefix& p, const Entry& content);
  void remove(uint32_t table, const Prefix& p);
  // Publishes what set/remove queued (IPv6), and starts the grace period of
  // what they released. Call after each burst of changes.
  void commit();
  // Frees what a finished grace period allows (non-blocking; commit() does it too).
  void reclaim();
  bool reclaim_pending() const;
  // Replaces the neighbour snapshot.
  void set_neighbors(std::unique_ptr<NeighborTable> n);

  // The entry `table`/`p` uses now (nullptr: none), for tests and `routes`.
  const Entry* entry_of(uint32_t table, const Prefix& p) const;
  size_t routes4() const;
  size_t routes6() const;
  size_t entries_used() const { return by_content_.size(); }
  const FibCounters& counters() const { return counters_; }
  std::vector<uint32_t> table_ids() const;

  // Control-side state of one table.
  struct Writer {
    FibTable* view = nullptr;
    std::unique_ptr<Lpm4> v4;
    std::unique_ptr<Lpm6Pair> v6;
  };
  const std::map<uint32_t, Writer>& writers() const { return writers_; }

 private:
  struct Slot {
    uint32_t refs = 0;
    bool releasing = false;  // in released_
    std::string key;         // the content, as bytes (the dedup key)
  };
  int64_t acquire(const Entry& content);
  void release(uint32_t index);
  std::string ensure_v4(Writer& w);
  std::string ensure_v6(Writer& w);
  std::string lpm_name(char kind);
  void defer(std::unique_ptr<Lpm4> v4, std::unique_ptr<Lpm6Pair> v6, std::unique_ptr<Entry[]> entries,
             std::unique_ptr<NeighborTable> neighbors);

  rte_rcu_qsbr* rcu_;
  int socket_;
  FibSizes sizes_;
  std::map<uint32_t, Writer> writers_;
  std::vector<std::unique_ptr<FibTable>> views_;  // stable addresses for readers
  std::unique_ptr<Entry[]> entries_;
  std::atomic<const Entry*> entries_view_{nullptr};
  std::vector<Slot> slots_;
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  std::unordered_map<std::string, uint32_t, KeyHash, std::equal_to<>> by_content_;
  std::vector<uint32_t> free_entries_;
  std::vector<uint32_t> released_;  // refs dropped to 0 in this batch
  struct Deferred {
    uint64_t token = 0;
    std::vector<uint32_t> entries;
    std::unique_ptr<NeighborTable> neighbors;
    std::unique_ptr<Lpm4> v4;
    std::unique_ptr<Lpm6Pair> v6;
    std::unique_ptr<Entry[]> entry_array;
  };
  std::deque<Deferred> deferred_;
  std::atomic<const NeighborTable*> neighbors_{nullptr};
  std::unique_ptr<NeighborTable> neighbors_owned_;
  std::vector<std::string> iface_names_;
  FibCounters counters_;
  uint32_t lpm_seq_ = 0;
};

// Picks the member of a Forward entry for a flow hash.
inline const Member& pick_member(const Entry& e, uint32_t hash) {
  if (e.n_buckets <= 1) return e.members[0];
  return e.members[e.buckets[hash % e.n_buckets]];
}

// What a Fib service publishes for IpLookup (InitContext::service<FibHandle>):
// its tables, read lock-free by workers. table() and iface_id() register a
// reader, at initialize() (control thread); the fast path only reads fib().
class FibHandle {
 public:
  static constexpr std::string_view kServiceHandle = "route.fib";
  explicit FibHandle(Fib& fib) : fib_(&fib) {}
  // The reader's view of routing table `id` (null: max_tables reached).
  const FibTable* table(uint32_t id) const { return fib_->table(id); }
  // The interface id of an output name (throws std::length_error past kMaxIfaces).
  uint16_t iface_id(const std::string& output) const { return fib_->iface_id(output); }
  uint32_t max_tables() const { return fib_->sizes().max_tables; }
  const Fib& fib() const { return *fib_; }

 private:
  Fib* fib_;
};

}  // namespace weft::route

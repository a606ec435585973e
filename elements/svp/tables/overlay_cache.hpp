// OverlayCache: what Portolan told us, shared by the control thread (the only
// writer) and every worker (readers, lock-free).
//
//   VL2  (MAC, VNI) -> underlay IP and UDP port
//   VL3  (IP, VNI)  -> MAC, and that MAC's underlay IP and port
//
// An rte_hash in lock-free read/write mode maps a 24-byte key to an
// immutable CacheEntry. The control thread replaces an entry by storing a new
// pointer (rte_hash publishes it with release order) and frees the old one,
// like a removed key's slot, only after an RCU grace period: every worker
// reports a quiescent state once per loop, so once rte_rcu_qsbr_check says
// the token passed, no worker still holds the pointer.
//
// Entries carry their expiry in nanoseconds of weft::Clock. A positive entry
// past its TTL is still used (forwarding what we know when Portolan is away)
// while one worker at a time asks for a refresh (retry_ns, a compare-and-swap, spaces the
// asks); a negative entry (NOTFOUND) past its TTL counts as absent.
//
// `version` grows on every change (before the replaced entry's grace period
// starts) so workers holding packets for a miss know when to look again, and
// a worker may keep entry pointers across batches as long as the version it
// read at the start of a batch has not moved.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "weft/fields.hpp"
#include "weft/net.hpp"

struct rte_hash;
struct rte_rcu_qsbr;

namespace weft::svp {

enum class KeyKind : uint8_t { Vl2 = 1, Vl3 = 2 };

struct CacheKey {
  uint8_t kind = 0;  // KeyKind
  uint8_t pad[3] = {};
  uint32_t vni = 0;
  uint8_t addr[16] = {};  // VL2: the MAC in the first 6 bytes; VL3: IPv6 or IPv4-mapped
  static CacheKey vl2(const uint8_t* mac, uint32_t vni) {
    CacheKey k;
    k.kind = static_cast<uint8_t>(KeyKind::Vl2);
    k.vni = vni;
    std::memcpy(k.addr, mac, 6);
    return k;
  }
  static CacheKey vl3(const uint8_t* ip16, uint32_t vni) {
    CacheKey k;
    k.kind = static_cast<uint8_t>(KeyKind::Vl3);
    k.vni = vni;
    std::memcpy(k.addr, ip16, 16);
    return k;
  }
  static CacheKey vl3_v4(const uint8_t* ip4, uint32_t vni) {
    CacheKey k;
    k.kind = static_cast<uint8_t>(KeyKind::Vl3);
    k.vni = vni;
    k.addr[10] = k.addr[11] = 0xff;
    std::memcpy(k.addr + 12, ip4, 4);
    return k;
  }
  static CacheKey vl3(const IpAddr& ip, uint32_t vni) {
    return ip.v4() ? vl3_v4(ip.data(), vni) : vl3(ip.data(), vni);
  }
  bool operator==(const CacheKey& o) const { return std::memcmp(this, &o, sizeof *this) == 0; }
  Mac mac() const { return Mac::of(addr); }  // VL2
  IpAddr ip() const;                         // VL3 (a mapped address is IPv4)
  std::string text() const;  // "vl2 02:00:00:00:00:01 vni 100", "vl3 10.0.0.1 vni 100"
};
static_assert(sizeof(CacheKey) == 24);

struct CacheKeyHash {
  size_t operator()(const CacheKey& k) const;
};

struct CacheEntry {
  // kNegative: Portolan answered NOTFOUND (a negative entry, kept until it expires).
  enum State : uint8_t { kResolved = 1, kNegative = 2 };
  uint8_t state = kResolved;
  uint8_t mac[6] = {};            // VL3: the overlay MAC Portolan gave
  fields::Underlay underlay{};   // ready for the underlay metadata (has_mac 0)
  uint64_t expires_ns = 0;                    // weft::Clock
  mutable std::atomic<uint64_t> retry_ns{0};  // next time a worker may ask for a refresh
  // Control thread bookkeeping.
  double learned_at = 0;  // seconds on the control thread's clock

  bool expired(uint64_t now_ns) const { return now_ns >= expires_ns; }
  // True for exactly one caller per `gap` ns once `now` passed retry_ns.
  bool claim_refresh(uint64_t now, uint64_t gap) const {
    uint64_t r = retry_ns.load(std::memory_order_relaxed);
    return now >= r && retry_ns.compare_exchange_strong(r, now + gap, std::memory_order_relaxed);
  }
};

class OverlayCache {
 public:
  // `capacity` entries at most; `rcu` may be null (no concurrent readers:
  // tests, benchmarks), then replaced entries are freed at once.
  OverlayCache(size_t capacity, rte_rcu_qsbr* rcu, int socket);
  ~OverlayCache();
  OverlayCache(const OverlayCache&) = delete;
  OverlayCache& operator=(const OverlayCache&) = delete;

  static constexpr unsigned kBulkMax = 64;  // RTE_HASH_LOOKUP_BULK_MAX

  // --- readers (any lcore) ---
  const CacheEntry* lookup(const CacheKey& k) const;
  // Up to 64 keys at a time (rte_hash_lookup_bulk_data); out[i] null on a miss.
  void lookup_bulk(const CacheKey* const* keys, unsigned n, const CacheEntry** out) const;
  uint64_t version() const { return version_.load(std::memory_order_acquire); }

  // --- the control thread ---
  // Stores a copy of `e` for `k` (replacing any). False if the table is full.
  bool put(const CacheKey& k, const CacheEntry& e);
  bool erase(const CacheKey& k);
  void clear();
  size_t size() const { return count_; }
  size_t capacity() const { return capacity_; }
  // Every entry (control thread only).
  void for_each(const std::function<void(const CacheKey&, const CacheEntry&)>& f) const;
  // Frees what no worker can see any more; returns true if some remain.
  bool reclaim();
  size_t reclaim_pending() const { return deferred_.size(); }

 private:
  void defer(CacheEntry* e, int32_t slot);
  rte_hash* hash_ = nullptr;
  rte_rcu_qsbr* rcu_;
  size_t capacity_;
  size_t count_ = 0;
  std::atomic<uint64_t> version_{1};
  struct Deferred {
    uint64_t token;
    CacheEntry* entry;
    int32_t slot;  // a removed key's position to free, or -1
  };
  std::deque<Deferred> deferred_;
};

}  // namespace weft::svp

// MacTable — the MAC address table of an L2Switch, shared by every worker.
//
// Key: (MAC, VNI), so one table serves several isolated switching domains.
// Value: the switch port the MAC was learned on (or configured on, for static
// entries) and when it was last seen, packed into the rte_hash data word.
//
// Sharing: one rte_hash in lock-free read mode (RW_CONCURRENCY_LF) with
// multi-writer adds. Lookups (every packet, bulk per batch) take no lock and
// never wait. Writes — learning a new MAC, a MAC that moved to another port,
// refreshing the last-seen time (at most once per `refresh` seconds per MAC),
// aging, static entries — go through rte_hash's writer lock, which
// serialises writers only (readers never see it). Entries that age out are
// deleted by one worker's sweep; their key slots are reused only after every
// worker has passed a quiescent state (rte_hash_rcu_qsbr_add, defer-queue
// mode), so a reader that found a key never sees the slot change under it.
// Without an RCU variable (a single-threaded test harness) slots are freed at
// once.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

struct rte_hash;
struct rte_rcu_qsbr;

namespace weft::sw {

// 16 bytes, 8-aligned: rte_hash_crc reads keys 8 bytes at a time, and every
// byte (the explicit padding too) is part of the key.
struct alignas(8) MacKey {
  uint8_t mac[6];
  uint16_t zero;  // padding, always 0
  uint32_t vni;
  uint32_t pad;  // padding, always 0
};
static_assert(sizeof(MacKey) == 16 && alignof(MacKey) == 8);

inline MacKey mac_key(const uint8_t* mac, uint32_t vni) {
  MacKey k{};
  for (int i = 0; i < 6; i++) k.mac[i] = mac[i];
  k.vni = vni;
  return k;
}

// What the table knows about one MAC.
struct MacEntry {
  uint16_t port = 0;
  bool is_static = false;
  uint32_t seen = 0;  // seconds on the table's clock (now())
};

class MacTable {
 public:
  struct Config {
    uint32_t capacity = 65536;
    uint32_t aging = 300;  // seconds a dynamic entry lives without traffic from its MAC
    int socket = -1;       // SOCKET_ID_ANY
  };
  MacTable(const Config& c, rte_rcu_qsbr* rcu);
  ~MacTable();
  MacTable(const MacTable&) = delete;
  MacTable& operator=(const MacTable&) = delete;

  static uint64_t encode(const MacEntry& e) {
    return (uint64_t{e.seen} << 32) | (e.is_static ? 1u << 16 : 0u) | e.port;
  }
  static MacEntry decode(uint64_t d) {
    return {static_cast<uint16_t>(d & 0xffff), ((d >> 16) & 1) != 0, static_cast<uint32_t>(d >> 32)};
  }
  // A dynamic entry older than `aging` seconds is dead: lookups ignore it
  // (the sweep deletes it later).
  bool live(const MacEntry& e, uint32_t now) const { return e.is_static || now - e.seen <= aging_; }

  // Seconds since the table was made (weft::Clock).
  uint32_t now() const;
  uint32_t aging() const { return aging_; }
  uint32_t capacity() const { return capacity_; }

  // Looks up n keys (n <= 64); returns a bit mask of the keys found (live or
  // not: check live()), their data words in data[].
  uint64_t lookup_bulk(const MacKey* const* keys, unsigned n, uint64_t* data) const;
  bool lookup(const MacKey& k, MacEntry& e) const;

  enum class Learned { kNothing, kNew, kMoved, kRefreshed, kStaticKept, kFull };
  // Learning: `k` was the source of a frame on `port` at `now`; `found` and
  // `data` are what a lookup of `k` returned in the same batch.
  Learned learn(const MacKey& k, uint16_t port, uint32_t now, bool found, uint64_t data);

  // Static entries: never aged, never moved by learning.
  bool add_static(const MacKey& k, uint16_t port);
  bool remove(const MacKey& k);
  // Keeps exactly these static entries (adds the missing ones, removes static
  // entries not listed); dynamic entries stay. Returns false if one could not
  // be added (table full).
  bool set_statics(const std::vector<std::pair<MacKey, uint16_t>>& statics);
  // Deletes up to `budget` dead dynamic entries, continuing where the last
  // sweep stopped; returns how many were deleted.
  unsigned age(uint32_t now, unsigned budget);
  // Deletes every dynamic entry (of one VNI, or all with vni < 0).
  unsigned flush(int64_t vni = -1);

  struct Row {
    MacKey key;
    MacEntry entry;
  };
  std::vector<Row> rows() const;
  uint32_t count() const;

  // Counters (all workers).
  struct Stats {
    std::atomic<uint64_t> learned{0}, moved{0}, refreshed{0}, full{0}, aged{0}, static_kept{0};
  };
  Stats& stats() { return stats_; }

 private:
  bool del(const MacKey& k);

  rte_hash* hash_ = nullptr;
  rte_rcu_qsbr* rcu_ = nullptr;
  uint32_t capacity_;
  uint32_t aging_;
  uint32_t refresh_;  // seconds between refreshes of one MAC's last-seen time
  uint64_t epoch_ns_;  // weft::Clock when the table was made
  uint32_t sweep_cursor_ = 0;  // rte_hash_iterate position of the next sweep
  Stats stats_;
};

}  // namespace weft::sw

#include "tables/mac_table.hpp"

#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_rcu_qsbr.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <stdexcept>
#include <string>

#include "weft/clock.hpp"
#include "weft/error.hpp"

namespace weft::sw {

namespace {

void* as_data(uint64_t v) { return reinterpret_cast<void*>(static_cast<uintptr_t>(v)); }
uint64_t from_data(const void* p) { return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)); }

}  // namespace

MacTable::MacTable(const Config& c, rte_rcu_qsbr* rcu)
    : rcu_(rcu),
      capacity_(c.capacity),
      aging_(c.aging),
      refresh_(std::max<uint32_t>(1, c.aging / 8)),
      epoch_ns_(Clock::now_ns()) {
  static std::atomic<unsigned> serial{0};
  const std::string name = "mac" + std::to_string(serial.fetch_add(1));
  rte_hash_parameters hp{};
  hp.name = name.c_str();
  // Slack keeps the cuckoo table below full at `capacity` entries.
  hp.entries = capacity_ + capacity_ / 8 + 64;
  hp.key_len = sizeof(MacKey);
  hp.hash_func = rte_hash_crc;
  hp.hash_func_init_val = 0;
  hp.socket_id = c.socket;
  hp.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF | RTE_HASH_EXTRA_FLAGS_MULTI_WRITER_ADD;
  hash_ = rte_hash_create(&hp);
  if (!hash_)
    throw InitError("MAC table of " + std::to_string(capacity_) + " entries: cannot allocate the rte_hash (" +
                    rte_strerror(rte_errno) + "); raise eal.memory_mb or lower `size`");
  if (rcu_) {
    rte_hash_rcu_config rc{};
    rc.v = rcu_;
    rc.mode = RTE_HASH_QSBR_MODE_DQ;
    if (rte_hash_rcu_qsbr_add(hash_, &rc) != 0) {
      rte_hash_free(hash_);
      throw InitError("MAC table: cannot attach the RCU defer queue");
    }
  }
}

MacTable::~MacTable() {
  if (rcu_ && hash_) rte_rcu_qsbr_synchronize(rcu_, RTE_QSBR_THRID_INVALID);
  rte_hash_free(hash_);
}

uint32_t MacTable::now() const { return static_cast<uint32_t>((Clock::now_ns() - epoch_ns_) / Clock::kNsPerSecond); }

uint64_t MacTable::lookup_bulk(const MacKey* const* keys, unsigned n, uint64_t* data) const {
  void* d[RTE_HASH_LOOKUP_BULK_MAX];
  uint64_t hits = 0;
  const void** k = const_cast<const void**>(reinterpret_cast<const void* const*>(keys));
  if (rte_hash_lookup_bulk_data(hash_, k, n, &hits, d) < 0) return 0;
  for (unsigned i = 0; i < n; i++)
    if (hits & (uint64_t{1} << i)) data[i] = from_data(d[i]);
  return hits;
}

bool MacTable::lookup(const MacKey& k, MacEntry& e) const {
  void* d = nullptr;
  if (rte_hash_lookup_data(hash_, &k, &d) < 0) return false;
  e = decode(from_data(d));
  return true;
}

MacTable::Learned MacTable::learn(const MacKey& k, uint16_t port, uint32_t now, bool found, uint64_t data) {
  Learned what = Learned::kNew;
  if (found) {
    MacEntry e = decode(data);
    if (e.is_static) {
      if (e.port == port) return Learned::kNothing;
      stats_.static_kept.fetch_add(1, std::memory_order_relaxed);
      return Learned::kStaticKept;
    }
    const bool alive = live(e, now);
    if (e.port == port && alive && now - e.seen < refresh_) return Learned::kNothing;
    what = !alive ? Learned::kNew : e.port != port ? Learned::kMoved : Learned::kRefreshed;
  }
  // rte_hash stores the data word atomically (release): a reader sees the
  // old entry or the new one, never a mix.
  if (rte_hash_add_key_data(hash_, &k, as_data(encode({port, false, now}))) < 0) {
    stats_.full.fetch_add(1, std::memory_order_relaxed);
    return Learned::kFull;
  }
  (what == Learned::kNew ? stats_.learned : what == Learned::kMoved ? stats_.moved : stats_.refreshed)
      .fetch_add(1, std::memory_order_relaxed);
  return what;
}

bool MacTable::add_static(const MacKey& k, uint16_t port) {
  return rte_hash_add_key_data(hash_, &k, as_data(encode({port, true, 0}))) >= 0;
}

bool MacTable::del(const MacKey& k) {
  int32_t pos = rte_hash_del_key(hash_, &k);
  if (pos < 0) return false;
  // With RCU the slot goes to the defer queue and is freed after a grace
  // period; without it (one thread) it is free now.
  if (!rcu_) rte_hash_free_key_with_position(hash_, pos);
  return true;
}

bool MacTable::remove(const MacKey& k) { return del(k); }

bool MacTable::set_statics(const std::vector<std::pair<MacKey, uint16_t>>& statics) {
  auto less = [](const MacKey& a, const MacKey& b) { return std::memcmp(&a, &b, sizeof a) < 0; };
  std::set<MacKey, decltype(less)> wanted(less);
  for (const auto& [k, p] : statics) wanted.insert(k);
  for (const Row& r : rows())
    if (r.entry.is_static && !wanted.count(r.key)) del(r.key);
  bool ok = true;
  for (const auto& [k, p] : statics) ok = add_static(k, p) && ok;
  return ok;
}

unsigned MacTable::age(uint32_t now, unsigned budget) {
  std::vector<MacKey> dead;
  const void* key;
  void* data;
  unsigned visited = 0;
  while (visited < budget) {
    int32_t r = rte_hash_iterate(hash_, &key, &data, &sweep_cursor_);
    if (r < 0) {  // end of the table: the next sweep starts again
      sweep_cursor_ = 0;
      break;
    }
    visited++;
    MacEntry e = decode(from_data(data));
    if (!live(e, now)) dead.push_back(*static_cast<const MacKey*>(key));
  }
  // A MAC seen again between the iteration and the delete is deleted anyway;
  // its next frame learns it again.
  unsigned n = 0;
  for (const MacKey& k : dead) n += del(k) ? 1 : 0;
  stats_.aged.fetch_add(n, std::memory_order_relaxed);
  return n;
}

unsigned MacTable::flush(int64_t vni) {
  unsigned n = 0;
  for (const Row& r : rows())
    if (!r.entry.is_static && (vni < 0 || r.key.vni == static_cast<uint64_t>(vni))) n += del(r.key) ? 1 : 0;
  return n;
}

std::vector<MacTable::Row> MacTable::rows() const {
  std::vector<Row> out;
  const void* key;
  void* data;
  uint32_t next = 0;
  while (rte_hash_iterate(hash_, &key, &data, &next) >= 0)
    out.push_back({*static_cast<const MacKey*>(key), decode(from_data(data))});
  std::sort(out.begin(), out.end(), [](const Row& a, const Row& b) {
    if (a.key.vni != b.key.vni) return a.key.vni < b.key.vni;
    return std::memcmp(a.key.mac, b.key.mac, 6) < 0;
  });
  return out;
}

uint32_t MacTable::count() const {
  int32_t n = rte_hash_count(hash_);
  return n < 0 ? 0 : static_cast<uint32_t>(n);
}

}  // namespace weft::sw

#include "tables/overlay_cache.hpp"

#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_rcu_qsbr.h>
#include <unistd.h>

#include <cstdio>
#include <stdexcept>

namespace weft::svp {

static_assert(OverlayCache::kBulkMax == RTE_HASH_LOOKUP_BULK_MAX);

IpAddr CacheKey::ip() const {
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(addr, mapped, 12) == 0) return Ip4::of(addr + 12);
  return Ip6::of(addr);
}

std::string CacheKey::text() const {
  const std::string what = kind == static_cast<uint8_t>(KeyKind::Vl2) ? "vl2 " + mac().str() : "vl3 " + ip().str();
  return what + " vni " + std::to_string(vni);
}

size_t CacheKeyHash::operator()(const CacheKey& k) const { return rte_hash_crc(&k, sizeof k, 0); }

namespace {

CacheEntry* copy_of(const CacheEntry& e) {
  auto* n = new CacheEntry;
  n->state = e.state;
  std::memcpy(n->mac, e.mac, 6);
  n->underlay = e.underlay;
  n->expires_ns = e.expires_ns;
  n->retry_ns.store(e.retry_ns.load(std::memory_order_relaxed), std::memory_order_relaxed);
  n->learned_at = e.learned_at;
  return n;
}

}  // namespace

OverlayCache::OverlayCache(size_t capacity, rte_rcu_qsbr* rcu, int socket) : rcu_(rcu), capacity_(capacity) {
  static std::atomic<unsigned> serial{0};
  char name[RTE_HASH_NAMESIZE];
  std::snprintf(name, sizeof name, "svp%d_%u", static_cast<int>(getpid() % 100000), serial++);
  rte_hash_parameters hp{};
  hp.name = name;
  // Head room: a cuckoo table may refuse a key before it is completely full.
  hp.entries = static_cast<uint32_t>(std::max<size_t>(capacity + capacity / 4, 64));
  hp.key_len = sizeof(CacheKey);
  hp.hash_func = rte_hash_crc;
  hp.hash_func_init_val = 0;
  hp.socket_id = socket < 0 ? static_cast<int>(SOCKET_ID_ANY) : socket;
  // Lock-free readers; one writer (the control thread). Deleted keys keep
  // their slot until we free it after a grace period.
  hp.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF;
  hash_ = rte_hash_create(&hp);
  if (!hash_)
    throw std::runtime_error(std::string("cannot create the overlay cache (") + std::to_string(capacity) +
                             " entries): " + rte_strerror(rte_errno));
}

OverlayCache::~OverlayCache() {
  // No reader is left: the elements using the cache are gone.
  for (auto& d : deferred_) delete d.entry;
  deferred_.clear();
  const void* key;
  void* data;
  uint32_t next = 0;
  while (rte_hash_iterate(hash_, &key, &data, &next) >= 0) delete static_cast<CacheEntry*>(data);
  rte_hash_free(hash_);
}

const CacheEntry* OverlayCache::lookup(const CacheKey& k) const {
  void* data;
  if (rte_hash_lookup_data(hash_, &k, &data) < 0) return nullptr;
  return static_cast<const CacheEntry*>(data);
}

void OverlayCache::lookup_bulk(const CacheKey* const* keys, unsigned n, const CacheEntry** out) const {
  uint64_t hits = 0;
  void* data[RTE_HASH_LOOKUP_BULK_MAX];
  rte_hash_lookup_bulk_data(hash_, reinterpret_cast<const void**>(const_cast<const CacheKey**>(keys)), n, &hits, data);
  for (unsigned i = 0; i < n; i++) out[i] = (hits >> i) & 1 ? static_cast<const CacheEntry*>(data[i]) : nullptr;
}

bool OverlayCache::put(const CacheKey& k, const CacheEntry& e) {
  void* old = nullptr;
  const bool exists = rte_hash_lookup_data(hash_, &k, &old) >= 0;
  if (!exists && count_ >= capacity_) return false;
  CacheEntry* n = copy_of(e);
  if (rte_hash_add_key_data(hash_, &k, n) < 0) {
    delete n;
    return false;
  }
  // The version moves before the grace period of the old entry starts: a
  // worker that reports a quiescent state after that start sees the new
  // version in its next batch (SvpResolver's per-worker memo relies on it).
  version_.fetch_add(1, std::memory_order_release);
  if (exists) defer(static_cast<CacheEntry*>(old), -1);
  else count_++;
  return true;
}

bool OverlayCache::erase(const CacheKey& k) {
  void* old = nullptr;
  if (rte_hash_lookup_data(hash_, &k, &old) < 0) return false;
  const int32_t pos = rte_hash_del_key(hash_, &k);
  if (pos < 0) return false;
  count_--;
  version_.fetch_add(1, std::memory_order_release);  // before the grace period starts (see put)
  defer(static_cast<CacheEntry*>(old), pos);
  return true;
}

void OverlayCache::clear() {
  std::vector<CacheKey> keys;
  for_each([&](const CacheKey& k, const CacheEntry&) { keys.push_back(k); });
  for (const auto& k : keys) erase(k);
}

void OverlayCache::for_each(const std::function<void(const CacheKey&, const CacheEntry&)>& f) const {
  const void* key;
  void* data;
  uint32_t next = 0;
  while (rte_hash_iterate(hash_, &key, &data, &next) >= 0)
    f(*static_cast<const CacheKey*>(key), *static_cast<const CacheEntry*>(data));
}

void OverlayCache::defer(CacheEntry* e, int32_t slot) {
  if (!rcu_) {
    delete e;
    if (slot >= 0) rte_hash_free_key_with_position(hash_, slot);
    return;
  }
  deferred_.push_back({rte_rcu_qsbr_start(rcu_), e, slot});
}

bool OverlayCache::reclaim() {
  while (!deferred_.empty() && rte_rcu_qsbr_check(rcu_, deferred_.front().token, false) == 1) {
    const Deferred d = deferred_.front();
    deferred_.pop_front();
    delete d.entry;
    if (d.slot >= 0) rte_hash_free_key_with_position(hash_, d.slot);
  }
  return !deferred_.empty();
}

}  // namespace weft::svp

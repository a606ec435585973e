// OverlayHandle: what an Svp service publishes for SvpResolver elements
// (InitContext::service<OverlayHandle>): the overlay cache they read and the
// request ring they post their misses to. Nothing of the SVP protocol.
//
//   workers ── lookups (lock-free) ──► cache()      written by the control thread only
//   workers ── ask(key) ─────────────► request ring (multi-producer, never blocks)
//                                            │ take_requests(), every millisecond
//                                            ▼
//                                      the Svp service asks Portolan; the answer lands in the cache
//
// The cache is replaced whole when its size changes (a reload with another
// max_entries): readers load cache() once per batch and the old one is freed
// after an RCU grace period. The handle itself lives as long as any element
// or service holds it, across reloads.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>

#include "tables/overlay_cache.hpp"
#include "weft/counter.hpp"

struct rte_ring;

namespace weft::svp {

class OverlayHandle {
 public:
  static constexpr std::string_view kServiceHandle = "svp.overlay";

  // Creates the request ring on NUMA `socket` (-1: any); throws
  // std::runtime_error if DPDK cannot.
  explicit OverlayHandle(int socket);
  ~OverlayHandle();
  OverlayHandle(const OverlayHandle&) = delete;
  OverlayHandle& operator=(const OverlayHandle&) = delete;

  // --- workers ---
  // The cache to read in this batch (null before the service made one).
  const OverlayCache* cache() const { return cache_.load(std::memory_order_acquire); }
  // Asks the control thread to look `k` up; false if the ring is full (ask again later).
  bool ask(const CacheKey& k);
  // Nanoseconds between two refresh asks for one expired entry (CacheEntry::claim_refresh).
  uint64_t refresh_gap_ns() const { return refresh_gap_.load(std::memory_order_relaxed); }
  // A worker's lookup counts (one writer each, added once per batch): hits
  // found an answer in the cache (NOTFOUND answers included), misses did not.
  struct alignas(64) Lookups {
    Counter hits, misses;
  };
  Lookups& lookups(unsigned worker) { return lookups_[worker % kMaxWorkers]; }

  // --- the control thread ---
  void publish(const OverlayCache* c) { cache_.store(c, std::memory_order_release); }
  void set_refresh_gap(uint64_t ns) { refresh_gap_.store(ns, std::memory_order_relaxed); }
  // Takes up to `max` asked keys out of the ring.
  unsigned take_requests(CacheKey* out, unsigned max);
  // Every worker's lookups, summed.
  uint64_t hits() const;
  uint64_t misses() const;

 private:
  std::atomic<const OverlayCache*> cache_{nullptr};
  std::atomic<uint64_t> refresh_gap_{0};
  rte_ring* requests_ = nullptr;
  static constexpr unsigned kMaxWorkers = 128;  // lcores (workers.lcores is 1-127)
  std::unique_ptr<Lookups[]> lookups_{new Lookups[kMaxWorkers]};
};

}  // namespace weft::svp

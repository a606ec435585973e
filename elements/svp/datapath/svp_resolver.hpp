// SvpResolver — find where an overlay destination lives, from Portolan. Its
// class declaration (svp_resolver.cpp) is its manual: `routerctl elements
// --doc SvpResolver`.
//
// The cache is read lock-free (bulk rte_hash lookups) through the handle the
// Svp service publishes (tables/overlay_handle.hpp); entries past their ttl
// are still used while one worker asks for a refresh. A miss holds the
// packet (bounded per destination and in total) and posts the key on the
// handle's ring; run() releases the packets once the answer is in the cache
// (the cache's version changed) or drops them with a reason. The worker
// never waits, makes no system call, and never sees the SVP client.
#pragma once

#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "tables/overlay_handle.hpp"
#include "weft/element.hpp"
#include "weft/fields.hpp"

namespace weft::svp {

class SvpResolver final : public Element {
 public:
  static const ElementClass& klass();
  void configure(ConfigContext& ctx) override;
  void initialize(InitContext& ctx) override;
  void push(uint16_t input, Batch& b) override;
  bool run() override;
  StateCarry take_state(Element& old) override;
  uint64_t held_packets() const override { return held_; }
  void cleanup() override;

 private:
  static inline Drop kNotFound, kTimeout, kQueueFull, kTooMany, kNoVni, kNotIp, kRunt;
  struct Waiting {
    std::vector<rte_mbuf*> pkts;
    uint64_t deadline = 0;  // weft::Clock ns
    bool asked = false;
  };
  // Builds the key of `m`; returns the drop reason, or null.
  const Drop* key_of(rte_mbuf* m, CacheKey& k) const;
  void annotate(rte_mbuf* m, const CacheEntry& e, uint32_t vni);
  void hold(rte_mbuf* m, const CacheKey& k, uint64_t now);

  std::string svp_;  // the Svp service
  bool vl3_ = false;
  std::optional<uint32_t> vni_param_;
  bool rewrite_mac_ = true;
  uint32_t queue_ = 8, max_pending_ = 256;
  double wait_s_ = 1;
  uint64_t wait_ns_ = 0;
  std::shared_ptr<OverlayHandle> handle_;
  OverlayHandle* overlay_ = nullptr;  // handle_, for the fast path
  OverlayHandle::Lookups* lookups_ = nullptr;  // this worker's hit and miss counts
  fields::Vni vni_;
  fields::UnderlaySlot underlay_;
  std::unordered_map<CacheKey, Waiting, CacheKeyHash> waiting_;
  // A per-worker memo of recent lookups (direct-mapped), valid while the
  // cache and its version are those it was filled from: hits skip rte_hash.
  struct Memo {
    CacheKey key;
    const CacheEntry* entry;
  };
  static constexpr unsigned kMemoSlots = 256;
  static unsigned memo_slot(const CacheKey& k) {
    uint64_t w[3];
    std::memcpy(w, &k, sizeof w);
    return static_cast<unsigned>(((w[0] ^ w[1] ^ w[2]) * 0x9E3779B97F4A7C15ull) >> 56);
  }
  static bool same_key(const CacheKey& a, const CacheKey& b) {
    uint64_t x[3], y[3];
    std::memcpy(x, &a, sizeof x);
    std::memcpy(y, &b, sizeof y);
    return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2])) == 0;
  }
  std::unique_ptr<Memo[]> memo_;
  const OverlayCache* memo_cache_ = nullptr;
  uint64_t memo_version_ = 0;
  uint64_t held_ = 0;
  uint64_t seen_version_ = 0;
  uint64_t next_deadline_ = UINT64_MAX;
};

}  // namespace weft::svp

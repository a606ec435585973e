// SvpResolver — find where an overlay destination lives, from Portolan.
//
// Ports:       input `in` (Ethernet frames); output `out`
// Parameters:  svp       (required) id of the Svp element whose cache to use
//              mode      (default vl2) vl2: key = destination MAC + VNI;
//                        vl3: key = destination IPv4/IPv6 address + VNI
//              vni       (optional) the VNI; without it, the packet's VNI
//                        metadata (weft::fields::vni())
//              rewrite_mac (default true) vl3: write the MAC Portolan gave as
//                        the frame's destination MAC
//              queue     (default 8) packets held per unresolved destination
//              max_pending (default 256) unresolved destinations held at once
//              wait      (default 1) seconds a packet waits for an answer
// Handlers:    pending (r) unresolved destinations and packets held
// Drops:       not_found — Portolan answered NOTFOUND (remembered negative_ttl)
//              timeout   — no answer within `wait` (Portolan down or slow)
//              queue_full — `queue` packets already wait for this destination
//              too_many_pending — `max_pending` destinations already wait
//              no_vni    — no `vni` and no VNI metadata
//              not_ip    — vl3 mode: neither IPv4 nor IPv6 (or truncated)
//              runt      — shorter than an Ethernet header
//
// A hit sets the underlay metadata (weft::fields::underlay(): family,
// address, UDP port; has_mac 0) and the VNI metadata, for VxlanEncap. The
// cache is read lock-free (bulk rte_hash lookups) and entries past their ttl
// are still used while one worker asks for a refresh. A miss holds the
// packet (bounded per destination and in total) and asks the control thread
// through a ring; run() releases the packets once the answer is in the cache
// (the cache's version changed) or drops them with a reason. The worker
// never waits and never makes a system call.
#pragma once

#include <memory>
#include <unordered_map>
#include <vector>

#include "control/svp_control.hpp"
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
  void add_handlers(HandlerSet& h) override;
  void cleanup() override;

 private:
  enum Drop : uint16_t { kNotFound, kTimeout, kQueueFull, kTooMany, kNoVni, kNotIp, kRunt };
  struct Waiting {
    std::vector<rte_mbuf*> pkts;
    uint64_t deadline = 0;
    bool asked = false;
  };
  // Builds the key of `m`; returns a drop reason or -1.
  int key_of(rte_mbuf* m, CacheKey& k) const;
  void annotate(rte_mbuf* m, const CacheEntry& e, uint32_t vni);
  void hold(rte_mbuf* m, const CacheKey& k, uint64_t now);

  std::string svp_id_;
  bool vl3_ = false;
  std::optional<uint32_t> vni_param_;
  bool rewrite_mac_ = true;
  uint32_t queue_ = 8, max_pending_ = 256;
  double wait_s_ = 1;
  uint64_t wait_cycles_ = 0;
  std::shared_ptr<SvpService> service_;
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

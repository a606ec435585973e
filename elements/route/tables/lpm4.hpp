// Lpm4: an IPv4 longest-prefix-match table in DPDK's rte_lpm format, with a
// writer that scales to a full Internet table.
//
// Readers use DPDK's own lookups (rte_lpm_lookup, rte_lpm_lookup_bulk) on
// `lpm()`, lock-free, on any lcore. The writer (the control thread) keeps
// its own rule index instead of calling rte_lpm_add/rte_lpm_delete: in DPDK
// 22.11 those keep rules in an array scanned linearly per prefix length and
// scan the tbl8 groups linearly for a free one, so loading n routes costs
// O(n^2) (measured: 17k routes/s at 40k routes, minutes for 1M). Here a hash
// index finds rules and covering rules, and free tbl8 groups sit on a list:
// O(1) per rule besides the table entries written, which are exactly those
// rte_lpm_add/delete write (same DIR-24-8 algorithm, same atomic 32-bit entry
// stores, tbl24 entry published last with release order).
//
// tbl8 groups a writer unlinks are reused only after an RCU grace period on
// `rcu` (rte_rcu_qsbr_start/check, the same rule as rte_lpm's RCU "DQ" mode),
// so a reader still inside an old group never sees it rewritten. Without
// `rcu` (single-threaded tests, benchmarks) they are reused at once.
//
// Depth 0 (the default route) is supported natively: its entries fill tbl24
// (2^24 writes, about 10 ms), so lookups need no separate default.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

struct rte_lpm;
struct rte_rcu_qsbr;

namespace weft::route {

// Rule keys (ip << 8 | depth) to next hops: open addressing, linear probing,
// backward-shift deletion. A million rules are one array, not a million
// allocations.
class RuleIndex {
 public:
  static constexpr uint64_t kEmpty = ~0ull;  // never a key: depth <= 32
  uint32_t* find(uint64_t k) {
    if (slots_.empty()) return nullptr;
    for (size_t i = slot(k);; i = (i + 1) & mask_) {
      if (slots_[i].key == k) return &slots_[i].value;
      if (slots_[i].key == kEmpty) return nullptr;
    }
  }
  const uint32_t* find(uint64_t k) const { return const_cast<RuleIndex*>(this)->find(k); }
  // {value slot, inserted}
  std::pair<uint32_t*, bool> insert(uint64_t k, uint32_t v);
  bool erase(uint64_t k);
  size_t size() const { return size_; }
  void reserve(size_t n);
  template <class F>
  void for_each(F&& fn) const {
    for (const auto& s : slots_)
      if (s.key != kEmpty) fn(s.key, s.value);
  }

 private:
  struct Slot {
    uint64_t key = kEmpty;
    uint32_t value = 0;
  };
  size_t slot(uint64_t k) const { return static_cast<size_t>((k * 0x9e3779b97f4a7c15ull) >> shift_); }
  void rehash(size_t capacity);
  std::vector<Slot> slots_;
  size_t size_ = 0, mask_ = 0;
  unsigned shift_ = 64;
};

class Lpm4 {
 public:
  static constexpr uint32_t kMaxNexthop = (1u << 24) - 1;

  // Throws std::runtime_error if DPDK cannot allocate the table.
  Lpm4(const std::string& name, int socket, uint32_t max_rules, uint32_t tbl8_groups, rte_rcu_qsbr* rcu);
  ~Lpm4();
  Lpm4(const Lpm4&) = delete;
  Lpm4& operator=(const Lpm4&) = delete;

  // Adds or replaces the rule ip/depth (host order; host bits ignored).
  // 0, or -ENOSPC (max_rules reached or no free tbl8 group), -EINVAL. With
  // `old`: set to the next hop it replaced, if it replaced one.
  int add(uint32_t ip, uint8_t depth, uint32_t nexthop, std::optional<uint32_t>* old = nullptr);
  // 0, or -ENOENT if there is no such rule.
  int remove(uint32_t ip, uint8_t depth);
  bool find(uint32_t ip, uint8_t depth, uint32_t& nexthop) const;
  // Every rule: fn(ip, depth, nexthop).
  template <class F>
  void for_each(F&& fn) const {
    rules_.for_each([&](uint64_t k, uint32_t nh) { fn(static_cast<uint32_t>(k >> 8), static_cast<uint8_t>(k & 0xff), nh); });
  }

  // Makes tbl8 groups whose grace period has ended reusable. Cheap; call it
  // now and then (each add that needs a group calls it too).
  void reclaim();

  const rte_lpm* lpm() const { return lpm_; }
  size_t rules() const { return rules_.size(); }
  uint32_t max_rules() const { return max_rules_; }
  uint32_t tbl8_groups() const { return tbl8_groups_; }
  uint32_t tbl8_used() const { return tbl8_groups_ - static_cast<uint32_t>(free_tbl8_.size()) - pending_count(); }
  uint32_t tbl8_pending() const { return pending_count(); }

 private:
  static uint64_t key(uint32_t ip, uint8_t depth) { return (static_cast<uint64_t>(ip) << 8) | depth; }
  void write_small(uint32_t ip, uint8_t depth, uint32_t nh);
  int write_big(uint32_t ip, uint8_t depth, uint32_t nh);
  void erase_small(uint32_t ip, uint8_t depth, bool has_sub, uint32_t sub_nh, uint8_t sub_depth);
  void erase_big(uint32_t ip, uint8_t depth, bool has_sub, uint32_t sub_nh, uint8_t sub_depth);
  bool covering(uint32_t ip, uint8_t depth, uint32_t& nh, uint8_t& sub_depth) const;
  int64_t alloc_group();
  void free_group(uint32_t g);
  uint32_t pending_count() const { return static_cast<uint32_t>(pending_.size()); }

  rte_lpm* lpm_ = nullptr;
  rte_rcu_qsbr* rcu_ = nullptr;
  uint32_t max_rules_;
  uint32_t tbl8_groups_;
  RuleIndex rules_;  // key(ip, depth) -> next hop
  uint32_t depth_count_[33] = {};                 // rules per depth (skips empty depths)
  std::vector<uint32_t> free_tbl8_;
  struct Pending {
    uint32_t group;
    uint64_t token;
  };
  std::deque<Pending> pending_;  // unlinked groups waiting for a grace period
};

}  // namespace weft::route

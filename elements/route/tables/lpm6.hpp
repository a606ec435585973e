// Lpm6Pair: an IPv6 longest-prefix-match table (DPDK rte_lpm6) that readers
// on other lcores use lock-free while the control thread changes it.
//
// rte_lpm6 has no RCU integration in DPDK 22.11: a delete may give a tbl8
// group back and the next add may reuse it while a reader is still walking
// it. So there are two copies, A and B, and readers use the one `published`
// points to. A change is queued; commit() applies the queue to the copy no
// reader uses (the standby), publishes it (an atomic pointer store with
// release order), waits with rte_rcu_qsbr_synchronize until every reader has
// passed a quiescent state (so none still holds the old copy), then applies
// the same queue to the old copy, which becomes the standby. Each change is
// thus written twice and each commit waits for one grace period: batch
// changes (one commit per burst of FPM messages) to amortize both.
//
// ::/0 (rte_lpm6 refuses depth 0) is kept in `default_nexthop`, which readers
// use when the lookup misses.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

struct rte_lpm6;
struct rte_rcu_qsbr;

namespace weft::route {

struct Key6 {
  std::array<uint8_t, 16> ip{};
  uint8_t depth = 0;
  bool operator==(const Key6& o) const { return depth == o.depth && ip == o.ip; }
};
struct Key6Hash {
  size_t operator()(const Key6& k) const;
};

class Lpm6Pair {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;
  static constexpr uint32_t kMaxNexthop = (1u << 21) - 1;  // rte_lpm6 keeps 21 bits

  // Throws std::runtime_error if DPDK cannot allocate the two copies.
  // `published` is the pointer readers load (acquire) before a lookup; the
  // first commit() sets it. `name`: at most 20 characters (DPDK derives
  // 32-character names of its own from it).
  Lpm6Pair(const std::string& name, int socket, uint32_t max_rules, uint32_t tbl8_groups, rte_rcu_qsbr* rcu,
           std::atomic<const rte_lpm6*>* published, std::atomic<uint32_t>* default_nexthop);
  ~Lpm6Pair();
  Lpm6Pair(const Lpm6Pair&) = delete;
  Lpm6Pair& operator=(const Lpm6Pair&) = delete;

  // Queue a change (visible to readers after commit(); ::/0 at once).
  // add: 0 or -ENOSPC (max_rules reached), -EINVAL. remove: 0 or -ENOENT.
  int add(const uint8_t* ip, uint8_t depth, uint32_t nexthop, std::optional<uint32_t>* old = nullptr);
  int remove(const uint8_t* ip, uint8_t depth);
  bool find(const uint8_t* ip, uint8_t depth, uint32_t& nexthop) const;
  bool pending() const { return !queue_.empty(); }

  // Applies the queue as described above. Rules rte_lpm6 refused (no tbl8
  // group left) are dropped from the table and returned with the next hop
  // they would have had.
  std::vector<std::pair<Key6, uint32_t>> commit();

  template <class F>
  void for_each(F&& fn) const {
    for (const auto& [k, nh] : rules_) fn(k, nh);
  }
  size_t rules() const { return rules_.size(); }
  uint32_t max_rules() const { return max_rules_; }
  uint32_t tbl8_groups() const { return tbl8_groups_; }
  uint64_t commits() const { return commits_; }

 private:
  struct Op {
    Key6 key;
    bool add;
    uint32_t nexthop;
  };
  void rebuild(rte_lpm6* t);

  rte_lpm6* copy_[2] = {nullptr, nullptr};
  int active_ = 0;  // index of the copy readers use
  rte_rcu_qsbr* rcu_;
  std::atomic<const rte_lpm6*>* published_;
  std::atomic<uint32_t>* default_;
  uint32_t max_rules_, tbl8_groups_;
  std::unordered_map<Key6, uint32_t, Key6Hash> rules_;
  std::vector<Op> queue_;
  bool standby_stale_ = false;  // the standby diverged: rebuild it before the next use
  uint64_t commits_ = 0;
};

}  // namespace weft::route

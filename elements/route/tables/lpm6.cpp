#include "lpm6.hpp"

#include <rte_errno.h>
#include <rte_hash_crc.h>
#include <rte_lpm6.h>
#include <rte_rcu_qsbr.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "weft/log.hpp"

namespace weft::route {

namespace {

Key6 masked(const uint8_t* ip, uint8_t depth) {
  Key6 k;
  k.depth = depth;
  unsigned full = depth / 8u, rest = depth % 8u;
  std::memcpy(k.ip.data(), ip, full);
  if (rest) k.ip[full] = static_cast<uint8_t>(ip[full] & (0xff << (8 - rest)));
  return k;
}

}  // namespace

size_t Key6Hash::operator()(const Key6& k) const {
  uint64_t w[2];
  std::memcpy(w, k.ip.data(), 16);
  return rte_hash_crc_8byte(w[1], rte_hash_crc_8byte(w[0], k.depth));
}

Lpm6Pair::Lpm6Pair(const std::string& name, int socket, uint32_t max_rules, uint32_t tbl8_groups, rte_rcu_qsbr* rcu,
                   std::atomic<const rte_lpm6*>* published, std::atomic<uint32_t>* default_nexthop)
    : rcu_(rcu), published_(published), default_(default_nexthop), max_rules_(max_rules), tbl8_groups_(tbl8_groups) {
  rte_lpm6_config cfg{};
  cfg.max_rules = max_rules;
  cfg.number_tbl8s = tbl8_groups;
  for (int i = 0; i < 2; i++) {
    std::string n = name + (i ? "b" : "a");
    copy_[i] = rte_lpm6_create(n.c_str(), socket, &cfg);
    if (!copy_[i]) {
      std::string why = rte_strerror(rte_errno);
      if (i) rte_lpm6_free(copy_[0]);
      throw std::runtime_error("rte_lpm6_create(" + n + ", " + std::to_string(max_rules) + " rules, " +
                               std::to_string(tbl8_groups) + " tbl8 groups): " + why + " (two copies of about " +
                               std::to_string(64 + tbl8_groups / 1024) + " MiB each; raise eal.memory_mb)");
    }
  }
  // Nothing is published before the first commit().
}

Lpm6Pair::~Lpm6Pair() {
  // The owner unpublished the table and waited for readers before this.
  rte_lpm6_free(copy_[0]);
  rte_lpm6_free(copy_[1]);
}

int Lpm6Pair::add(const uint8_t* ip, uint8_t depth, uint32_t nh, std::optional<uint32_t>* old) {
  if (depth > 128 || nh > kMaxNexthop) return -EINVAL;
  Key6 k = masked(ip, depth);
  auto [it, inserted] = rules_.try_emplace(k, nh);
  if (inserted && rules_.size() > max_rules_) {
    rules_.erase(it);
    return -ENOSPC;
  }
  if (!inserted && old) *old = it->second;
  if (!inserted && it->second == nh) return 0;
  it->second = nh;
  if (depth == 0) default_->store(nh, std::memory_order_release);
  else queue_.push_back({k, true, nh});
  return 0;
}

int Lpm6Pair::remove(const uint8_t* ip, uint8_t depth) {
  if (depth > 128) return -EINVAL;
  Key6 k = masked(ip, depth);
  if (rules_.erase(k) == 0) return -ENOENT;
  if (depth == 0) default_->store(kNone, std::memory_order_release);
  else queue_.push_back({k, false, 0});
  return 0;
}

bool Lpm6Pair::find(const uint8_t* ip, uint8_t depth, uint32_t& nh) const {
  auto it = rules_.find(masked(ip, depth));
  if (it == rules_.end()) return false;
  nh = it->second;
  return true;
}

void Lpm6Pair::rebuild(rte_lpm6* t) {
  rte_lpm6_delete_all(t);
  for (const auto& [k, nh] : rules_)
    if (k.depth) rte_lpm6_add(t, k.ip.data(), k.depth, nh);
}

std::vector<std::pair<Key6, uint32_t>> Lpm6Pair::commit() {
  std::vector<std::pair<Key6, uint32_t>> failed;
  if (queue_.empty()) return failed;
  const int standby = 1 - active_;
  std::vector<bool> skip(queue_.size(), false);
  if (standby_stale_) {
    rebuild(copy_[standby]);
  } else {
    for (size_t i = 0; i < queue_.size(); i++) {
      const Op& op = queue_[i];
      if (!op.add) {
        rte_lpm6_delete(copy_[standby], op.key.ip.data(), op.key.depth);
        continue;
      }
      if (rte_lpm6_add(copy_[standby], op.key.ip.data(), op.key.depth, op.nexthop) < 0) {
        skip[i] = true;
        failed.emplace_back(op.key, op.nexthop);
      }
    }
    // A refused rule is not in the table, unless a later change replaced it.
    for (const auto& [k, nh] : failed)
      if (auto it = rules_.find(k); it != rules_.end() && it->second == nh) rules_.erase(it);
  }
  published_->store(copy_[standby], std::memory_order_release);
  active_ = standby;
  // After this no reader holds the old copy: it may be rewritten.
  if (rcu_) rte_rcu_qsbr_synchronize(rcu_, RTE_QSBR_THRID_INVALID);
  rte_lpm6* other = copy_[1 - active_];
  if (standby_stale_) {
    rebuild(other);
    standby_stale_ = false;
  } else {
    for (size_t i = 0; i < queue_.size(); i++) {
      const Op& op = queue_[i];
      if (skip[i]) continue;
      if (!op.add) {
        rte_lpm6_delete(other, op.key.ip.data(), op.key.depth);
      } else if (rte_lpm6_add(other, op.key.ip.data(), op.key.depth, op.nexthop) < 0) {
        // The copies hold the same rules, so this should not happen; if it
        // does, the standby is rebuilt from the rules before its next use.
        standby_stale_ = true;
        WEFT_LOG(Warning, "FIB: rte_lpm6 standby copy refused a rule the active copy took; rebuilding it");
      }
    }
  }
  queue_.clear();
  commits_++;
  return failed;
}

}  // namespace weft::route

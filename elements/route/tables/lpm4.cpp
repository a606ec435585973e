#include "lpm4.hpp"

#include <rte_errno.h>
#include <rte_lpm.h>
#include <rte_rcu_qsbr.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>

namespace weft::route {

namespace {

static_assert(RTE_BYTE_ORDER == RTE_LITTLE_ENDIAN, "the entry layout below is rte_lpm's little-endian one");
static_assert(sizeof(rte_lpm_tbl_entry) == sizeof(uint32_t));

// rte_lpm_tbl_entry as a 32-bit word: next_hop:24 | valid:1 | valid_group:1 | depth:6.
constexpr uint32_t kValid = 1u << 24;
constexpr uint32_t kGroup = 1u << 25;  // tbl24: points to a tbl8 group; tbl8: the group is in use
constexpr uint32_t kNh = 0x00ffffff;

constexpr uint32_t entry(uint32_t nh, bool valid, bool group, uint8_t depth) {
  return (nh & kNh) | (valid ? kValid : 0) | (group ? kGroup : 0) | (static_cast<uint32_t>(depth) << 26);
}
constexpr uint8_t depth_of(uint32_t e) { return static_cast<uint8_t>(e >> 26); }
constexpr bool valid(uint32_t e) { return e & kValid; }
constexpr bool extended(uint32_t e) { return (e & (kValid | kGroup)) == (kValid | kGroup); }
constexpr uint32_t mask(uint8_t depth) { return depth == 0 ? 0 : ~0u << (32 - depth); }

}  // namespace

std::pair<uint32_t*, bool> RuleIndex::insert(uint64_t k, uint32_t v) {
  if ((size_ + 1) * 2 > slots_.size()) rehash(std::max<size_t>(1024, slots_.size() * 2));
  for (size_t i = slot(k);; i = (i + 1) & mask_) {
    if (slots_[i].key == k) return {&slots_[i].value, false};
    if (slots_[i].key == kEmpty) {
      slots_[i] = {k, v};
      size_++;
      return {&slots_[i].value, true};
    }
  }
}

bool RuleIndex::erase(uint64_t k) {
  if (slots_.empty()) return false;
  size_t i = slot(k);
  while (slots_[i].key != k) {
    if (slots_[i].key == kEmpty) return false;
    i = (i + 1) & mask_;
  }
  // Backward shift: pull later members of the probe run into the hole.
  for (size_t j = (i + 1) & mask_; slots_[j].key != kEmpty; j = (j + 1) & mask_) {
    size_t home = slot(slots_[j].key);
    // Move j into i unless its home lies cyclically in (i, j].
    bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
    if (stays) continue;
    slots_[i] = slots_[j];
    i = j;
  }
  slots_[i] = Slot{};
  size_--;
  return true;
}

void RuleIndex::reserve(size_t n) {
  size_t cap = 1024;
  while (cap < n * 2) cap <<= 1;
  if (cap > slots_.size()) rehash(cap);
}

void RuleIndex::rehash(size_t capacity) {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(capacity, Slot{});
  mask_ = capacity - 1;
  shift_ = 64 - static_cast<unsigned>(__builtin_ctzll(capacity));
  for (const auto& s : old)
    if (s.key != kEmpty)
      for (size_t i = slot(s.key);; i = (i + 1) & mask_)
        if (slots_[i].key == kEmpty) {
          slots_[i] = s;
          break;
        }
}

Lpm4::Lpm4(const std::string& name, int socket, uint32_t max_rules, uint32_t tbl8_groups, rte_rcu_qsbr* rcu)
    : rcu_(rcu), max_rules_(max_rules), tbl8_groups_(tbl8_groups) {
  if (tbl8_groups == 0 || tbl8_groups > RTE_LPM_MAX_TBL8_NUM_GROUPS)
    throw std::runtime_error("tbl8 groups must be between 1 and 16777216");
  // DPDK's own rule table is not used (see the header): keep it minimal.
  rte_lpm_config cfg{};
  cfg.max_rules = 1;
  cfg.number_tbl8s = tbl8_groups;
  lpm_ = rte_lpm_create(name.c_str(), socket, &cfg);
  if (!lpm_)
    throw std::runtime_error("rte_lpm_create(" + name + ", " + std::to_string(tbl8_groups) +
                             " tbl8 groups): " + rte_strerror(rte_errno) + " (about " +
                             std::to_string(64 + tbl8_groups / 1024) + " MiB needed; raise eal.memory_mb)");
  free_tbl8_.reserve(tbl8_groups);
  for (uint32_t g = tbl8_groups; g-- > 0;) free_tbl8_.push_back(g);
  rules_.reserve(std::min<uint32_t>(max_rules, 1u << 16));
}

Lpm4::~Lpm4() {
  // Readers are gone by now (the owner waited for them).
  rte_lpm_free(lpm_);
}

int Lpm4::add(uint32_t ip, uint8_t depth, uint32_t nh, std::optional<uint32_t>* old) {
  if (depth > 32 || nh > kMaxNexthop) return -EINVAL;
  ip &= mask(depth);
  if (rules_.size() >= max_rules_ && !rules_.find(key(ip, depth))) return -ENOSPC;
  auto [value, inserted] = rules_.insert(key(ip, depth), nh);
  if (!inserted) {
    if (old) *old = *value;
    if (*value == nh) return 0;
    *value = nh;
  }
  if (depth <= 24) {
    write_small(ip, depth, nh);
  } else if (int rc = write_big(ip, depth, nh); rc < 0) {
    if (inserted) rules_.erase(key(ip, depth));  // only a new rule can need a new group
    return rc;
  }
  if (inserted) depth_count_[depth]++;
  return 0;
}

int Lpm4::remove(uint32_t ip, uint8_t depth) {
  if (depth > 32) return -EINVAL;
  ip &= mask(depth);
  if (!rules_.erase(key(ip, depth))) return -ENOENT;
  depth_count_[depth]--;
  uint32_t sub_nh = 0;
  uint8_t sub_depth = 0;
  bool has_sub = covering(ip, depth, sub_nh, sub_depth);
  if (depth <= 24) erase_small(ip, depth, has_sub, sub_nh, sub_depth);
  else erase_big(ip, depth, has_sub, sub_nh, sub_depth);
  return 0;
}

bool Lpm4::find(uint32_t ip, uint8_t depth, uint32_t& nh) const {
  if (depth > 32) return false;
  const uint32_t* v = rules_.find(key(ip & mask(depth), depth));
  if (!v) return false;
  nh = *v;
  return true;
}

bool Lpm4::covering(uint32_t ip, uint8_t depth, uint32_t& nh, uint8_t& sub_depth) const {
  for (int d = depth - 1; d >= 0; d--) {
    if (!depth_count_[d]) continue;
    const uint32_t* v = rules_.find(key(ip & mask(static_cast<uint8_t>(d)), static_cast<uint8_t>(d)));
    if (v) {
      nh = *v;
      sub_depth = static_cast<uint8_t>(d);
      return true;
    }
  }
  return false;
}

// Depth <= 24: every tbl24 entry of the range, and the tbl8 entries of
// extended ones, that no longer rule covers.
void Lpm4::write_small(uint32_t ip, uint8_t depth, uint32_t nh) {
  auto* t24 = reinterpret_cast<uint32_t*>(lpm_->tbl24);
  auto* t8 = reinterpret_cast<uint32_t*>(lpm_->tbl8);
  const uint32_t first = ip >> 8, n = 1u << (24 - depth);
  const uint32_t e24 = entry(nh, true, false, depth), e8 = entry(nh, true, true, depth);
  for (uint32_t i = first; i < first + n; i++) {
    uint32_t e = t24[i];
    if (!valid(e) || (!extended(e) && depth_of(e) <= depth)) {
      __atomic_store_n(&t24[i], e24, __ATOMIC_RELEASE);
    } else if (extended(e)) {
      uint32_t* g = t8 + static_cast<size_t>(e & kNh) * RTE_LPM_TBL8_GROUP_NUM_ENTRIES;
      for (unsigned j = 0; j < RTE_LPM_TBL8_GROUP_NUM_ENTRIES; j++)
        if (!valid(g[j]) || depth_of(g[j]) <= depth) __atomic_store_n(&g[j], e8, __ATOMIC_RELAXED);
    }
  }
}

int Lpm4::write_big(uint32_t ip, uint8_t depth, uint32_t nh) {
  auto* t24 = reinterpret_cast<uint32_t*>(lpm_->tbl24);
  auto* t8 = reinterpret_cast<uint32_t*>(lpm_->tbl8);
  const uint32_t i24 = ip >> 8, first = ip & 0xff, last = first + (1u << (32 - depth));
  const uint32_t e8 = entry(nh, true, true, depth);
  const uint32_t e = t24[i24];
  if (extended(e)) {
    uint32_t* g = t8 + static_cast<size_t>(e & kNh) * RTE_LPM_TBL8_GROUP_NUM_ENTRIES;
    for (uint32_t j = first; j < last; j++)
      if (!valid(g[j]) || depth_of(g[j]) <= depth) __atomic_store_n(&g[j], e8, __ATOMIC_RELAXED);
    return 0;
  }
  int64_t gi = alloc_group();
  if (gi < 0) return -ENOSPC;
  uint32_t* g = t8 + static_cast<size_t>(gi) * RTE_LPM_TBL8_GROUP_NUM_ENTRIES;
  // The rest of the group inherits the tbl24 entry (a shorter rule), or is empty.
  const uint32_t rest = valid(e) ? entry(e & kNh, true, true, depth_of(e)) : entry(0, false, true, 0);
  for (uint32_t j = 0; j < RTE_LPM_TBL8_GROUP_NUM_ENTRIES; j++)
    __atomic_store_n(&g[j], j >= first && j < last ? e8 : rest, __ATOMIC_RELAXED);
  // Publish the group only once it is complete.
  __atomic_store_n(&t24[i24], entry(static_cast<uint32_t>(gi), true, true, 0), __ATOMIC_RELEASE);
  return 0;
}

void Lpm4::erase_small(uint32_t ip, uint8_t depth, bool has_sub, uint32_t sub_nh, uint8_t sub_depth) {
  auto* t24 = reinterpret_cast<uint32_t*>(lpm_->tbl24);
  auto* t8 = reinterpret_cast<uint32_t*>(lpm_->tbl8);
  const uint32_t first = ip >> 8, n = 1u << (24 - depth);
  const uint32_t r24 = has_sub ? entry(sub_nh, true, false, sub_depth) : 0;
  const uint32_t r8 = has_sub ? entry(sub_nh, true, true, sub_depth) : entry(0, false, true, 0);
  for (uint32_t i = first; i < first + n; i++) {
    uint32_t e = t24[i];
    if (!valid(e)) continue;
    if (!extended(e)) {
      if (depth_of(e) <= depth) __atomic_store_n(&t24[i], r24, __ATOMIC_RELEASE);
    } else {
      uint32_t* g = t8 + static_cast<size_t>(e & kNh) * RTE_LPM_TBL8_GROUP_NUM_ENTRIES;
      for (unsigned j = 0; j < RTE_LPM_TBL8_GROUP_NUM_ENTRIES; j++)
        if (valid(g[j]) && depth_of(g[j]) <= depth) __atomic_store_n(&g[j], r8, __ATOMIC_RELAXED);
    }
  }
}

void Lpm4::erase_big(uint32_t ip, uint8_t depth, bool has_sub, uint32_t sub_nh, uint8_t sub_depth) {
  auto* t24 = reinterpret_cast<uint32_t*>(lpm_->tbl24);
  auto* t8 = reinterpret_cast<uint32_t*>(lpm_->tbl8);
  const uint32_t i24 = ip >> 8, first = ip & 0xff, last = first + (1u << (32 - depth));
  const uint32_t e = t24[i24];
  if (!extended(e)) return;  // cannot happen while the rule existed
  const uint32_t gi = e & kNh;
  uint32_t* g = t8 + static_cast<size_t>(gi) * RTE_LPM_TBL8_GROUP_NUM_ENTRIES;
  const uint32_t r8 = has_sub ? entry(sub_nh, true, true, sub_depth) : entry(0, false, true, 0);
  for (uint32_t j = first; j < last; j++)
    if (valid(g[j]) && depth_of(g[j]) <= depth) __atomic_store_n(&g[j], r8, __ATOMIC_RELAXED);
  // The group can go if nothing longer than 24 bits is left in it: all
  // empty, or all the same shorter rule (which then moves back to tbl24).
  const uint32_t g0 = g[0];
  if (valid(g0) && depth_of(g0) > 24) return;
  for (unsigned j = 1; j < RTE_LPM_TBL8_GROUP_NUM_ENTRIES; j++)
    if (g[j] != g0) return;
  __atomic_store_n(&t24[i24], valid(g0) ? entry(g0 & kNh, true, false, depth_of(g0)) : 0, __ATOMIC_RELEASE);
  free_group(gi);
}

int64_t Lpm4::alloc_group() {
  if (free_tbl8_.empty()) reclaim();
  if (free_tbl8_.empty() && !pending_.empty()) {
    // Out of groups but some wait for readers: wait for the oldest (readers
    // report a quiescent state every loop, so this is short).
    rte_rcu_qsbr_check(rcu_, pending_.front().token, true);
    reclaim();
  }
  if (free_tbl8_.empty()) return -1;
  uint32_t g = free_tbl8_.back();
  free_tbl8_.pop_back();
  return g;
}

void Lpm4::free_group(uint32_t g) {
  if (!rcu_) {
    free_tbl8_.push_back(g);
    return;
  }
  pending_.push_back({g, rte_rcu_qsbr_start(rcu_)});
}

void Lpm4::reclaim() {
  while (!pending_.empty() && rte_rcu_qsbr_check(rcu_, pending_.front().token, false) == 1) {
    free_tbl8_.push_back(pending_.front().group);
    pending_.pop_front();
  }
}

}  // namespace weft::route

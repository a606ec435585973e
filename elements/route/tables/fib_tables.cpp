#include "fib_tables.hpp"

#include <arpa/inet.h>
#include <rte_hash_crc.h>
#include <rte_lpm.h>
#include <rte_lpm6.h>
#include <rte_rcu_qsbr.h>

#include <cerrno>
#include <cstdio>
#include <stdexcept>

#include "weft/log.hpp"

namespace weft::route {

// ---------------------------------------------------------------------------
// NeighborTable
// ---------------------------------------------------------------------------

NeighborTable::NeighborTable(size_t entries) {
  size_t n = 8;
  while (n < entries * 2) n <<= 1;
  slots_.resize(n);
  mask_ = n - 1;
}

size_t NeighborTable::hash(uint8_t family, const uint8_t* addr) {
  uint64_t w[2] = {0, 0};
  std::memcpy(w, addr, family == AF_INET ? 4 : 16);  // aligned copy: addr may sit anywhere in a packet
  return rte_hash_crc_8byte(w[1], rte_hash_crc_8byte(w[0], family));
}

void NeighborTable::insert(uint8_t family, const uint8_t* addr, const uint8_t* mac) {
  size_t len = family == AF_INET ? 4 : 16;
  for (size_t i = hash(family, addr) & mask_;; i = (i + 1) & mask_) {
    Slot& s = slots_[i];
    if (s.family == 0 || (s.family == family && std::memcmp(s.addr, addr, len) == 0)) {
      if (s.family == 0) count_++;
      s.family = family;
      std::memset(s.addr, 0, sizeof s.addr);
      std::memcpy(s.addr, addr, len);
      std::memcpy(s.mac, mac, 6);
      return;
    }
  }
}

// ---------------------------------------------------------------------------
// Fib
// ---------------------------------------------------------------------------

namespace {

uint32_t v4_of(const Prefix& p) {
  uint32_t a;
  std::memcpy(&a, p.addr.data(), 4);
  return ntohl(a);
}

// The bytes that make an entry what it is (unused members and buckets are
// zero and left out).
size_t key_size(const Entry& e) {
  return offsetof(Entry, members) + sizeof(Member) * e.n_members;
}

std::string_view key_of(const Entry& e, char* buf) {
  size_t n = key_size(e);
  std::memcpy(buf, &e, n);
  std::memcpy(buf + n, e.buckets, e.n_buckets);
  return {buf, n + e.n_buckets};
}

}  // namespace

Fib::Fib(rte_rcu_qsbr* rcu, int socket, FibSizes sizes) : rcu_(rcu), socket_(socket), sizes_(sizes) {
  if (sizes_.max_nexthops == 0 || sizes_.max_nexthops > Lpm6Pair::kMaxNexthop + 1)
    throw std::invalid_argument("max_nexthops must be between 1 and 2097152");
  entries_.reset(new Entry[sizes_.max_nexthops]());
  entries_view_.store(entries_.get(), std::memory_order_release);
  slots_.resize(sizes_.max_nexthops);
  free_entries_.reserve(sizes_.max_nexthops);
  for (uint32_t i = sizes_.max_nexthops; i-- > 0;) free_entries_.push_back(i);
}

Fib::~Fib() {
  // Every reader is gone (the last user holds no worker any more).
  writers_.clear();
  deferred_.clear();
}

std::string Fib::lpm_name(char kind) {
  // Short (DPDK derives other names from it) and unique in the process, even
  // with several Fib objects (the address) and rebuilt tables (the sequence).
  char buf[24];
  std::snprintf(buf, sizeof buf, "w%08x%c%x", static_cast<unsigned>(reinterpret_cast<uintptr_t>(this) >> 4), kind,
                lpm_seq_++ & 0xffff);
  return buf;
}

FibTable* Fib::table(uint32_t id) {
  auto it = writers_.find(id);
  if (it != writers_.end()) return it->second.view;
  if (writers_.size() >= sizes_.max_tables) return nullptr;
  views_.push_back(std::make_unique<FibTable>());
  views_.back()->id = id;
  Writer& w = writers_[id];
  w.view = views_.back().get();
  return w.view;
}

std::string Fib::ensure_v4(Writer& w) {
  if (w.v4) return {};
  try {
    w.v4 = std::make_unique<Lpm4>(lpm_name('4'), socket_, sizes_.max_routes, sizes_.tbl8, rcu_);
  } catch (const std::exception& e) {
    counters_.alloc_failed++;
    return e.what();
  }
  w.view->v4.store(w.v4->lpm(), std::memory_order_release);
  return {};
}

std::string Fib::ensure_v6(Writer& w) {
  if (w.v6) return {};
  try {
    w.v6 = std::make_unique<Lpm6Pair>(lpm_name('6'), socket_, sizes_.max_routes6, sizes_.tbl8_6, rcu_, &w.view->v6,
                                      &w.view->v6_default);
  } catch (const std::exception& e) {
    counters_.alloc_failed++;
    return e.what();
  }
  return {};
}

uint16_t Fib::iface_id(const std::string& name) {
  for (size_t i = 0; i < iface_names_.size(); i++)
    if (iface_names_[i] == name) return static_cast<uint16_t>(i);
  if (iface_names_.size() >= kMaxIfaces) throw std::length_error("more than 256 interface names in one FIB");
  iface_names_.push_back(name);
  return static_cast<uint16_t>(iface_names_.size() - 1);
}

int64_t Fib::acquire(const Entry& content) {
  char buf[sizeof(Entry)];
  std::string_view key = key_of(content, buf);
  if (auto it = by_content_.find(key); it != by_content_.end()) {
    slots_[it->second].refs++;
    return it->second;
  }
  if (free_entries_.empty()) reclaim();
  if (free_entries_.empty()) return -1;
  uint32_t i = free_entries_.back();
  free_entries_.pop_back();
  // Written before any table points to it; the table stores publish it.
  std::memcpy(&entries_[i], &content, sizeof(Entry));
  std::atomic_thread_fence(std::memory_order_release);
  Slot& s = slots_[i];
  s.refs = 1;
  s.releasing = false;
  s.key.assign(key);
  by_content_.emplace(s.key, i);
  return i;
}

void Fib::release(uint32_t i) {
  Slot& s = slots_[i];
  if (s.refs == 0) return;
  if (--s.refs == 0 && !s.releasing) {
    s.releasing = true;
    released_.push_back(i);
  }
}

std::string Fib::set(uint32_t table_id, const Prefix& p, const Entry& content) {
  counters_.route_sets++;
  if (!table(table_id)) {
    counters_.tables_full++;
    return "more than max_tables (" + std::to_string(sizes_.max_tables) + ") routing tables";
  }
  Writer& w = writers_[table_id];
  std::string err = p.v4() ? ensure_v4(w) : ensure_v6(w);
  if (!err.empty()) return err;
  int64_t idx = acquire(content);
  if (idx < 0) {
    counters_.nexthops_full++;
    return "max_nexthops (" + std::to_string(sizes_.max_nexthops) + ") distinct next hops in use";
  }
  std::optional<uint32_t> old;
  int rc = p.v4() ? w.v4->add(v4_of(p), p.len, static_cast<uint32_t>(idx), &old)
                               : w.v6->add(p.addr.data(), p.len, static_cast<uint32_t>(idx), &old);
  if (rc < 0) {
    release(static_cast<uint32_t>(idx));
    counters_.table_full++;
    if (p.v4())
      return rc == -ENOSPC ? "IPv4 table full (max_routes " + std::to_string(sizes_.max_routes) + ", tbl8 " +
                                 std::to_string(sizes_.tbl8) + ")"
                           : "rejected by the IPv4 table";
    return "IPv6 table full (max_routes6 " + std::to_string(sizes_.max_routes6) + ")";
  }
  if (old) release(*old);
  return {};
}

void Fib::remove(uint32_t table_id, const Prefix& p) {
  counters_.route_removes++;
  auto it = writers_.find(table_id);
  if (it == writers_.end()) return;
  Writer& w = it->second;
  uint32_t old;
  if (p.v4()) {
    if (!w.v4 || !w.v4->find(v4_of(p), p.len, old)) return;
    w.v4->remove(v4_of(p), p.len);
  } else {
    if (!w.v6 || !w.v6->find(p.addr.data(), p.len, old)) return;
    w.v6->remove(p.addr.data(), p.len);
  }
  release(old);
}

void Fib::commit() {
  for (auto& [id, w] : writers_) {
    if (!w.v6 || !w.v6->pending()) continue;
    for (const auto& [k, nh] : w.v6->commit()) {
      // rte_lpm6 ran out of tbl8 groups for this rule.
      counters_.table_full++;
      release(nh);
      char buf[INET6_ADDRSTRLEN];
      inet_ntop(AF_INET6, k.ip.data(), buf, sizeof buf);
      WEFT_LOG(Warning, "FIB: table %u: %s/%u not installed: IPv6 tbl8 groups exhausted (tbl8_6 %u)", id, buf,
               k.depth, sizes_.tbl8_6);
    }
  }
  counters_.commits++;
  // Every table now points where it should: what no route uses any more
  // can be reused once the readers that might still hold it are gone.
  Deferred d;
  for (uint32_t i : released_) {
    Slot& s = slots_[i];
    s.releasing = false;
    if (s.refs) continue;  // taken again within the batch
    by_content_.erase(s.key);
    s.key.clear();
    d.entries.push_back(i);
  }
  released_.clear();
  if (!d.entries.empty()) {
    if (rcu_) {
      d.token = rte_rcu_qsbr_start(rcu_);
      deferred_.push_back(std::move(d));
    } else {
      free_entries_.insert(free_entries_.end(), d.entries.begin(), d.entries.end());
    }
  }
  reclaim();
}

void Fib::defer(std::unique_ptr<Lpm4> v4, std::unique_ptr<Lpm6Pair> v6, std::unique_ptr<Entry[]> entries,
                std::unique_ptr<NeighborTable> neighbors) {
  if (!rcu_) return;  // no concurrent readers: freed now
  Deferred d;
  d.token = rte_rcu_qsbr_start(rcu_);
  d.v4 = std::move(v4);
  d.v6 = std::move(v6);
  d.entry_array = std::move(entries);
  d.neighbors = std::move(neighbors);
  deferred_.push_back(std::move(d));
}

void Fib::reclaim() {
  while (!deferred_.empty() && (!rcu_ || rte_rcu_qsbr_check(rcu_, deferred_.front().token, false) == 1)) {
    auto& d = deferred_.front();
    free_entries_.insert(free_entries_.end(), d.entries.begin(), d.entries.end());
    deferred_.pop_front();
  }
  for (auto& [id, w] : writers_)
    if (w.v4) w.v4->reclaim();
}

bool Fib::reclaim_pending() const {
  if (!deferred_.empty()) return true;
  for (const auto& [id, w] : writers_)
    if (w.v4 && w.v4->tbl8_pending()) return true;
  return false;
}

void Fib::set_neighbors(std::unique_ptr<NeighborTable> n) {
  neighbors_.store(n.get(), std::memory_order_release);
  std::unique_ptr<NeighborTable> old = std::move(neighbors_owned_);
  neighbors_owned_ = std::move(n);
  defer(nullptr, nullptr, nullptr, std::move(old));
}

void Fib::resize(const FibSizes& s) {
  if (s == sizes_) return;
  FibSizes old = sizes_;
  sizes_ = s;
  if (s.max_nexthops > old.max_nexthops) {
    std::unique_ptr<Entry[]> bigger(new Entry[s.max_nexthops]());
    std::memcpy(static_cast<void*>(bigger.get()), entries_.get(), sizeof(Entry) * old.max_nexthops);
    entries_view_.store(bigger.get(), std::memory_order_release);
    std::unique_ptr<Entry[]> prev = std::move(entries_);
    entries_ = std::move(bigger);
    defer(nullptr, nullptr, std::move(prev), nullptr);
    slots_.resize(s.max_nexthops);
    for (uint32_t i = s.max_nexthops; i-- > old.max_nexthops;) free_entries_.push_back(i);
  } else {
    sizes_.max_nexthops = old.max_nexthops;  // entries in use may sit anywhere: never shrink
  }
  if (s.max_routes == old.max_routes && s.tbl8 == old.tbl8 && s.max_routes6 == old.max_routes6 &&
      s.tbl8_6 == old.tbl8_6)
    return;
  // Rebuild each table's LPMs at the new size, fill them, then switch
  // readers over; the old ones go after a grace period.
  std::vector<std::unique_ptr<Lpm6Pair>> old_v6;
  for (auto& [id, w] : writers_) {
    if (w.v4 && (s.max_routes != old.max_routes || s.tbl8 != old.tbl8)) {
      std::unique_ptr<Lpm4> next;
      try {
        next = std::make_unique<Lpm4>(lpm_name('4'), socket_, sizes_.max_routes, sizes_.tbl8, rcu_);
      } catch (const std::exception& e) {
        counters_.alloc_failed++;
        WEFT_LOG(Error, "FIB: table %u: cannot resize the IPv4 table, keeping the old one: %s", id, e.what());
        continue;
      }
      w.v4->for_each([&](uint32_t ip, uint8_t depth, uint32_t nh) {
        if (next->add(ip, depth, nh) < 0) {
          counters_.table_full++;
          release(nh);
        }
      });
      w.view->v4.store(next->lpm(), std::memory_order_release);
      std::swap(w.v4, next);
      defer(std::move(next), nullptr, nullptr, nullptr);
    }
    if (w.v6 && (s.max_routes6 != old.max_routes6 || s.tbl8_6 != old.tbl8_6)) {
      std::unique_ptr<Lpm6Pair> prev = std::move(w.v6);
      if (std::string err = ensure_v6(w); !err.empty()) {
        WEFT_LOG(Error, "FIB: table %u: cannot resize the IPv6 table, keeping the old one: %s", id, err.c_str());
        w.v6 = std::move(prev);
        continue;
      }
      Lpm6Pair& next6 = *w.v6;  // clang 14 does not capture structured bindings
      prev->for_each([&](const Key6& k, uint32_t nh) {
        if (next6.add(k.ip.data(), k.depth, nh) < 0) {
          counters_.table_full++;
          release(nh);
        }
      });
      old_v6.push_back(std::move(prev));
    }
  }
  commit();  // publishes the new IPv6 copies (and waits for readers of the old)
  for (auto& p : old_v6) defer(nullptr, std::move(p), nullptr, nullptr);
}

const Entry* Fib::entry_of(uint32_t table_id, const Prefix& p) const {
  auto it = writers_.find(table_id);
  if (it == writers_.end()) return nullptr;
  uint32_t nh;
  if (p.v4()) {
    if (!it->second.v4 || !it->second.v4->find(v4_of(p), p.len, nh)) return nullptr;
  } else {
    if (!it->second.v6 || !it->second.v6->find(p.addr.data(), p.len, nh)) return nullptr;
  }
  return &entries_[nh];
}

size_t Fib::routes4() const {
  size_t n = 0;
  for (const auto& [id, w] : writers_)
    if (w.v4) n += w.v4->rules();
  return n;
}

size_t Fib::routes6() const {
  size_t n = 0;
  for (const auto& [id, w] : writers_)
    if (w.v6) n += w.v6->rules();
  return n;
}

std::vector<uint32_t> Fib::table_ids() const {
  std::vector<uint32_t> ids;
  for (const auto& [id, w] : writers_) ids.push_back(id);
  return ids;
}

}  // namespace weft::route

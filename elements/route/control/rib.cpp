#include "rib.hpp"

#include <algorithm>
#include <cstring>
#include <optional>

namespace weft::route {

bool Rib::resolve_nhid(uint32_t id, std::vector<NextHop>& out, bool& blackhole) const {
  auto it = nexthops_.find(id);
  if (it == nexthops_.end()) return false;
  const NexthopUpdate& n = it->second.update;
  if (n.blackhole) {
    blackhole = true;
    return true;
  }
  if (n.group.empty()) {
    out.push_back(n.nexthop);
    return true;
  }
  for (const auto& [member, weight] : n.group) {
    auto m = nexthops_.find(member);
    if (m == nexthops_.end() || !m->second.update.group.empty()) continue;  // groups do not nest
    if (m->second.update.blackhole) {
      blackhole = true;
      continue;
    }
    NextHop nh = m->second.update.nexthop;
    nh.weight = weight;
    out.push_back(nh);
  }
  return !out.empty() || blackhole;
}

size_t Rib::KeyHash::operator()(const Key& k) const {
  // FNV-1a over what makes the key; cheap and well spread for prefixes.
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](uint64_t v) {
    h ^= v;
    h *= 1099511628211ull;
  };
  mix(k.table);
  mix(static_cast<uint64_t>(k.prefix.addr.version) << 8 | k.prefix.len);
  uint64_t a, b;
  std::memcpy(&a, k.prefix.addr.data(), 8);
  std::memcpy(&b, k.prefix.addr.data() + 8, 8);
  mix(a);
  mix(b);
  return static_cast<size_t>(h ^ (h >> 29));
}

void Rib::resolve(const Key& k) {
  auto it = routes_.find(k);
  if (it != routes_.end()) resolve(k, &it->second);
}

// Recomputes what route `r` (of key k) resolves to and reports a change.
void Rib::resolve(const Key& k, Route* route) {
  const RouteUpdate& u = route->update;
  Resolved now;
  now.type = u.type;
  now.metric = u.metric;
  now.protocol = u.protocol;
  bool ok = true;
  if (u.type == RouteType::Unicast) {
    if (u.nhid) {
      bool blackhole = false;
      ok = resolve_nhid(u.nhid, now.nexthops, blackhole);
      if (ok && blackhole && now.nexthops.empty()) now.type = RouteType::Blackhole;
    } else {
      now.nexthops = u.nexthops;
      ok = !now.nexthops.empty();
    }
  }
  if (!ok) {
    if (!route->has_resolved) return;
    route->has_resolved = false;
    route->resolved = {};
    resolved_count_--;
    if (on_change) on_change(k, nullptr);
    return;
  }
  if (route->has_resolved && route->resolved == now) return;
  if (!route->has_resolved) resolved_count_++;
  route->has_resolved = true;
  route->resolved = std::move(now);
  if (on_change) on_change(k, &route->resolved);
}

void Rib::apply(const RouteUpdate& u) {
  Key k{u.table, u.dst};
  if (!u.add) {
    auto it = routes_.find(k);
    if (it == routes_.end()) return;
    if (resyncing_ && it->second.stale) return;  // decided at the end of the resync
    erase_route(k);
    return;
  }
  auto [it, inserted] = routes_.try_emplace(k);
  const uint32_t old = inserted ? 0 : it->second.update.nhid;
  if (u.nhid && old != u.nhid) users_[u.nhid].push_back(k);
  it->second.update = u;
  it->second.stale = false;
  resolve(k, &it->second);
}

void Rib::apply(const NexthopUpdate& u) {
  if (u.add) {
    nexthops_[u.id] = {u, false};
  } else {
    auto it = nexthops_.find(u.id);
    if (it == nexthops_.end()) return;
    if (resyncing_ && it->second.stale) return;  // decided at the end of the resync
    nexthops_.erase(it);
  }
  rewalk(u.id);
}

void Rib::erase_route(const Key& k) {
  auto it = routes_.find(k);
  if (it == routes_.end()) return;
  bool was = it->second.has_resolved;
  if (was) resolved_count_--;
  routes_.erase(it);
  if (was && on_change) on_change(k, nullptr);
}

void Rib::erase_nexthop(uint32_t id) {
  if (nexthops_.erase(id)) rewalk(id);
}

void Rib::rewalk(uint32_t id) {
  // Re-resolve every route that uses this nexthop, directly or in a group
  // (resolve() leaves users_ alone, so the sets can be walked in place).
  auto walk = [&](uint32_t nh) {
    auto us = users_.find(nh);
    if (us == users_.end()) return;
    std::vector<Key>& keys = us->second;
    size_t kept = 0;
    for (size_t i = 0; i < keys.size(); i++) {
      auto r = routes_.find(keys[i]);
      if (r == routes_.end() || r->second.update.nhid != nh) continue;  // gone or moved on
      resolve(keys[i], &r->second);
      keys[kept++] = keys[i];
    }
    keys.resize(kept);
    if (keys.empty()) users_.erase(us);
  };
  walk(id);
  for (const auto& [gid, g] : nexthops_)
    for (const auto& [member, w] : g.update.group)
      if (member == id) {
        walk(gid);
        break;
      }
}

void Rib::begin_resync() {
  resyncing_ = true;
  for (auto& [k, r] : routes_) r.stale = true;
  for (auto& [id, n] : nexthops_) n.stale = true;
}

size_t Rib::end_resync() {
  resyncing_ = false;
  std::vector<Key> gone;
  for (const auto& [k, r] : routes_)
    if (r.stale) gone.push_back(k);
  std::vector<uint32_t> gone_nh;
  for (const auto& [id, n] : nexthops_)
    if (n.stale) gone_nh.push_back(id);
  for (const auto& k : gone) erase_route(k);
  for (uint32_t id : gone_nh) erase_nexthop(id);
  return gone.size();
}

void Rib::reserve(size_t routes) { routes_.reserve(routes); }

std::vector<Rib::Key> Rib::sorted_keys() const {
  std::vector<Key> keys;
  keys.reserve(resolved_count_);
  for (const auto& [k, r] : routes_)
    if (r.has_resolved) keys.push_back(k);
  std::sort(keys.begin(), keys.end());
  return keys;
}

size_t Rib::sweep(uint8_t protocol) {
  std::vector<Key> gone;
  for (const auto& [k, r] : routes_)
    if (r.stale && r.update.protocol == protocol) gone.push_back(k);
  for (const auto& k : gone) erase_route(k);
  return gone.size();
}

std::set<uint8_t> Rib::protocols() const {
  std::set<uint8_t> p;
  for (const auto& [k, r] : routes_) p.insert(r.update.protocol);
  return p;
}

const Resolved* Rib::find(const Key& k) const {
  auto it = routes_.find(k);
  return it == routes_.end() || !it->second.has_resolved ? nullptr : &it->second.resolved;
}

}  // namespace weft::route

#include "rib.hpp"

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

void Rib::resolve(const Key& k) {
  std::optional<Resolved> now;
  if (auto it = routes_.find(k); it != routes_.end()) {
    const RouteUpdate& u = it->second.update;
    Resolved r;
    r.type = u.type;
    r.metric = u.metric;
    r.protocol = u.protocol;
    bool ok = true;
    if (u.type == RouteType::Unicast) {
      if (u.nhid) {
        bool blackhole = false;
        ok = resolve_nhid(u.nhid, r.nexthops, blackhole);
        if (ok && blackhole && r.nexthops.empty()) r.type = RouteType::Blackhole;
      } else {
        r.nexthops = u.nexthops;
        ok = !r.nexthops.empty();
      }
    }
    if (ok) now = r;
  }
  auto old = resolved_.find(k);
  if (!now) {
    if (old == resolved_.end()) return;
    resolved_.erase(old);
    if (on_change) on_change(k, nullptr);
    return;
  }
  if (old != resolved_.end() && old->second == *now) return;
  resolved_[k] = *now;
  if (on_change) on_change(k, &resolved_[k]);
}

void Rib::apply(const RouteUpdate& u) {
  Key k{u.table, u.dst};
  auto it = routes_.find(k);
  if (it != routes_.end() && it->second.update.nhid) users_[it->second.update.nhid].erase(k);
  if (u.add) {
    routes_[k] = {u, false};
    if (u.nhid) users_[u.nhid].insert(k);
  } else if (it != routes_.end()) {
    routes_.erase(it);
  }
  resolve(k);
}

void Rib::apply(const NexthopUpdate& u) {
  if (u.add) nexthops_[u.id] = {u, false};
  else nexthops_.erase(u.id);
  // Re-resolve every route that uses this nexthop, directly or in a group.
  std::set<Key> affected = users_[u.id];
  for (const auto& [gid, g] : nexthops_)
    for (const auto& [member, w] : g.update.group)
      if (member == u.id) affected.insert(users_[gid].begin(), users_[gid].end());
  for (const auto& k : affected) resolve(k);
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
  for (const auto& k : gone) {
    RouteUpdate del;
    del.add = false;
    del.table = k.table;
    del.dst = k.prefix;
    apply(del);
  }
  for (uint32_t id : gone_nh) {
    NexthopUpdate del;
    del.add = false;
    del.id = id;
    apply(del);
  }
  return gone.size();
}

const Resolved* Rib::find(const Key& k) const {
  auto it = resolved_.find(k);
  return it == resolved_.end() ? nullptr : &it->second;
}

}  // namespace weft::route

// Rib: the routes zebra sent, reconciled.
//
// Routes are keyed by (table, prefix); a route names its next hops directly
// or through a nexthop object (RTA_NH_ID, zebra's default), which may be a
// group. Every change to what a prefix resolves to is reported through
// on_change, so a FIB can follow.
//
// zebra replays its whole table every time it (re)connects. begin_resync()
// marks everything stale; whatever the replay re-sends is fresh again, and
// end_resync() withdraws what is still stale. Until then the old routes keep
// forwarding: a restarting zebra never empties the FIB.
#pragma once

#include <functional>
#include <map>
#include <set>
#include <vector>

#include "fpm.hpp"

namespace weft::route {

struct Resolved {
  RouteType type = RouteType::Unicast;
  uint32_t metric = 0;
  uint8_t protocol = 0;
  std::vector<NextHop> nexthops;  // empty for blackhole/unreachable/prohibit
  bool operator==(const Resolved& o) const {
    return type == o.type && metric == o.metric && protocol == o.protocol && nexthops == o.nexthops;
  }
};

class Rib {
 public:
  struct Key {
    uint32_t table;
    Prefix prefix;
    bool operator<(const Key& o) const { return table != o.table ? table < o.table : prefix < o.prefix; }
  };
  // `r` is null when the prefix no longer resolves (withdrawn).
  std::function<void(const Key&, const Resolved* r)> on_change;

  void apply(const RouteUpdate& u);
  void apply(const NexthopUpdate& u);
  void begin_resync();
  // Withdraws what the replay did not re-send; returns how many routes.
  size_t end_resync();
  bool resyncing() const { return resyncing_; }

  // What a prefix resolves to now (null: nothing).
  const Resolved* find(const Key& k) const;
  const std::map<Key, Resolved>& resolved() const { return resolved_; }
  size_t route_count() const { return routes_.size(); }
  size_t nexthop_count() const { return nexthops_.size(); }

 private:
  struct Route {
    RouteUpdate update;
    bool stale = false;
  };
  struct Nexthop {
    NexthopUpdate update;
    bool stale = false;
  };
  void resolve(const Key& k);
  bool resolve_nhid(uint32_t id, std::vector<NextHop>& out, bool& blackhole) const;

  std::map<Key, Route> routes_;
  std::map<uint32_t, Nexthop> nexthops_;
  std::map<uint32_t, std::set<Key>> users_;  // nexthop id -> routes using it (directly or via a group)
  std::map<Key, Resolved> resolved_;
  bool resyncing_ = false;
};

}  // namespace weft::route

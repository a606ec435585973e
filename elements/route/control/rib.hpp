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
// forwarding: a restarting zebra never empties the FIB. A restarted zebra
// also deletes what it finds left over from its previous run (its own
// routes and nexthop objects, read back from the kernel) before its daemons
// have re-sent them: during a resync, a delete of a route or nexthop object
// that is still stale is not applied at once — it stays stale, and goes at
// the end of the resync unless re-sent meanwhile.
#pragma once

#include <functional>
#include <map>
#include <set>
#include <unordered_map>
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
    bool operator==(const Key& o) const { return table == o.table && prefix == o.prefix; }
  };
  struct KeyHash {
    size_t operator()(const Key& k) const;
  };

 private:
  struct Route {
    RouteUpdate update;
    bool stale = false;
    bool has_resolved = false;
    Resolved resolved;  // what the route resolves to now, if has_resolved
  };
  // One hash map holds each route and what it resolves to: a full table is
  // a million routes, and each update costs one lookup (ordered maps, and a
  // second map for the resolved view, made ingest several times slower).
  using RouteMap = std::unordered_map<Key, Route, KeyHash>;

 public:
  // The routes that resolve, as (key, resolved) pairs, in no particular
  // order (sorted_keys() for order).
  class ResolvedView {
   public:
    class iterator {
     public:
      using value_type = std::pair<const Key&, const Resolved&>;
      iterator(RouteMap::const_iterator it, RouteMap::const_iterator end) : it_(it), end_(end) { skip(); }
      value_type operator*() const { return {it_->first, it_->second.resolved}; }
      iterator& operator++() {
        ++it_;
        skip();
        return *this;
      }
      bool operator==(const iterator& o) const { return it_ == o.it_; }
      bool operator!=(const iterator& o) const { return it_ != o.it_; }

     private:
      void skip() {
        while (it_ != end_ && !it_->second.has_resolved) ++it_;
      }
      RouteMap::const_iterator it_, end_;
    };
    ResolvedView(const RouteMap& m, size_t n) : m_(m), n_(n) {}
    iterator begin() const { return {m_.begin(), m_.end()}; }
    iterator end() const { return {m_.end(), m_.end()}; }
    size_t size() const { return n_; }
    bool empty() const { return n_ == 0; }

   private:
    const RouteMap& m_;
    size_t n_;
  };
  // `r` is null when the prefix no longer resolves (withdrawn).
  std::function<void(const Key&, const Resolved* r)> on_change;

  void apply(const RouteUpdate& u);
  void apply(const NexthopUpdate& u);
  void begin_resync();
  // Withdraws what the replay did not re-send; returns how many routes.
  size_t end_resync();
  // Withdraws the stale routes of one protocol (zebra's rtm_protocol) whose
  // replay is over; the resync goes on for the others. Returns how many.
  size_t sweep(uint8_t protocol);
  // The protocols of the routes held now.
  std::set<uint8_t> protocols() const;
  bool resyncing() const { return resyncing_; }
  // Sizes the tables for about `routes` routes (saves rehashing while a
  // full table arrives).
  void reserve(size_t routes);

  // What a prefix resolves to now (null: nothing).
  const Resolved* find(const Key& k) const;
  // Every route that resolves, in no particular order (sorted_keys() for order).
  ResolvedView resolved() const { return {routes_, resolved_count_}; }
  std::vector<Key> sorted_keys() const;
  size_t route_count() const { return routes_.size(); }
  size_t nexthop_count() const { return nexthops_.size(); }

 private:
  struct Nexthop {
    NexthopUpdate update;
    bool stale = false;
  };
  void resolve(const Key& k);
  void resolve(const Key& k, Route* r);
  void erase_route(const Key& k);
  void erase_nexthop(uint32_t id);
  void rewalk(uint32_t id);  // re-resolves the routes using nexthop `id`
  bool resolve_nhid(uint32_t id, std::vector<NextHop>& out, bool& blackhole) const;

  RouteMap routes_;
  std::map<uint32_t, Nexthop> nexthops_;
  // nexthop id -> routes that named it (directly). Appended to, never erased
  // from on the update path: a walk skips (and drops) routes that moved on.
  std::unordered_map<uint32_t, std::vector<Key>> users_;
  size_t resolved_count_ = 0;
  bool resyncing_ = false;
};

}  // namespace weft::route

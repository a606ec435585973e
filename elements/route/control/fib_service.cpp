#include "control/fib_service.hpp"

#include <set>

namespace weft::route {

namespace {

uint32_t positive(const Params& p, const char* name, uint64_t max) {
  uint64_t v = p.get<uint64_t>(name);
  if (v == 0 || v > max)
    throw ConfigError(p.mark(name), std::string(name) + ": expected 1.." + std::to_string(max));
  return static_cast<uint32_t>(v);
}

double seconds(const Params& p, const char* name) {
  double v = p.get<double>(name);
  if (!(v > 0) || v > 3600) throw ConfigError(p.mark(name), std::string(name) + ": expected seconds, above 0 and at most 3600");
  return v;
}

}  // namespace

const ServiceClass& FibService::klass() {
  static const ServiceClass k =
      ServiceClass::make<FibService>("Fib")
          .describe("Routes from FRR: an FPM server for zebra feeding the FIB that IpLookup elements read.",
                    "It runs, on the control thread, an FPM server (zebra "
                    "-M dplane_fpm_nl connects to it) and keeps the routes zebra sends in DPDK LPM tables "
                    "(rte_lpm, rte_lpm6; one pair per routing table) that every worker's IpLookup reads "
                    "lock-free. zebra replays its table on each connection: routes it does not re-send are "
                    "withdrawn when the replay ends — per protocol (connected, static, bgp...), `quiet` "
                    "seconds after its last route; for good, when every protocol that had routes is done or "
                    "`grace` seconds after the connection. `routerctl routes` lists the routes; `routerctl service "
                    "NAME` shows the connection and counters. Routes inside fe80::/10 and 169.254.0.0/16 (zebra's "
                    "fe80::/64 of every interface) are ignored and counted: link-local destinations are never "
                    "routed. See docs/routing.md.")
          .param("listen", ParamType::String, "\"127.0.0.1:2620\"", "FPM listen address, e.g. 127.0.0.1:2620 or [::1]:2620; none: no FPM server (a router whose "
                 "routes are its interfaces' subnets, interfaces_from)")
          .param("grace", ParamType::Double, "10", "seconds after a zebra (re)connection at most before stale routes go")
          .param("quiet", ParamType::Double, "1", "seconds without a new route from a protocol that end its replay")
          .param("max_routes", ParamType::UInt, "1048576", "IPv4 routes per routing table")
          .param("max_routes6", ParamType::UInt, "65536", "IPv6 routes per routing table")
          .param("tbl8", ParamType::UInt, "65536", "IPv4 tbl8 groups per table (routes longer than /24), 1 KiB each")
          .param("tbl8_6", ParamType::UInt, "32768", "IPv6 tbl8 groups per table (two copies), 1 KiB each")
          .param("max_nexthops", ParamType::UInt, "16384", "distinct next-hop entries (routes share them)")
          .param("max_tables", ParamType::UInt, "16", "routing tables (zebra table ids / VRFs)")
          .param("interfaces", ParamType::List, "[]",
                 "[{ifindex: N or ifname: NAME, output: NAME, mac: MAC}]: zebra's outgoing interface to an "
                 "IpLookup output and the source MAC")
          .param("neighbors", ParamType::List, "[]", "[{ip: ADDRESS, mac: MAC}]: next-hop MAC addresses (static)")
          .uses_optional<InterfacesHandle>(
              "interfaces_from",
              "an Interfaces service: each of its interfaces with a host path (`host: IFNAME`) maps zebra's "
              "interface of that name to the IpLookup output of the interface's name, with its MAC (no "
              "`interfaces` list needed); the interfaces' subnets are routed to them (connected routes, "
              "unless zebra sends the same prefix); next hops are resolved by IpLookup's `interfaces`")
          .provides<FibHandle>("the routing tables IpLookup reads (rte_lpm/rte_lpm6 per table)",
                               [](FibService& s) { return std::shared_ptr<FibHandle>(s.core_, &s.core_->handle()); })
          .command("routes", "[prefix=P] [table=N]", "the routes zebra sent, as installed in the FIB (within prefix P)",
                   [](FibService& s, const nlohmann::json& a) { return s.core_->routes(a); })
          .command("lookup", "address=A [table=N]", "the route address A takes",
                   [](FibService& s, const nlohmann::json& a) { return s.core_->lookup(a); })
          .metric("weft_fib_routes", MetricType::Gauge, "routes installed in the FIB, per routing table and family",
                  {"table", "family"},
                  [](const FibService& s, MetricSink& out) {
                    if (!s.core_) return;
                    for (const auto& [id, w] : s.core_->fib().writers()) {
                      const std::string table = std::to_string(id);
                      out.sample({table, "ipv4"}, w.v4 ? double(w.v4->rules()) : 0.0);
                      out.sample({table, "ipv6"}, w.v6 ? double(w.v6->rules()) : 0.0);
                    }
                  })
          .metric("weft_fib_nexthop_entries", MetricType::Gauge, "distinct next-hop entries the routes use",
                  [](const FibService& s) { return s.core_ ? s.core_->fib().entries_used() : 0; })
          .metric("weft_fib_routes_refused_total", MetricType::Counter,
                  "routes zebra sent that the FIB could not install (a table full, no interface...)",
                  [](const FibService& s) { return s.status().value("fib", nlohmann::json::object())
                                                .value("refused", nlohmann::json::object()).value("total", 0ull); })
          .metric("weft_fib_routes_ignored_total", MetricType::Counter,
                  "route messages from zebra ignored, by reason: link_local (a prefix inside fe80::/10 or "
                  "169.254.0.0/16, never routed: zebra's per-interface fe80::/64)",
                  {"reason"},
                  [](const FibService& s, MetricSink& out) {
                    out.sample({"link_local"}, s.core_ ? double(s.core_->ignored_link_local()) : 0.0);
                  })
          .metric("weft_fib_capacity_errors_total", MetricType::Counter,
                  "routes refused for a size limit, by which: table_full (max_routes), nexthops_full, tables_full, "
                  "alloc_failed (DPDK memory)",
                  {"reason"},
                  [](const FibService& s, MetricSink& out) {
                    if (!s.core_) return;
                    const FibCounters& c = s.core_->fib().counters();
                    out.sample({"table_full"}, double(c.table_full));
                    out.sample({"nexthops_full"}, double(c.nexthops_full));
                    out.sample({"tables_full"}, double(c.tables_full));
                    out.sample({"alloc_failed"}, double(c.alloc_failed));
                  })
          .metric("weft_fib_fpm_connected", MetricType::Gauge, "1 while zebra is connected over FPM",
                  [](const FibService& s) { return s.core_ && s.core_->connected(); })
          .metric("weft_fib_fpm_listening", MetricType::Gauge, "1 while the FPM server listens (0: not started, or an error)",
                  [](const FibService& s) { return s.core_ && s.core_->started() && s.core_->port() != 0; })
          .metric("weft_fib_fpm_connections_total", MetricType::Counter, "FPM connections zebra opened",
                  [](const FibService& s) { return s.status().value("connections", 0ull); })
          .metric("weft_fib_fpm_disconnects_total", MetricType::Counter, "FPM connections that ended",
                  [](const FibService& s) { return s.status().value("disconnects", 0ull); })
          .metric("weft_fib_fpm_received_bytes_total", MetricType::Counter, "bytes received over FPM",
                  [](const FibService& s) { return s.core_ ? s.core_->fpm_counters().bytes : 0; })
          .metric("weft_fib_fpm_messages_total", MetricType::Counter,
                  "netlink messages received over FPM, by type: new_route, del_route, new_nexthop, del_nexthop, other",
                  {"type"},
                  [](const FibService& s, MetricSink& out) {
                    if (!s.core_) return;
                    const FpmCounters& c = s.core_->fpm_counters();
                    out.sample({"new_route"}, double(c.new_route));
                    out.sample({"del_route"}, double(c.del_route));
                    out.sample({"new_nexthop"}, double(c.new_nexthop));
                    out.sample({"del_nexthop"}, double(c.del_nexthop));
                    out.sample({"other"}, double(c.other_messages));
                  })
          .metric("weft_fib_fpm_errors_total", MetricType::Counter,
                  "FPM input errors: framing (the connection is closed), message (one message dropped)", {"kind"},
                  [](const FibService& s, MetricSink& out) {
                    if (!s.core_) return;
                    const FpmCounters& c = s.core_->fpm_counters();
                    out.sample({"framing"}, double(c.framing_errors));
                    out.sample({"message"}, double(c.message_errors));
                  })
          .metric("weft_fib_resyncing", MetricType::Gauge, "1 while zebra replays its table after a (re)connection",
                  [](const FibService& s) { return s.core_ && s.core_->resyncing(); })
          .metric("weft_fib_resyncs_total", MetricType::Counter, "replays of zebra's table completed",
                  [](const FibService& s) { return s.core_ ? s.core_->resyncs() : 0; });
  return k;
}

FibConfig parse_fib_config(const Params& p) {
  FibConfig c;
  c.listen = p.get<std::string>("listen");
  std::string host;
  uint16_t port;
  if (c.listen != FibConfig::kNoListen && !FibConfig::parse_listen(c.listen, host, port))
    throw ConfigError(p.mark("listen"), "listen: expected ADDRESS:PORT, e.g. 127.0.0.1:2620 or [::1]:2620, or none");
  c.grace_s = seconds(p, "grace");
  c.quiet_s = seconds(p, "quiet");
  c.sizes.max_routes = positive(p, "max_routes", 1u << 24);
  c.sizes.max_routes6 = positive(p, "max_routes6", 1u << 24);
  c.sizes.tbl8 = positive(p, "tbl8", 1u << 24);
  c.sizes.tbl8_6 = positive(p, "tbl8_6", 1u << 24);
  c.sizes.max_nexthops = positive(p, "max_nexthops", Lpm6Pair::kMaxNexthop + 1);
  c.sizes.max_tables = positive(p, "max_tables", 4096);

  std::set<uint32_t> ifindexes;
  std::set<std::string> ifnames;
  for (const ParamValue& i : p.value("interfaces").items()) {
    i.only_keys({"ifindex", "ifname", "output", "mac"}, "interfaces");
    FibConfig::Interface x;
    if (i["ifindex"].defined() && i["ifname"].defined())
      throw ConfigError(i.mark(), "interfaces: give ifindex or ifname, not both");
    if (ParamValue n = i["ifindex"]; n.defined()) {
      const uint32_t v = n.as<uint32_t>("ifindex");
      if (v == 0) throw ConfigError(n.mark(), "ifindex: expected a positive number");
      x.ifindex = v;
      if (!ifindexes.insert(v).second) throw ConfigError(n.mark(), "ifindex " + std::to_string(v) + " listed twice");
    } else if (ParamValue n2 = i["ifname"]; n2.defined()) {
      x.ifname = n2.as<std::string>("ifname");
      if (x.ifname.empty() || x.ifname.size() >= 16)
        throw ConfigError(n2.mark(), "ifname: expected an interface name (at most 15 characters)");
      if (!ifnames.insert(x.ifname).second) throw ConfigError(n2.mark(), "ifname " + x.ifname + " listed twice");
    } else {
      throw ConfigError(i.mark(), "interfaces: each item needs ifindex or ifname");
    }
    ParamValue out = i["output"];
    if (!out.defined()) throw ConfigError(i.mark(), "interfaces: each item needs output: NAME (an IpLookup output)");
    x.output = out.as<std::string>("output");
    if (x.output.empty()) throw ConfigError(out.mark(), "interfaces: each item needs output: NAME (an IpLookup output)");
    ParamValue mac = i["mac"];
    if (!mac.defined()) throw ConfigError(i.mark(), "interfaces: each item needs mac: the source MAC for packets sent there");
    x.mac = mac.as<Mac>("mac");
    c.interfaces.push_back(x);
  }
  for (const ParamValue& n : p.value("neighbors").items()) {
    n.only_keys({"ip", "mac"}, "neighbors");
    if (!n["ip"].defined() || !n["mac"].defined()) throw ConfigError(n.mark(), "neighbors: each item is {ip: ADDRESS, mac: MAC}");
    c.neighbors.push_back({n["ip"].as<IpAddr>("ip"), n["mac"].as<Mac>("mac")});
  }
  return c;
}

void FibService::configure(ServiceConfigContext& ctx) {
  cfg_ = parse_fib_config(ctx.params());
  from_interfaces_ = ctx.params().given("interfaces_from");
}

FibConfig FibService::effective() const {
  FibConfig c = cfg_;
  if (!ifs_) return c;
  std::set<std::string> listed;
  for (const auto& i : c.interfaces) listed.insert(i.ifname);
  c.dynamic_neighbors = true;
  for (const Interface& i : ifs_->interfaces()->all()) {
    for (const Prefix& p : i.addresses) c.connected.push_back({p.network(), i.name, i.mac});
    if (i.host_ifname.empty() || listed.count(i.host_ifname)) continue;
    FibConfig::Interface x;
    x.ifname = i.host_ifname;
    x.output = i.name;
    x.mac = i.mac;
    c.interfaces.push_back(x);
  }
  return c;
}

void FibService::initialize(ServiceInitContext& ctx) {
  if (from_interfaces_) ifs_ = ctx.service<const InterfacesHandle>("interfaces_from");
  core_ = std::make_shared<FibControl>(ctx.rcu(), ctx.socket());
  core_->configure(effective());
}

StateCarry FibService::take_state(Service& old) {
  auto& from = static_cast<FibService&>(old);
  ifs_ = from_interfaces_ ? from.ifs_ : nullptr;
  core_ = std::move(from.core_);
  try {
    core_->configure(effective());
  } catch (...) {
    from.core_ = std::move(core_);
    throw;
  }
  return StateCarry::kept("routes and zebra's connection kept");
}

void FibService::start(boost::asio::io_context& io) {
  if (core_) core_->start(io);
}

void FibService::stop() {
  if (core_) core_->stop();
}

nlohmann::json FibService::status() const { return core_ ? core_->status() : nlohmann::json::object(); }

ServiceHealth FibService::health() const { return core_ ? core_->health() : ServiceHealth{}; }

}  // namespace weft::route

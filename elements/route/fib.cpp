#include "fib.hpp"

#include <arpa/inet.h>
#include <rte_ether.h>

#include <set>

#include "weft/service.hpp"

namespace weft::route {

namespace {

std::array<uint8_t, 6> mac_of(const YAML::Node& n, const std::string& what) {
  rte_ether_addr a{};
  if (!n.IsScalar() || rte_ether_unformat_addr(n.Scalar().c_str(), &a) != 0)
    throw ConfigError(mark_of(n), what + ": expected a MAC address such as 02:00:00:00:00:01");
  std::array<uint8_t, 6> m;
  std::memcpy(m.data(), a.addr_bytes, 6);
  return m;
}

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

const ElementClass& FibElement::klass() {
  static const ElementClass k =
      ElementClass::make<FibElement>("Fib")
          .describe("Routes from FRR: an FPM server for zebra feeding the FIB that IpLookup elements read.",
                    "A control element (no ports). It runs, on the control thread, an FPM server (zebra "
                    "-M dplane_fpm_nl connects to it) and keeps the routes zebra sends in DPDK LPM tables "
                    "(rte_lpm, rte_lpm6; one pair per routing table) that every worker's IpLookup reads "
                    "lock-free. zebra replays its table on each connection: routes it does not re-send are "
                    "withdrawn when the replay ends — per protocol (connected, static, bgp...), `quiet` "
                    "seconds after its last route; for good, when every protocol that had routes is done or "
                    "`grace` seconds after the connection. `routerctl routes` lists the routes; `routerctl service "
                    "ID:fib status` shows the connection and counters. See docs/routing.md.")
          .param("listen", ParamType::String, "\"127.0.0.1:2620\"", "FPM listen address, e.g. 127.0.0.1:2620 or [::1]:2620")
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
          .param("neighbors", ParamType::List, "[]", "[{ip: ADDRESS, mac: MAC}]: next-hop MAC addresses (static)");
  return k;
}

void FibElement::configure(ConfigContext& ctx) {
  const Params& p = ctx.params();
  FibConfig c;
  c.listen = p.get<std::string>("listen");
  std::string host;
  uint16_t port;
  if (!FibConfig::parse_listen(c.listen, host, port))
    throw ConfigError(p.mark("listen"), "listen: expected ADDRESS:PORT, e.g. 127.0.0.1:2620 or [::1]:2620");
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
  for (const auto& i : p.node("interfaces")) {
    if (!i.IsMap()) throw ConfigError(mark_of(i), "interfaces: each item is {ifindex: N or ifname: NAME, output: NAME, mac: MAC}");
    FibConfig::Interface x;
    for (const auto& kv : i) {
      const std::string k = kv.first.as<std::string>();
      if (k != "ifindex" && k != "ifname" && k != "output" && k != "mac")
        throw ConfigError(mark_of(kv.first), "interfaces: unknown key '" + k + "' (keys: ifindex, ifname, output, mac)");
    }
    if (i["ifindex"] && i["ifname"]) throw ConfigError(mark_of(i), "interfaces: give ifindex or ifname, not both");
    if (auto n = i["ifindex"]) {
      uint64_t v = 0;
      try {
        v = n.as<uint64_t>();
      } catch (const YAML::Exception&) {
        throw ConfigError(mark_of(n), "ifindex: expected a positive number");
      }
      if (v == 0 || v > UINT32_MAX) throw ConfigError(mark_of(n), "ifindex: expected a positive number");
      x.ifindex = static_cast<uint32_t>(v);
      if (!ifindexes.insert(x.ifindex).second) throw ConfigError(mark_of(n), "ifindex " + n.Scalar() + " listed twice");
    } else if (auto n2 = i["ifname"]) {
      if (!n2.IsScalar() || n2.Scalar().empty() || n2.Scalar().size() >= 16)
        throw ConfigError(mark_of(n2), "ifname: expected an interface name (at most 15 characters)");
      x.ifname = n2.Scalar();
      if (!ifnames.insert(x.ifname).second) throw ConfigError(mark_of(n2), "ifname " + x.ifname + " listed twice");
    } else {
      throw ConfigError(mark_of(i), "interfaces: each item needs ifindex or ifname");
    }
    auto out = i["output"];
    if (!out || !out.IsScalar() || out.Scalar().empty())
      throw ConfigError(mark_of(out ? out : YAML::Node(i)), "interfaces: each item needs output: NAME (an IpLookup output)");
    x.output = out.Scalar();
    auto mac = i["mac"];
    if (!mac) throw ConfigError(mark_of(i), "interfaces: each item needs mac: the source MAC for packets sent there");
    x.mac = mac_of(mac, "mac");
    c.interfaces.push_back(x);
  }
  for (const auto& n : p.node("neighbors")) {
    if (!n.IsMap() || !n["ip"] || !n["mac"] || n.size() != 2)
      throw ConfigError(mark_of(n), "neighbors: each item is {ip: ADDRESS, mac: MAC}");
    FibConfig::Neighbor x;
    const std::string ip = n["ip"].IsScalar() ? n["ip"].Scalar() : "";
    if (inet_pton(AF_INET, ip.c_str(), x.addr.data()) == 1) x.family = AF_INET;
    else if (inet_pton(AF_INET6, ip.c_str(), x.addr.data()) == 1) x.family = AF_INET6;
    else throw ConfigError(mark_of(n["ip"]), "ip: '" + ip + "' is not an IPv4 or IPv6 address");
    x.mac = mac_of(n["mac"], "mac");
    c.neighbors.push_back(x);
  }
  cfg_ = c;
}

void FibElement::initialize(InitContext& ctx) {
  rte_rcu_qsbr* rcu = ctx.rcu();
  int socket = ctx.socket();
  // compat "": every element naming this Fib gets this one service, in any
  // order, and a reload keeps it (and zebra's connection) whatever changed.
  service_ = weft::service<FibService>(ctx, service_key(id()), "",
                                       [&] { return std::make_shared<FibService>(rcu, socket); });
  try {
    service_->configure(cfg_);
  } catch (const std::exception& e) {
    throw InitError(std::string("cannot configure the FIB: ") + e.what());
  }
}

StateCarry FibElement::take_state(Element&) {
  return StateCarry::kept("FIB service kept: routes and the zebra connection stay");
}

}  // namespace weft::route

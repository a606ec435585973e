#include "control/interfaces_service.hpp"

#include <map>
#include <set>

namespace weft::route {

namespace {

double seconds(const Params& p, const char* name) {
  double v = p.get<double>(name);
  if (!(v > 0) || v > 86400)
    throw ConfigError(p.mark(name), std::string(name) + ": expected seconds, above 0 and at most 86400");
  return v;
}

unsigned count(const Params& p, const char* name, uint64_t lo, uint64_t hi) {
  uint64_t v = p.get<uint64_t>(name);
  if (v < lo || v > hi)
    throw ConfigError(p.mark(name), std::string(name) + ": expected " + std::to_string(lo) + ".." + std::to_string(hi));
  return static_cast<unsigned>(v);
}

bool special(const Prefix& p) {
  const uint8_t* b = p.addr.data();
  if (p.v4()) return b[0] == 0 || b[0] == 127 || b[0] >= 224;
  return b[0] == 0xff || Ip6::of(b) == Ip6{} || (Ip6::of(b) == *Ip6::parse("::1"));
}

}  // namespace

const ServiceClass& InterfacesService::klass() {
  static const ServiceClass k =
      ServiceClass::make<InterfacesService>("Interfaces")
          .describe("The router's L3 interfaces (addresses, MAC, MTU, VLAN on its ports) and its neighbours, "
                    "resolved with ARP and IPv6 Neighbour Discovery.",
                    "Declares the interfaces IpLookup, ArpNd, IcmpError and the host path use, and keeps one "
                    "neighbour table for all workers (DPDK rte_hash, read lock-free; written by the control "
                    "thread only). Next hops IpLookup cannot resolve are held (`queue` packets per neighbour) "
                    "while this service asks for them: ARP requests (broadcast) or neighbour solicitations "
                    "(to the solicited-node group), `mcast_probes` of them `retrans_time` apart; then the held "
                    "packets leave, or, if nobody answered, each gets an ICMP host unreachable back through the "
                    "interface it came in by and the neighbour is `failed` for `failed_time` seconds. States and "
                    "timers are the kernel's: incomplete, reachable (for 0.5 to 1.5 x `reachable_time`), stale "
                    "(still used; probed `delay_first_probe` seconds after its next use), delay, probe "
                    "(`ucast_probes` unicast probes), failed; and static for `neighbors`. Requests for our "
                    "addresses are answered by the ArpNd elements on the workers; a neighbour is learned from "
                    "requests for us and from answers to our own requests only; an unsolicited advertisement "
                    "updates a neighbour we know and never creates one. Gratuitous ARP and unsolicited "
                    "neighbour advertisements go out when an interface appears or its MAC or addresses change. "
                    "Someone else answering for one of our addresses is logged and counted (conflicts). Each "
                    "interface also has the IPv6 link-local address fe80::/64 of its MAC (modified EUI-64). "
                    "Weft's table drives forwarding; the kernel of the host path keeps its own cache for its own "
                    "traffic, from the same ARP and ND answers (ArpNd copies them to the host). `routerctl "
                    "interfaces` and `routerctl neighbors` list them. See docs/interfaces.md.")
          .param("interfaces", ParamType::List, "[]",
                 "[{name: NAME, port: PORT, addresses: [ADDRESS/LEN...], mac: MAC (default: the port's), "
                 "mtu: N (default: the port's), vlan: ID (default: untagged), host: KERNEL-IFNAME}]; without "
                 "port (an overlay interface whose frames the graph carries, e.g. through VXLAN) mac is "
                 "required and mtu defaults to 1500")
          .param("neighbors", ParamType::List, "[]", "[{interface: NAME, ip: ADDRESS, mac: MAC}]: static neighbours")
          .param("reachable_time", ParamType::Double, "30",
                 "seconds a confirmed neighbour stays reachable (randomized 0.5..1.5 x; the kernel's base_reachable_time)")
          .param("retrans_time", ParamType::Double, "1", "seconds between requests for the same neighbour")
          .param("delay_first_probe", ParamType::Double, "5", "seconds a stale neighbour in use waits before it is probed")
          .param("gc_stale_time", ParamType::Double, "60", "seconds an unused stale neighbour is kept")
          .param("failed_time", ParamType::Double, "20", "seconds a neighbour that did not answer stays failed")
          .param("mcast_probes", ParamType::UInt, "3", "requests (broadcast / solicited-node multicast) before failing")
          .param("ucast_probes", ParamType::UInt, "3", "unicast probes of a known neighbour before failing")
          .param("queue", ParamType::UInt, "16", "packets held per unresolved neighbour (the oldest go first)")
          .param("max_neighbors", ParamType::UInt, "4096", "neighbour table size (fixed while the service runs)")
          .param("max_requests", ParamType::Double, "200",
                 "ARP requests, neighbour solicitations and ICMP unreachables sent per second, all together")
          .provides<InterfacesHandle>("the interfaces and the neighbour table (read lock-free by workers)",
                                      [](InterfacesService& s) { return std::static_pointer_cast<InterfacesHandle>(s.core_); })
          .command("interfaces", "", "the interfaces: addresses, MAC, MTU, link and port counters",
                   [](InterfacesService& s, const nlohmann::json&) { return s.core_->interfaces_json(); })
          .command("neighbors", "[interface=NAME]", "the neighbours: address, MAC, state, age, packets waiting",
                   [](InterfacesService& s, const nlohmann::json& a) { return s.core_->neighbors_json(a); })
          .command("flush", "[interface=NAME]", "forgets learned neighbours (static ones stay)",
                   [](InterfacesService& s, const nlohmann::json& a) {
                     s.core_->flush(a);
                     return nlohmann::json{{"flushed", true}};
                   })
          .metric("weft_neighbors", MetricType::Gauge, "neighbours by state", {"state"},
                  [](const InterfacesService& s, MetricSink& out) {
                    if (!s.core_) return;
                    for (const auto& [st, n] : s.core_->neighbor_states()) out.sample({st}, double(n));
                  })
          .metric("weft_neighbor_requests_total", MetricType::Counter,
                  "ARP requests and neighbour solicitations sent (gratuitous ones apart)",
                  [](const InterfacesService& s) { return s.core_ ? s.core_->counters().requests_sent : 0; })
          .metric("weft_neighbor_gratuitous_total", MetricType::Counter,
                  "gratuitous ARP and unsolicited neighbour advertisements sent",
                  [](const InterfacesService& s) { return s.core_ ? s.core_->counters().gratuitous_sent : 0; })
          .metric("weft_neighbor_resolutions_total", MetricType::Counter, "neighbour resolutions, by result",
                  {"result"},
                  [](const InterfacesService& s, MetricSink& out) {
                    if (!s.core_) return;
                    out.sample({"resolved"}, double(s.core_->counters().resolved));
                    out.sample({"failed"}, double(s.core_->counters().failed));
                  })
          .metric("weft_neighbor_held_packets_total", MetricType::Counter,
                  "packets that waited for a neighbour, by what became of them: released, queue_full (the "
                  "oldest of a full queue), failed (nobody answered; ICMP unreachable sent)",
                  {"result"},
                  [](const InterfacesService& s, MetricSink& out) {
                    if (!s.core_) return;
                    const auto& c = s.core_->counters();
                    out.sample({"released"}, double(c.released));
                    out.sample({"queue_full"}, double(c.queue_full));
                    out.sample({"failed"}, double(c.failed_drops));
                  })
          .metric("weft_neighbor_ring_drops_total", MetricType::Counter,
                  "packets workers could not hand to the control thread, by ring: punt (ARP/ND), hold "
                  "(waiting for a neighbour), tx (what the control thread sends)",
                  {"ring"},
                  [](const InterfacesService& s, MetricSink& out) {
                    if (!s.core_) return;
                    out.sample({"punt"}, double(s.core_->ring_counters().punt_full.load()));
                    out.sample({"hold"}, double(s.core_->ring_counters().hold_full.load()));
                    out.sample({"tx"}, double(s.core_->counters().tx_full));
                  })
          .metric("weft_neighbor_conflicts_total", MetricType::Counter,
                  "someone else answered for, or claimed, one of our addresses",
                  [](const InterfacesService& s) { return s.core_ ? s.core_->counters().conflicts : 0; })
          .metric("weft_neighbor_icmp_unreachable_total", MetricType::Counter,
                  "ICMP host unreachables sent for packets whose neighbour did not answer",
                  [](const InterfacesService& s) { return s.core_ ? s.core_->counters().unreachable_sent : 0; });
  return k;
}

InterfacesConfig parse_interfaces_config(const Params& p,
                                         const std::function<std::optional<std::string>(const std::string&)>& device_of) {
  InterfacesConfig c;
  c.reachable_time = seconds(p, "reachable_time");
  c.retrans_time = seconds(p, "retrans_time");
  c.delay_first_probe = seconds(p, "delay_first_probe");
  c.gc_stale_time = seconds(p, "gc_stale_time");
  c.failed_time = seconds(p, "failed_time");
  c.mcast_probes = count(p, "mcast_probes", 1, 100);
  c.ucast_probes = count(p, "ucast_probes", 1, 100);
  c.queue = count(p, "queue", 1, 1024);
  c.max_neighbors = count(p, "max_neighbors", 16, 1u << 20);
  c.max_requests_per_s = p.get<double>("max_requests");
  if (!(c.max_requests_per_s >= 1) || c.max_requests_per_s > 1e6)
    throw ConfigError(p.mark("max_requests"), "max_requests: expected 1..1000000 per second");

  std::set<std::string> names;
  std::map<std::pair<std::string, uint16_t>, std::string> on_port;  // (port, vlan) -> interface
  std::vector<std::pair<Prefix, std::string>> all;                   // every address, for overlaps
  std::set<std::string> hosts;
  for (const ParamValue& v : p.value("interfaces").items()) {
    v.only_keys({"name", "port", "addresses", "mac", "mtu", "vlan", "host"}, "interfaces");
    InterfacesConfig::Iface i;
    if (!v["name"].defined()) throw ConfigError(v.mark(), "interfaces: each item needs name: NAME");
    i.name = v["name"].as<std::string>("name");
    if (i.name.empty() || i.name.size() > 63) throw ConfigError(v["name"].mark(), "name: 1 to 63 characters");
    if (!names.insert(i.name).second) throw ConfigError(v["name"].mark(), "interface '" + i.name + "' declared twice");
    // Without a port, the interface's frames come and go through the graph
    // only (an overlay: VXLAN decapsulation in, encapsulation out).
    if (v["port"].defined()) {
      i.port = v["port"].as<std::string>("port");
      const auto dev = device_of(i.port);
      if (!dev) throw ConfigError(v["port"].mark(), "interface " + i.name + ": no port '" + i.port + "' in the graph's ports:");
      i.device = *dev;
    } else if (!v["mac"].defined()) {
      throw ConfigError(v.mark(), "interface " + i.name + ": without port: it needs mac: (no port to take it from)");
    } else if (v["vlan"].defined()) {
      throw ConfigError(v["vlan"].mark(), "interface " + i.name + ": vlan: needs port:");
    }
    if (v["mac"].defined()) {
      i.mac = v["mac"].as<Mac>("mac");
      if (i.mac->multicast() || i.mac->zero())
        throw ConfigError(v["mac"].mark(), "mac: an interface needs a unicast MAC");
    }
    if (v["mtu"].defined()) {
      const uint64_t m = v["mtu"].as<uint64_t>("mtu");
      if (m < 68 || m > 65535) throw ConfigError(v["mtu"].mark(), "mtu: expected 68..65535");
      i.mtu = static_cast<uint16_t>(m);
    }
    if (v["vlan"].defined()) {
      const uint64_t id = v["vlan"].as<uint64_t>("vlan");
      if (id < 1 || id > 4094) throw ConfigError(v["vlan"].mark(), "vlan: expected 1..4094");
      i.vlan = static_cast<uint16_t>(id);
    }
    if (!i.port.empty())
      if (auto [it, fresh] = on_port.emplace(std::make_pair(i.port, i.vlan), i.name); !fresh)
        throw ConfigError(v["port"].mark(), "interface " + i.name + ": port " + i.port +
                                                (i.vlan ? " VLAN " + std::to_string(i.vlan) : std::string(" (untagged)")) +
                                                " already has interface " + it->second);
    if (v["host"].defined()) {
      i.host = v["host"].as<std::string>("host");
      if (i.host.empty() || i.host.size() > 15)
        throw ConfigError(v["host"].mark(), "host: a kernel interface name (1 to 15 characters)");
      if (!hosts.insert(i.host).second)
        throw ConfigError(v["host"].mark(), "host: kernel interface " + i.host + " serves another interface already");
    }
    for (const ParamValue& a : v["addresses"].items()) {
      const Prefix pf = a.as<Prefix>("addresses");
      if (special(pf)) throw ConfigError(a.mark(), "addresses: " + pf.str() + " cannot be an interface address");
      if (pf.len == 0) throw ConfigError(a.mark(), "addresses: " + pf.str() + " needs a prefix length");
      if (pf.v6() && pf.addr.bytes[0] == 0xfe && (pf.addr.bytes[1] & 0xc0) == 0x80)
        throw ConfigError(a.mark(), "addresses: " + pf.str() + ": the link-local address comes from the MAC (fe80::/64, EUI-64)");
      for (const auto& [q, owner] : all) {
        if (q.addr == pf.addr)
          throw ConfigError(a.mark(), "addresses: " + pf.addr.str() + " is already an address of interface " + owner);
        if (q.network().overlaps(pf.network()))
          throw ConfigError(a.mark(), "addresses: " + pf.str() + " overlaps " + q.str() + " of interface " + owner);
      }
      all.emplace_back(pf, i.name);
      i.addresses.push_back(pf);
    }
    c.interfaces.push_back(std::move(i));
  }
  for (const ParamValue& v : p.value("neighbors").items()) {
    v.only_keys({"interface", "ip", "mac"}, "neighbors");
    if (!v["interface"].defined() || !v["ip"].defined() || !v["mac"].defined())
      throw ConfigError(v.mark(), "neighbors: each item is {interface: NAME, ip: ADDRESS, mac: MAC}");
    InterfacesConfig::Static s;
    s.iface = v["interface"].as<std::string>("interface");
    if (!names.count(s.iface)) throw ConfigError(v["interface"].mark(), "neighbors: no interface '" + s.iface + "'");
    s.ip = v["ip"].as<IpAddr>("ip");
    s.mac = v["mac"].as<Mac>("mac");
    if (s.mac.multicast() || s.mac.zero()) throw ConfigError(v["mac"].mark(), "mac: a neighbour needs a unicast MAC");
    c.neighbors.push_back(s);
  }
  return c;
}

void InterfacesService::configure(ServiceConfigContext& ctx) {
  cfg_ = parse_interfaces_config(ctx.params(), [&](const std::string& port) { return ctx.port_device(port); });
}

void InterfacesService::initialize(ServiceInitContext& ctx) {
  auto core = std::make_shared<InterfacesCore>(name(), ctx.rcu(), ctx.socket());
  core->configure(cfg_);
  core_ = std::move(core);
}

StateCarry InterfacesService::take_state(Service& old) {
  auto& from = static_cast<InterfacesService&>(old);
  from.core_->configure(cfg_);  // throws with the running state untouched
  core_ = std::move(from.core_);
  return StateCarry::kept("neighbours and the packets waiting for them kept");
}

void InterfacesService::start(boost::asio::io_context& io) {
  if (core_) core_->start(io);
}

void InterfacesService::stop() {
  if (core_) core_->stop();
}

nlohmann::json InterfacesService::status() const { return core_ ? core_->status() : nlohmann::json::object(); }

ServiceHealth InterfacesService::health() const {
  ServiceHealth h;
  if (!core_) return h;
  const auto& c = core_->counters();
  h.detail = std::to_string(core_->interfaces()->size()) + " interfaces, " + std::to_string(core_->neighbor_count()) +
             " neighbours";
  h.errors = c.conflicts;
  if (!core_->last_conflict().empty()) h.last_error = "address conflict: " + core_->last_conflict();
  return h;
}

}  // namespace weft::route

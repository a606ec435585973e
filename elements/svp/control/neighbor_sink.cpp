#include "control/neighbor_sink.hpp"

#include <set>

namespace weft::svp {

const ServiceClass& NeighborSink::klass() {
  static const ServiceClass k =
      ServiceClass::make<NeighborSink>("NeighborSink")
          .describe("Answer the kernel's neighbour misses (RTM_GETNEIGH) on some links with Portolan's VL3 answers.",
                    "On the control thread it listens on a netlink socket for the kernel's neighbour misses on "
                    "`links` (the kernel sends them when app_solicit > 0 on the link), looks each address up as VL3 "
                    "(address, the link's VNI) through the Svp service `svp` — its cache first, then Portolan — and "
                    "installs the answer with RTM_NEWNEIGH (state REACHABLE, or PERMANENT) and, for links with "
                    "`fdb`, a bridge FDB entry on that VXLAN link pointing the MAC at its underlay address. "
                    "Everything goes over netlink; no command is run. A link's removal (RTM_DELLINK) forgets its "
                    "state; entries Portolan's change log or a SHOOTDOWN invalidates are looked up again and "
                    "replaced or deleted. routerd must run in the links' namespace. See docs/overlay.md.")
          .uses<OverlayResolver>("svp", "the Svp service whose cache and client to use")
          .required("links", ParamType::List, "[{ifname: NAME, vni: N, fdb: VXLAN_LINK (optional)}]")
          .param("permanent", ParamType::Bool, "false", "install PERMANENT neighbour entries instead of REACHABLE")
          .command("entries", "", "the neighbour entries installed, per link",
                   [](NeighborSink& s, const nlohmann::json&) { return s.core_->entries(); })
          .metric("weft_neighbor_entries", MetricType::Gauge, "neighbour entries installed in the kernel, per link",
                  {"link"},
                  [](const NeighborSink& s, MetricSink& out) {
                    for (const auto& l : s.status().value("links", nlohmann::json::array()))
                      out.sample({l.value("ifname", std::string())}, l.value("installed", 0.0));
                  })
          .metric("weft_neighbor_listening", MetricType::Gauge, "1 while the netlink listener runs",
                  [](const NeighborSink& s) { return s.status().value("state", std::string()) == "listening"; })
          .metric("weft_neighbor_events_total", MetricType::Counter,
                  "what the sink did: misses (RTM_GETNEIGH taken), resolved, notfound, failed, installed, "
                  "install_errors, removed, refreshed",
                  {"event"},
                  [](const NeighborSink& s, MetricSink& out) {
                    const nlohmann::json c = s.status().value("counters", nlohmann::json::object());
                    for (const char* ev : {"misses", "resolved", "notfound", "failed", "installed", "install_errors",
                                           "removed", "refreshed"})
                      out.sample({ev}, c.value(ev, 0.0));
                  });
  return k;
}

namespace {

std::string ifname_of(const ParamValue& v, const char* what) {
  const std::string n = v.is_scalar() ? v.text(what) : std::string();
  if (n.empty() || n.size() >= 16)
    throw ConfigError(v.mark(), std::string(what) + ": expected " +
                                    (std::string(what) == "fdb" ? "a VXLAN interface name" : "an interface name") +
                                    " (at most 15 characters)");
  return n;
}

}  // namespace

void NeighborSink::configure(ServiceConfigContext& ctx) {
  const Params& p = ctx.params();
  svp_ = p.get<std::string>("svp");
  NeighborConfig c;
  c.permanent = p.get<bool>("permanent");
  std::set<std::string> names;
  const ParamValue links = p.value("links");
  if (!links.is_list() || links.size() == 0)
    throw ConfigError(p.mark("links"), "links: expected a list such as [{ifname: eth1, vni: 100}]");
  for (const ParamValue& l : links.items()) {
    if (!l.is_map()) throw ConfigError(l.mark(), "links: each item is {ifname: NAME, vni: N, fdb: VXLAN_LINK}");
    l.only_keys({"ifname", "vni", "fdb"}, "links");
    NeighborLink x;
    const ParamValue name = l["ifname"];
    x.ifname = ifname_of(name.defined() ? name : l, "ifname");
    if (!names.insert(x.ifname).second) throw ConfigError(name.mark(), "ifname " + x.ifname + " listed twice");
    const ParamValue vni = l["vni"];
    if (!vni.defined()) throw ConfigError(l.mark(), "links: each item needs vni: N (the VNI its addresses live in)");
    uint64_t v = UINT64_MAX;
    try {
      v = vni.as<uint64_t>("vni");
    } catch (const ConfigError&) {
    }
    if (v > 0xffffff) throw ConfigError(vni.mark(), "vni: expected 0..16777215");
    x.vni = static_cast<uint32_t>(v);
    if (const ParamValue f = l["fdb"]; f.defined()) x.fdb = ifname_of(f, "fdb");
    c.links.push_back(x);
  }
  cfg_ = c;
}

void NeighborSink::initialize(ServiceInitContext& ctx) {
  core_ = std::make_shared<NeighborControl>(ctx.service<OverlayResolver>("svp"));
  core_->configure(cfg_);
}

StateCarry NeighborSink::take_state(Service& old) {
  auto& from = static_cast<NeighborSink&>(old);
  // The listener keeps the resolver it was built with: the framework
  // carries a service only while it names the same services (one that
  // names another Svp is built anew).
  core_ = std::move(from.core_);
  try {
    core_->configure(cfg_);
  } catch (...) {
    from.core_ = std::move(core_);
    throw;
  }
  return StateCarry::kept("netlink listener kept: installed entries and pending lookups stay");
}

void NeighborSink::start(boost::asio::io_context& io) {
  if (core_) core_->start(io);
}

void NeighborSink::stop() {
  if (core_) core_->stop();
}

nlohmann::json NeighborSink::status() const { return core_ ? core_->status() : nlohmann::json::object(); }

ServiceHealth NeighborSink::health() const { return core_ ? core_->health() : ServiceHealth{}; }

}  // namespace weft::svp

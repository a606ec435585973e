#include "control/neighbor_sink.hpp"

#include <set>

#include "control/svp_service.hpp"
#include "weft/service.hpp"

namespace weft::svp {

const ElementClass& NeighborSink::klass() {
  static const ElementClass k =
      ElementClass::make<NeighborSink>("NeighborSink")
          .describe("Answer the kernel's neighbour misses (RTM_GETNEIGH) on some links with Portolan's VL3 answers.",
                    "A control element (no ports). On the control thread it listens on a netlink socket for the "
                    "kernel's neighbour misses on `links` (the kernel sends them when app_solicit > 0 on the link), "
                    "looks each address up as VL3 (address, the link's VNI) through the Svp element `svp` — its "
                    "cache first, then Portolan — and installs the answer with RTM_NEWNEIGH (state REACHABLE, or "
                    "PERMANENT) and, for links with `fdb`, a bridge FDB entry on that VXLAN link pointing the MAC at "
                    "its underlay address. Everything goes over netlink; no command is run. A link's removal "
                    "(RTM_DELLINK) forgets its state; entries Portolan's change log or a SHOOTDOWN invalidates are "
                    "looked up again and replaced or deleted. routerd must run in the links' namespace.")
          .required("svp", ParamType::String, "id of the Svp element whose cache and client to use")
          .required("links", ParamType::List, "[{ifname: NAME, vni: N, fdb: VXLAN_LINK (optional)}]")
          .param("permanent", ParamType::Bool, "false", "install PERMANENT neighbour entries instead of REACHABLE");
  return k;
}

void NeighborSink::configure(ConfigContext& ctx) {
  const Params& p = ctx.params();
  svp_id_ = p.get<std::string>("svp");
  NeighborConfig c;
  c.permanent = p.get<bool>("permanent");
  std::set<std::string> names;
  const YAML::Node links = p.node("links");
  if (!links.IsSequence() || links.size() == 0)
    throw ConfigError(p.mark("links"), "links: expected a list such as [{ifname: eth1, vni: 100}]");
  for (const auto& l : links) {
    if (!l.IsMap()) throw ConfigError(mark_of(l), "links: each item is {ifname: NAME, vni: N, fdb: VXLAN_LINK}");
    for (const auto& kv : l) {
      const std::string key = kv.first.as<std::string>();
      if (key != "ifname" && key != "vni" && key != "fdb")
        throw ConfigError(mark_of(kv.first), "links: unknown key '" + key + "' (keys: ifname, vni, fdb)");
    }
    NeighborLink x;
    auto name = l["ifname"];
    if (!name || !name.IsScalar() || name.Scalar().empty() || name.Scalar().size() >= 16)
      throw ConfigError(mark_of(name ? name : YAML::Node(l)), "ifname: expected an interface name (at most 15 characters)");
    x.ifname = name.Scalar();
    if (!names.insert(x.ifname).second) throw ConfigError(mark_of(name), "ifname " + x.ifname + " listed twice");
    auto vni = l["vni"];
    if (!vni) throw ConfigError(mark_of(l), "links: each item needs vni: N (the VNI its addresses live in)");
    uint64_t v = 0;
    try {
      v = vni.as<uint64_t>();
    } catch (const YAML::Exception&) {
      v = UINT64_MAX;
    }
    if (v > 0xffffff) throw ConfigError(mark_of(vni), "vni: expected 0..16777215");
    x.vni = static_cast<uint32_t>(v);
    if (auto f = l["fdb"]) {
      if (!f.IsScalar() || f.Scalar().empty() || f.Scalar().size() >= 16)
        throw ConfigError(mark_of(f), "fdb: expected a VXLAN interface name (at most 15 characters)");
      x.fdb = f.Scalar();
    }
    c.links.push_back(x);
  }
  cfg_ = c;
}

void NeighborSink::initialize(InitContext& ctx) {
  auto svp = SvpElement::service_of(ctx, svp_id_);
  service_ = weft::service<NeighborService>(ctx, id() + ":neigh", "", [&] { return std::make_shared<NeighborService>(svp); });
  service_->configure(cfg_);
}

}  // namespace weft::svp

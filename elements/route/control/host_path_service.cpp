#include "control/host_path_service.hpp"

#include <chrono>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "weft/log.hpp"

namespace weft::route {

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string deleted_text(const std::string& ifname, uint32_t ifindex) {
  return "the kernel interface " + ifname + " was deleted (ifindex " + std::to_string(ifindex) +
         "); forwarding goes on, the host path waits for an interface of that name";
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

nlohmann::json prefixes(const std::vector<Prefix>& v) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& p : v) a.push_back(p.str());
  return a;
}

}  // namespace

std::vector<HostPathSpec> host_paths_of(const InterfaceTable& t) {
  std::vector<HostPathSpec> out;
  std::map<std::string, std::string> owner;  // kernel interface -> router interface
  for (const Interface& i : t.all()) {
    if (i.host_ifname.empty()) continue;
    auto [it, fresh] = owner.emplace(i.host_ifname, i.name);
    if (!fresh)
      throw std::invalid_argument("interfaces " + it->second + " and " + i.name + " both name the kernel interface " +
                                  i.host_ifname + " as their host path");
    HostPathSpec s;
    s.interface = i.name;
    s.link.ifname = i.host_ifname;
    s.link.mac = i.mac;
    s.link.mtu = i.mtu;
    s.link.addresses = i.addresses;
    s.link.up = true;
    out.push_back(std::move(s));
  }
  return out;
}

// --- HostPathControl ----------------------------------------------------------

const char* HostPathControl::to_string(State s) {
  switch (s) {
    case State::Pending: return "pending";
    case State::Ok: return "ok";
    case State::Missing: return "missing";
    case State::Refused: return "refused";
    case State::NoCarrier: return "no-carrier";
  }
  return "?";
}

HostPathControl::~HostPathControl() { stop(); }

HostPathControl::Link* HostPathControl::by_ifname(const std::string& n) {
  for (auto& l : links_)
    if (l.spec.link.ifname == n) return &l;
  return nullptr;
}

HostPathControl::Link* HostPathControl::by_ifindex(uint32_t i) {
  for (auto& l : links_)
    if (i && l.ifindex == i) return &l;
  return nullptr;
}

void HostPathControl::configure(const std::vector<HostPathSpec>& specs) {
  std::vector<Link> next;
  std::vector<size_t> dirty;
  std::set<std::string> kept;
  for (const HostPathSpec& s : specs) {
    Link x;
    if (Link* old = by_ifname(s.link.ifname)) {
      x = *old;  // its ifindex, what it added, its counters
      kept.insert(s.link.ifname);
      if (old->spec.link == s.link && old->state != State::Pending) {
        x.spec = s;  // the router interface may be renamed: nothing to do in the kernel
        next.push_back(std::move(x));
        continue;
      }
    }
    x.spec = s;
    dirty.push_back(next.size());
    next.push_back(std::move(x));
  }
  // Interfaces no longer configured: the addresses the host path added go
  // (the kernel interface itself belongs to its port and stays).
  for (auto& l : links_) {
    if (kept.count(l.spec.link.ifname) || !started() || l.owned.empty()) continue;
    const std::string err = nl_->release(l.spec.link.ifname, l.owned);
    WEFT_LOG(Info, "HostPath: %s is no longer a host path: its addresses removed%s%s", l.spec.link.ifname.c_str(),
             err.empty() ? "" : "; ", err.c_str());
  }
  links_ = std::move(next);
  since_ = now_s();
  if (!started()) return;
  for (size_t i : dirty) apply(links_[i], "configuration");
}

void HostPathControl::start(boost::asio::io_context& io) {
  io_ = &io;
  std::string e = nl_->open();
  if (e.empty()) {
    auto self = weak_from_this();
    e = nl_->listen(io, [self, this](const HostLinkEvent& ev) {
      if (self.lock()) on_event(ev);
    });
  }
  if (!e.empty()) {
    fatal_ = e;
    last_error_ = e;
    WEFT_LOG(Error, "HostPath: %s", e.c_str());
    return;
  }
  WEFT_LOG(Info, "HostPath: %zu kernel interface(s) to keep in step", links_.size());
  for (auto& l : links_) apply(l, "start");
}

void HostPathControl::stop() {
  if (nl_) nl_->close();
  io_ = nullptr;
}

size_t HostPathControl::apply(Link& l, const char* why) {
  if (!nl_->is_open()) return 0;
  const State before = l.state;
  const uint32_t old_index = l.ifindex;
  HostLinkResult r = nl_->apply(l.spec.link, l.owned);
  c_.applied++;
  l.applied++;
  c_.changes += r.changes.size();
  const std::string& name = l.spec.link.ifname;
  if (!r.found) {
    l.ifindex = 0;
    l.owned.clear();
    l.state = State::Missing;
    if (old_index && before != State::Missing) {  // it went before its RTM_DELLINK reached us
      c_.deleted++;
      l.deleted++;
      l.error = deleted_text(name, old_index);
    } else if (before != State::Missing || l.error.empty()) {  // still missing: keep saying why
      l.error = r.error.empty() ? "the kernel interface " + name + " does not exist" : r.error;
    }
  } else {
    const bool replaced = old_index && old_index != r.link.ifindex;
    if (replaced && before != State::Missing) {  // deleted and made again before we heard of it
      c_.deleted++;
      l.deleted++;
    }
    if (replaced || (before == State::Missing && l.deleted > 0)) {
      c_.reappeared++;
      WEFT_LOG(Notice, "HostPath: kernel interface %s is back (ifindex %u): %s's settings applied", name.c_str(),
               r.link.ifindex, l.spec.interface.c_str());
    }
    l.ifindex = r.link.ifindex;
    l.seen = r.link;
    if (!r.error.empty()) {
      c_.refused++;
      l.error = r.error;
      l.state = State::Refused;
    } else if (l.spec.link.up && !r.link.carrier) {
      l.error = name + " has no carrier: nothing holds its other side (a tap made by hand is not the port's; "
                       "re-plug the port)";
      l.state = State::NoCarrier;
    } else {
      l.error.clear();
      l.state = State::Ok;
    }
  }
  if (!r.changes.empty())
    WEFT_LOG(Info, "HostPath: %s (%s, ifindex %u), %s: %s", name.c_str(), l.spec.interface.c_str(), l.ifindex, why,
             joined(r.changes).c_str());
  if (l.state != State::Ok && (l.state != before || l.state == State::Refused)) {
    last_error_ = name + " (" + l.spec.interface + "): " + l.error;
    WEFT_LOG(Warning, "HostPath: %s", last_error_.c_str());
  } else if (l.state == State::Ok && before != State::Ok && before != State::Pending) {
    WEFT_LOG(Notice, "HostPath: %s (%s, ifindex %u) is in step again", name.c_str(), l.spec.interface.c_str(), l.ifindex);
  }
  if (l.state != before) since_ = now_s();
  return r.changes.size();
}

void HostPathControl::on_event(const HostLinkEvent& e) {
  using K = HostLinkEvent::Kind;
  switch (e.kind) {
    case K::Overrun:
      c_.overruns++;
      WEFT_LOG(Warning, "HostPath: the kernel dropped netlink events: every host path is read again");
      for (auto& l : links_) apply(l, "resync");
      return;
    case K::LinkDel: {
      Link* l = by_ifindex(e.ifindex);
      if (!l) return;
      c_.deleted++;
      l->deleted++;
      l->state = State::Missing;
      l->ifindex = 0;
      l->owned.clear();
      l->error = deleted_text(l->spec.link.ifname, e.ifindex);
      last_error_ = l->spec.link.ifname + " (" + l->spec.interface + "): " + l->error;
      since_ = now_s();
      WEFT_LOG(Warning, "HostPath: %s", last_error_.c_str());
      return;
    }
    case K::LinkNew: {
      Link* l = by_ifname(e.ifname);
      if (!l) {
        if (Link* moved = by_ifindex(e.ifindex)) {  // renamed away from its configured name
          moved->state = State::Missing;
          moved->ifindex = 0;
          moved->owned.clear();
          moved->error = "the kernel interface " + moved->spec.link.ifname + " was renamed " + e.ifname;
          last_error_ = moved->spec.link.ifname + " (" + moved->spec.interface + "): " + moved->error;
          since_ = now_s();
          WEFT_LOG(Warning, "HostPath: %s", last_error_.c_str());
        }
        return;
      }
      if (l->state == State::Missing || l->ifindex != e.ifindex) {
        apply(*l, "appeared");
        return;
      }
      // Events may be stale (our own changes come back too): read the link as it is now.
      std::string err;
      std::optional<HostLinkInfo> now = nl_->link(l->spec.link.ifname, err);
      if (!now || now->ifindex != l->ifindex || now->mac != l->spec.link.mac || now->mtu != l->spec.link.mtu) {
        if (!err.empty()) return;  // a failed read: the next event tries again
        if (apply(*l, "changed outside routerd") > 0) c_.restored++;
        return;
      }
      l->seen = *now;
      const bool running = now->up && now->carrier;
      if (l->state == State::Ok && l->spec.link.up && !running) {
        l->state = State::NoCarrier;
        l->error = now->up ? l->spec.link.ifname + " lost its carrier" : l->spec.link.ifname + " was set down";
        last_error_ = l->spec.link.ifname + " (" + l->spec.interface + "): " + l->error;
        since_ = now_s();
        WEFT_LOG(Warning, "HostPath: %s", last_error_.c_str());
      } else if (l->state == State::NoCarrier && running) {
        l->state = State::Ok;
        l->error.clear();
        since_ = now_s();
        WEFT_LOG(Notice, "HostPath: %s (%s) is up with a carrier again", l->spec.link.ifname.c_str(),
                 l->spec.interface.c_str());
      }
      return;
    }
    case K::AddrDel: {
      Link* l = by_ifindex(e.ifindex);
      if (!l || l->state == State::Missing) return;
      for (const Prefix& p : l->spec.link.addresses) {
        if (p != e.prefix) continue;
        if (apply(*l, "address removed outside routerd") > 0) c_.restored++;
        return;
      }
      return;
    }
    case K::AddrNew: return;
  }
}

std::optional<std::string> HostPathControl::interface_of(uint32_t ifindex) const {
  for (const auto& l : links_)
    if (ifindex && l.ifindex == ifindex) return l.spec.interface;
  return std::nullopt;
}

uint32_t HostPathControl::ifindex_of(const std::string& name) const {
  for (const auto& l : links_)
    if (l.spec.interface == name) return l.ifindex;
  return 0;
}

nlohmann::json HostPathControl::links() const {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& l : links_) {
    nlohmann::json owned = nlohmann::json::array();
    for (const auto& p : l.owned) owned.push_back(p.str());
    nlohmann::json x = {{"interface", l.spec.interface},
                        {"ifname", l.spec.link.ifname},
                        {"ifindex", l.ifindex},
                        {"state", to_string(l.state)},
                        {"mac", l.spec.link.mac.str()},
                        {"mtu", l.spec.link.mtu},
                        {"addresses", prefixes(l.spec.link.addresses)},
                        {"owned", owned},
                        {"up", l.seen.up},
                        {"carrier", l.seen.carrier},
                        {"applied", l.applied},
                        {"deleted", l.deleted}};
    if (!l.error.empty()) x["error"] = l.error;
    a.push_back(std::move(x));
  }
  return {{"links", a}};
}

nlohmann::json HostPathControl::status() const {
  nlohmann::json s = links();
  s["state"] = !fatal_.empty() ? "error" : started() ? "running" : "not started";
  if (!fatal_.empty()) s["error"] = fatal_;
  s["counters"] = {{"applied", c_.applied},   {"changes", c_.changes},       {"refused", c_.refused},
                   {"deleted", c_.deleted},   {"reappeared", c_.reappeared}, {"restored", c_.restored},
                   {"overruns", c_.overruns}, {"netlink_requests", nl_->requests()}};
  return s;
}

ServiceHealth HostPathControl::health() const {
  ServiceHealth h;
  h.peer = "kernel (netlink)";
  h.errors = c_.refused + c_.deleted + c_.overruns;
  h.last_error = last_error_;
  h.since_s = now_s() - since_;
  if (!fatal_.empty()) {
    h.state = ServiceHealth::State::Failed;
    h.detail = fatal_;
    return h;
  }
  if (!nl_->listen_error().empty()) {
    h.state = ServiceHealth::State::Degraded;
    h.detail = nl_->listen_error() + " (kernel events are no longer seen)";
    return h;
  }
  std::string bad;
  size_t ok = 0;
  for (const auto& l : links_) {
    if (l.state == State::Ok) ok++;
    else if (l.state != State::Pending) bad += (bad.empty() ? "" : "; ") + l.spec.link.ifname + " (" + l.spec.interface + "): " + l.error;
  }
  if (!bad.empty()) {
    h.state = ServiceHealth::State::Degraded;
    h.detail = bad;
  } else {
    h.detail = started() ? std::to_string(ok) + " kernel interface(s) in step" : "not started";
  }
  return h;
}

// --- HostPathService -------------------------------------------------------------

const ServiceClass& HostPathService::klass() {
  static const ServiceClass k =
      ServiceClass::make<HostPathService>("HostPath")
          .describe("The host path's kernel side: each interface's kernel interface (`host:`) gets its MAC, MTU and "
                    "addresses, and is set up.",
                    "For every interface of the Interfaces service `interfaces` that names a `host` kernel interface "
                    "(a net_tap port's, typically), it makes that interface carry the same MAC, MTU and addresses and "
                    "sets it up, over netlink on the control thread, so the Linux stack (ping, sshd, FRR) sees an "
                    "ordinary interface; the graph carries the packets (tap RX -> data port TX, local traffic -> tap "
                    "TX). It removes only the addresses it added: the kernel's IPv6 link-local (the same fe80:: as "
                    "Weft's, since the MAC is the same) stays. A reload reconciles: only what changed is touched. A "
                    "kernel interface deleted underneath routerd is logged, counted and reported Degraded while "
                    "forwarding goes on; when an interface of that name appears again, its settings are applied "
                    "again. An address of ours removed, or the MAC or MTU changed, outside routerd is set back. "
                    "routerd must run in the kernel interfaces' namespace. See docs/host-path.md.")
          .uses<InterfacesHandle>("interfaces", "the Interfaces service whose interfaces (and their `host:`) to mirror")
          .command("links", "", "each host path: router interface, kernel interface, ifindex, state, what was added",
                   [](HostPathService& s, const nlohmann::json&) { return s.core_->links(); })
          .metric("weft_hostpath_link_state", MetricType::Gauge,
                  "1 for the state each host path's kernel interface is in: ok, missing, refused, no-carrier, pending",
                  {"interface", "ifname", "state"},
                  [](const HostPathService& s, MetricSink& out) {
                    if (!s.core_) return;
                    using St = HostPathControl::State;
                    for (const auto& l : s.core_->entries())
                      for (St st : {St::Ok, St::Missing, St::Refused, St::NoCarrier, St::Pending})
                        out.sample({l.spec.interface, l.spec.link.ifname, HostPathControl::to_string(st)},
                                   l.state == st ? 1.0 : 0.0);
                  })
          .metric("weft_hostpath_link_info", MetricType::Info,
                  "a host path: the router interface, its kernel interface and that one's ifindex (0 while missing)",
                  {"interface", "ifname", "ifindex"},
                  [](const HostPathService& s, MetricSink& out) {
                    if (!s.core_) return;
                    for (const auto& l : s.core_->entries())
                      out.sample({l.spec.interface, l.spec.link.ifname, std::to_string(l.ifindex)}, 1.0);
                  })
          .metric("weft_hostpath_events_total", MetricType::Counter,
                  "what the host path did: applied (a spec applied), changes (kernel changes made), refused "
                  "(applications the kernel refused in part), deleted (kernel interfaces deleted underneath), "
                  "reappeared, restored (changes made outside routerd set back), overruns (netlink events lost)",
                  {"event"},
                  [](const HostPathService& s, MetricSink& out) {
                    if (!s.core_) return;
                    const auto& c = s.core_->counters();
                    out.sample({"applied"}, double(c.applied));
                    out.sample({"changes"}, double(c.changes));
                    out.sample({"refused"}, double(c.refused));
                    out.sample({"deleted"}, double(c.deleted));
                    out.sample({"reappeared"}, double(c.reappeared));
                    out.sample({"restored"}, double(c.restored));
                    out.sample({"overruns"}, double(c.overruns));
                  });
  return k;
}

void HostPathService::configure(ServiceConfigContext& ctx) { (void)ctx.params().get<std::string>("interfaces"); }

void HostPathService::initialize(ServiceInitContext& ctx) {
  ifaces_ = ctx.service<InterfacesHandle>("interfaces");
  try {
    specs_ = host_paths_of(*ifaces_->interfaces());
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(e.what());
  }
  core_ = std::make_shared<HostPathControl>();
  core_->configure(*specs_);
}

StateCarry HostPathService::take_state(Service& old) {
  auto& from = static_cast<HostPathService&>(old);
  if (!ifaces_) ifaces_ = from.ifaces_;
  if (!specs_) {
    try {
      specs_ = host_paths_of(*ifaces_->interfaces());  // the Interfaces service took its new table already
    } catch (const std::invalid_argument& e) {
      throw std::runtime_error(e.what());
    }
  }
  core_ = std::move(from.core_);
  core_->configure(*specs_);  // never throws: a refusal is reported, not raised
  return StateCarry::kept("kernel interfaces reconciled (" + std::to_string(specs_->size()) + " host path(s))");
}

void HostPathService::start(boost::asio::io_context& io) {
  if (core_) core_->start(io);
}

void HostPathService::stop() {
  if (core_) core_->stop();
}

nlohmann::json HostPathService::status() const { return core_ ? core_->status() : nlohmann::json::object(); }

ServiceHealth HostPathService::health() const { return core_ ? core_->health() : ServiceHealth{}; }

}  // namespace weft::route

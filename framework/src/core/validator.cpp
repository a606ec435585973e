#include "core/validator.hpp"

#include <functional>
#include <map>
#include <set>

#include "core/param_node.hpp"
#include "core/text.hpp"

namespace weft {

int GraphPlan::index_of(const std::string& id) const {
  for (size_t i = 0; i < nodes.size(); i++)
    if (nodes[i].spec->id == id) return static_cast<int>(i);
  return -1;
}

const ServicePlan* GraphPlan::find_service(const std::string& name) const {
  for (const auto& s : services)
    if (s.spec->id == name) return &s;
  return nullptr;
}

Params make_params(const ElementSpec& e, const ElementClass& k) { return weft::make_params(e.params, &k.params, e.mark); }
Params make_service_params(const ServiceSpec& s, const ServiceClass& k) {
  return weft::make_params(s.params, &k.params, s.mark);
}

namespace {

class RecordingContext : public ConfigContext {
 public:
  RecordingContext(const ElementSpec& e, const ElementClass& k, const GraphSpec& g)
      : params_(make_params(e, k)), spec_(e), graph_(g) {}

  const Params& params() const override { return params_; }
  const std::string& element_id() const override { return spec_.id; }
  unsigned worker_count() const override { return static_cast<unsigned>(graph_.worker_lcores.size()); }
  void set_outputs(std::vector<std::string> names) override {
    outputs = std::move(names);
    outputs_set = true;
  }
  void claim_rx(const std::string& port, int queue, Mark where) override {
    check_port(port, where);
    rx_claims.push_back({port, queue, where});
  }
  void use_tx(const std::string& port, Mark where) override {
    check_port(port, where);
    tx_ports.push_back(port);
    tx_uses.push_back({port, -1, where});
  }
  void use_tx_thread(const std::string& port, uint16_t queue, Mark where) override {
    check_port(port, where);
    tx_ports.push_back(port);
    tx_uses.push_back({port, queue, where});
  }

  std::vector<std::string> outputs;
  bool outputs_set = false;
  std::vector<RxClaim> rx_claims;
  std::vector<std::string> tx_ports;
  std::vector<TxUse> tx_uses;

 private:
  void check_port(const std::string& port, Mark where) const {
    if (graph_.find_port(port)) return;
    std::vector<std::string> names;
    for (const auto& p : graph_.ports) names.push_back(p.name);
    throw ConfigError(where, "unknown port '" + port + "'" + did_you_mean(port, names));
  }
  Params params_;
  const ElementSpec& spec_;
  const GraphSpec& graph_;
};

std::string describe(const YAML::Node& n) {
  if (n.IsSequence()) return "a list";
  if (n.IsMap()) return "a mapping";
  if (n.IsNull()) return "nothing";
  return "'" + n.Scalar() + "'";
}

// Checks an element's or service's parameter map against its class schema:
// unknown keys, types, ports and services named, required values.
bool check_schema(const InstanceSpec& e, const std::string& what, const std::string& class_name,
                  const std::vector<ParamSpec>& schema, const GraphSpec& g, const GraphPlan& plan,
                  Diagnostics& diag) {
  bool ok = true;
  const std::string who = what + " '" + e.id + "'";
  std::vector<std::string> names;
  for (const auto& p : schema) names.push_back(p.name);
  for (auto it = e.params.begin(); it != e.params.end(); ++it) {
    const std::string key = it->first.Scalar();
    const ParamSpec* ps = nullptr;
    for (const auto& p : schema)
      if (p.name == key) ps = &p;
    if (!ps) {
      std::string known = names.empty() ? " (it takes no parameters)" : did_you_mean(key, names);
      diag.error(mark_of(it->first), who + ": " + class_name + " has no parameter '" + key + "'" + known);
      ok = false;
      continue;
    }
    if (!value_matches(it->second, ps->type)) {
      diag.error(mark_of(it->second), who + ": parameter '" + key + "' expects " + expected_text(ps->type) +
                                          ", got " + describe(it->second));
      ok = false;
      continue;
    }
    if (ps->type == ParamType::Port && !g.find_port(it->second.Scalar())) {
      std::vector<std::string> ports;
      for (const auto& p : g.ports) ports.push_back(p.name);
      diag.error(mark_of(it->second), who + ": unknown port '" + it->second.Scalar() + "'" +
                                          (ports.empty() ? std::string(" (the graph declares no ports)")
                                                         : did_you_mean(it->second.Scalar(), ports)));
      ok = false;
    }
    if (ps->type == ParamType::Service) {
      const std::string& name = it->second.Scalar();
      const ServicePlan* sp = plan.find_service(name);
      if (!g.find_service(name)) {
        std::vector<std::string> services;
        for (const auto& x : g.services) services.push_back(x.id);
        diag.error(mark_of(it->second),
                   who + ": parameter '" + key + "': no service '" + name + "'" +
                       (services.empty() ? std::string(" (the graph declares no services: add one under services:)")
                                         : did_you_mean(name, services)));
        ok = false;
      } else if (sp && sp->klass && !sp->klass->find_handle(ps->handle)) {
        diag.error(mark_of(it->second), who + ": parameter '" + key + "': service '" + name + "' (class " +
                                            sp->klass->name + ") does not provide " + ps->handle);
        ok = false;
      }
    }
  }
  for (const auto& p : schema) {
    if (p.required && !(e.params[p.name] && !e.params[p.name].IsNull())) {
      diag.error(e.mark, who + ": missing required parameter '" + p.name + "' (" + expected_text(p.type) + ": " +
                             p.doc + ")");
      ok = false;
    }
  }
  return ok;
}

std::string port_label(const std::vector<std::string>& names, size_t i) {
  return i < names.size() ? names[i] : std::to_string(i);
}

// Resolves "name" or "3" against a port list.
int resolve_port(const std::string& ref, const std::vector<std::string>& names) {
  if (ref.empty()) return 0;
  if (auto n = parse_uint(ref)) return *n < names.size() ? static_cast<int>(*n) : -1;
  for (size_t i = 0; i < names.size(); i++)
    if (names[i] == ref) return static_cast<int>(i);
  return -1;
}

}  // namespace

namespace {
class ServiceConfigCtx : public ServiceConfigContext {
 public:
  ServiceConfigCtx(const ServicePlan& p, const GraphSpec& g)
      : params_(make_service_params(*p.spec, *p.klass)), name_(p.spec->id), workers_(unsigned(g.worker_lcores.size())), graph_(g) {}
  const Params& params() const override { return params_; }
  const std::string& service_name() const override { return name_; }
  unsigned worker_count() const override { return workers_; }
  std::optional<std::string> port_device(const std::string& name) const override {
    for (const auto& p : graph_.ports)
      if (p.name == name) return p.device;
    return std::nullopt;
  }

 private:
  Params params_;
  const std::string& name_;
  unsigned workers_;
  const GraphSpec& graph_;
};
}  // namespace

void configure_service(Service& s, const ServicePlan& plan, const GraphSpec& graph) {
  ServiceConfigCtx ctx(plan, graph);
  s.configure(ctx);
}

void configure_instance(Element& el, const NodePlan& node, const GraphSpec& graph) {
  RecordingContext ctx(*node.spec, *node.klass, graph);
  el.configure(ctx);
  if (node.klass->dynamic_outputs && ctx.outputs != node.outputs)
    throw ConfigError(node.spec->mark, "element '" + node.spec->id + "' declared different outputs on a second configure");
}

namespace {

// The state the validation phases share.
struct Validation {
  GraphPlan& plan;
  const GraphSpec& g;
  const PluginLoader& loader;
  Diagnostics& diag;
  unsigned workers;
  std::vector<bool> configured;  // per node: configure() succeeded
  // Per node, filled while resolving connections.
  std::vector<unsigned> next_variadic;
  std::vector<bool> has_input;
  std::vector<bool> unresolved_output;
};

// Names are shared by elements and services (routerctl finds either by name).
void check_names(Validation& v) {
  for (const auto& s : v.g.services)
    if (const ElementSpec* e = v.g.find_element(s.id))
      v.diag.error(s.mark, "service '" + s.id + "' has the same name as element '" + e->id + "' (line " +
                               std::to_string(e->mark.line) + "); names are shared by elements and services");
}

// 1. Services: class, schema, configure(), and the services they use, in
// an order where each comes after those it uses.
void plan_services(Validation& v) {
  const GraphSpec& g = v.g;
  std::vector<ServicePlan> found;
  for (const auto& s : g.services) {
    ServicePlan sp;
    sp.spec = &s;
    sp.klass = v.loader.find_service(s.class_name);
    if (!sp.klass && !s.class_name.empty()) {
      if (v.loader.find(s.class_name))
        v.diag.error(s.class_mark, "service '" + s.id + "': " + s.class_name +
                                       " is an element class: declare it under elements:");
      else
        v.diag.error(s.class_mark, "service '" + s.id + "': unknown service class '" + s.class_name + "'" +
                                       did_you_mean(s.class_name, v.loader.service_class_names()));
    }
    found.push_back(sp);
  }
  // Schemas are checked against the services found (for `uses` references).
  v.plan.services = found;
  std::vector<ServicePlan> ok;
  for (const auto& sp : found) {
    if (!sp.klass) continue;
    if (!check_schema(*sp.spec, "service", sp.klass->name, sp.klass->params, g, v.plan, v.diag)) continue;
    try {
      std::unique_ptr<Service> proto = sp.klass->create();
      configure_service(*proto, sp, g);
      ok.push_back(sp);
    } catch (const ConfigError& err) {
      v.diag.error(err.mark().line ? err.mark() : sp.spec->mark, "service '" + sp.spec->id + "': " + err.what());
    } catch (const std::exception& err) {
      v.diag.error(sp.spec->mark, "service '" + sp.spec->id + "': configuration failed: " + err.what());
    } catch (...) {
      v.diag.error(sp.spec->mark, "service '" + sp.spec->id + "': configuration failed: " + current_exception_text());
    }
  }
  // Order: depth-first on the services each one names; a cycle is an error.
  std::vector<ServicePlan> ordered;
  std::map<std::string, int> state;  // 1: visiting, 2: done
  std::function<bool(const ServicePlan&, std::vector<std::string>&)> visit = [&](const ServicePlan& sp,
                                                                                  std::vector<std::string>& path) {
    int& st = state[sp.spec->id];
    if (st == 2) return true;
    path.push_back(sp.spec->id);
    if (st == 1) {
      std::string p;
      for (const auto& x : path) p += (p.empty() ? "" : " -> ") + x;
      v.diag.error(sp.spec->mark, "services use each other in a cycle: " + p);
      return false;
    }
    st = 1;
    for (const auto& ps : sp.klass->params) {
      if (ps.type != ParamType::Service) continue;
      YAML::Node n = sp.spec->params[ps.name];
      if (!n || !n.IsScalar()) continue;
      for (const auto& dep : ok)
        if (dep.spec->id == n.Scalar() && !visit(dep, path)) return false;
    }
    st = 2;
    path.pop_back();
    ordered.push_back(sp);
    return true;
  };
  for (const auto& sp : ok) {
    std::vector<std::string> path;
    if (!visit(sp, path)) break;
  }
  v.plan.services = ordered;
}

// 2. Elements: class, schema, configure().
void plan_elements(Validation& v) {
  GraphPlan& plan = v.plan;
  const GraphSpec& g = v.g;
  Diagnostics& diag = v.diag;
  const std::vector<std::string> class_names = v.loader.class_names();
  for (const auto& e : g.elements) {
    NodePlan n;
    n.spec = &e;
    n.klass = v.loader.find(e.class_name);
    bool ok = false;
    if (!n.klass) {
      if (v.loader.find_service(e.class_name))
        diag.error(e.class_mark, "element '" + e.id + "': " + e.class_name +
                                     " is a service class now: move '" + e.id + "' from elements: to services: "
                                     "(services: {" + e.id + ": {class: " + e.class_name +
                                     ", ...}}); see docs/graph-format.md");
      else if (!e.class_name.empty())
        diag.error(e.class_mark, "element '" + e.id + "': unknown class '" + e.class_name + "'" +
                                     did_you_mean(e.class_name, class_names));
    } else if (check_schema(e, "element", n.klass->name, n.klass->params, g, plan, diag)) {
      try {
        auto proto = n.klass->create();
        RecordingContext ctx(e, *n.klass, g);
        proto->configure(ctx);
        n.inputs = n.klass->inputs;
        if (n.klass->dynamic_outputs) {
          if (!ctx.outputs_set) throw ConfigError(e.mark, "class " + n.klass->name + " declared no outputs");
          n.outputs = ctx.outputs;
        } else {
          n.outputs = n.klass->outputs;
        }
        n.rx_claims = ctx.rx_claims;
        n.tx_ports = ctx.tx_ports;
        n.tx_uses = ctx.tx_uses;
        ok = true;
      } catch (const ConfigError& err) {
        diag.error(err.mark().line ? err.mark() : e.mark, "element '" + e.id + "': " + err.what());
      } catch (const std::exception& err) {
        diag.error(e.mark, "element '" + e.id + "': configuration failed: " + err.what());
      } catch (...) {
        diag.error(e.mark, "element '" + e.id + "': configuration failed: " + current_exception_text());
      }
    }
    v.configured.push_back(ok);
    n.links.assign(n.outputs.size(), {});
    plan.nodes.push_back(std::move(n));
  }
}

// 3. Connections: each chain's links resolved to (element, output) ->
// (element, input), every output connected at most once.
void resolve_connections(Validation& v) {
  GraphPlan& plan = v.plan;
  const GraphSpec& g = v.g;
  Diagnostics& diag = v.diag;
  std::vector<bool>& configured = v.configured;
  std::vector<std::string> ids;
  for (const auto& e : g.elements) ids.push_back(e.id);
  std::vector<std::vector<Mark>> link_marks(plan.nodes.size());
  for (size_t i = 0; i < plan.nodes.size(); i++) link_marks[i].assign(plan.nodes[i].outputs.size(), {});
  v.next_variadic.assign(plan.nodes.size(), 0);
  v.has_input.assign(plan.nodes.size(), false);
  // A connection that failed to resolve still counts as "meant": the
  // elements it names get no follow-up "not connected" findings.
  v.unresolved_output.assign(plan.nodes.size(), false);
  std::vector<unsigned>& next_variadic = v.next_variadic;
  std::vector<bool>& has_input = v.has_input;
  std::vector<bool>& unresolved_output = v.unresolved_output;
  for (const auto& c : g.connections) {
    int from = plan.index_of(c.from.element);
    int to = plan.index_of(c.to.element);
    struct Meant {
      int from, to;
      std::vector<bool>& out;
      std::vector<bool>& in;
      bool resolved = false;
      ~Meant() {
        if (resolved) return;
        if (from >= 0) out[static_cast<size_t>(from)] = true;
        if (to >= 0) in[static_cast<size_t>(to)] = true;
      }
    } meant{from, to, unresolved_output, has_input};
    if (from < 0)
      diag.error(c.from.mark, "connection from unknown element '" + c.from.element + "'" +
                                  did_you_mean(c.from.element, ids));
    if (to < 0)
      diag.error(c.to.mark, "connection to unknown element '" + c.to.element + "'" + did_you_mean(c.to.element, ids));
    if (from < 0 || to < 0) continue;
    if (!configured[from] || !configured[to]) {
      // Already reported; count the link so no false "not connected" follows.
      has_input[to] = true;
      if (configured[from]) {
        // resolve_port answers 0 for an unnamed port even when the element
        // has no output at all (a PortTx): only a real output is linked.
        const auto& links = plan.nodes[from].links;
        int o = resolve_port(c.from.port, plan.nodes[from].outputs);
        if (o >= 0 && static_cast<size_t>(o) < links.size() && links[o].element < 0)
          plan.nodes[from].links[o] = {to, 0};
      }
      continue;
    }
    NodePlan& src = plan.nodes[from];
    NodePlan& dst = plan.nodes[to];
    Mark out_mark = c.from.port.empty() ? c.from.mark : c.from.port_mark;
    Mark in_mark = c.to.port.empty() ? c.to.mark : c.to.port_mark;
    if (src.outputs.empty()) {
      diag.error(c.from.mark, "element '" + src.spec->id + "' (" + src.klass->name + ") has no outputs");
      continue;
    }
    int out = resolve_port(c.from.port, src.outputs);
    if (out < 0) {
      diag.error(out_mark, "element '" + src.spec->id + "' has no output '" + c.from.port + "' (outputs: " +
                               [&] {
                                 std::string s;
                                 for (size_t i = 0; i < src.outputs.size(); i++)
                                   s += (i ? ", " : "") + src.outputs[i];
                                 return s;
                               }() + ")" + did_you_mean(c.from.port, src.outputs));
      continue;
    }
    int in = 0;
    if (dst.klass->variadic_inputs) {
      if (c.to.port.empty()) {
        in = static_cast<int>(next_variadic[to]++);
      } else if (auto num = parse_uint(c.to.port); num && *num < 1024) {
        in = static_cast<int>(*num);
        next_variadic[to] = std::max<unsigned>(next_variadic[to], static_cast<unsigned>(in) + 1);
      } else {
        diag.error(in_mark, "element '" + dst.spec->id + "' takes numbered inputs ([0], [1], ...)");
        continue;
      }
    } else if (dst.inputs.empty()) {
      diag.error(c.to.mark, "element '" + dst.spec->id + "' (" + dst.klass->name +
                                ") has no inputs: it is a source");
      continue;
    } else {
      in = resolve_port(c.to.port, dst.inputs);
      if (in < 0) {
        std::string list;
        for (const auto& n : dst.inputs) list += (list.empty() ? "" : ", ") + n;
        diag.error(in_mark, "element '" + dst.spec->id + "' has no input '" + c.to.port + "' (inputs: " + list + ")" +
                                did_you_mean(c.to.port, dst.inputs));
        continue;
      }
    }
    if (src.links[out].element >= 0) {
      diag.error(out_mark, "output '" + port_label(src.outputs, out) + "' of '" + src.spec->id +
                               "' is already connected (line " + std::to_string(link_marks[from][out].line) +
                               "); use a Tee to copy packets to several elements");
      continue;
    }
    src.links[out] = {to, static_cast<uint16_t>(in)};
    link_marks[from][out] = out_mark;
    has_input[to] = true;
    meant.resolved = true;
  }
}

// 4. Every output connected; elements with inputs fed by something.
void report_unconnected(Validation& v) {
  GraphPlan& plan = v.plan;
  const GraphSpec& g = v.g;
  Diagnostics& diag = v.diag;
  const std::vector<bool>& configured = v.configured;
  const std::vector<unsigned>& next_variadic = v.next_variadic;
  const std::vector<bool>& has_input = v.has_input;
  const std::vector<bool>& unresolved_output = v.unresolved_output;
  for (size_t i = 0; i < plan.nodes.size(); i++) {
    if (!configured[i]) continue;
    NodePlan& n = plan.nodes[i];
    if (n.klass->variadic_inputs && next_variadic[i] > 0)
      for (unsigned k = 0; k < next_variadic[i]; k++) n.inputs.push_back("in" + std::to_string(k));
    if (g.connections_incomplete) continue;
    if (!unresolved_output[i])
      for (size_t o = 0; o < n.outputs.size(); o++)
        if (n.links[o].element < 0)
          diag.error(n.spec->mark, "output '" + n.outputs[o] + "' of '" + n.spec->id + "' is not connected");
    if ((!n.klass->inputs.empty() || n.klass->variadic_inputs) && !has_input[i])
      diag.warning(n.spec->mark, "element '" + n.spec->id + "' receives no packets (nothing is connected to it)");
  }

}

// 5. Cycles: packets are pushed depth-first, so a cycle would never end.
void check_cycles(Validation& v) {
  GraphPlan& plan = v.plan;
  Diagnostics& diag = v.diag;
  std::vector<int> color(plan.nodes.size(), 0);
  std::vector<int> stack;
  std::function<bool(int)> dfs = [&](int node) -> bool {
    color[node] = 1;
    stack.push_back(node);
    for (const auto& l : plan.nodes[node].links) {
      if (l.element < 0) continue;
      if (color[l.element] == 1) {
        std::string path;
        bool on = false;
        for (int s : stack) {
          if (s == l.element) on = true;
          if (on) path += plan.nodes[s].spec->id + " -> ";
        }
        path += plan.nodes[l.element].spec->id;
        diag.error(plan.nodes[l.element].spec->mark, "connection cycle: " + path);
        return true;
      }
      if (color[l.element] == 0 && dfs(l.element)) return true;
    }
    stack.pop_back();
    color[node] = 2;
    return false;
  };
  for (size_t i = 0; i < plan.nodes.size(); i++)
    if (color[i] == 0 && dfs(static_cast<int>(i))) break;

}

// 6. Ports and queues: RX queues claimed once, TX queues for every worker.
void plan_ports(Validation& v) {
  GraphPlan& plan = v.plan;
  const GraphSpec& g = v.g;
  Diagnostics& diag = v.diag;
  const unsigned workers = v.workers;
  struct Claim {
    std::string element;
    Mark mark;
  };
  std::map<std::pair<std::string, int>, Claim> claimed;
  std::map<std::string, int> max_rx_queue;
  std::set<std::string> tx_used;
  std::vector<std::pair<std::string, Claim>> worker_tx;  // (port, who) transmitting from the workers
  std::map<std::pair<std::string, int>, Claim> thread_tx; // (port, queue) -> the first whose thread transmits there
  std::map<std::string, int> min_tx_queues;                     // port -> queues the threads need
  for (const auto& n : plan.nodes) {
    for (const auto& c : n.rx_claims) {
      std::vector<int> queues;
      if (c.queue < 0) {
        for (unsigned w = 0; w < workers; w++) queues.push_back(static_cast<int>(w));
      } else {
        if (workers > 1) {
          diag.error(c.mark, "element '" + n.spec->id + "': RX queue " + std::to_string(c.queue) + " of port '" +
                                 c.port + "' would be claimed twice: each of the " + std::to_string(workers) +
                                 " workers polls it (drop `queue:` to give each worker its own)");
          continue;
        }
        queues.push_back(c.queue);
      }
      for (int q : queues) {
        auto [it, inserted] = claimed.emplace(std::make_pair(c.port, q), Claim{n.spec->id, c.mark});
        if (!inserted) {
          diag.error(c.mark, "element '" + n.spec->id + "': RX queue " + std::to_string(q) + " of port '" + c.port +
                                 "' is already claimed by '" + it->second.element + "' (line " +
                                 std::to_string(it->second.mark.line) + ")");
          break;
        }
        max_rx_queue[c.port] = std::max(max_rx_queue[c.port], q);
      }
    }
    for (const auto& t : n.tx_uses) {
      if (t.queue < 0) {
        tx_used.insert(t.port);
        worker_tx.push_back({t.port, Claim{n.spec->id, t.mark}});
      } else {
        thread_tx.emplace(std::make_pair(t.port, t.queue), Claim{n.spec->id, t.mark});
        min_tx_queues[t.port] = std::max(min_tx_queues[t.port], t.queue + 1);
      }
    }
  }
  // A queue a thread transmits on is no worker's: worker w transmits on queue w.
  for (const auto& [port, user] : worker_tx) {
    for (auto it = thread_tx.lower_bound({port, 0}); it != thread_tx.end() && it->first.first == port; ++it) {
      const int queue = it->first.second;
      if (static_cast<unsigned>(queue) >= workers) continue;
      const Claim& by = it->second;
      diag.error(user.mark, "element '" + user.element + "' transmits on port '" + port + "' from the workers, but '" +
                                by.element + "' (line " + std::to_string(by.mark.line) +
                                ") hands its packets to a thread that transmits on the port's TX queue " +
                                std::to_string(queue) + ", worker " + std::to_string(queue) +
                                "'s queue: transmit on a port one way only (deferred: true on every PortTx of it, "
                                "or on none)");
      break;
    }
  }
  for (size_t i = 0; i < g.ports.size(); i++)
    for (size_t j = 0; j < i; j++)
      if (g.ports[i].device == g.ports[j].device)
        diag.error(g.ports[i].mark, "port '" + g.ports[i].name + "' uses device '" + g.ports[i].device +
                                        "' already used by port '" + g.ports[j].name + "'");
  for (const auto& p : g.ports) {
    PortPlan pp;
    pp.spec = &p;
    int need_rx = max_rx_queue.count(p.name) ? max_rx_queue[p.name] + 1 : 1;
    if (p.rx_queues > 0) {
      if (p.rx_queues < need_rx)
        diag.error(p.rx_queues_mark, "port '" + p.name + "' has " + std::to_string(p.rx_queues) +
                                         " RX queue(s) but queue " + std::to_string(need_rx - 1) + " is polled");
      pp.rx_queues = static_cast<uint16_t>(p.rx_queues);
    } else {
      pp.rx_queues = static_cast<uint16_t>(std::max<int>(need_rx, 1));
    }
    if (p.tx_queues > 0) {
      if (static_cast<unsigned>(p.tx_queues) < workers && tx_used.count(p.name))
        diag.error(p.tx_queues_mark, "port '" + p.name + "' has " + std::to_string(p.tx_queues) +
                               " TX queue(s) but each of the " + std::to_string(workers) + " workers needs its own");
      if (min_tx_queues.count(p.name) && p.tx_queues < min_tx_queues[p.name])
        diag.error(p.tx_queues_mark, "port '" + p.name + "' has " + std::to_string(p.tx_queues) +
                                         " TX queue(s) but queue " + std::to_string(min_tx_queues[p.name] - 1) +
                                         " is transmitted on");
      pp.tx_queues = static_cast<uint16_t>(p.tx_queues);
    } else {
      pp.tx_queues = static_cast<uint16_t>(std::max<int>(static_cast<int>(workers), min_tx_queues[p.name]));
    }
    plan.ports.push_back(pp);
  }
}

}  // namespace

GraphPlan validate_graph(std::shared_ptr<const GraphSpec> spec_ptr, const PluginLoader& loader, Diagnostics& diag) {
  GraphPlan plan;
  plan.spec = spec_ptr;
  Validation v{plan, *spec_ptr, loader, diag, static_cast<unsigned>(spec_ptr->worker_lcores.size()), {}, {}, {}, {}};
  check_names(v);
  plan_services(v);
  plan_elements(v);
  resolve_connections(v);
  report_unconnected(v);
  check_cycles(v);
  plan_ports(v);
  return plan;
}

}  // namespace weft

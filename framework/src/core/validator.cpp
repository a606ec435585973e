#include "core/validator.hpp"

#include <functional>
#include <map>
#include <set>

#include "core/text.hpp"

namespace weft {

int GraphPlan::index_of(const std::string& id) const {
  for (size_t i = 0; i < nodes.size(); i++)
    if (nodes[i].spec->id == id) return static_cast<int>(i);
  return -1;
}

Params make_params(const ElementSpec& e, const ElementClass& k) { return Params(e.params, &k.params, e.mark); }

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
  }

  std::vector<std::string> outputs;
  bool outputs_set = false;
  std::vector<RxClaim> rx_claims;
  std::vector<std::string> tx_ports;

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

bool type_ok(const YAML::Node& n, ParamType t) {
  switch (t) {
    case ParamType::Bool: return n.IsScalar() && parse_bool(n.Scalar()).has_value();
    case ParamType::Int: return n.IsScalar() && parse_int(n.Scalar()).has_value();
    case ParamType::UInt: return n.IsScalar() && parse_uint(n.Scalar()).has_value();
    case ParamType::Double: return n.IsScalar() && parse_double(n.Scalar()).has_value();
    case ParamType::String:
    case ParamType::Port: return n.IsScalar();
    case ParamType::List: return n.IsSequence();
    case ParamType::Map: return n.IsMap();
    case ParamType::Any: return true;
  }
  return false;
}

const char* type_phrase(ParamType t) {
  switch (t) {
    case ParamType::Bool: return "true or false";
    case ParamType::Int: return "an integer";
    case ParamType::UInt: return "a non-negative integer";
    case ParamType::Double: return "a number";
    case ParamType::String: return "a string";
    case ParamType::Port: return "a port name";
    case ParamType::List: return "a list";
    case ParamType::Map: return "a mapping";
    case ParamType::Any: return "a value";
  }
  return "?";
}

std::string describe(const YAML::Node& n) {
  if (n.IsSequence()) return "a list";
  if (n.IsMap()) return "a mapping";
  if (n.IsNull()) return "nothing";
  return "'" + n.Scalar() + "'";
}

// Checks the element's parameter map against its class schema.
bool check_schema(const ElementSpec& e, const ElementClass& k, const GraphSpec& g, Diagnostics& diag) {
  bool ok = true;
  std::vector<std::string> names;
  for (const auto& p : k.params) names.push_back(p.name);
  for (auto it = e.params.begin(); it != e.params.end(); ++it) {
    const std::string key = it->first.Scalar();
    const ParamSpec* ps = nullptr;
    for (const auto& p : k.params)
      if (p.name == key) ps = &p;
    if (!ps) {
      std::string known = names.empty() ? " (it takes no parameters)" : did_you_mean(key, names);
      diag.error(mark_of(it->first), "element '" + e.id + "': " + k.name + " has no parameter '" + key + "'" + known);
      ok = false;
      continue;
    }
    if (!type_ok(it->second, ps->type)) {
      diag.error(mark_of(it->second), "element '" + e.id + "': parameter '" + key + "' expects " +
                                          type_phrase(ps->type) + ", got " + describe(it->second));
      ok = false;
      continue;
    }
    if (ps->type == ParamType::Port && !g.find_port(it->second.Scalar())) {
      std::vector<std::string> ports;
      for (const auto& p : g.ports) ports.push_back(p.name);
      diag.error(mark_of(it->second), "element '" + e.id + "': unknown port '" + it->second.Scalar() + "'" +
                                          (ports.empty() ? std::string(" (the graph declares no ports)")
                                                         : did_you_mean(it->second.Scalar(), ports)));
      ok = false;
    }
  }
  for (const auto& p : k.params) {
    if (p.required && !(e.params[p.name] && !e.params[p.name].IsNull())) {
      diag.error(e.mark, "element '" + e.id + "': missing required parameter '" + p.name + "' (" +
                             type_phrase(p.type) + ": " + p.doc + ")");
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

void configure_instance(Element& el, const NodePlan& node, const GraphSpec& graph) {
  RecordingContext ctx(*node.spec, *node.klass, graph);
  el.configure(ctx);
  if (node.klass->dynamic_outputs && ctx.outputs != node.outputs)
    throw ConfigError(node.spec->mark, "element '" + node.spec->id + "' declared different outputs on a second configure");
}

namespace {

// --- The phases of validate_graph, in the order it runs them ---

// Finds an element's class; an unknown one is reported (a missing one was, by the parser).
const ElementClass* resolve_class(const ElementSpec& e, const PluginLoader& loader,
                                  const std::vector<std::string>& class_names, Diagnostics& diag) {
  const ElementClass* k = loader.find(e.class_name);
  if (!k && !e.class_name.empty())
    diag.error(e.class_mark, "element '" + e.id + "': unknown class '" + e.class_name + "'" +
                                 did_you_mean(e.class_name, class_names));
  return k;
}

// Runs configure() on a prototype and records the node's ports and port claims; false if it failed (reported).
bool configure_prototype(NodePlan& n, const GraphSpec& g, Diagnostics& diag) {
  const ElementSpec& e = *n.spec;
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
    return true;
  } catch (const ConfigError& err) {
    diag.error(err.mark().line ? err.mark() : e.mark, "element '" + e.id + "': " + err.what());
  } catch (const std::exception& err) {
    diag.error(e.mark, "element '" + e.id + "': configuration failed: " + err.what());
  }
  return false;
}

// Per element: class, parameters against its schema, configure(). Returns, per node, whether all passed.
std::vector<bool> plan_elements(GraphPlan& plan, const PluginLoader& loader, Diagnostics& diag) {
  const GraphSpec& g = *plan.spec;
  const std::vector<std::string> class_names = loader.class_names();
  std::vector<bool> configured;
  for (const auto& e : g.elements) {
    NodePlan n;
    n.spec = &e;
    n.klass = resolve_class(e, loader, class_names, diag);
    configured.push_back(n.klass && check_schema(e, *n.klass, g, diag) && configure_prototype(n, g, diag));
    n.links.assign(n.outputs.size(), {});
    plan.nodes.push_back(std::move(n));
  }
  return configured;
}

// What resolving the connections learned, per node, for the checks after it.
struct Wiring {
  explicit Wiring(const GraphPlan& plan)
      : link_marks(plan.nodes.size()),
        next_variadic(plan.nodes.size(), 0),
        has_input(plan.nodes.size(), false),
        unresolved_output(plan.nodes.size(), false) {
    for (size_t i = 0; i < plan.nodes.size(); i++) link_marks[i].assign(plan.nodes[i].outputs.size(), {});
  }
  std::vector<std::vector<Mark>> link_marks;  // where each output was connected
  std::vector<unsigned> next_variadic;        // numbered inputs used so far
  std::vector<bool> has_input;                // something is connected to it
  // A connection that failed to resolve still counts as "meant": the
  // elements it names get no follow-up "not connected" findings.
  std::vector<bool> unresolved_output;
};

// The output a connection leaves from, or -1 (reported).
int resolve_output(const ConnectionSpec& c, const NodePlan& src, Diagnostics& diag) {
  if (src.outputs.empty()) {
    diag.error(c.from.mark, "element '" + src.spec->id + "' (" + src.klass->name + ") has no outputs");
    return -1;
  }
  int out = resolve_port(c.from.port, src.outputs);
  if (out < 0) {
    Mark out_mark = c.from.port.empty() ? c.from.mark : c.from.port_mark;
    std::string list;
    for (size_t i = 0; i < src.outputs.size(); i++) list += (i ? ", " : "") + src.outputs[i];
    diag.error(out_mark, "element '" + src.spec->id + "' has no output '" + c.from.port + "' (outputs: " + list +
                             ")" + did_you_mean(c.from.port, src.outputs));
  }
  return out;
}

// The input a connection enters (numbered inputs are counted in `next_variadic`), or -1 (reported).
int resolve_input(const ConnectionSpec& c, const NodePlan& dst, unsigned& next_variadic, Diagnostics& diag) {
  Mark in_mark = c.to.port.empty() ? c.to.mark : c.to.port_mark;
  if (dst.klass->variadic_inputs) {
    if (c.to.port.empty()) return static_cast<int>(next_variadic++);
    if (auto v = parse_uint(c.to.port); v && *v < 1024) {
      int in = static_cast<int>(*v);
      next_variadic = std::max<unsigned>(next_variadic, static_cast<unsigned>(in) + 1);
      return in;
    }
    diag.error(in_mark, "element '" + dst.spec->id + "' takes numbered inputs ([0], [1], ...)");
    return -1;
  }
  if (dst.inputs.empty()) {
    diag.error(c.to.mark, "element '" + dst.spec->id + "' (" + dst.klass->name + ") has no inputs: it is a source");
    return -1;
  }
  int in = resolve_port(c.to.port, dst.inputs);
  if (in < 0) {
    std::string list;
    for (const auto& n : dst.inputs) list += (list.empty() ? "" : ", ") + n;
    diag.error(in_mark, "element '" + dst.spec->id + "' has no input '" + c.to.port + "' (inputs: " + list + ")" +
                            did_you_mean(c.to.port, dst.inputs));
  }
  return in;
}

// Links one connection; false if it does not resolve (reported, unless an element it names failed before).
bool link_connection(const ConnectionSpec& c, int from, int to, GraphPlan& plan, const std::vector<bool>& configured,
                     const std::vector<std::string>& ids, Wiring& w, Diagnostics& diag) {
  if (from < 0)
    diag.error(c.from.mark, "connection from unknown element '" + c.from.element + "'" +
                                did_you_mean(c.from.element, ids));
  if (to < 0)
    diag.error(c.to.mark, "connection to unknown element '" + c.to.element + "'" + did_you_mean(c.to.element, ids));
  if (from < 0 || to < 0) return false;
  if (!configured[from] || !configured[to]) {
    // Already reported; count the link so no false "not connected" follows.
    w.has_input[to] = true;
    if (configured[from]) {
      int o = resolve_port(c.from.port, plan.nodes[from].outputs);
      if (o >= 0 && plan.nodes[from].links[o].element < 0) plan.nodes[from].links[o] = {to, 0};
    }
    return false;
  }
  NodePlan& src = plan.nodes[from];
  NodePlan& dst = plan.nodes[to];
  int out = resolve_output(c, src, diag);
  if (out < 0) return false;
  int in = resolve_input(c, dst, w.next_variadic[to], diag);
  if (in < 0) return false;
  Mark out_mark = c.from.port.empty() ? c.from.mark : c.from.port_mark;
  if (src.links[out].element >= 0) {
    diag.error(out_mark, "output '" + port_label(src.outputs, out) + "' of '" + src.spec->id +
                             "' is already connected (line " + std::to_string(w.link_marks[from][out].line) +
                             "); use a Tee to copy packets to several elements");
    return false;
  }
  src.links[out] = {to, static_cast<uint16_t>(in)};
  w.link_marks[from][out] = out_mark;
  w.has_input[to] = true;
  return true;
}

// Resolves every connection into a link from an output to an input.
Wiring resolve_connections(GraphPlan& plan, const std::vector<bool>& configured, Diagnostics& diag) {
  Wiring w(plan);
  std::vector<std::string> ids;
  for (const auto& e : plan.spec->elements) ids.push_back(e.id);
  for (const auto& c : plan.spec->connections) {
    int from = plan.index_of(c.from.element);
    int to = plan.index_of(c.to.element);
    if (!link_connection(c, from, to, plan, configured, ids, w, diag)) {
      if (from >= 0) w.unresolved_output[static_cast<size_t>(from)] = true;
      if (to >= 0) w.has_input[static_cast<size_t>(to)] = true;
    }
  }
  return w;
}

// Names the numbered inputs of variadic elements ("in0", "in1", ...) as far as they are used.
void name_variadic_inputs(GraphPlan& plan, const std::vector<bool>& configured, const Wiring& w) {
  for (size_t i = 0; i < plan.nodes.size(); i++) {
    NodePlan& n = plan.nodes[i];
    if (configured[i] && n.klass->variadic_inputs && w.next_variadic[i] > 0)
      for (unsigned k = 0; k < w.next_variadic[i]; k++) n.inputs.push_back("in" + std::to_string(k));
  }
}

// Reports outputs connected to nothing (errors) and elements nothing is connected to (warnings).
void check_unconnected(const GraphPlan& plan, const std::vector<bool>& configured, const Wiring& w,
                       Diagnostics& diag) {
  for (size_t i = 0; i < plan.nodes.size(); i++) {
    if (!configured[i]) continue;
    const NodePlan& n = plan.nodes[i];
    if (!w.unresolved_output[i])
      for (size_t o = 0; o < n.outputs.size(); o++)
        if (n.links[o].element < 0)
          diag.error(n.spec->mark, "output '" + n.outputs[o] + "' of '" + n.spec->id + "' is not connected");
    if ((!n.klass->inputs.empty() || n.klass->variadic_inputs) && !w.has_input[i])
      diag.warning(n.spec->mark, "element '" + n.spec->id + "' receives no packets (nothing is connected to it)");
  }
}

// Reports the first connection cycle: packets are pushed depth-first, so a cycle would never end.
void check_cycles(const GraphPlan& plan, Diagnostics& diag) {
  std::vector<int> color(plan.nodes.size(), 0);
  std::vector<int> stack;
  std::function<bool(int)> dfs = [&](int v) -> bool {
    color[v] = 1;
    stack.push_back(v);
    for (const auto& l : plan.nodes[v].links) {
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
    color[v] = 2;
    return false;
  };
  for (size_t i = 0; i < plan.nodes.size(); i++)
    if (color[i] == 0 && dfs(static_cast<int>(i))) break;
}

// How the elements use the ports' queues.
struct QueueUse {
  std::map<std::string, int> max_rx_queue;  // highest RX queue polled, per port
  std::set<std::string> tx_used;            // ports transmitted on
};

// Gives each RX claim its queue(s), one worker's each, and reports a queue claimed twice.
QueueUse claim_queues(const GraphPlan& plan, Diagnostics& diag) {
  const unsigned workers = plan.workers();
  struct Claim {
    std::string element;
    Mark mark;
  };
  std::map<std::pair<std::string, int>, Claim> claimed;
  QueueUse use;
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
        use.max_rx_queue[c.port] = std::max(use.max_rx_queue[c.port], q);
      }
    }
    for (const auto& t : n.tx_ports) use.tx_used.insert(t);
  }
  return use;
}

// Reports two ports on one device.
void check_shared_devices(const GraphSpec& g, Diagnostics& diag) {
  for (size_t i = 0; i < g.ports.size(); i++)
    for (size_t j = 0; j < i; j++)
      if (g.ports[i].device == g.ports[j].device)
        diag.error(g.ports[i].mark, "port '" + g.ports[i].name + "' uses device '" + g.ports[i].device +
                                        "' already used by port '" + g.ports[j].name + "'");
}

// Sizes each port's RX and TX queues (given, or as many as used), reporting too few.
std::vector<PortPlan> plan_ports(const GraphSpec& g, unsigned workers, const QueueUse& use, Diagnostics& diag) {
  std::vector<PortPlan> ports;
  for (const auto& p : g.ports) {
    PortPlan pp;
    pp.spec = &p;
    auto max_rx = use.max_rx_queue.find(p.name);
    int need_rx = max_rx != use.max_rx_queue.end() ? max_rx->second + 1 : 1;
    if (p.rx_queues > 0) {
      if (p.rx_queues < need_rx)
        diag.error(p.rx_queues_mark, "port '" + p.name + "' has " + std::to_string(p.rx_queues) +
                                         " RX queue(s) but queue " + std::to_string(need_rx - 1) + " is polled");
      pp.rx_queues = static_cast<uint16_t>(p.rx_queues);
    } else {
      pp.rx_queues = static_cast<uint16_t>(std::max<int>(need_rx, 1));
    }
    if (p.tx_queues > 0) {
      if (static_cast<unsigned>(p.tx_queues) < workers && use.tx_used.count(p.name))
        diag.error(p.tx_queues_mark, "port '" + p.name + "' has " + std::to_string(p.tx_queues) +
                               " TX queue(s) but each of the " + std::to_string(workers) + " workers needs its own");
      pp.tx_queues = static_cast<uint16_t>(p.tx_queues);
    } else {
      pp.tx_queues = static_cast<uint16_t>(workers);
    }
    ports.push_back(pp);
  }
  return ports;
}

}  // namespace

GraphPlan validate_graph(std::shared_ptr<const GraphSpec> spec, const PluginLoader& loader, Diagnostics& diag) {
  GraphPlan plan;
  plan.spec = spec;
  const std::vector<bool> configured = plan_elements(plan, loader, diag);
  const Wiring wiring = resolve_connections(plan, configured, diag);
  name_variadic_inputs(plan, configured, wiring);
  if (!spec->connections_incomplete) check_unconnected(plan, configured, wiring, diag);
  check_cycles(plan, diag);
  const QueueUse queues = claim_queues(plan, diag);
  check_shared_devices(*spec, diag);
  plan.ports = plan_ports(*spec, plan.workers(), queues, diag);
  return plan;
}

}  // namespace weft

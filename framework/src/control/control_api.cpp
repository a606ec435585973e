#include "control/control_api.hpp"

#include <dirent.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_memzone.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "runtime/fault_log.hpp"
#include "runtime/port_config.hpp"
#include "runtime/clock.hpp"
#include "weft/clock.hpp"
#include "weft/version.hpp"

namespace weft {

json params_json(const std::vector<ParamSpec>& params) {
  json out = json::array();
  for (const auto& p : params) {
    json j = {{"name", p.name}, {"type", to_string(p.type)}, {"required", p.required}, {"default", p.default_value},
              {"doc", p.doc}};
    if (!p.handle.empty()) j["service"] = p.handle;
    out.push_back(j);
  }
  return out;
}

template <class Obj>
json metrics_json(const std::vector<ClassMetricSpec<Obj>>& metrics, std::vector<std::string> framework_labels) {
  json out = json::array();
  for (const auto& m : metrics) {
    std::vector<std::string> labels = framework_labels;
    labels.insert(labels.end(), m.spec.labels.begin(), m.spec.labels.end());
    out.push_back({{"name", m.spec.name}, {"type", to_string(m.spec.type)}, {"labels", labels}, {"help", m.spec.help}});
  }
  return out;
}

json class_json(const ElementClass& k, const std::string& plugin_path) {
  json j;
  j["name"] = k.name;
  j["summary"] = k.summary;
  j["doc"] = k.doc;
  j["plugin"] = plugin_path;
  j["inputs"] = k.inputs;
  j["variadic_inputs"] = k.variadic_inputs;
  j["outputs"] = k.outputs;
  j["dynamic_outputs"] = k.dynamic_outputs;
  j["outputs_doc"] = k.outputs_doc;
  j["kind"] = "element";
  j["params"] = params_json(k.params);
  j["drops"] = json::array();
  for (const auto& d : k.drops) j["drops"].push_back({{"name", d.name}, {"doc", d.doc}});
  j["handlers"] = json::array();
  for (const auto& h : k.handlers)
    j["handlers"].push_back({{"name", h.name}, {"read", h.readable()}, {"write", h.writable()}, {"doc", h.doc}});
  j["metrics"] = metrics_json(k.metrics, {"element", "class"});
  return j;
}

json service_class_json(const ServiceClass& k, const std::string& plugin_path) {
  json j;
  j["name"] = k.name;
  j["kind"] = "service";
  j["summary"] = k.summary;
  j["doc"] = k.doc;
  j["plugin"] = plugin_path;
  j["params"] = params_json(k.params);
  j["provides"] = json::array();
  for (const auto& h : k.provides) j["provides"].push_back({{"type", h.type}, {"doc", h.doc}});
  j["commands"] = json::array({{{"name", "status"}, {"args", ""}, {"doc", "state and counters"}}});
  for (const auto& c : k.commands) j["commands"].push_back({{"name", c.name}, {"args", c.args}, {"doc", c.doc}});
  j["metrics"] = metrics_json(k.metrics, {"service"});
  return j;
}

json classes_json(const PluginLoader& loader) {
  json out = json::array();
  for (const auto& n : loader.class_names()) out.push_back(class_json(*loader.find(n), loader.plugin_of(n)));
  for (const auto& n : loader.service_class_names())
    out.push_back(service_class_json(*loader.find_service(n), loader.plugin_of(n)));
  return out;
}

json plugins_json(const PluginLoader& loader) {
  json out = json::array();
  for (const auto& p : loader.plugins())
    out.push_back({{"path", p.path},
                   {"name", p.name},
                   {"version", p.version},
                   {"description", p.description},
                   {"abi", std::to_string(p.abi_major) + "." + std::to_string(p.abi_minor)},
                   {"framework_version", p.framework_version},
                   {"compiler_abi", p.compiler_abi},
                   {"dpdk_version", p.dpdk_version},
                   {"classes", p.classes},
                   {"services", p.services}});
  return out;
}

json graph_json(const GraphPlan& plan) {
  json j;
  j["name"] = plan.spec->name;
  j["file"] = plan.spec->file;
  j["workers"] = plan.spec->worker_lcores;
  j["ports"] = json::array();
  for (const auto& p : plan.ports)
    j["ports"].push_back({{"name", p.spec->name},
                          {"device", p.spec->device},
                          {"args", p.spec->args},
                          {"rx_queues", p.rx_queues},
                          {"tx_queues", p.tx_queues}});
  j["elements"] = json::array();
  for (const auto& n : plan.nodes) {
    json e{{"id", n.spec->id}, {"class", n.klass ? n.klass->name : std::string()}, {"inputs", n.inputs}};
    e["outputs"] = json::array();
    for (size_t o = 0; o < n.outputs.size(); o++) {
      json out{{"name", n.outputs[o]}};
      if (n.links[o].element >= 0) {
        const NodePlan& t = plan.nodes[static_cast<size_t>(n.links[o].element)];
        out["to"] = t.spec->id;
        out["to_input"] = n.links[o].input < t.inputs.size() ? t.inputs[n.links[o].input]
                                                             : std::to_string(n.links[o].input);
      }
      e["outputs"].push_back(out);
    }
    json ports = json::array();
    for (const auto& c : n.rx_claims) ports.push_back({{"port", c.port}, {"dir", "rx"}});
    for (const auto& t : n.tx_ports) ports.push_back({{"port", t}, {"dir", "tx"}});
    e["dpdk_ports"] = ports;
    json uses = json::array();
    if (n.klass)
      for (const auto& p : n.klass->params)
        if (p.type == ParamType::Service && n.spec->params[p.name] && n.spec->params[p.name].IsScalar())
          uses.push_back({{"param", p.name}, {"service", n.spec->params[p.name].Scalar()}});
    e["services"] = uses;
    j["elements"].push_back(e);
  }
  j["services"] = json::array();
  for (const auto& s : plan.services) j["services"].push_back({{"name", s.spec->id}, {"class", s.klass->name}});
  return j;
}

namespace {

json link_json(const LinkState& l) {
  if (!l.known) return nullptr;
  return {{"up", l.up}, {"speed_mbps", l.speed_mbps}, {"full_duplex", l.full_duplex}, {"autoneg", l.autoneg}};
}

// Every extended statistic the driver keeps (names are the driver's).
json xstats_json(uint16_t port_id) {
  json j = json::object();
  int n = rte_eth_xstats_get_names(port_id, nullptr, 0);
  if (n <= 0) return j;
  std::vector<rte_eth_xstat_name> names(static_cast<size_t>(n));
  std::vector<rte_eth_xstat> values(static_cast<size_t>(n));
  if (rte_eth_xstats_get_names(port_id, names.data(), static_cast<unsigned>(n)) != n) return j;
  int got = rte_eth_xstats_get(port_id, values.data(), static_cast<unsigned>(n));
  for (int i = 0; i < got && i < n; i++) {
    const auto& v = values[static_cast<size_t>(i)];
    if (v.id < names.size()) j[names[v.id].name] = v.value;
  }
  return j;
}

}  // namespace

json stats_json(const Runtime& rt) {
  const GraphPlan& plan = rt.plan();
  json j;
  j["uptime_s"] = rt.elapsed_s();
  j["elements"] = json::array();
  const unsigned nw = static_cast<unsigned>(rt.workers().size());
  for (size_t i = 0; i < plan.nodes.size(); i++) {
    const NodePlan& n = plan.nodes[i];
    json e{{"id", n.spec->id}, {"class", n.klass->name}};
    json per = json::array();
    uint64_t tot_in = 0, tot_out = 0, tot_drop = 0;
    for (unsigned w = 0; w < nw; w++) {
      const Element* el = rt.element(w, i);
      if (!el) continue;
      json lw{{"worker", w}, {"lcore", rt.workers()[w]->lcore}};
      // Inputs are the outputs wired to this element: no counting on the fast path.
      json inputs = json::array();
      for (size_t in = 0; in < std::max<size_t>(n.inputs.size(), 1); in++) {
        uint64_t pk = 0, by = 0;
        for (size_t s = 0; s < plan.nodes.size(); s++)
          for (size_t o = 0; o < plan.nodes[s].links.size(); o++)
            if (plan.nodes[s].links[o].element == static_cast<int>(i) && plan.nodes[s].links[o].input == in) {
              const OutputPort& op = rt.element(w, s)->output_port(o);
              pk += op.packets.get();
              by += op.bytes.get();
            }
        if (in < n.inputs.size()) inputs.push_back({{"name", n.inputs[in]}, {"packets", pk}, {"bytes", by}});
        tot_in += pk;
      }
      json outputs = json::array();
      for (size_t o = 0; o < el->output_count(); o++) {
        const OutputPort& op = el->output_port(o);
        outputs.push_back({{"name", n.outputs[o]}, {"packets", op.packets.get()}, {"bytes", op.bytes.get()}});
        tot_out += op.packets.get();
      }
      json drops = json::object();
      for (size_t d = 0; d < el->drop_reason_count(); d++) {
        drops[n.klass->drops[d].name] = el->drops(d);
        tot_drop += el->drops(d);
      }
      // The framework's reasons (an instance that threw), once they count something.
      for (size_t k = 0; k < kFrameworkDropCount; k++)
        if (uint64_t v = el->drops(el->drop_reason_count() + k)) {
          drops[kFrameworkDrops[k]] = v;
          tot_drop += v;
        }
      lw["inputs"] = inputs;
      lw["outputs"] = outputs;
      lw["drops"] = drops;
      per.push_back(lw);
    }
    e["workers"] = per;
    e["total"] = {{"in", tot_in}, {"out", tot_out}, {"dropped", tot_drop}};
    j["elements"].push_back(e);
  }
  j["ports"] = json::array();
  for (const auto& p : rt.ports()) {
    rte_eth_stats st{};
    rte_eth_stats_get(p.id, &st);
    json q = json::array();
    for (unsigned k = 0; k < std::max(p.rx_queues, p.tx_queues) && k < RTE_ETHDEV_QUEUE_STAT_CNTRS; k++)
      q.push_back({{"queue", k},
                   {"rx_packets", st.q_ipackets[k]},
                   {"tx_packets", st.q_opackets[k]},
                   {"rx_bytes", st.q_ibytes[k]},
                   {"tx_bytes", st.q_obytes[k]}});
    j["ports"].push_back({{"name", p.name},
                          {"port_id", p.id},
                          {"rx_packets", st.ipackets},
                          {"tx_packets", st.opackets},
                          {"rx_bytes", st.ibytes},
                          {"tx_bytes", st.obytes},
                          {"rx_missed", st.imissed},
                          {"rx_errors", st.ierrors},
                          {"tx_errors", st.oerrors},
                          {"rx_nombuf", st.rx_nombuf},
                          {"queues", q},
                          {"link", link_json(read_link(p.id))},
                          {"mtu", p.mtu},
                          {"rss", p.rss_hf ? json{{"hash", rss_hash_names(p.rss_hf)}, {"symmetric", p.rss_symmetric}}
                                           : json(nullptr)},
                          {"offloads", {{"rx", rx_offload_names(p.rx_offloads)}, {"tx", tx_offload_names(p.tx_offloads)}}},
                          {"xstats", xstats_json(p.id)}});
  }
  j["workers"] = json::array();
  for (const auto& w : rt.workers())
    j["workers"].push_back({{"index", w->index},
                            {"lcore", w->lcore},
                            {"polls", w->polls.get()},
                            {"busy_polls", w->busy_polls.get()},
                            {"idle_sleeps", w->sleeps.get()}});
  return j;
}

json reload_json(const ReloadReport& r) {
  json kept = json::array(), skept = json::array();
  for (const auto& k : r.kept)
    kept.push_back({{"id", k.id}, {"class", k.klass}, {"state", k.state}, {"why", k.why}});
  for (const auto& k : r.services_kept)
    skept.push_back({{"name", k.id}, {"class", k.klass}, {"state", k.state}, {"why", k.why}});
  json j{{"applied", r.ok},
         {"mode", r.mode},
         {"elements", {{"added", r.added}, {"removed", r.removed}, {"kept", kept}}},
         {"services", {{"added", r.services_added}, {"removed", r.services_removed}, {"kept", skept}}},
         {"ports",
          {{"added", r.ports_added},
           {"removed", r.ports_removed},
           {"changed", r.ports_changed},
           {"unchanged", r.ports_unchanged}}},
         {"timing_ms", {{"build", r.build_ms}, {"swap", r.swap_ms}, {"worker_pause", r.pause_ms}}},
         {"packets_lost", r.packets_lost}};
  if (!r.ok) {
    j["error"] = r.error;
    j["rolled_back"] = r.rolled_back;
  }
  return j;
}

json ControlApi::reload(const std::string& file, std::chrono::milliseconds timeout) {
  Diagnostics diag(file);
  auto spec = std::make_shared<GraphSpec>(load_graph_file(file, diag));
  return reload(std::move(spec), diag, file, timeout);
}

json ControlApi::reload(std::shared_ptr<GraphSpec> spec, Diagnostics& diag, const std::string& label,
                        std::chrono::milliseconds timeout) {
  json j;
  try {
    j = reload_checked(std::move(spec), diag, label, timeout);
  } catch (...) {
    // Whatever threw (a plugin, in validation), nothing has changed yet.
    j = {{"applied", false}, {"file", label}, {"error", "reload failed: " + current_exception_text()},
         {"diagnostics", json::array()}};
  }
  reloads_.record(j);
  return j;
}

json ControlApi::reload_checked(std::shared_ptr<GraphSpec> spec, Diagnostics& diag, const std::string& label,
                                std::chrono::milliseconds timeout) {
  auto t0 = std::chrono::steady_clock::now();
  auto refused = [&](const std::string& error) {
    count_reload(nullptr, 0, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    json j{{"applied", false}, {"file", label}, {"error", error}, {"diagnostics", json::array()}};
    for (const auto& d : diag.items()) j["diagnostics"].push_back(d.format());
    return j;
  };
  if (!spec->parsed) return refused("the graph file could not be read");
  try {
    // A graph from etcd names plugin directories only under the roots.
    std::vector<std::string> dirs = spec->from_etcd ? loader_.confine(spec->plugin_paths) : spec->plugin_paths;
    dirs.insert(dirs.end(), plugin_dirs_.begin(), plugin_dirs_.end());
    loader_.load_directories(dirs);
  } catch (const PluginError& e) {
    return refused(e.what());
  }
  GraphPlan plan = validate_graph(spec, loader_, diag);
  double validate_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (diag.has_errors()) return refused("the graph is not valid");
  ReloadReport r = rt_.reload(std::move(plan), timeout);
  json j = reload_json(r);
  j["file"] = label;
  j["timing_ms"]["validate"] = validate_ms;
  j["timing_ms"]["total"] = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  count_reload(&r, validate_ms, j["timing_ms"]["total"].get<double>());
  j["diagnostics"] = json::array();
  for (const auto& d : diag.items()) j["diagnostics"].push_back(d.format());  // warnings
  if (r.ok) graph_file_ = label;
  return j;
}

void ControlApi::count_reload(const ReloadReport* r, double validate_ms, double total_ms) {
  ReloadStats& s = reload_stats_;
  s.any = true;
  s.validate_s = validate_ms / 1e3;
  s.total_s = total_ms / 1e3;
  s.build_s = r ? r->build_ms / 1e3 : 0;
  s.swap_s = r ? r->swap_ms / 1e3 : 0;
  s.pause_s = r ? r->pause_ms / 1e3 : 0;
  s.packets_lost = r ? r->packets_lost : 0;
  if (r && r->ok) {
    s.applied++;
    s.last_success_unix = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  } else if (r && r->rolled_back) {
    s.rolled_back++;
  } else {
    s.refused++;
  }
}

json ControlApi::metrics(const json& args) {
  if (!metrics_) throw std::runtime_error("metrics are not collected by this daemon");
  const std::string format = args.value("format", "prometheus");
  ExpositionFormat f = ExpositionFormat::Prometheus;
  if (format == "openmetrics") f = ExpositionFormat::OpenMetrics;
  else if (format != "prometheus") throw std::invalid_argument("format: prometheus or openmetrics");
  return {{"format", format}, {"content_type", content_type(f)}, {"text", render_metrics(metrics_->collect(), f)}};
}

json ControlApi::services() {
  json out = json::array();
  ServiceSet& set = rt_.running_services();
  for (auto& e : set.entries())
    out.push_back({{"name", e.service->name()}, {"class", e.service->service_class().name}, {"status", set.status_of(e)}});
  return out;
}

json ControlApi::service(const json& args) {
  // {"name": NAME} or {"class": CLASS} (every service of that class), "cmd", "args".
  const std::string name = args.value("name", ""), klass = args.value("class", ""), cmd = args.value("cmd", "");
  const json cargs = args.value("args", json::object());
  json out = json::array();
  ServiceSet& set = rt_.running_services();
  for (auto& e : set.entries()) {
    Service& s = *e.service;
    const ServiceClass& k = s.service_class();
    if (!((!name.empty() && s.name() == name) || (!klass.empty() && k.name == klass))) continue;
    json result;
    if (cmd.empty() || cmd == "status") {
      result = set.status_of(e);
    } else if (const ServiceCommandSpec* c = k.find_command(cmd)) {
      result = set.run_command(e, *c, cargs);
    } else {
      std::string list = "status";
      for (const auto& x : k.commands) list += ", " + x.name;
      throw std::invalid_argument("service '" + s.name() + "' (" + k.name + ") has no command '" + cmd +
                                  "' (commands: " + list + ")");
    }
    out.push_back({{"name", s.name()}, {"class", k.name}, {"result", result}});
  }
  if (out.empty())
    throw std::invalid_argument(name.empty() ? "no service of class '" + klass + "' is running"
                                             : "no service '" + name + "' (see `routerctl service`)");
  return out;
}

json ControlApi::health() { return health_json(rt_, reloads_, peers_); }

json ControlApi::status() {
  json j;
  j["version"] = kVersion;
  j["pid"] = ::getpid();
  j["graph"] = {{"file", graph_file_}, {"name", rt_.plan().spec->name}};
  j["uptime_s"] = rt_.elapsed_s();
  const ClockCalibrator& clock = ClockCalibrator::process();
  j["clock"] = {{"tsc_hz", Clock::hz()},
                {"calibrations", Clock::calibrations()},
                {"baseline_s", clock.baseline_s()},
                {"pairs_refused", clock.pairs_refused()},
                {"dpdk_tsc_hz", rte_get_tsc_hz()},
                {"dpdk_error", double(rte_get_tsc_hz()) / double(Clock::hz()) - 1}};
  j["elements"] = rt_.plan().nodes.size();
  j["ports"] = rt_.ports().size();
  j["plugins"] = loader_.plugins().size();
  j["reloads"] = rt_.reloads();
  j["reload_packets_lost"] = rt_.reload_packets_lost();
  j["workers"] = json::array();
  for (const auto& w : rt_.workers())
    j["workers"].push_back({{"index", w->index},
                            {"lcore", w->lcore},
                            {"running", w->running.load()},
                            {"generation", w->generation.get()},
                            {"polls", w->polls.get()},
                            {"busy_polls", w->busy_polls.get()}});
  for (const auto& [name, fn] : status_extras_) j[name] = fn();
  j["health"] = health();
  return j;
}

json ControlApi::handler(const json& args) {
  const std::string id = args.value("element", "");
  const std::string name = args.value("name", "");
  const bool write = args.contains("value");
  const std::string value = write ? args["value"].get<std::string>() : "";
  int node = rt_.plan().index_of(id);
  if (node < 0) throw std::invalid_argument("no element '" + id + "'");
  const NodePlan& n = rt_.plan().nodes[static_cast<size_t>(node)];
  json results = json::array();
  for (unsigned w = 0; w < rt_.workers().size(); w++) {
    if (args.contains("worker") && args["worker"].get<unsigned>() != w) continue;
    Element* el = rt_.element(w, static_cast<size_t>(node));
    // The task owns its result: if the worker answers late, nothing dangles.
    struct Outcome {
      json r;
      std::string error;
    };
    auto out = std::make_shared<Outcome>();
    out->r = {{"worker", w}};
    bool answered = rt_.run_on_worker(
        w,
        [out, el, &n, name, value, write, id] {
          try {
            const std::vector<HandlerSpec> hs = handlers_of(n);
            if (name.empty()) {
              json list = json::array();
              for (const auto& e : hs)
                list.push_back({{"name", e.name}, {"read", e.readable()}, {"write", e.writable()}, {"doc", e.doc}});
              out->r["handlers"] = list;
              return;
            }
            const HandlerSpec* e = nullptr;
            for (const auto& h : hs)
              if (h.name == name) e = &h;
            if (!e) {
              out->error = "element '" + id + "' has no handler '" + name + "'";
            } else if (write) {
              if (!e->write) out->error = "handler '" + name + "' is read-only";
              else e->write(*el, value);
            } else {
              if (!e->read) out->error = "handler '" + name + "' is write-only";
              else out->r["value"] = e->read(*el);
            }
          } catch (...) {
            out->error = current_exception_text();
          }
        },
        std::chrono::milliseconds(2000));
    if (!answered) throw std::runtime_error("worker " + std::to_string(w) + " did not answer within 2 s");
    if (!out->error.empty()) throw std::invalid_argument(out->error);
    json r = out->r;
    results.push_back(r);
  }
  return results;
}

namespace {

// A "VmRSS:   1234 kB" line of /proc/self/status, in bytes (0 if absent).
uint64_t proc_status_kb(const std::string& field) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(field + ":", 0) == 0) return std::stoull(line.substr(field.size() + 1)) * 1024;
  return 0;
}

unsigned open_fds() {
  unsigned n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') n++;
    closedir(d);
    n--;  // the directory's own descriptor
  }
  return n;
}

}  // namespace

json memory_json(const Runtime& rt) {
  json j;
  j["rss_bytes"] = proc_status_kb("VmRSS");
  j["rss_peak_bytes"] = proc_status_kb("VmHWM");
  j["fds"] = open_fds();
  json heaps = json::array();
  for (unsigned s = 0; s < rte_socket_count(); s++) {
    rte_malloc_socket_stats st{};
    const int sock = rte_socket_id_by_idx(s);
    if (sock < 0 || rte_malloc_get_socket_stats(sock, &st) != 0) continue;
    heaps.push_back({{"socket", sock},
                     {"heap_bytes", st.heap_totalsz_bytes},
                     {"allocated_bytes", st.heap_allocsz_bytes},
                     {"free_bytes", st.heap_freesz_bytes},
                     {"largest_free_bytes", st.greatest_free_size},
                     {"allocations", st.alloc_count},
                     {"free_blocks", st.free_count}});
  }
  j["dpdk_heaps"] = heaps;
  unsigned zones = 0;
  rte_memzone_walk([](const rte_memzone*, void* n) { ++*static_cast<unsigned*>(n); }, &zones);
  j["dpdk_memzones"] = zones;
  if (const rte_mempool* p = rt.mempool()) {
    // One read: the workers move buffers in and out of their caches meanwhile.
    const unsigned avail = std::min(rte_mempool_avail_count(p), p->size);
    j["packet_pool"] = {{"name", p->name}, {"size", p->size}, {"in_use", p->size - avail}, {"available", avail}};
  }
  return j;
}

json ControlApi::handle(const json& req) {
  try {
    const std::string cmd = req.value("cmd", "");
    const json args = req.value("args", json::object());
    json data;
    if (cmd == "status") data = status();
    else if (cmd == "graph") data = graph_json(rt_.plan());
    else if (cmd == "elements") data = classes_json(loader_);
    else if (cmd == "plugins") data = plugins_json(loader_);
    else if (cmd == "stats") data = stats_json(rt_);
    else if (cmd == "memory") data = memory_json(rt_);
    else if (cmd == "handler") data = handler(args);
    else if (cmd == "reload") data = reload(args.value("file", ""));
    else if (cmd == "services") data = services();
    else if (cmd == "service") data = service(args);
    else if (cmd == "metrics") data = metrics(args);
    else if (cmd == "runtime") data = runtime(args);
    else if (cmd == "trace") data = trace(args);
    else if (cmd == "capture") data = capture(args);
    else return {{"ok", false}, {"error", "unknown command '" + cmd + "'"}};
    return {{"ok", true}, {"data", data}};
  } catch (...) {
    return {{"ok", false}, {"error", current_exception_text()}};
  }
}

}  // namespace weft

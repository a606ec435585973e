// routerctl — inspect and control a running routerd, and check graph files.
//
// Exit status (docs/man/routerctl.8.md): 0 success, 1 the request failed or
// was refused (invalid graph, reload refused, error reply), 2 no routerd is
// listening on the socket, 64 a bad command line. Every command takes --json.
#include <CLI/CLI.hpp>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>

#include "cli_json.hpp"
#include "control/control_api.hpp"
#include "routerctl.hpp"
#include "control/control_server.hpp"
#include "core/graph_spec.hpp"
#include "core/plugin_loader.hpp"
#include "core/validator.hpp"
#include "weft/version.hpp"

using weft::json;

namespace routerctl {

json request(const Options& o, const std::string& cmd, const json& args) {
  json reply;
  try {
    reply = weft::control_request(o.socket, {{"cmd", cmd}, {"args", args}});
  } catch (const std::system_error& e) {
    throw NoDaemon("no routerd is running on " + o.socket + " (" + std::strerror(e.code().value()) +
                   "); start one with `routerd -c GRAPH` or pass --socket");
  }
  if (!reply.value("ok", false)) throw Failed(reply.value("error", std::string("request failed")));
  return reply["data"];
}

bool daemon_up(const Options& o) {
  try {
    weft::control_request(o.socket, {{"cmd", "status"}}, 2000);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

static std::vector<Command::Adder>& command_adders() {
  static std::vector<Command::Adder> adders;
  return adders;
}

Command::Command(Adder add) { command_adders().push_back(std::move(add)); }

}  // namespace routerctl

namespace {

using routerctl::daemon_up;
using routerctl::Failed;
using routerctl::NoDaemon;
using routerctl::Options;
using routerctl::request;

std::vector<std::string> plugin_dirs(const Options& o, const weft::GraphSpec* spec) {
  std::vector<std::string> dirs = weft::PluginLoader::split_path(o.plugin_path);
  if (const char* env = std::getenv("WEFT_PLUGIN_PATH"))
    for (auto& d : weft::PluginLoader::split_path(env)) dirs.push_back(d);
  if (spec) dirs.insert(dirs.end(), spec->plugin_paths.begin(), spec->plugin_paths.end());
  dirs.push_back(weft::PluginLoader::default_dir());
  return dirs;
}

}  // namespace

void routerctl::load_plugins(weft::PluginLoader& loader, const Options& o, const weft::GraphSpec* spec) {
  try {
    loader.load_directories(plugin_dirs(o, spec));
  } catch (const weft::PluginError& e) {
    throw Failed(e.what());
  }
}

namespace {

using routerctl::load_plugins;

// Validates a file offline; prints diagnostics; returns the plan (or throws).
weft::GraphPlan validate_file(const Options& o, const std::string& file, weft::PluginLoader& loader, bool quiet_ok) {
  weft::Diagnostics diag(file);
  auto spec = std::make_shared<weft::GraphSpec>(weft::load_graph_file(file, diag));
  if (!spec->parsed) {  // not even YAML: nothing more to check
    std::cerr << diag.format();
    throw Failed("");
  }
  try {
    load_plugins(loader, o, spec.get());
  } catch (const Failed&) {
    std::cerr << diag.format();
    throw;
  }
  weft::GraphPlan plan = weft::validate_graph(spec, loader, diag);
  std::cerr << diag.format();
  if (diag.has_errors()) throw Failed("");
  if (!quiet_ok) std::cout << file << ": ok (" << plan.nodes.size() << " elements, " << plan.ports.size()
                           << " ports, " << plan.workers() << " worker(s))\n";
  return plan;
}

// `validate --json`: the verdict and every diagnostic, one JSON object on stdout; false if the graph is invalid.
bool validate_file_json(const Options& o, const std::string& file) {
  weft::Diagnostics diag(file);
  json out{{"file", file}, {"ok", false}};
  auto spec = std::make_shared<weft::GraphSpec>(weft::load_graph_file(file, diag));
  weft::PluginLoader loader;
  if (spec->parsed) {
    try {
      load_plugins(loader, o, spec.get());
      weft::GraphPlan plan = weft::validate_graph(spec, loader, diag);
      if (!diag.has_errors())
        out.update({{"ok", true}, {"elements", plan.nodes.size()}, {"ports", plan.ports.size()},
                    {"workers", plan.workers()}});
    } catch (const Failed& e) {
      out["error"] = e.what();
    }
  }
  json lines = json::array();
  std::istringstream in(diag.format());
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  out["diagnostics"] = lines;
  std::cout << out.dump(2) << "\n";
  return out["ok"].get<bool>();
}

std::string num(uint64_t v) { return std::to_string(v); }

// The health section: problems first, then each service and peer on a line.
void print_health(const json& h) {
  const auto& problems = h["problems"];
  std::printf("health: %s\n", problems.empty() ? "ok" : "DEGRADED");
  for (const auto& p : problems) std::printf("  ! %s\n", p.get<std::string>().c_str());
  auto line = [](const std::string& name, const json& x) {
    std::string s = "  " + name + ": " + x["state"].get<std::string>();
    if (!x["detail"].get<std::string>().empty()) s += ", " + x["detail"].get<std::string>();
    if (!x["peer"].get<std::string>().empty()) s += " [" + x["peer"].get<std::string>() + "]";
    if (x["errors"].get<uint64_t>()) s += ", " + std::to_string(x["errors"].get<uint64_t>()) + " error(s)";
    if (!x["last_error"].get<std::string>().empty()) s += "; last: " + x["last_error"].get<std::string>();
    std::printf("%s\n", s.c_str());
  };
  for (const auto& sv : h["services"])
    line("service " + sv["name"].get<std::string>() + " (" + sv["class"].get<std::string>() + ")", sv);
  if (h.contains("fleet")) line("fleet", h["fleet"]);
  for (const auto& w : h["workers"])
    if (w["element_failures"].get<uint64_t>() || w["stalls"].get<uint64_t>())
      std::printf("  worker %u: %llu element failure(s), %llu stall(s) so far\n", w["index"].get<unsigned>(),
                  static_cast<unsigned long long>(w["element_failures"].get<uint64_t>()),
                  static_cast<unsigned long long>(w["stalls"].get<uint64_t>()));
  const auto& r = h["reloads"];
  if (r["refused"].get<uint64_t>())
    std::printf("  reloads: %llu applied, %llu refused (%llu rolled back); last refused %.1f s ago: %s\n",
                static_cast<unsigned long long>(r["applied"].get<uint64_t>()),
                static_cast<unsigned long long>(r["refused"].get<uint64_t>()),
                static_cast<unsigned long long>(r["rolled_back"].get<uint64_t>()),
                r["last_refused"]["age_s"].get<double>(), r["last_refused"]["error"].get<std::string>().c_str());
  const auto& f = h["faults"];
  if (f["count"].get<uint64_t>() && !f["recent"].empty())
    std::printf("  exceptions caught on the control thread: %llu; last %.1f s ago: %s\n",
                static_cast<unsigned long long>(f["count"].get<uint64_t>()), f["recent"].back()["age_s"].get<double>(),
                f["recent"].back()["what"].get<std::string>().c_str());
}

void print_status(const json& s) {
  std::printf("routerd %s (pid %d), graph '%s' (%s), up %.1f s\n", s["version"].get<std::string>().c_str(),
              s["pid"].get<int>(), s["graph"]["name"].get<std::string>().c_str(),
              s["graph"]["file"].get<std::string>().c_str(), s["uptime_s"].get<double>());
  std::printf("elements: %zu  ports: %zu  plugins: %zu  reloads: %llu\n", s["elements"].get<size_t>(),
              s["ports"].get<size_t>(), s["plugins"].get<size_t>(),
              static_cast<unsigned long long>(s.value("reloads", uint64_t{0})));
  for (const auto& w : s["workers"]) {
    uint64_t polls = w["polls"].get<uint64_t>(), busy = w["busy_polls"].get<uint64_t>();
    std::printf("worker %u on lcore %u: %s, %llu polls, %.1f%% busy\n", w["index"].get<unsigned>(),
                w["lcore"].get<unsigned>(), w["running"].get<bool>() ? "running" : "stopped",
                static_cast<unsigned long long>(polls), polls ? 100.0 * double(busy) / double(polls) : 0.0);
  }
  if (s.contains("fleet")) routerctl::print_fleet_status(s["fleet"]);
  if (s.contains("health")) print_health(s["health"]);
}

void print_graph_text(const json& g) {
  std::printf("graph '%s': workers on lcores", g["name"].get<std::string>().c_str());
  for (const auto& l : g["workers"]) std::printf(" %u", l.get<unsigned>());
  std::printf("\n");
  for (const auto& p : g["ports"])
    std::printf("port %-10s %s%s%s  rxq %u txq %u\n", p["name"].get<std::string>().c_str(),
                p["device"].get<std::string>().c_str(), p["args"].get<std::string>().empty() ? "" : ",",
                p["args"].get<std::string>().c_str(), p["rx_queues"].get<unsigned>(), p["tx_queues"].get<unsigned>());
  for (const auto& sv : g.value("services", json::array()))
    std::printf("service %s :: %s\n", sv["name"].get<std::string>().c_str(), sv["class"].get<std::string>().c_str());
  for (const auto& e : g["elements"]) {
    std::printf("%s :: %s", e["id"].get<std::string>().c_str(), e["class"].get<std::string>().c_str());
    for (const auto& p : e["dpdk_ports"])
      std::printf("  [%s %s]", p["dir"].get<std::string>().c_str(), p["port"].get<std::string>().c_str());
    for (const auto& u : e.value("services", json::array()))
      std::printf("  {%s: service %s}", u["param"].get<std::string>().c_str(), u["service"].get<std::string>().c_str());
    std::printf("\n");
    for (const auto& o : e["outputs"])
      std::printf("    [%s] -> [%s]%s\n", o["name"].get<std::string>().c_str(),
                  o.value("to_input", std::string("?")).c_str(), o.value("to", std::string("(unconnected)")).c_str());
  }
}

std::string dot_id(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '\n') {  // a line break in a label: DOT's own escape
      out += "\\n";
      continue;
    }
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

void print_graph_dot(const json& g) {
  std::printf("digraph %s {\n  rankdir=LR;\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n"
              "  edge [fontname=\"Helvetica\", fontsize=10];\n",
              dot_id(g["name"].get<std::string>().empty() ? "weft" : g["name"].get<std::string>()).c_str());
  for (const auto& p : g["ports"])
    std::printf("  %s [label=%s, shape=cds, style=filled, fillcolor=\"#dde8f5\"];\n",
                dot_id("port:" + p["name"].get<std::string>()).c_str(),
                dot_id(p["name"].get<std::string>() + "\n" + p["device"].get<std::string>()).c_str());
  // Services: control-thread objects, drawn apart; a dotted edge to each
  // element that reads one (labelled with the element's parameter).
  for (const auto& sv : g.value("services", json::array()))
    std::printf("  %s [label=%s, shape=component, style=filled, fillcolor=\"#f3ead7\"];\n",
                dot_id("service:" + sv["name"].get<std::string>()).c_str(),
                dot_id(sv["name"].get<std::string>() + "\n" + sv["class"].get<std::string>()).c_str());
  for (const auto& e : g["elements"])
    for (const auto& u : e.value("services", json::array()))
      std::printf("  %s -> %s [style=dotted, arrowhead=none, label=%s];\n",
                  dot_id("service:" + u["service"].get<std::string>()).c_str(), dot_id(e["id"].get<std::string>()).c_str(),
                  dot_id(u["param"].get<std::string>()).c_str());
  for (const auto& e : g["elements"]) {
    std::printf("  %s [label=%s];\n", dot_id(e["id"].get<std::string>()).c_str(),
                dot_id(e["id"].get<std::string>() + "\n" + e["class"].get<std::string>()).c_str());
    for (const auto& p : e["dpdk_ports"]) {
      std::string port = dot_id("port:" + p["port"].get<std::string>());
      if (p["dir"] == "rx") std::printf("  %s -> %s [style=dashed];\n", port.c_str(), dot_id(e["id"]).c_str());
      else std::printf("  %s -> %s [style=dashed];\n", dot_id(e["id"]).c_str(), port.c_str());
    }
  }
  for (const auto& e : g["elements"]) {
    bool single = e["outputs"].size() == 1;
    for (const auto& o : e["outputs"]) {
      if (!o.contains("to")) continue;
      std::string label = single && o["name"] == "out" ? "" : o["name"].get<std::string>();
      // A named input other than the usual `in` matters (Nat44's from_inside/from_outside).
      std::string in = o.value("to_input", std::string());
      if (!in.empty() && in != "in" && !std::isdigit(static_cast<unsigned char>(in[0])))
        label += (label.empty() ? "" : " ") + std::string("→ ") + in;
      std::printf("  %s -> %s%s;\n", dot_id(e["id"].get<std::string>()).c_str(), dot_id(o["to"].get<std::string>()).c_str(),
                  label.empty() ? "" : (" [label=" + dot_id(label) + "]").c_str());
    }
  }
  std::printf("}\n");
}

void print_params_doc(const json& k) {
  if (k["params"].empty()) return;
  std::printf("\n  parameters:\n");
  for (const auto& p : k["params"]) {
    std::string dflt = p["required"].get<bool>() ? "required"
                       : p["default"].get<std::string>().empty() ? "optional"
                                                                 : "default " + p["default"].get<std::string>();
    std::string type = p["type"].get<std::string>();
    if (p.contains("service")) type += " (" + p["service"].get<std::string>() + ")";
    std::printf("    %-12s %-7s %-16s %s\n", p["name"].get<std::string>().c_str(), type.c_str(), dflt.c_str(),
                p["doc"].get<std::string>().c_str());
  }
}

// `key=value ...` (numbers and true/false typed) or one JSON object.
json service_args(const std::vector<std::string>& words) {
  json args = json::object();
  if (words.size() == 1 && !words[0].empty() && words[0][0] == '{') {
    args = json::parse(words[0], nullptr, false);
    if (!args.is_object()) throw Failed("arguments: '" + words[0] + "' is not a JSON object");
    return args;
  }
  for (const auto& w : words) {
    const size_t eq = w.find('=');
    if (eq == std::string::npos || eq == 0) throw Failed("arguments: expected key=value, got '" + w + "'");
    const std::string k = w.substr(0, eq), v = w.substr(eq + 1);
    if (!v.empty() && v.find_first_not_of("0123456789") == std::string::npos && v.size() < 19) args[k] = std::stoll(v);
    else if (v == "true" || v == "false") args[k] = v == "true";
    else args[k] = v;
  }
  return args;
}

// The metrics a class declares (weft/metrics.hpp), one line each.
void print_metrics_doc(const json& k) {
  if (!k.contains("metrics") || k["metrics"].empty()) return;
  std::printf("\n  metrics:\n");
  for (const auto& m : k["metrics"]) {
    std::string labels;
    for (const auto& l : m["labels"]) labels += (labels.empty() ? "" : ",") + l.get<std::string>();
    std::printf("    %-36s %-7s {%s} %s\n", m["name"].get<std::string>().c_str(), m["type"].get<std::string>().c_str(),
                labels.c_str(), m["help"].get<std::string>().c_str());
  }
}

void print_class_doc(const json& k) {
  const bool service = k.value("kind", "element") == "service";
  std::printf("%s — %s\n", k["name"].get<std::string>().c_str(), k["summary"].get<std::string>().c_str());
  std::printf("  %s plugin: %s\n", service ? "service class," : "element class,", k["plugin"].get<std::string>().c_str());
  if (!k["doc"].get<std::string>().empty()) {
    std::istringstream in(k["doc"].get<std::string>());
    std::string line;
    std::printf("\n");
    while (std::getline(in, line)) std::printf("  %s\n", line.c_str());
  }
  if (service) {
    std::printf("\n  declared under services:; elements name it in a parameter\n");
    print_params_doc(k);
    if (!k["provides"].empty()) {
      std::printf("\n  provides (handles elements use):\n");
      for (const auto& h : k["provides"])
        std::printf("    %-16s %s\n", h["type"].get<std::string>().c_str(), h["doc"].get<std::string>().c_str());
    }
    std::printf("\n  commands (routerctl service NAME COMMAND [key=value...]):\n");
    for (const auto& c : k["commands"]) {
      std::string syn = c["name"].get<std::string>();
      if (!c["args"].get<std::string>().empty()) syn += " " + c["args"].get<std::string>();
      std::printf("    %-28s %s\n", syn.c_str(), c["doc"].get<std::string>().c_str());
    }
    print_metrics_doc(k);
    std::printf("\n");
    return;
  }
  std::string ins;
  for (const auto& i : k["inputs"]) ins += (ins.empty() ? "" : ", ") + i.get<std::string>();
  if (k["variadic_inputs"].get<bool>()) ins = "any number ([0], [1], ...)";
  std::string outs;
  for (const auto& o : k["outputs"]) outs += (outs.empty() ? "" : ", ") + o.get<std::string>();
  if (k["dynamic_outputs"].get<bool>()) outs = k["outputs_doc"].get<std::string>();
  std::printf("\n  inputs:  %s\n  outputs: %s\n", ins.empty() ? "none (source)" : ins.c_str(),
              outs.empty() ? "none" : outs.c_str());
  print_params_doc(k);
  if (!k["drops"].empty()) {
    std::printf("\n  drop reasons:\n");
    for (const auto& d : k["drops"])
      std::printf("    %-16s %s\n", d["name"].get<std::string>().c_str(), d["doc"].get<std::string>().c_str());
  }
  if (!k["handlers"].empty()) {
    std::printf("\n  handlers:\n");
    for (const auto& h : k["handlers"]) {
      std::string rw = std::string(h["read"].get<bool>() ? "r" : "") + (h["write"].get<bool>() ? "w" : "");
      std::printf("    %-12s %-3s %s\n", h["name"].get<std::string>().c_str(), rw.c_str(),
                  h["doc"].get<std::string>().c_str());
    }
  }
  print_metrics_doc(k);
  std::printf("\n");
}

// Element totals summed over workers: in, out, dropped, per-output and per-reason.
struct ElementTotals {
  uint64_t in = 0, out = 0, dropped = 0;
  std::vector<std::pair<std::string, uint64_t>> outputs;
  std::map<std::string, uint64_t> drops;
};

ElementTotals totals(const json& e) {
  ElementTotals t;
  t.in = e["total"]["in"].get<uint64_t>();
  t.out = e["total"]["out"].get<uint64_t>();
  t.dropped = e["total"]["dropped"].get<uint64_t>();
  std::map<std::string, uint64_t> outs;
  for (const auto& w : e["workers"]) {
    for (const auto& o : w["outputs"]) {
      auto name = o["name"].get<std::string>();
      if (!outs.count(name)) t.outputs.emplace_back(name, 0);
      outs[name] += o["packets"].get<uint64_t>();
    }
    for (auto it = w["drops"].begin(); it != w["drops"].end(); ++it) t.drops[it.key()] += it.value().get<uint64_t>();
  }
  for (auto& [n, v] : t.outputs) v = outs[n];
  return t;
}

void print_stats(const json& s, const json* before, double interval) {
  auto rate = [&](uint64_t now, uint64_t then) { return interval > 0 ? double(now - then) / interval : 0.0; };
  std::printf("%-14s %-11s %14s %14s %12s", "element", "class", "in", "out", "dropped");
  if (before) std::printf(" %12s", "out pps");
  std::printf("  detail\n");
  for (size_t i = 0; i < s["elements"].size(); i++) {
    const json& e = s["elements"][i];
    ElementTotals t = totals(e);
    std::string detail;
    if (t.outputs.size() > 1)
      for (auto& [n, v] : t.outputs) detail += n + "=" + num(v) + " ";
    for (auto& [n, v] : t.drops)
      if (v) detail += "drop:" + n + "=" + num(v) + " ";
    std::printf("%-14s %-11s %14llu %14llu %12llu", e["id"].get<std::string>().c_str(),
                e["class"].get<std::string>().c_str(), static_cast<unsigned long long>(t.in),
                static_cast<unsigned long long>(t.out), static_cast<unsigned long long>(t.dropped));
    if (before) std::printf(" %12.0f", rate(t.out, totals((*before)["elements"][i]).out));
    std::printf("  %s\n", detail.c_str());
  }
  std::printf("\n%-14s %14s %14s %10s %10s", "port", "rx packets", "tx packets", "missed", "errors");
  if (before) std::printf(" %12s %12s", "rx pps", "tx pps");
  std::printf("\n");
  for (size_t i = 0; i < s["ports"].size(); i++) {
    const json& p = s["ports"][i];
    std::printf("%-14s %14llu %14llu %10llu %10llu", p["name"].get<std::string>().c_str(),
                static_cast<unsigned long long>(p["rx_packets"].get<uint64_t>()),
                static_cast<unsigned long long>(p["tx_packets"].get<uint64_t>()),
                static_cast<unsigned long long>(p["rx_missed"].get<uint64_t>()),
                static_cast<unsigned long long>(p["rx_errors"].get<uint64_t>() + p["tx_errors"].get<uint64_t>()));
    if (before) {
      const json& q = (*before)["ports"][i];
      std::printf(" %12.0f %12.0f", rate(p["rx_packets"].get<uint64_t>(), q["rx_packets"].get<uint64_t>()),
                  rate(p["tx_packets"].get<uint64_t>(), q["tx_packets"].get<uint64_t>()));
    }
    std::printf("\n");
  }
}

std::string join(const json& list) {
  std::string s;
  for (const auto& x : list) s += (s.empty() ? "" : ", ") + x.get<std::string>();
  return s.empty() ? "-" : s;
}

void print_reload(const json& r) {
  for (const auto& d : r["diagnostics"]) std::fprintf(stderr, "%s\n", d.get<std::string>().c_str());
  if (!r.value("applied", false)) {
    std::fprintf(stderr, "reload %s: refused, the running graph is unchanged: %s\n",
                 r.value("file", std::string()).c_str(), r.value("error", std::string()).c_str());
    return;
  }
  const json& t = r["timing_ms"];
  std::printf("reload %s: applied (%s) in %.2f ms\n", r["file"].get<std::string>().c_str(),
              r["mode"].get<std::string>().c_str(), t["total"].get<double>());
  std::printf("  validate %.2f ms, build %.2f ms, swap %.2f ms, worker pause %.3f ms, packets lost %llu\n",
              t["validate"].get<double>(), t["build"].get<double>(), t["swap"].get<double>(),
              t["worker_pause"].get<double>(), static_cast<unsigned long long>(r["packets_lost"].get<uint64_t>()));
  std::printf("  elements added:   %s\n  elements removed: %s\n", join(r["elements"]["added"]).c_str(),
              join(r["elements"]["removed"]).c_str());
  for (const auto& k : r["elements"]["kept"])
    std::printf("  kept %-12s %-11s state %-7s %s\n", k["id"].get<std::string>().c_str(),
                k["class"].get<std::string>().c_str(), k["state"].get<std::string>().c_str(),
                k["why"].get<std::string>().c_str());
  if (r.contains("services")) {
    const json& sv = r["services"];
    if (!sv["added"].empty() || !sv["removed"].empty())
      std::printf("  services added: %s; removed: %s\n", join(sv["added"]).c_str(), join(sv["removed"]).c_str());
    for (const auto& k : sv["kept"])
      std::printf("  kept service %-12s %-11s state %-7s %s\n", k["name"].get<std::string>().c_str(),
                  k["class"].get<std::string>().c_str(), k["state"].get<std::string>().c_str(),
                  k["why"].get<std::string>().c_str());
  }
  const json& p = r["ports"];
  std::printf("  ports added: %s; removed: %s; changed: %s; unchanged: %s\n", join(p["added"]).c_str(),
              join(p["removed"]).c_str(), join(p["changed"]).c_str(), join(p["unchanged"]).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"routerctl: inspect and control routerd, check graph files"};
  app.require_subcommand(1);
  app.fallthrough(true);  // global options may also follow the command: `routerctl stats --json`
  Options o;
  o.socket = weft::ControlServer::default_path();
  app.add_option("-s,--socket", o.socket, "routerd's control socket ($WEFT_SOCKET, default /run/weft/routerd.sock)");
  app.add_option("-p,--plugin-path", o.plugin_path, "extra plugin directories for offline commands");
  app.add_flag("--json", o.json_out, "print JSON instead of tables");
  app.set_version_flag("--version", std::string("routerctl (Weft) ") + weft::kVersion);

  auto* status = app.add_subcommand("status", "daemon, graph and worker status");
  std::string graph_file;
  bool dot = false;
  auto* graph = app.add_subcommand("graph", "the running graph (or FILE's), as text or Graphviz DOT");
  graph->add_option("file", graph_file, "render this graph file instead of asking the daemon");
  graph->add_flag("--dot", dot, "Graphviz DOT output");
  std::string class_name;
  bool doc = false;
  auto* elements = app.add_subcommand("elements", "element classes and their documentation");
  elements->add_option("class", class_name, "only this class");
  elements->add_flag("--doc", doc, "full documentation (parameters, drops, handlers)");
  auto* plugins = app.add_subcommand("plugins", "loaded plugins and their manifests");
  double rate = 0;
  auto* stats = app.add_subcommand("stats", "per element, per port and per lcore counters");
  stats->add_option("--rate", rate, "sample twice, this many seconds apart, and show rates");
  auto* handler = app.add_subcommand("handler", "read or write an element's handler");
  handler->require_subcommand(1);
  std::string h_el, h_name, h_value;
  int h_worker = -1;
  auto* hread = handler->add_subcommand("read", "read a handler (no NAME: list the element's handlers)");
  hread->add_option("element", h_el)->required();
  hread->add_option("name", h_name);
  hread->add_option("--worker", h_worker, "only this worker's instance");
  auto* hwrite = handler->add_subcommand("write", "write a handler");
  hwrite->add_option("element", h_el)->required();
  hwrite->add_option("name", h_name)->required();
  hwrite->add_option("value", h_value);
  hwrite->add_option("--worker", h_worker, "only this worker's instance");
  std::string svc_name, svc_cmd;
  std::vector<std::string> svc_args;
  auto* service = app.add_subcommand(
      "service", "the graph's services (services: FPM/FIB, SVP, ...): list them, show one, or run a command");
  service->add_option("name", svc_name, "service name (see the list)");
  service->add_option("command", svc_cmd, "command (default: status; `routerctl elements --doc CLASS` lists them)");
  service->add_option("args", svc_args, "arguments: key=value ... or one JSON object");
  std::string reload_file;
  auto* reload = app.add_subcommand("reload", "replace the running graph with FILE, keeping state, losing no packet");
  reload->add_option("file", reload_file)->required();
  std::string validate_file_name;
  auto* validate = app.add_subcommand("validate", "check a graph file offline (no daemon needed)");
  validate->add_option("file", validate_file_name)->required();

  std::vector<std::pair<CLI::App*, routerctl::Runner>> extra;
  for (const auto& add : routerctl::command_adders()) extra.push_back(add(app, o));
  weft::cli::add_json_dump(app);  // for the manual page and the completion

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);  // prints help, the version, or what is wrong
    return rc == 0 ? 0 : 64;     // EX_USAGE: a bad command line
  }

  try {
    if (*status) {
      json s = request(o, "status");
      if (o.json_out) std::cout << s.dump(2) << "\n";
      else print_status(s);
    } else if (*graph) {
      json g;
      if (!graph_file.empty()) {
        weft::PluginLoader loader;
        g = weft::graph_json(validate_file(o, graph_file, loader, true));
      } else {
        g = request(o, "graph");
      }
      if (o.json_out) std::cout << g.dump(2) << "\n";
      else if (dot) print_graph_dot(g);
      else print_graph_text(g);
    } else if (*elements) {
      json classes;
      weft::PluginLoader loader;
      if (daemon_up(o)) {
        classes = request(o, "elements");
      } else {
        load_plugins(loader, o, nullptr);
        classes = weft::classes_json(loader);
      }
      json shown = json::array();
      for (const auto& k : classes)
        if (class_name.empty() || k["name"] == class_name) shown.push_back(k);
      if (shown.empty()) {
        std::vector<std::string> names;
        for (const auto& k : classes) names.push_back(k["name"]);
        throw Failed("no element class '" + class_name + "'" + [&] {
          for (const auto& n : names)
            if (n.size() > 0 && ::strcasecmp(n.c_str(), class_name.c_str()) == 0) return " (did you mean '" + n + "'?)";
          return std::string();
        }());
      }
      if (o.json_out) std::cout << shown.dump(2) << "\n";
      else if (doc || !class_name.empty())
        for (const auto& k : shown) print_class_doc(k);
      else
        for (const auto& k : shown)
          std::printf("%-14s %s\n", k["name"].get<std::string>().c_str(), k["summary"].get<std::string>().c_str());
    } else if (*plugins) {
      json p;
      weft::PluginLoader loader;
      if (daemon_up(o)) p = request(o, "plugins");
      else {
        load_plugins(loader, o, nullptr);
        p = weft::plugins_json(loader);
      }
      if (o.json_out) std::cout << p.dump(2) << "\n";
      else
        for (const auto& x : p) {
          std::printf("%s %s — %s\n  path: %s\n  abi %s, built against Weft %s, %s, DPDK %s\n  classes:",
                      x["name"].get<std::string>().c_str(), x["version"].get<std::string>().c_str(),
                      x["description"].get<std::string>().c_str(), x["path"].get<std::string>().c_str(),
                      x["abi"].get<std::string>().c_str(), x["framework_version"].get<std::string>().c_str(),
                      x["compiler_abi"].get<std::string>().c_str(), x["dpdk_version"].get<std::string>().c_str());
          for (const auto& c : x["classes"]) std::printf(" %s", c.get<std::string>().c_str());
          std::printf("\n");
          if (x.contains("services") && !x["services"].empty()) {
            std::printf("  services:");
            for (const auto& c : x["services"]) std::printf(" %s", c.get<std::string>().c_str());
            std::printf("\n");
          }
        }
    } else if (*stats) {
      json first = request(o, "stats");
      if (rate > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<long>(rate * 1000)));
        json second = request(o, "stats");
        double interval = second["uptime_s"].get<double>() - first["uptime_s"].get<double>();
        if (o.json_out) std::cout << json{{"before", first}, {"after", second}, {"interval_s", interval}}.dump(2) << "\n";
        else print_stats(second, &first, interval);
      } else if (o.json_out) {
        std::cout << first.dump(2) << "\n";
      } else {
        print_stats(first, nullptr, 0);
      }
    } else if (*handler) {
      json args{{"element", h_el}, {"name", h_name}};
      if (*hwrite) args["value"] = h_value;
      if (h_worker >= 0) args["worker"] = h_worker;
      json r = request(o, "handler", args);
      if (o.json_out) std::cout << r.dump(2) << "\n";
      else
        for (const auto& w : r) {
          std::string prefix = r.size() > 1 ? "worker " + std::to_string(w["worker"].get<unsigned>()) + ": " : "";
          if (w.contains("handlers"))
            for (const auto& h : w["handlers"]) {
              if (w["worker"].get<unsigned>() != r[0]["worker"].get<unsigned>()) break;
              std::string rw = std::string(h["read"].get<bool>() ? "r" : "") + (h["write"].get<bool>() ? "w" : "");
              std::printf("%-14s %-3s %s\n", h["name"].get<std::string>().c_str(), rw.c_str(),
                          h["doc"].get<std::string>().c_str());
            }
          else if (w.contains("value"))
            std::printf("%s%s\n", prefix.c_str(), w["value"].get<std::string>().c_str());
        }
    } else if (*service) {
      json r;
      if (svc_name.empty()) {
        r = request(o, "services");
        if (!o.json_out) {
          std::printf("%-20s %-14s %s\n", "NAME", "CLASS", "STATE");
          for (const auto& x : r) {
            const json& st = x["status"];
            std::string state = st.contains("state") && st["state"].is_string() ? st["state"].get<std::string>() : "-";
            std::printf("%-20s %-14s %s\n", x["name"].get<std::string>().c_str(), x["class"].get<std::string>().c_str(),
                        state.c_str());
          }
        }
      } else {
        json args = service_args(svc_args);
        r = request(o, "service", {{"name", svc_name}, {"cmd", svc_cmd.empty() ? "status" : svc_cmd}, {"args", args}});
        if (!o.json_out) std::cout << r[0]["result"].dump(2) << "\n";
      }
      if (o.json_out) std::cout << r.dump(2) << "\n";
    } else if (*reload) {
      // routerd resolves the path from its own directory: send it absolute.
      std::string abs = std::filesystem::absolute(reload_file).lexically_normal().string();
      json r = request(o, "reload", {{"file", abs}});
      if (o.json_out) std::cout << r.dump(2) << "\n";
      else print_reload(r);
      if (!r.value("applied", false)) return 1;
    } else if (*validate) {
      if (o.json_out) return validate_file_json(o, validate_file_name) ? 0 : 1;
      weft::PluginLoader loader;
      validate_file(o, validate_file_name, loader, false);
    } else {
      for (auto& [sub, run] : extra)
        if (*sub) return run();
    }
  } catch (const NoDaemon& e) {
    std::cerr << "routerctl: " << e.what() << "\n";
    return 2;
  } catch (const Failed& e) {
    if (*e.what()) std::cerr << "routerctl: error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "routerctl: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

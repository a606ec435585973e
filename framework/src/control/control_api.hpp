// ControlApi: the commands routerctl sends to routerd, as JSON in and JSON
// out (documented in docs/control-protocol.md). Runs on the control thread.
#pragma once

#include <nlohmann/json.hpp>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/graph_spec.hpp"

#include "control/health.hpp"
#include "control/metrics.hpp"
#include "core/plugin_loader.hpp"
#include "runtime/runtime.hpp"

namespace weft {

using json = nlohmann::json;

// Descriptions usable without a running daemon (routerctl validate/elements).
json class_json(const ElementClass& k, const std::string& plugin_path);
json classes_json(const PluginLoader& loader);
json plugins_json(const PluginLoader& loader);
json graph_json(const GraphPlan& plan);
json stats_json(const Runtime& rt);
// The process's memory: resident set, file descriptors, DPDK's heaps and
// memzones, the packet pool (routerctl memory; bench/soak.sh watches it).
json memory_json(const Runtime& rt);

// The reload transaction's report as JSON (also used for the log).
json reload_json(const ReloadReport& r);

class ControlApi {
 public:
  // `plugin_dirs`: the directories routerd started with (flag, environment,
  // built-in); a reloaded graph's own `plugins.path` is added to them.
  ControlApi(Runtime& rt, PluginLoader& loader, std::string graph_file, std::vector<std::string> plugin_dirs)
      : rt_(rt), loader_(loader), graph_file_(std::move(graph_file)), plugin_dirs_(std::move(plugin_dirs)) {}
  // Never throws: errors become {"ok": false, "error": "..."}.
  json handle(const json& request);
  // Validates FILE and, if valid, replaces the running graph with it. The
  // result has "applied" (bool) and, if not applied, "error" and
  // "diagnostics"; see docs/reload.md.
  json reload(const std::string& file, std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));
  // The same for a graph already parsed (from etcd, say): `diag` holds the
  // parse's findings; `label` names the source in the reply and in status.
  json reload(std::shared_ptr<GraphSpec> spec, Diagnostics& diag, const std::string& label,
              std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));
  const std::string& graph_file() const { return graph_file_; }
  // Adds `name: fn()` to every status reply (the fleet agent's state).
  void add_status(std::string name, std::function<json()> fn) { status_extras_.emplace_back(std::move(name), std::move(fn)); }
  // Adds a peer that is not a service of the graph (the fleet's etcd) to the
  // status reply's health section, as `name`.
  void add_health(std::string name, std::function<ServiceHealth()> fn) { peers_.emplace_back(std::move(name), std::move(fn)); }
  // The health section of a status reply (control/health.hpp).
  json health();
  // What reloads did (the `weft_reload*` metrics).
  const ReloadStats& reload_stats() const { return reload_stats_; }
  // The collector the `metrics` command renders (none: the command is refused).
  void set_metrics(MetricsCollector* c) { metrics_ = c; }

 private:
  json status();
  json handler(const json& args);
  json services();
  json service(const json& args);
  json reload_checked(std::shared_ptr<GraphSpec> spec, Diagnostics& diag, const std::string& label,
                      std::chrono::milliseconds timeout);
  json metrics(const json& args);
  void count_reload(const ReloadReport* r, double validate_ms, double total_ms);
  // Runtime figures, trace, capture (probe_api.cpp).
  json runtime(const json& args);
  json trace(const json& args);
  json capture(const json& args);

  Runtime& rt_;
  PluginLoader& loader_;
  std::string graph_file_;
  std::vector<std::string> plugin_dirs_;
  std::vector<std::pair<std::string, std::function<json()>>> status_extras_;
  std::vector<PeerHealth> peers_;
  ReloadHistory reloads_;
  ReloadStats reload_stats_;
  MetricsCollector* metrics_ = nullptr;
};

}  // namespace weft

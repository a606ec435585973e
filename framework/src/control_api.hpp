// ControlApi: the commands routerctl sends to routerd, as JSON in and JSON
// out (documented in docs/control-protocol.md). Runs on the control thread.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "plugin_loader.hpp"
#include "runtime.hpp"

namespace weft {

using json = nlohmann::json;

// Descriptions usable without a running daemon (routerctl validate/elements).
json class_json(const ElementClass& k, const std::string& plugin_path);
json classes_json(const PluginLoader& loader);
json plugins_json(const PluginLoader& loader);
json graph_json(const GraphPlan& plan);
json stats_json(const Runtime& rt);

class ControlApi {
 public:
  ControlApi(Runtime& rt, const PluginLoader& loader, std::string graph_file)
      : rt_(rt), loader_(loader), graph_file_(std::move(graph_file)) {}
  // Never throws: errors become {"ok": false, "error": "..."}.
  json handle(const json& request);

 private:
  json status() const;
  json handler(const json& args);

  Runtime& rt_;
  const PluginLoader& loader_;
  std::string graph_file_;
};

}  // namespace weft

// routerctl metrics: the daemon's metrics in Prometheus's text format (the
// same figures as its HTTP endpoint, which need not be on), or, with --doc,
// the catalogue of every metric (the framework's and each loaded class's) as
// Markdown, offline (docs/telemetry.md is generated from it).
#include <cstdio>
#include <iostream>

#include "control/metrics.hpp"
#include "routerctl.hpp"

namespace routerctl {
namespace {

struct MetricsArgs {
  bool openmetrics = false, doc = false;
};

Command metrics_command{[](CLI::App& app, Options& o) -> std::pair<CLI::App*, Runner> {
  auto a = std::make_shared<MetricsArgs>();
  auto* sub = app.add_subcommand("metrics", "the daemon's metrics, as Prometheus scrapes them (--doc: every metric)");
  sub->add_flag("--openmetrics", a->openmetrics, "OpenMetrics 1.0 instead of Prometheus text 0.0.4");
  sub->add_flag("--doc", a->doc, "the catalogue of metrics as Markdown (no daemon needed)");
  return {sub, [&o, a] {
            if (a->doc) {
              weft::PluginLoader loader;
              load_plugins(loader, o, nullptr);
              std::cout << weft::metrics_doc(loader);
              return 0;
            }
            json r = request(o, "metrics", {{"format", a->openmetrics ? "openmetrics" : "prometheus"}});
            if (o.json_out) std::cout << r.dump(2) << "\n";
            else std::cout << r["text"].get<std::string>();
            return 0;
          }};
}};

}  // namespace
}  // namespace routerctl

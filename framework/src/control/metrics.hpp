// Metrics: one scrape's worth of a running router's figures (MetricSet),
// collected on the control thread exactly as `routerctl stats` reads them
// (MetricsCollector), and rendered in Prometheus's text format 0.0.4 or in
// OpenMetrics 1.0 (render_metrics). The HTTP endpoint (metrics_server.hpp),
// DPDK's telemetry socket (dpdk_telemetry.hpp) and `routerctl metrics` all
// serve this one collection.
//
// The framework's own metric families are declared once, in one table
// (framework_metrics()); a class declares its own in its description
// (weft/metrics.hpp). docs/telemetry.md lists both, generated from them.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/metric_catalog.hpp"
#include "weft/metrics.hpp"

namespace weft {

class Runtime;
class ControlApi;
class PluginLoader;

struct MetricFamily {
  MetricSpec spec;  // labels: all of them, the framework's first
  struct Sample {
    std::vector<std::string> labels;
    double value = 0;
  };
  std::vector<Sample> samples;
};

// Families in the order they were first added; a name is one family.
class MetricSet {
 public:
  // The family `spec` declares, added on first use. A later declaration of
  // the same name must agree on type and labels; if it does not, null (the
  // conflict is logged once per name).
  MetricFamily* family(const MetricSpec& spec);
  // A sample of a framework family (framework_metric(name)).
  void add(std::string_view name, std::vector<std::string> labels, double value);
  // Stable addresses: a family pointer stays valid as others are added.
  const std::deque<MetricFamily>& families() const { return families_; }
  const MetricFamily* find(std::string_view name) const;

 private:
  std::deque<MetricFamily> families_;
  std::unordered_map<std::string, size_t> index_;
};

enum class ExpositionFormat { Prometheus, OpenMetrics };
// Prometheus text 0.0.4, or OpenMetrics 1.0 (counter families named without
// _total, info families without _info, a final `# EOF`).
std::string render_metrics(const MetricSet& set, ExpositionFormat f);
// OpenMetrics when the HTTP Accept header asks for application/openmetrics-text.
ExpositionFormat format_for_accept(std::string_view accept);
const char* content_type(ExpositionFormat f);

// The metric catalogue as Markdown (docs/telemetry.md, `routerctl metrics
// --doc`): the framework's families, then every loaded class's.
std::string metrics_doc(const PluginLoader& loader);

// What reloads did, counted by ControlApi::reload (file, SIGHUP, fleet).
struct ReloadStats {
  uint64_t applied = 0, refused = 0, rolled_back = 0;
  bool any = false;  // a reload has been attempted
  double validate_s = 0, build_s = 0, swap_s = 0, total_s = 0, pause_s = 0;
  uint64_t packets_lost = 0;
  double last_success_unix = 0;  // 0: none yet
};

// Collects a MetricSet from a running router. Control thread only.
class MetricsCollector {
 public:
  MetricsCollector(const Runtime& rt, const ControlApi& api) : rt_(rt), api_(api) {}
  // More figures (the fleet agent's, the HTTP endpoint's own).
  void add_source(std::function<void(MetricSet&)> fn) { sources_.push_back(std::move(fn)); }
  MetricSet collect();

 private:
  void router(MetricSet& set) const;
  void elements(MetricSet& set) const;
  void ports(MetricSet& set) const;
  void workers(MetricSet& set);
  void reloads(MetricSet& set) const;
  void services(MetricSet& set) const;

  const Runtime& rt_;
  const ControlApi& api_;
  std::vector<std::function<void(MetricSet&)>> sources_;
  // Worker loop counts at earlier collections: the busy ratio is measured
  // over the time since the newest of them at least 1 s old.
  struct LoadSample {
    std::chrono::steady_clock::time_point at;
    std::vector<std::pair<uint64_t, uint64_t>> polls_busy;
  };
  std::deque<LoadSample> load_;
};

}  // namespace weft

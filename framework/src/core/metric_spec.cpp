// The naming rules of weft/metrics.hpp, checked when a class is described.
#include <set>
#include <stdexcept>
#include <unordered_map>

#include "core/metric_catalog.hpp"

namespace weft {

const char* to_string(MetricType t) {
  switch (t) {
    case MetricType::Counter: return "counter";
    case MetricType::Gauge: return "gauge";
    case MetricType::Info: return "info";
  }
  return "gauge";
}

namespace {

bool lower_name(std::string_view s) {
  if (s.empty() || !(s[0] >= 'a' && s[0] <= 'z')) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

void check_metric_spec(const MetricSpec& m, const std::string& owner, std::initializer_list<std::string_view> reserved) {
  auto bad = [&](const std::string& why) { throw std::logic_error(owner + ": metric '" + m.name + "': " + why); };
  if (m.name.rfind("weft_", 0) != 0 || !lower_name(m.name) || m.name.find("__") != std::string::npos)
    bad("a name is weft_ then lower-case letters, digits and single underscores");
  if (m.type == MetricType::Counter && !ends_with(m.name, "_total")) bad("a counter's name ends in _total");
  if (m.type != MetricType::Counter && ends_with(m.name, "_total")) bad("only a counter's name ends in _total");
  if (m.type == MetricType::Info && !ends_with(m.name, "_info")) bad("an info metric's name ends in _info");
  if (m.type != MetricType::Info && ends_with(m.name, "_info")) bad("only an info metric's name ends in _info");
  if (m.help.empty()) bad("no help text");
  std::set<std::string_view> seen;
  for (const auto& l : m.labels) {
    if (!lower_name(l)) bad("label '" + l + "': lower-case letters, digits and underscores, starting with a letter");
    for (auto r : reserved)
      if (l == r) bad("label '" + l + "' is added by the framework");
    if (l == "le" || l == "quantile") bad("label '" + l + "' is reserved by Prometheus");
    if (!seen.insert(l).second) bad("label '" + l + "' twice");
  }
}

namespace {
using L = std::vector<std::string>;
constexpr MetricType kCounter = MetricType::Counter, kGauge = MetricType::Gauge, kInfo = MetricType::Info;

}  // namespace

const std::vector<FrameworkMetric>& framework_metrics() {
  static const std::vector<FrameworkMetric> all = {
      {"Router", {"weft_build_info", kInfo, "the Weft build: version, plugin ABI, DPDK release, C++ ABI",
                  L{"version", "plugin_abi", "dpdk", "compiler"}}},
      {"Router", {"weft_graph_info", kInfo, "the running graph: its name and where it came from", L{"name", "file"}}},
      {"Router", {"weft_uptime_seconds", kGauge, "seconds the workers have been running", L{}}},
      {"Router", {"weft_service_info", kInfo, "a service of the graph and its class", L{"service", "class"}}},
      {"Elements", {"weft_element_output_packets_total", kCounter, "packets an element handed to one of its outputs",
                    L{"element", "class", "output", "worker"}}},
      {"Elements", {"weft_element_output_bytes_total", kCounter,
                    "bytes an element handed to one of its outputs (0 with stats.bytes: false)",
                    L{"element", "class", "output", "worker"}}},
      {"Elements", {"weft_element_drops_total", kCounter, "packets an element dropped, by reason",
                    L{"element", "class", "reason", "worker"}}},
      {"Ports", {"weft_port_info", kInfo, "a port of the graph: its device, DPDK port id and driver",
                 L{"port", "device", "port_id", "driver"}}},
      {"Ports", {"weft_port_rx_packets_total", kCounter, "packets received (rte_eth_stats ipackets)", L{"port"}}},
      {"Ports", {"weft_port_tx_packets_total", kCounter, "packets sent (opackets)", L{"port"}}},
      {"Ports", {"weft_port_rx_bytes_total", kCounter, "bytes received (ibytes)", L{"port"}}},
      {"Ports", {"weft_port_tx_bytes_total", kCounter, "bytes sent (obytes)", L{"port"}}},
      {"Ports", {"weft_port_rx_missed_total", kCounter, "packets the NIC dropped for want of RX descriptors (imissed)",
                 L{"port"}}},
      {"Ports", {"weft_port_rx_errors_total", kCounter, "erroneous packets received (ierrors)", L{"port"}}},
      {"Ports", {"weft_port_tx_errors_total", kCounter, "packets the NIC failed to send (oerrors)", L{"port"}}},
      {"Ports", {"weft_port_rx_nombuf_total", kCounter, "RX buffer allocation failures (rx_nombuf)", L{"port"}}},
      {"Ports", {"weft_port_xstats_total", kCounter, "the driver's extended statistics (rte_eth_xstats), by name",
                 L{"port", "xstat"}}},
      {"Workers", {"weft_worker_polls_total", kCounter, "turns of the worker loop", L{"worker", "lcore"}}},
      {"Workers", {"weft_worker_busy_polls_total", kCounter, "turns of the worker loop that moved packets",
                   L{"worker", "lcore"}}},
      {"Workers", {"weft_worker_idle_sleeps_total", kCounter, "idle sleeps (workers.idle_sleep_us)", L{"worker", "lcore"}}},
      {"Workers", {"weft_worker_busy_ratio", kGauge,
                   "busy turns / turns since the previous collection at least 1 s old (or since start)",
                   L{"worker", "lcore"}}},
      {"Reloads", {"weft_reloads_total", kCounter,
                   "reloads by result: applied, refused (invalid graph or a build failure), rolled_back (a worker "
                   "missed the swap)",
                   L{"result"}}},
      {"Reloads", {"weft_reload_last_duration_seconds", kGauge,
                   "the last reload's time by phase: validate, build, swap, total", L{"phase"}}},
      {"Reloads", {"weft_reload_last_worker_pause_seconds", kGauge, "the longest a worker stopped forwarding in the last reload",
                   L{}}},
      {"Reloads", {"weft_reload_last_packets_lost", kGauge, "packets the last reload lost (0 expected)", L{}}},
      {"Reloads", {"weft_reload_last_success_timestamp_seconds", kGauge, "Unix time of the last applied reload", L{}}},
      {"Fleet", {"weft_fleet_connected", kGauge, "1 while the node watches etcd and its last check succeeded", L{}}},
      {"Fleet", {"weft_fleet_stale", kGauge, "1 while the node cannot tell whether its graph is the desired one", L{}}},
      {"Fleet", {"weft_fleet_stale_seconds", kGauge, "seconds the node has been stale (0 when connected)", L{}}},
      {"Fleet", {"weft_fleet_desired_revision", kGauge, "etcd revision of the newest desired graph seen", L{}}},
      {"Fleet", {"weft_fleet_applied_revision", kGauge, "etcd revision of the graph running", L{}}},
      {"Fleet", {"weft_fleet_applies_total", kCounter, "desired graphs applied", L{}}},
      {"Fleet", {"weft_fleet_refusals_total", kCounter, "desired graphs refused (invalid, or the reload failed)", L{}}},
      {"Metrics endpoint", {"weft_metrics_http_requests_total", kCounter, "HTTP requests answered, by status code",
                            L{"code"}}},
      {"Metrics endpoint", {"weft_metrics_http_connections_total", kCounter, "HTTP connections accepted", L{}}},
      {"Metrics endpoint", {"weft_metrics_http_dropped_connections_total", kCounter,
                            "HTTP connections closed by routerd: evicted (the limit reached, oldest idle one), "
                            "refused (the limit reached, none idle), timeout, bad_request",
                            L{"reason"}}},
  };
  return all;
}

const MetricSpec& framework_metric(std::string_view name) {
  static const std::unordered_map<std::string_view, const MetricSpec*> by_name = [] {
    std::unordered_map<std::string_view, const MetricSpec*> m;
    for (const auto& f : framework_metrics()) m.emplace(f.spec.name, &f.spec);
    return m;
  }();
  auto it = by_name.find(name);
  if (it == by_name.end()) throw std::out_of_range("no framework metric " + std::string(name));
  return *it->second;
}

}  // namespace weft

namespace weft {

namespace {

template <class Obj>
std::vector<MetricSpec> with_framework_labels(const std::vector<ClassMetricSpec<Obj>>& metrics,
                                              const std::vector<std::string>& first) {
  std::vector<MetricSpec> out;
  for (const auto& m : metrics) {
    MetricSpec s = m.spec;
    s.labels = first;
    s.labels.insert(s.labels.end(), m.spec.labels.begin(), m.spec.labels.end());
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

std::vector<MetricSpec> families_of(const ElementClass& k) { return with_framework_labels(k.metrics, {"element", "class"}); }
std::vector<MetricSpec> families_of(const ServiceClass& k) { return with_framework_labels(k.metrics, {"service"}); }

std::string metric_conflict(const MetricSpec& mine, const std::vector<MetricSpec>& known) {
  for (const auto& f : framework_metrics())
    if (f.spec.name == mine.name) return "metric '" + mine.name + "' is one of the framework's";
  for (const auto& k : known)
    if (k.name == mine.name && (k.type != mine.type || k.labels != mine.labels))
      return "metric '" + mine.name + "' is declared elsewhere with another type or other labels";
  return {};
}

}  // namespace weft

#include "control/metrics.hpp"

#include <rte_ethdev.h>
#include <rte_version.h>

#include <charconv>
#include <cmath>
#include <mutex>
#include <set>
#include <stdexcept>

#include "control/control_api.hpp"
#include "core/plugin_loader.hpp"
#include "runtime/runtime.hpp"
#include "weft/log.hpp"
#include "weft/version.hpp"

namespace weft {

namespace {

// Logs a problem with a metric once per name (a scrape a second repeats it).
void warn_once(const std::string& name, const std::string& what) {
  static std::mutex mu;
  static std::set<std::string> seen;
  std::lock_guard<std::mutex> lock(mu);
  if (seen.insert(name).second) WEFT_LOG(Warning, "metric %s: %s (logged once)", name.c_str(), what.c_str());
}

}  // namespace

// --- MetricSet ------------------------------------------------------------

MetricFamily* MetricSet::family(const MetricSpec& spec) {
  auto it = index_.find(spec.name);
  if (it == index_.end()) {
    index_.emplace(spec.name, families_.size());
    families_.push_back({spec, {}});
    return &families_.back();
  }
  MetricFamily& f = families_[it->second];
  if (f.spec.type != spec.type || f.spec.labels != spec.labels) {
    warn_once(spec.name, "declared twice with different types or labels; the second declaration is ignored");
    return nullptr;
  }
  return &f;
}

void MetricSet::add(std::string_view name, std::vector<std::string> labels, double value) {
  MetricFamily* f = family(framework_metric(name));
  if (f) f->samples.push_back({std::move(labels), value});
}

const MetricFamily* MetricSet::find(std::string_view name) const {
  auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : &families_[it->second];
}

// --- rendering --------------------------------------------------------------

namespace {

void append_value(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else {
    char buf[32];
    // Integers as integers (counters mostly), others in the shortest form that reads back exactly.
    auto r = (v == std::floor(v) && std::fabs(v) < 9.0e15)
                 ? std::to_chars(buf, buf + sizeof buf, static_cast<long long>(v))
                 : std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
  }
}

void append_escaped(std::string& out, std::string_view s, bool quote) {
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '"' && quote) out += "\\\"";
    else out += c;
  }
}

std::string_view strip(std::string_view name, std::string_view suffix) {
  return name.size() > suffix.size() && name.substr(name.size() - suffix.size()) == suffix
             ? name.substr(0, name.size() - suffix.size())
             : name;
}

}  // namespace

std::string render_metrics(const MetricSet& set, ExpositionFormat fmt) {
  const bool om = fmt == ExpositionFormat::OpenMetrics;
  std::string out;
  out.reserve(4096);
  for (const MetricFamily& f : set.families()) {
    if (f.samples.empty()) continue;
    const MetricSpec& s = f.spec;
    std::string_view family = s.name;
    const char* type = to_string(s.type);
    if (om && s.type == MetricType::Counter) family = strip(family, "_total");
    if (om && s.type == MetricType::Info) family = strip(family, "_info");
    if (!om && s.type == MetricType::Info) type = "gauge";  // 0.0.4 has no info type
    out += "# HELP ";
    out += family;
    out += ' ';
    append_escaped(out, s.help, om);
    out += "\n# TYPE ";
    out += family;
    out += ' ';
    out += type;
    out += '\n';
    for (const auto& x : f.samples) {
      out += s.name;
      if (!x.labels.empty()) {
        out += '{';
        for (size_t i = 0; i < x.labels.size() && i < s.labels.size(); i++) {
          if (i) out += ',';
          out += s.labels[i];
          out += "=\"";
          append_escaped(out, x.labels[i], true);
          out += '"';
        }
        out += '}';
      }
      out += ' ';
      append_value(out, x.value);
      out += '\n';
    }
  }
  if (om) out += "# EOF\n";
  return out;
}

ExpositionFormat format_for_accept(std::string_view accept) {
  // Prometheus asks for OpenMetrics first (and text 0.0.4 at a lower q).
  size_t at = accept.find("application/openmetrics-text");
  if (at == std::string_view::npos) return ExpositionFormat::Prometheus;
  std::string_view rest = accept.substr(at);
  rest = rest.substr(0, rest.find(','));
  if (size_t q = rest.find("q="); q != std::string_view::npos) {
    double v = 1;
    std::from_chars(rest.data() + q + 2, rest.data() + rest.size(), v);
    if (!(v > 0)) return ExpositionFormat::Prometheus;  // q=0: not acceptable
  }
  return ExpositionFormat::OpenMetrics;
}

const char* content_type(ExpositionFormat f) {
  return f == ExpositionFormat::OpenMetrics ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
                                            : "text/plain; version=0.0.4; charset=utf-8";
}

// --- the catalogue ------------------------------------------------------------

namespace {

std::string md_cell(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '\n') out += ' ';
    else out += c;
  }
  return out;
}

void md_row(std::string& out, const MetricSpec& m, const std::vector<std::string>& framework_labels) {
  std::string labels;
  for (const auto& l : framework_labels) labels += (labels.empty() ? "" : ", ") + l;
  for (const auto& l : m.labels) labels += (labels.empty() ? "" : ", ") + l;
  out += "| `" + m.name + "` | " + to_string(m.type) + " | " + (labels.empty() ? "—" : md_cell(labels)) + " | " +
         md_cell(m.help) + " |\n";
}

const char* kTableHead = "| metric | type | labels | what |\n|---|---|---|---|\n";

}  // namespace

std::string metrics_doc(const PluginLoader& loader) {
  std::string out;
  std::string section;
  for (const auto& f : framework_metrics()) {
    if (section != f.section) {
      section = f.section;
      out += (out.empty() ? "" : "\n") + std::string("### ") + section + "\n\n" + kTableHead;
    }
    md_row(out, f.spec, {});
  }
  for (const auto& n : loader.service_class_names()) {
    const ServiceClass& k = *loader.find_service(n);
    if (k.metrics.empty()) continue;
    out += "\n### Service " + k.name + "\n\n" + kTableHead;
    for (const auto& m : k.metrics) md_row(out, m.spec, {"service"});
  }
  for (const auto& n : loader.class_names()) {
    const ElementClass& k = *loader.find(n);
    if (k.metrics.empty()) continue;
    out += "\n### Element " + k.name + "\n\n" + kTableHead;
    for (const auto& m : k.metrics) md_row(out, m.spec, {"element", "class"});
  }
  return out;
}

// --- collection -------------------------------------------------------------

namespace {

// The sink a class's reader writes to: the framework's label values first.
class FamilySink final : public MetricSink {
 public:
  FamilySink(MetricFamily* f, std::vector<std::string> prefix) : f_(f), prefix_(std::move(prefix)) {}
  void sample(std::initializer_list<std::string_view> values, double v) override {
    if (!f_) return;
    if (prefix_.size() + values.size() != f_->spec.labels.size()) {
      warn_once(f_->spec.name, "a sample with " + std::to_string(values.size()) + " label values for " +
                                   std::to_string(f_->spec.labels.size() - prefix_.size()) + " labels: dropped");
      return;
    }
    MetricFamily::Sample s{prefix_, v};
    for (auto x : values) s.labels.emplace_back(x);
    f_->samples.push_back(std::move(s));
  }

 private:
  MetricFamily* f_;
  std::vector<std::string> prefix_;
};

MetricSpec with_labels(const MetricSpec& m, std::vector<std::string> first) {
  MetricSpec s = m;
  first.insert(first.end(), m.labels.begin(), m.labels.end());
  s.labels = std::move(first);
  return s;
}

template <class Obj>
void read_class_metrics(MetricSet& set, const std::vector<ClassMetricSpec<Obj>>& metrics, const Obj& obj,
                        const std::vector<std::string>& framework_labels, const std::vector<std::string>& values) {
  for (const auto& m : metrics) {
    FamilySink sink(set.family(with_labels(m.spec, framework_labels)), values);
    try {
      m.read(obj, sink);
    } catch (const std::exception& e) {
      warn_once(m.spec.name, std::string("its reader failed: ") + e.what());
    }
  }
}

std::string num(uint64_t v) { return std::to_string(v); }

}  // namespace

MetricSet MetricsCollector::collect() {
  MetricSet set;
  router(set);
  elements(set);
  ports(set);
  workers(set);
  reloads(set);
  services(set);
  for (auto& fn : sources_) fn(set);
  return set;
}

void MetricsCollector::router(MetricSet& set) const {
  set.add("weft_build_info",
          {kVersion, num(kPluginAbiMajor) + "." + num(kPluginAbiMinor), rte_version(), kCompilerAbi}, 1);
  set.add("weft_graph_info", {rt_.plan().spec->name, api_.graph_file()}, 1);
  set.add("weft_uptime_seconds", {}, rt_.elapsed_s());
}

void MetricsCollector::elements(MetricSet& set) const {
  const GraphPlan& plan = rt_.plan();
  const unsigned nw = static_cast<unsigned>(rt_.workers().size());
  MetricFamily* packets = set.family(framework_metric("weft_element_output_packets_total"));
  MetricFamily* bytes = set.family(framework_metric("weft_element_output_bytes_total"));
  MetricFamily* drops = set.family(framework_metric("weft_element_drops_total"));
  for (size_t i = 0; i < plan.nodes.size(); i++) {
    const NodePlan& n = plan.nodes[i];
    const std::string& id = n.spec->id;
    const std::string& klass = n.klass->name;
    const Element* first = nullptr;
    for (unsigned w = 0; w < nw; w++) {
      const Element* el = rt_.element(w, i);
      if (!el) continue;
      if (!first) first = el;
      const std::string worker = num(w);
      for (size_t o = 0; o < el->output_count() && o < n.outputs.size(); o++) {
        const OutputPort& op = el->output_port(o);
        packets->samples.push_back({{id, klass, n.outputs[o], worker}, double(op.packets.get())});
        bytes->samples.push_back({{id, klass, n.outputs[o], worker}, double(op.bytes.get())});
      }
      for (size_t d = 0; d < el->drop_reason_count(); d++)
        drops->samples.push_back({{id, klass, n.klass->drops[d].name, worker}, double(el->drops(d))});
    }
    if (first && !n.klass->metrics.empty())
      read_class_metrics<Element>(set, n.klass->metrics, *first, {"element", "class"}, {id, klass});
  }
}

void MetricsCollector::ports(MetricSet& set) const {
  std::vector<rte_eth_xstat_name> names;
  std::vector<rte_eth_xstat> values;
  for (const auto& p : rt_.ports()) {
    rte_eth_dev_info info{};
    const char* driver = rte_eth_dev_info_get(p.id, &info) == 0 && info.driver_name ? info.driver_name : "";
    set.add("weft_port_info", {p.name, p.spec.device, num(p.id), driver}, 1);
    rte_eth_stats st{};
    rte_eth_stats_get(p.id, &st);
    set.add("weft_port_rx_packets_total", {p.name}, double(st.ipackets));
    set.add("weft_port_tx_packets_total", {p.name}, double(st.opackets));
    set.add("weft_port_rx_bytes_total", {p.name}, double(st.ibytes));
    set.add("weft_port_tx_bytes_total", {p.name}, double(st.obytes));
    set.add("weft_port_rx_missed_total", {p.name}, double(st.imissed));
    set.add("weft_port_rx_errors_total", {p.name}, double(st.ierrors));
    set.add("weft_port_tx_errors_total", {p.name}, double(st.oerrors));
    set.add("weft_port_rx_nombuf_total", {p.name}, double(st.rx_nombuf));
    const int n = rte_eth_xstats_get_names(p.id, nullptr, 0);
    if (n <= 0) continue;
    names.resize(static_cast<size_t>(n));
    values.resize(static_cast<size_t>(n));
    const int got_names = rte_eth_xstats_get_names(p.id, names.data(), static_cast<unsigned>(n));
    const int got = rte_eth_xstats_get(p.id, values.data(), static_cast<unsigned>(n));
    for (int i = 0; i < got && i < got_names; i++) {
      const uint64_t id = values[static_cast<size_t>(i)].id;
      if (id >= static_cast<uint64_t>(got_names)) continue;
      set.add("weft_port_xstats_total", {p.name, names[id].name}, double(values[static_cast<size_t>(i)].value));
    }
  }
}

void MetricsCollector::workers(MetricSet& set) {
  const auto now = std::chrono::steady_clock::now();
  LoadSample cur{now, {}};
  for (const auto& w : rt_.workers()) cur.polls_busy.emplace_back(w->polls.get(), w->busy_polls.get());
  // The reference: the newest sample at least 1 s old (older ones are no longer needed).
  while (load_.size() > 1 && now - load_[1].at >= std::chrono::seconds(1)) load_.pop_front();
  const LoadSample* ref = !load_.empty() && now - load_.front().at >= std::chrono::seconds(1) ? &load_.front() : nullptr;
  for (size_t i = 0; i < rt_.workers().size(); i++) {
    const Worker& w = *rt_.workers()[i];
    const std::vector<std::string> l{num(w.index), num(w.lcore)};
    set.add("weft_worker_polls_total", l, double(cur.polls_busy[i].first));
    set.add("weft_worker_busy_polls_total", l, double(cur.polls_busy[i].second));
    set.add("weft_worker_idle_sleeps_total", l, double(w.sleeps.get()));
    uint64_t polls = cur.polls_busy[i].first, busy = cur.polls_busy[i].second;
    if (ref && i < ref->polls_busy.size() && ref->polls_busy[i].first <= polls) {
      polls -= ref->polls_busy[i].first;
      busy -= std::min(busy, ref->polls_busy[i].second);
    }
    set.add("weft_worker_busy_ratio", l, polls ? double(busy) / double(polls) : 0.0);
  }
  if (load_.empty() || now - load_.back().at >= std::chrono::milliseconds(100)) load_.push_back(std::move(cur));
  while (load_.size() > 64) load_.pop_front();
}

void MetricsCollector::reloads(MetricSet& set) const {
  const ReloadStats& r = api_.reload_stats();
  set.add("weft_reloads_total", {"applied"}, double(r.applied));
  set.add("weft_reloads_total", {"refused"}, double(r.refused));
  set.add("weft_reloads_total", {"rolled_back"}, double(r.rolled_back));
  if (!r.any) return;
  set.add("weft_reload_last_duration_seconds", {"validate"}, r.validate_s);
  set.add("weft_reload_last_duration_seconds", {"build"}, r.build_s);
  set.add("weft_reload_last_duration_seconds", {"swap"}, r.swap_s);
  set.add("weft_reload_last_duration_seconds", {"total"}, r.total_s);
  set.add("weft_reload_last_worker_pause_seconds", {}, r.pause_s);
  set.add("weft_reload_last_packets_lost", {}, double(r.packets_lost));
  if (r.last_success_unix > 0) set.add("weft_reload_last_success_timestamp_seconds", {}, r.last_success_unix);
}

void MetricsCollector::services(MetricSet& set) const {
  for (const auto& e : rt_.services().entries()) {
    const Service& s = *e.service;
    const ServiceClass& k = s.service_class();
    set.add("weft_service_info", {s.name(), k.name}, 1);
    read_class_metrics<Service>(set, k.metrics, s, {"service"}, {s.name()});
  }
}

}  // namespace weft

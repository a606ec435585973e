#include "control/dpdk_telemetry.hpp"

#include <rte_eal.h>
#include <rte_telemetry.h>

#include <boost/asio/post.hpp>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <variant>
#include <vector>

#include "control/control_api.hpp"
#include "control/metrics.hpp"
#include "runtime/runtime.hpp"

namespace weft {

namespace {

// What a command answers, built on the control thread and written into
// DPDK's rte_tel_data on the telemetry thread.
using Value = std::variant<uint64_t, int64_t, std::string>;
struct Reply {
  bool ok = false;
  bool array = false;                                // an array of strings, else a dict
  std::vector<std::string> items;                    // array
  std::vector<std::pair<std::string, Value>> dict;   // dict, in order
};

// Telemetry names: letters, digits, '_' and '/' only, at most 63 characters.
std::string tel_name(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 63))
    out += (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '/') ? c : '_';
  return out;
}

Value tel_value(double v) {
  if (v == std::floor(v) && std::fabs(v) < 9.0e15) {
    if (v >= 0) return static_cast<uint64_t>(v);
    return static_cast<int64_t>(v);
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return std::string(buf);
}

Value tel_value(const json& j) {
  if (j.is_number_unsigned()) return j.get<uint64_t>();
  if (j.is_number_integer()) return j.get<int64_t>();
  if (j.is_number_float()) return tel_value(j.get<double>());
  if (j.is_boolean()) return uint64_t{j.get<bool>()};
  if (j.is_string()) return j.get<std::string>();
  return j.dump();
}

// Labels of a sample as one key: their values joined by '/'.
std::string sample_key(const MetricFamily::Sample& s) {
  std::string k;
  for (const auto& v : s.labels) k += (k.empty() ? "" : "/") + v;
  return k.empty() ? "value" : k;
}

}  // namespace

struct DpdkTelemetry::State {
  bool alive = true;  // control thread only
  boost::asio::io_context& io;
  const Runtime& rt;
  ControlApi& api;
  MetricsCollector& metrics;

  // On the control thread.
  Reply answer(const std::string& cmd, const std::string& param) {
    Reply r;
    r.ok = true;
    auto add = [&r](const std::string& k, Value v) { r.dict.emplace_back(tel_name(k), std::move(v)); };
    if (cmd == "/weft/info") {
      const json st = api.handle({{"cmd", "status"}})["data"];
      for (const char* k : {"version", "pid", "uptime_s", "elements", "ports", "plugins", "reloads"})
        if (st.contains(k)) add(k, tel_value(st[k]));
      add("graph", st["graph"].value("name", ""));
      add("file", st["graph"].value("file", ""));
      add("workers", uint64_t{st["workers"].size()});
    } else if (cmd == "/weft/elements") {
      r.array = true;
      for (const auto& n : rt.plan().nodes) r.items.push_back(n.spec->id);
    } else if (cmd == "/weft/element") {
      const json st = stats_json(rt);
      const json* e = nullptr;
      for (const auto& x : st["elements"])
        if (x["id"] == param) e = &x;
      if (!e) return Reply{};
      add("class", (*e)["class"].get<std::string>());
      for (const char* k : {"in", "out", "dropped"}) add(k, tel_value((*e)["total"][k]));
      std::map<std::string, uint64_t> outs, bytes, drops;
      for (const auto& w : (*e)["workers"]) {
        for (const auto& o : w["outputs"]) {
          outs[o["name"].get<std::string>()] += o["packets"].get<uint64_t>();
          bytes[o["name"].get<std::string>()] += o["bytes"].get<uint64_t>();
        }
        for (auto it = w["drops"].begin(); it != w["drops"].end(); ++it) drops[it.key()] += it.value().get<uint64_t>();
      }
      for (const auto& [n, v] : outs) add("out/" + n, v);
      for (const auto& [n, v] : bytes) add("bytes/" + n, v);
      for (const auto& [n, v] : drops) add("drop/" + n, v);
    } else if (cmd == "/weft/workers") {
      const json st = stats_json(rt);
      for (const auto& w : st["workers"]) {
        const std::string i = std::to_string(w["index"].get<unsigned>()) + "/";
        for (const char* k : {"lcore", "polls", "busy_polls", "idle_sleeps"}) add(i + k, tel_value(w[k]));
      }
    } else if (cmd == "/weft/ports") {
      for (const auto& p : rt.ports()) add(p.name, uint64_t{p.id});
    } else if (cmd == "/weft/services") {
      for (const auto& e : rt.services().entries()) add(e.service->name(), e.service->service_class().name);
    } else if (cmd == "/weft/service") {
      const auto s = rt.services().find(param);
      if (!s) return Reply{};
      const MetricSet set = metrics.collect();
      for (const auto& m : s->service_class().metrics) {
        const MetricFamily* f = set.find(m.spec.name);
        if (!f) continue;
        for (const auto& x : f->samples) {
          if (x.labels.empty() || x.labels[0] != param) continue;
          std::string k = m.spec.name.substr(5);  // without "weft_"
          for (size_t i = 1; i < x.labels.size(); i++) k += "/" + x.labels[i];
          add(k, tel_value(x.value));
        }
      }
    } else if (cmd == "/weft/reloads") {
      const ReloadStats& s = api.reload_stats();
      add("applied", s.applied);
      add("refused", s.refused);
      add("rolled_back", s.rolled_back);
      add("last_total_s", tel_value(s.total_s));
      add("last_worker_pause_s", tel_value(s.pause_s));
      add("last_packets_lost", s.packets_lost);
    } else if (cmd == "/weft/metrics") {
      r.array = true;
      const MetricSet set = metrics.collect();  // kept alive: the loop reads into it
      for (const auto& f : set.families())
        if (!f.samples.empty()) r.items.push_back(f.spec.name);
    } else if (cmd == "/weft/metric") {
      const MetricSet set = metrics.collect();
      const MetricFamily* f = set.find(param);
      if (!f) return Reply{};
      std::string labels;
      for (const auto& l : f->spec.labels) labels += (labels.empty() ? "" : "/") + l;
      add("labels", labels);
      add("type", std::string(to_string(f->spec.type)));
      for (const auto& x : f->samples) add(sample_key(x), tel_value(x.value));
    } else {
      return Reply{};
    }
    return r;
  }
};

namespace {

std::mutex g_mu;
std::shared_ptr<DpdkTelemetry::State> g_state;  // the router answering, if any

struct Command {
  const char* name;
  const char* help;
};
constexpr Command kCommands[] = {
    {"/weft/info", "Weft router: version, graph, uptime, workers, reloads. No parameters"},
    {"/weft/elements", "Weft: the graph's element ids. No parameters"},
    {"/weft/element", "Weft: one element's packets in, out, dropped, per output and drop reason. Parameter: element id"},
    {"/weft/workers", "Weft: each worker's lcore and loop counters. No parameters"},
    {"/weft/ports", "Weft: the graph's ports and their DPDK port ids (see /ethdev/stats). No parameters"},
    {"/weft/services", "Weft: the graph's services and their classes. No parameters"},
    {"/weft/service", "Weft: one service's metrics. Parameter: service name"},
    {"/weft/reloads", "Weft: reloads applied, refused, rolled back; the last one's timing. No parameters"},
    {"/weft/metrics", "Weft: the names of the metric families (as served at /metrics). No parameters"},
    {"/weft/metric", "Weft: one metric family's samples, keyed by label values. Parameter: metric name"},
};

void fill(const Reply& r, rte_tel_data* d) {
  if (r.array) {
    rte_tel_data_start_array(d, RTE_TEL_STRING_VAL);
    for (const auto& s : r.items)
      if (rte_tel_data_add_array_string(d, s.c_str()) < 0) break;  // full: the rest is left out
    return;
  }
  rte_tel_data_start_dict(d);
  for (const auto& [k, v] : r.dict) {
    int rc = 0;
    if (auto u = std::get_if<uint64_t>(&v)) rc = rte_tel_data_add_dict_u64(d, k.c_str(), *u);
    else if (auto i = std::get_if<int64_t>(&v)) rc = rte_tel_data_add_dict_int(d, k.c_str(), static_cast<int>(*i));
    else rc = rte_tel_data_add_dict_string(d, k.c_str(), std::get<std::string>(v).c_str());
    if (rc == -ENOSPC) break;  // RTE_TEL_MAX_DICT_ENTRIES reached
  }
}

int on_command(const char* cmd, const char* params, rte_tel_data* d) {
  auto done = std::make_shared<std::promise<Reply>>();
  std::future<Reply> answer = done->get_future();
  {
    std::lock_guard<std::mutex> lock(g_mu);
    if (!g_state) return -ENODEV;
    boost::asio::post(g_state->io, [st = g_state, done, c = std::string(cmd), p = std::string(params ? params : "")] {
      Reply r;
      if (st->alive) {
        try {
          r = st->answer(c, p);
        } catch (const std::exception&) {
          r = Reply{};
        }
      }
      done->set_value(std::move(r));
    });
  }
  if (answer.wait_for(std::chrono::seconds(2)) != std::future_status::ready) return -EBUSY;
  Reply r;
  try {
    r = answer.get();
  } catch (const std::future_error&) {  // the event loop went away with the request
    return -ENODEV;
  }
  if (!r.ok) return -EINVAL;
  fill(r, d);
  return 0;
}

}  // namespace

DpdkTelemetry::DpdkTelemetry(boost::asio::io_context& io, const Runtime& rt, ControlApi& api, MetricsCollector& metrics)
    : state_(std::make_shared<State>(State{true, io, rt, api, metrics})) {
  static const bool registered = [] {
    for (const auto& c : kCommands) rte_telemetry_register_cmd(c.name, on_command, c.help);
    return true;
  }();
  (void)registered;
  std::lock_guard<std::mutex> lock(g_mu);
  g_state = state_;
}

DpdkTelemetry::~DpdkTelemetry() {
  state_->alive = false;  // a request already posted answers null
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_state == state_) g_state.reset();
}

std::string DpdkTelemetry::socket_path() {
  const char* dir = rte_eal_get_runtime_dir();
  if (!dir || !*dir) return {};
  std::string p = std::string(dir) + "/dpdk_telemetry.v2";
  std::error_code ec;
  return std::filesystem::exists(p, ec) ? p : std::string();
}

}  // namespace weft

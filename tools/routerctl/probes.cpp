// routerctl runtime, trace, capture and top: watching a running graph
// (docs/telemetry.md). routerd does the work (control/probe_api.cpp);
// these commands send the request and print the reply.
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <thread>

#include "routerctl.hpp"

namespace routerctl {
namespace {

using std::chrono::steady_clock;

unsigned long long ull(const json& v) { return v.get<unsigned long long>(); }

// --- runtime ---

struct RuntimeArgs {
  bool on = false, off = false, clear = false;
  std::string sort = "cycles";
};

// The sort key of one row of figures (a `total` or a worker's).
double sort_key(const json& f, const std::string& by) {
  if (by == "calls") return double(ull(f["calls"]));
  if (by == "packets") return double(ull(f["packets"]));
  if (by == "cpp") return f["cycles_per_packet"].get<double>();
  return double(ull(f["cycles"]));
}

void print_runtime(const json& r, const std::string& by) {
  std::printf("runtime figures: %s, %.1f s since cleared, TSC %.2f GHz\n", r["enabled"].get<bool>() ? "on" : "OFF",
              r["since_clear_s"].get<double>(), r["tsc_hz"].get<double>() / 1e9);
  std::vector<json> rows(r["elements"].begin(), r["elements"].end());
  if (by == "name")
    std::stable_sort(rows.begin(), rows.end(),
                     [](const json& a, const json& b) { return a["id"].get<std::string>() < b["id"].get<std::string>(); });
  else
    std::stable_sort(rows.begin(), rows.end(),
                     [&](const json& a, const json& b) { return sort_key(a["total"], by) > sort_key(b["total"], by); });
  const bool per_worker = r["workers"].size() > 1;
  std::printf("%-16s %-12s %-6s %14s %14s %10s %12s\n", "element", "class", "lcore", "calls", "packets", "pkts/call",
              "cycles/pkt");
  auto line = [](const std::string& id, const std::string& klass, const std::string& lcore, const json& f) {
    std::printf("%-16s %-12s %-6s %14llu %14llu %10.1f %12.1f\n", id.c_str(), klass.c_str(), lcore.c_str(),
                ull(f["calls"]), ull(f["packets"]), f["packets_per_call"].get<double>(),
                f["cycles_per_packet"].get<double>());
  };
  for (const auto& e : rows) {
    line(e["id"], e["class"], per_worker ? "all" : std::to_string(e["workers"][0]["lcore"].get<unsigned>()), e["total"]);
    if (per_worker)
      for (const auto& w : e["workers"]) line("", "", std::to_string(w["lcore"].get<unsigned>()), w);
  }
  for (const auto& w : r["workers"])
    std::printf("worker %u (lcore %u): %llu cycles in elements, %llu idle polls (%llu cycles)\n",
                w["index"].get<unsigned>(), w["lcore"].get<unsigned>(), ull(w["element_cycles"]), ull(w["idle_calls"]),
                ull(w["idle_cycles"]));
}

Command runtime_command{[](CLI::App& app, Options& o) -> std::pair<CLI::App*, Runner> {
  auto a = std::make_shared<RuntimeArgs>();
  auto* sub = app.add_subcommand("runtime", "per element and worker: calls, packets, packets per call, cycles per packet");
  sub->add_flag("--on", a->on, "start counting cycles (on every worker)");
  sub->add_flag("--off", a->off, "stop counting cycles (the figures stay)");
  sub->add_flag("--clear", a->clear, "zero the figures");
  sub->add_option("--sort", a->sort, "cycles (default), cpp (cycles per packet), packets, calls or name")
      ->check(CLI::IsMember({"cycles", "cpp", "packets", "calls", "name"}));
  return {sub, [&o, a] {
            if (a->on && a->off) throw Failed("runtime: --on and --off together");
            json r;
            if (a->on) r = request(o, "runtime", {{"action", "on"}});
            if (a->off) r = request(o, "runtime", {{"action", "off"}});
            if (a->clear) r = request(o, "runtime", {{"action", "clear"}});
            if (r.is_null()) r = request(o, "runtime", {{"action", "show"}});
            if (o.json_out) std::cout << r.dump(2) << "\n";
            else print_runtime(r, a->sort);
            return 0;
          }};
}};

// --- trace ---

struct TraceArgs {
  std::string action = "show";
  uint64_t count = 10;
  std::string filter;
  double wait = 0;
};

void print_trace(const json& t) {
  std::printf("trace: %s, %llu of %llu packet(s) taken, %llu done%s%s\n", t["state"].get<std::string>().c_str(),
              ull(t["taken"]), ull(t["count"]), ull(t["done"]),
              t["filter"].get<std::string>().empty() ? "" : (", filter '" + t["filter"].get<std::string>() + "'").c_str(),
              t.contains("reason") ? (" (" + t["reason"].get<std::string>() + ")").c_str() : "");
  if (ull(t["overflow"])) std::printf("  %llu record(s) did not fit\n", ull(t["overflow"]));
  for (const auto& p : t["packets"]) {
    std::printf("\npacket %llu: worker %u (lcore %u), %llu bytes\n", ull(p["id"]), p["worker"].get<unsigned>(),
                p["lcore"].get<unsigned>(), ull(p["length"]));
    for (const auto& h : p["headers"]) std::printf("  %s\n", h.get<std::string>().c_str());
    for (const auto& e : p["path"]) {
      const std::string ev = e["event"];
      std::string what;
      if (ev == "output") what = "-> [" + e["output"].get<std::string>() + "] " + e["to"].get<std::string>();
      else if (ev == "dropped") {
        what = "DROPPED:";
        for (const auto& r : e["reasons"]) what += " " + r.get<std::string>();
      } else if (ev == "consumed") {
        what = "consumed";
        if (e.contains("tx_ports"))
          for (const auto& tp : e["tx_ports"]) what += " (sent on " + tp.get<std::string>() + ")";
      } else {
        what = ev;
      }
      std::printf("  %+10.0f ns  %-16s %s\n", e["ns"].get<double>(), e["element"].get<std::string>().c_str(),
                  what.c_str());
    }
    if (!p["done"].get<bool>()) std::printf("  (in flight)\n");
  }
}

Command trace_command{[](CLI::App& app, Options& o) -> std::pair<CLI::App*, Runner> {
  auto a = std::make_shared<TraceArgs>();
  auto* sub = app.add_subcommand("trace", "record the journey of the next N packets through the graph");
  sub->add_option("action", a->action, "start, show (default) or stop")->check(CLI::IsMember({"start", "show", "stop"}));
  sub->add_option("-c,--count", a->count, "start: packets to trace (default 10)");
  sub->add_option("-f,--filter", a->filter, "start: only packets matching this tcpdump-style filter");
  sub->add_option("--wait", a->wait, "start: wait up to this many seconds for the packets, then show them");
  return {sub, [&o, a] {
            json t;
            if (a->action == "start") {
              json args{{"action", "start"}, {"count", a->count}};
              if (!a->filter.empty()) args["filter"] = a->filter;
              t = request(o, "trace", args);
              const auto until = steady_clock::now() + std::chrono::duration<double>(a->wait);
              while (a->wait > 0 && !t.value("complete", false) && steady_clock::now() < until) {
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
                t = request(o, "trace", {{"action", "show"}});
              }
            } else {
              t = request(o, "trace", {{"action", a->action}});
            }
            if (o.json_out) std::cout << t.dump(2) << "\n";
            else if (t["state"] == "none") std::printf("no trace (routerctl trace start --count N)\n");
            else print_trace(t);
            return 0;
          }};
}};

// --- capture ---

struct CaptureArgs {
  std::vector<std::string> points, ports;
  uint64_t count = 1000;
  uint64_t snaplen = 2048;
  std::string file, filter;
  double wait = 0;
  bool list = false;
  int stop = -1;
};

void print_capture(const json& c) {
  std::string points;
  for (const auto& p : c["points"]) points += (points.empty() ? "" : ", ") + p.get<std::string>();
  std::printf("capture %u: %s, %s -> %s: %llu of %llu written, %llu lost%s\n", c["id"].get<unsigned>(),
              c["state"].get<std::string>().c_str(), points.c_str(), c["file"].get<std::string>().c_str(),
              ull(c["written"]), ull(c["count"]), ull(c["lost"]),
              c.contains("reason") ? (" (" + c["reason"].get<std::string>() + ")").c_str() : "");
}

Command capture_command{[](CLI::App& app, Options& o) -> std::pair<CLI::App*, Runner> {
  auto a = std::make_shared<CaptureArgs>();
  auto* sub = app.add_subcommand("capture", "copy the packets leaving ELEMENT[OUTPUT] (or a port) to a pcapng file");
  sub->add_option("point", a->points, "ELEMENT (every output) or ELEMENT[OUTPUT]");
  sub->add_option("--port", a->ports, "PORT:rx (what its receivers hand on) or PORT:tx (what reaches its transmitters)");
  sub->add_option("-c,--count", a->count, "packets to write, then stop (default 1000)");
  sub->add_option("-w,--write", a->file, "the pcapng file (written by routerd)");
  sub->add_option("-f,--filter", a->filter, "only packets matching this tcpdump-style filter");
  sub->add_option("--snaplen", a->snaplen, "bytes kept of each packet (default 2048)");
  sub->add_option("--wait", a->wait, "wait up to this many seconds for the capture to end (stop it then)");
  sub->add_flag("--list", a->list, "the captures, running and finished");
  sub->add_option("--stop", a->stop, "stop capture ID (what it copied is written)");
  return {sub, [&o, a] {
            if (a->list || a->stop >= 0) {
              json r = a->list ? request(o, "capture", {{"action", "list"}})
                               : request(o, "capture", {{"action", "stop"}, {"id", static_cast<unsigned>(a->stop)}});
              if (o.json_out) std::cout << r.dump(2) << "\n";
              else if (r.is_array())
                for (const auto& c : r) print_capture(c);
              else
                print_capture(r);
              return 0;
            }
            json points = json::array();
            for (const auto& p : a->points) {
              const size_t open = p.find('[');
              if (open == std::string::npos) {
                points.push_back({{"element", p}});
                continue;
              }
              if (p.back() != ']' || open == 0 || p.size() == open + 2)
                throw Failed("capture: '" + p + "': expected ELEMENT or ELEMENT[OUTPUT]");
              points.push_back({{"element", p.substr(0, open)}, {"output", p.substr(open + 1, p.size() - open - 2)}});
            }
            for (const auto& p : a->ports) {
              const size_t colon = p.rfind(':');
              if (colon == std::string::npos || colon == 0)
                throw Failed("capture: --port '" + p + "': expected PORT:rx or PORT:tx");
              points.push_back({{"port", p.substr(0, colon)}, {"dir", p.substr(colon + 1)}});
            }
            if (a->file.empty()) throw Failed("capture: name the file with -w FILE");
            // routerd opens the file: send it absolute.
            const std::string file = std::filesystem::absolute(a->file).lexically_normal().string();
            json args{{"action", "start"}, {"points", points}, {"count", a->count}, {"snaplen", a->snaplen},
                      {"file", file}};
            if (!a->filter.empty()) args["filter"] = a->filter;
            json c = request(o, "capture", args);
            const unsigned id = c["id"].get<unsigned>();
            if (a->wait > 0) {
              const auto until = steady_clock::now() + std::chrono::duration<double>(a->wait);
              auto find = [&] {
                for (const auto& x : request(o, "capture", {{"action", "list"}}))
                  if (x["id"].get<unsigned>() == id) return x;
                throw Failed("capture " + std::to_string(id) + " is gone");
              };
              while ((c = find())["state"] == "running" && steady_clock::now() < until)
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
              if (c["state"] == "running") c = request(o, "capture", {{"action", "stop"}, {"id", id}});
            }
            if (o.json_out) std::cout << c.dump(2) << "\n";
            else print_capture(c);
            return c["state"] == "failed" ? 1 : 0;
          }};
}};

// --- top ---

struct TopArgs {
  bool once = false;
  double interval = 1.0;
  std::string sort = "rate";
};

volatile std::sig_atomic_t g_stop = 0;

struct Sample {
  json stats, runtime;
  steady_clock::time_point at;
};

Sample sample(const Options& o) {
  Sample s;
  s.stats = request(o, "stats");
  s.runtime = request(o, "runtime", {{"action", "show"}});
  s.at = steady_clock::now();
  return s;
}

// Per element over the interval between two samples.
json top_rows(const Sample& a, const Sample& b) {
  const double dt = std::chrono::duration<double>(b.at - a.at).count();
  std::map<std::string, const json*> fig_a, fig_b, st_a;
  for (const auto& e : a.runtime["elements"]) fig_a[e["id"]] = &e;
  for (const auto& e : b.runtime["elements"]) fig_b[e["id"]] = &e;
  for (const auto& e : a.stats["elements"]) st_a[e["id"]] = &e;
  auto delta = [](const json* x, const json* y, const char* k) -> uint64_t {
    if (!x || !y) return 0;
    const uint64_t vy = (*y)["total"][k].get<uint64_t>(), vx = (*x)["total"][k].get<uint64_t>();
    return vy > vx ? vy - vx : 0;
  };
  json rows = json::array();
  for (const auto& e : b.stats["elements"]) {
    const std::string id = e["id"];
    const json* sa = st_a.count(id) ? st_a[id] : nullptr;
    const uint64_t in = delta(sa, &e, "in"), out = delta(sa, &e, "out"), dropped = delta(sa, &e, "dropped");
    const json* fa = fig_a.count(id) ? fig_a[id] : nullptr;
    const json* fb = fig_b.count(id) ? fig_b[id] : nullptr;
    const uint64_t cycles = delta(fa, fb, "cycles"), packets = delta(fa, fb, "packets");
    json row{{"id", id},
             {"class", e["class"]},
             {"in_pps", dt > 0 ? double(in) / dt : 0.0},
             {"out_pps", dt > 0 ? double(out) / dt : 0.0},
             {"drops_per_s", dt > 0 ? double(dropped) / dt : 0.0},
             {"dropped", e["total"]["dropped"]}};
    if (b.runtime["enabled"].get<bool>() && packets) row["cycles_per_packet"] = double(cycles) / double(packets);
    else row["cycles_per_packet"] = nullptr;
    rows.push_back(row);
  }
  return {{"interval_s", dt}, {"runtime_enabled", b.runtime["enabled"]}, {"elements", rows}};
}

void print_top(const json& t, const std::string& by) {
  std::vector<json> rows(t["elements"].begin(), t["elements"].end());
  auto key = [&](const json& r) {
    if (by == "drops") return r["drops_per_s"].get<double>();
    if (by == "cycles") return r["cycles_per_packet"].is_null() ? -1.0 : r["cycles_per_packet"].get<double>();
    return r["in_pps"].get<double>() + r["out_pps"].get<double>();
  };
  std::stable_sort(rows.begin(), rows.end(), [&](const json& x, const json& y) { return key(x) > key(y); });
  std::printf("routerctl top: every %.1f s, runtime figures %s\n\n", t["interval_s"].get<double>(),
              t["runtime_enabled"].get<bool>() ? "on" : "off (routerctl runtime --on for cycles)");
  std::printf("%-16s %-12s %14s %14s %12s %14s %11s\n", "element", "class", "in pps", "out pps", "drops/s",
              "dropped", "cycles/pkt");
  for (const auto& r : rows) {
    char cpp[32] = "-";
    if (!r["cycles_per_packet"].is_null()) std::snprintf(cpp, sizeof cpp, "%.1f", r["cycles_per_packet"].get<double>());
    std::printf("%-16s %-12s %14.0f %14.0f %12.0f %14llu %11s\n", r["id"].get<std::string>().c_str(),
                r["class"].get<std::string>().c_str(), r["in_pps"].get<double>(), r["out_pps"].get<double>(),
                r["drops_per_s"].get<double>(), ull(r["dropped"]), cpp);
  }
}

Command top_command{[](CLI::App& app, Options& o) -> std::pair<CLI::App*, Runner> {
  auto a = std::make_shared<TopArgs>();
  auto* sub = app.add_subcommand("top", "per element rates, drops and cycles, refreshed (Ctrl-C to quit)");
  sub->add_flag("--once", a->once, "sample once over the interval, print, exit");
  sub->add_option("-i,--interval", a->interval, "seconds between refreshes (default 1)")->check(CLI::Range(0.05, 3600.0));
  sub->add_option("--sort", a->sort, "rate (default), drops or cycles")->check(CLI::IsMember({"rate", "drops", "cycles"}));
  return {sub, [&o, a] {
            std::signal(SIGINT, [](int) { g_stop = 1; });
            Sample prev = sample(o);
            do {
              const auto until = prev.at + std::chrono::duration<double>(a->interval);
              while (!g_stop && steady_clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(20));
              if (g_stop) break;
              Sample next = sample(o);
              json t = top_rows(prev, next);
              if (o.json_out) {
                std::cout << t.dump(a->once ? 2 : -1) << std::endl;
              } else {
                if (!a->once) std::printf("\033[H\033[2J");
                print_top(t, a->sort);
                std::fflush(stdout);
              }
              prev = std::move(next);
            } while (!a->once && !g_stop);
            return 0;
          }};
}};

}  // namespace
}  // namespace routerctl

// routerd — the Weft router daemon.
//
//   routerd -c graph.yaml [--socket PATH] [--plugin-path DIRS] [--duration SECONDS]
//
// Loads plugins, validates the graph (all errors at once, FILE:LINE:COL),
// starts DPDK and one graph instance per worker lcore, serves routerctl on a
// Unix socket, and stops cleanly on SIGINT/SIGTERM (or after --duration),
// printing a summary of what it did.
#include <CLI/CLI.hpp>
#include <utility>  // Boost 1.74 asio uses std::exchange without including it
#include <boost/asio.hpp>
#include <cstdio>
#include <iostream>
#include <rte_eal.h>

#include "control_api.hpp"
#include "control_server.hpp"
#include "graph_spec.hpp"
#include "plugin_loader.hpp"
#include "runtime.hpp"
#include "validator.hpp"
#include "weft/version.hpp"

namespace {

std::string human(double v) {
  char buf[32];
  if (v >= 1e9) std::snprintf(buf, sizeof buf, "%.2fG", v / 1e9);
  else if (v >= 1e6) std::snprintf(buf, sizeof buf, "%.2fM", v / 1e6);
  else if (v >= 1e3) std::snprintf(buf, sizeof buf, "%.1fk", v / 1e3);
  else std::snprintf(buf, sizeof buf, "%.0f", v);
  return buf;
}

void print_summary(const weft::json& st, FILE* out) {
  double secs = st["uptime_s"].get<double>();
  std::fprintf(out, "\n=== routerd summary: ran %.1f s ===\n", secs);
  std::fprintf(out, "%-14s %14s %10s %14s %10s %10s\n", "port", "rx packets", "rx pps", "tx packets", "tx pps",
               "missed");
  for (const auto& p : st["ports"]) {
    double rx = p["rx_packets"].get<double>(), tx = p["tx_packets"].get<double>();
    std::fprintf(out, "%-14s %14.0f %10s %14.0f %10s %10llu\n", p["name"].get<std::string>().c_str(), rx,
                 human(secs > 0 ? rx / secs : 0).c_str(), tx, human(secs > 0 ? tx / secs : 0).c_str(),
                 static_cast<unsigned long long>(p["rx_missed"].get<uint64_t>()));
  }
  std::fprintf(out, "%-14s %-12s %14s %14s %12s  %s\n", "element", "class", "in", "out", "dropped", "outputs / drops");
  for (const auto& e : st["elements"]) {
    std::string detail;
    std::map<std::string, uint64_t> outs, drops;
    for (const auto& w : e["workers"]) {
      for (const auto& o : w["outputs"]) outs[o["name"].get<std::string>()] += o["packets"].get<uint64_t>();
      for (auto it = w["drops"].begin(); it != w["drops"].end(); ++it) drops[it.key()] += it.value().get<uint64_t>();
    }
    for (const auto& [n, v] : outs) detail += n + "=" + std::to_string(v) + " ";
    for (const auto& [n, v] : drops)
      if (v) detail += "drop:" + n + "=" + std::to_string(v) + " ";
    std::fprintf(out, "%-14s %-12s %14llu %14llu %12llu  %s\n", e["id"].get<std::string>().c_str(),
                 e["class"].get<std::string>().c_str(), static_cast<unsigned long long>(e["total"]["in"].get<uint64_t>()),
                 static_cast<unsigned long long>(e["total"]["out"].get<uint64_t>()),
                 static_cast<unsigned long long>(e["total"]["dropped"].get<uint64_t>()), detail.c_str());
  }
  std::fflush(out);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"routerd: the Weft modular router daemon"};
  std::string config, socket_path, plugin_path, summary_json;
  double duration = 0;
  bool check_only = false;
  app.add_option("-c,--config", config, "graph file (YAML)")->required();
  app.add_option("-s,--socket", socket_path, "control socket (default: graph's control.socket, $WEFT_SOCKET, "
                                             "or /run/weft/routerd.sock)");
  app.add_option("-p,--plugin-path", plugin_path, "extra plugin directories, colon-separated (also $WEFT_PLUGIN_PATH)");
  app.add_option("-d,--duration", duration, "stop after this many seconds (0: run until SIGINT/SIGTERM)");
  app.add_option("--summary-json", summary_json, "also write the final statistics to this file as JSON");
  app.add_flag("--check", check_only, "validate the graph and exit");
  app.set_version_flag("--version", std::string("routerd (Weft) ") + weft::kVersion);
  CLI11_PARSE(app, argc, argv);

  // 1. Graph file.
  weft::Diagnostics diag(config);
  auto spec = std::make_shared<weft::GraphSpec>(weft::load_graph_file(config, diag));
  if (!spec->parsed) {  // not even YAML: nothing more to check
    std::cerr << diag.format();
    return 1;
  }

  // 2. Plugins: flag, environment, graph file, then the built-in directory.
  std::vector<std::string> base_dirs = weft::PluginLoader::split_path(plugin_path);
  if (const char* env = std::getenv("WEFT_PLUGIN_PATH"))
    for (auto& d : weft::PluginLoader::split_path(env)) base_dirs.push_back(d);
  std::vector<std::string> dirs = base_dirs;
  dirs.insert(dirs.end(), spec->plugin_paths.begin(), spec->plugin_paths.end());
  dirs.push_back(weft::PluginLoader::default_dir());
  base_dirs.push_back(weft::PluginLoader::default_dir());
  weft::PluginLoader loader;
  try {
    loader.load_directories(dirs);
  } catch (const weft::PluginError& e) {
    std::cerr << diag.format() << "routerd: error: " << e.what() << "\n";
    return 1;
  }

  // 3. Validation: nothing starts unless the whole graph is valid.
  weft::GraphPlan plan = weft::validate_graph(spec, loader, diag);
  std::cerr << diag.format();
  if (diag.has_errors()) return 1;
  if (check_only) {
    std::cout << config << ": ok\n";
    return 0;
  }

  // 4. DPDK and the workers.
  try {
    weft::Runtime::init_eal(weft::Runtime::eal_args(*spec, argv[0]));
  } catch (const std::exception& e) {
    std::cerr << "routerd: error: " << e.what() << "\n";
    return 1;
  }
  int rc = 0;
  {
    boost::asio::io_context io;  // the control thread's event loop: routerctl and services
    weft::Runtime rt(std::move(plan));
    rt.set_control_loop(&io);
    try {
      rt.start();
    } catch (const std::exception& e) {
      std::cerr << "routerd: error: " << e.what() << "\n";
      rte_eal_cleanup();
      return 1;
    }

    // 5. Control plane on this (the main) lcore.
    if (socket_path.empty()) socket_path = spec->control_socket;
    if (socket_path.empty()) socket_path = weft::ControlServer::default_path();
    weft::ControlApi api(rt, loader, config, base_dirs);
    std::unique_ptr<weft::ControlServer> server;
    try {
      server = std::make_unique<weft::ControlServer>(io, socket_path, [&](const weft::json& r) { return api.handle(r); });
    } catch (const std::exception& e) {
      std::cerr << "routerd: error: " << e.what() << "\n";
      rt.stop();
      rte_eal_cleanup();
      return 1;
    }
    std::fprintf(stderr, "routerd: running %s on %zu worker(s); control socket %s\n", config.c_str(),
                 rt.workers().size(), socket_path.c_str());

    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](boost::system::error_code ec, int sig) {
      if (!ec) std::fprintf(stderr, "routerd: signal %d, stopping\n", sig);
      io.stop();
    });
    // SIGHUP: reload the file routerd was started with (same transaction as
    // `routerctl reload`); the result goes to the log.
    boost::asio::signal_set hup(io, SIGHUP);
    std::function<void(boost::system::error_code, int)> on_hup = [&](boost::system::error_code ec, int) {
      if (ec) return;
      weft::json r = api.reload(config);
      if (r.value("applied", false)) {
        std::fprintf(stderr, "routerd: SIGHUP: reloaded %s: %s\n", config.c_str(), r.dump().c_str());
      } else {
        std::fprintf(stderr, "routerd: SIGHUP: reload of %s refused, the running graph is unchanged: %s\n",
                     config.c_str(), r.value("error", std::string()).c_str());
        for (const auto& d : r["diagnostics"]) std::fprintf(stderr, "%s\n", d.get<std::string>().c_str());
      }
      hup.async_wait(on_hup);
    };
    hup.async_wait(on_hup);
    boost::asio::steady_timer timer(io);
    if (duration > 0) {
      timer.expires_after(std::chrono::milliseconds(static_cast<long>(duration * 1000)));
      timer.async_wait([&](boost::system::error_code ec) {
        if (!ec) io.stop();
      });
    }
    io.run();

    // 6. Stop: workers first, then read the final counters, then the ports.
    rt.halt();
    weft::json st = weft::stats_json(rt);
    print_summary(st, stdout);
    if (!summary_json.empty()) {
      FILE* f = std::fopen(summary_json.c_str(), "w");
      if (f) {
        std::fprintf(f, "%s\n", st.dump(2).c_str());
        std::fclose(f);
      } else {
        std::perror(summary_json.c_str());
        rc = 1;
      }
    }
    server.reset();
    rt.stop();
  }
  rte_eal_cleanup();
  return rc;
}

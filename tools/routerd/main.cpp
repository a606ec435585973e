// routerd — the Weft router daemon.
//
//   routerd -c graph.yaml [--socket PATH] [--plugin-path DIRS] [--duration SECONDS]
//   routerd [-c boot.yaml] --etcd ENDPOINTS --node NAME [...]   (a fleet member: docs/fleet.md)
//
// Loads plugins, validates the graph (all errors at once, FILE:LINE:COL),
// starts DPDK and one graph instance per worker lcore, serves routerctl on a
// Unix socket, and stops cleanly on SIGINT/SIGTERM (or after --duration),
// printing a summary of what it did.
#include <CLI/CLI.hpp>
#include <utility>  // Boost 1.74 asio uses std::exchange without including it
#include <boost/asio.hpp>
#include <cstdio>
#include <optional>
#include <unistd.h>
#include <iostream>
#include <rte_cycles.h>
#include <rte_eal.h>

#include <cmath>

#include "control/control_api.hpp"
#include "control/control_server.hpp"
#include "core/graph_spec.hpp"
#include "core/plugin_loader.hpp"
#include "core/validator.hpp"
#include "fleet/fleet_agent.hpp"
#include "runtime/runtime.hpp"
#include "weft/log.hpp"
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
  app.add_option("-c,--config", config, "graph file (YAML); with --etcd, optional: the graph to start with");
  app.add_option("-s,--socket", socket_path, "control socket (default: graph's control.socket, $WEFT_SOCKET, "
                                             "or /run/weft/routerd.sock)");
  app.add_option("-p,--plugin-path", plugin_path, "extra plugin directories, colon-separated (also $WEFT_PLUGIN_PATH)");
  app.add_option("-d,--duration", duration, "stop after this many seconds (0: run until SIGINT/SIGTERM)");
  app.add_option("--summary-json", summary_json, "also write the final statistics to this file as JSON");
  app.add_flag("--check", check_only, "validate the graph and exit");
  // The fleet: the desired graph comes from etcd (also `fleet:` in the graph file).
  std::string etcd, node, etcd_prefix, etcd_ca, etcd_cert, etcd_key, etcd_user, etcd_password_file;
  unsigned etcd_lease_ttl = 0;
  double etcd_sync_interval = 0, etcd_timeout = 0;
  app.add_option("--etcd", etcd, "etcd endpoints, comma-separated (http://127.0.0.1:2379): take the graph from etcd");
  app.add_option("--node", node, "this router's name in the fleet (default: the host name)");
  app.add_option("--etcd-prefix", etcd_prefix, "key prefix (default /weft)");
  app.add_option("--etcd-ca", etcd_ca, "CA certificate to verify etcd's (TLS)");
  app.add_option("--etcd-cert", etcd_cert, "client certificate for etcd (TLS)");
  app.add_option("--etcd-key", etcd_key, "client certificate's key (TLS)");
  app.add_option("--etcd-user", etcd_user, "etcd user (auth)");
  app.add_option("--etcd-password-file", etcd_password_file, "file holding the etcd user's password");
  app.add_option("--etcd-lease-ttl", etcd_lease_ttl, "seconds the status key outlives a silent router (default 10)");
  app.add_option("--etcd-sync-interval", etcd_sync_interval, "seconds between full reads of the desired state (default 10)");
  app.add_option("--etcd-timeout", etcd_timeout, "seconds per etcd request (default 2)");
  app.set_version_flag("--version", std::string("routerd (Weft) ") + weft::kVersion);
  CLI11_PARSE(app, argc, argv);

  // 1. Graph: the file, or (a fleet member started without one) the node's graph in etcd.
  if (config.empty() && etcd.empty()) {
    std::cerr << "routerd: error: give a graph (-c FILE) or an etcd to take it from (--etcd, --node)\n";
    return 1;
  }
  weft::Diagnostics diag(config);
  std::shared_ptr<weft::GraphSpec> spec;
  weft::FleetSpec file_fleet;
  if (!config.empty()) {
    spec = std::make_shared<weft::GraphSpec>(weft::load_graph_file(config, diag));
    if (!spec->parsed) {  // not even YAML: nothing more to check
      std::cerr << diag.format();
      return 1;
    }
    file_fleet = spec->fleet;
  }
  std::optional<weft::FleetOptions> fleet;
  try {
    if (file_fleet.given || !etcd.empty()) {
      weft::FleetOptions f = weft::FleetOptions::from_spec(file_fleet);
      if (!etcd.empty()) f.etcd.endpoints = weft::EtcdOptions::split_endpoints(etcd);
      if (!node.empty()) f.node = node;
      if (f.node.empty()) {
        char host[256] = {};
        ::gethostname(host, sizeof host - 1);
        f.node = host;
      }
      if (!etcd_prefix.empty()) f.keys.prefix = etcd_prefix;
      if (!etcd_ca.empty()) f.etcd.ca_file = etcd_ca;
      if (!etcd_cert.empty()) f.etcd.cert_file = etcd_cert;
      if (!etcd_key.empty()) f.etcd.key_file = etcd_key;
      if (!etcd_user.empty()) f.etcd.user = etcd_user;
      if (!etcd_password_file.empty()) f.etcd.password = weft::FleetOptions::read_password_file(etcd_password_file);
      if (etcd_lease_ttl) f.lease_ttl_s = static_cast<int>(std::max(2u, etcd_lease_ttl));
      if (etcd_sync_interval > 0) f.sync_interval = std::chrono::milliseconds(static_cast<long>(etcd_sync_interval * 1000));
      if (etcd_timeout > 0) f.etcd.timeout = std::chrono::milliseconds(static_cast<long>(etcd_timeout * 1000));
      if (f.etcd.endpoints.empty()) throw std::invalid_argument("fleet: no etcd endpoints (--etcd or fleet.etcd)");
      fleet = std::move(f);
    }
    if (!spec) {
      std::string label;
      spec = weft::FleetAgent::fetch_boot_graph(*fleet, diag, label);
      config = label;
    }
  } catch (const std::exception& e) {
    std::cerr << "routerd: error: " << e.what() << "\n";
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
    if (double measured = weft::Runtime::measured_tsc_hz(),
        err = double(rte_get_tsc_hz()) / measured - 1;
        std::abs(err) > 0.01)
      WEFT_LOG(Warning,
               "DPDK estimated the TSC at %.1f MHz but it runs at %.1f MHz: rate limiters, timeouts and every "
               "other TSC-based time will be off by %+.0f %% (the machine was busy while DPDK calibrated); "
               "restart routerd", double(rte_get_tsc_hz()) / 1e6, measured / 1e6, -100 * err / (1 + err));
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
    std::unique_ptr<weft::FleetAgent> agent;
    if (fleet) {
      try {
        agent = std::make_unique<weft::FleetAgent>(io, api, *fleet);
      } catch (const std::exception& e) {
        std::cerr << "routerd: error: " << e.what() << "\n";
        rt.stop();
        rte_eal_cleanup();
        return 1;
      }
      agent->start();
      std::string eps;
      for (const auto& e : fleet->etcd.endpoints) eps += (eps.empty() ? "" : ",") + e;
      std::fprintf(stderr, "routerd: fleet node '%s', etcd %s, keys under %s\n", fleet->node.c_str(), eps.c_str(),
                   fleet->keys.prefix.c_str());
    }

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
      if (agent) {  // a fleet member: the graph is etcd's; read it all again
        std::fprintf(stderr, "routerd: SIGHUP: reading the desired state from etcd again\n");
        agent->resync();
        hup.async_wait(on_hup);
        return;
      }
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
    if (agent) agent->shutdown();  // revoke the lease: the node leaves the fleet view now

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

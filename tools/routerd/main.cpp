// routerd — the Weft router daemon.
//
//   routerd -c graph.yaml [--socket PATH] [--plugin-path DIRS] [--plugin-root DIRS] [--duration SECONDS]
//   routerd [-c boot.yaml] --etcd ENDPOINTS --node NAME [...]   (a fleet member: docs/fleet.md)
//
// Loads plugins, validates the graph (all errors at once, FILE:LINE:COL),
// starts DPDK and one graph instance per worker lcore, serves routerctl on a
// Unix socket, and stops cleanly on SIGINT/SIGTERM (or after --duration),
// printing a summary of what it did. main() reads as these phases, each a
// function below.
#include <CLI/CLI.hpp>
#include <utility>  // Boost 1.74 asio uses std::exchange without including it
#include <boost/asio.hpp>
#include <csignal>
#include <cstdio>
#include <map>
#include <optional>
#include <sstream>
#include <unistd.h>
#include <iostream>
#include <rte_eal.h>
#include <systemd/sd-daemon.h>

#include "cli_json.hpp"
#include "control/control_api.hpp"
#include "control/control_server.hpp"
#include "control/dpdk_telemetry.hpp"
#include "control/metrics.hpp"
#include "control/metrics_server.hpp"
#include "core/graph_spec.hpp"
#include "core/log_sink.hpp"
#include "core/plugin_loader.hpp"
#include "core/validator.hpp"
#include "fleet/fleet_agent.hpp"
#include "runtime/fault_log.hpp"
#include "runtime/clock.hpp"
#include "runtime/runtime.hpp"
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

// routerd's command line.
struct Flags {
  std::string config, socket_path, plugin_path, summary_json, metrics;
  std::vector<std::string> plugin_roots;  // where a graph from etcd may name plugin directories
  double duration = 0;
  bool check_only = false;
  // The fleet: the desired graph comes from etcd (also `fleet:` in the graph file).
  std::string etcd, node, etcd_prefix, etcd_ca, etcd_cert, etcd_key, etcd_user, etcd_password_file;
  unsigned etcd_lease_ttl = 0;
  double etcd_sync_interval = 0, etcd_timeout = 0;
};

// The graph routerd starts with, and the fleet it is a member of (if any).
struct Boot {
  std::shared_ptr<weft::GraphSpec> spec;
  std::optional<weft::FleetOptions> fleet;
};

// The graph's diagnostics (FILE:LINE:COL: error|warning: ...), each line with its priority under the journal.
void print_diagnostics(const weft::Diagnostics& diag) {
  std::istringstream in(diag.format());
  for (std::string line; std::getline(in, line);)
    std::cerr << weft::log_priority_prefix(line.find(": error:") != std::string::npos ? weft::LogLevel::Error
                                                                                      : weft::LogLevel::Warning)
              << line << "\n";
}

void print_error(const std::string& what) {
  std::cerr << weft::log_priority_prefix(weft::LogLevel::Error) << "routerd: error: " << what << "\n";
}

// --- The phases of main, in the order it runs them ---

// Reads the command line into `f`; an exit code when routerd ends here (--help, --version, a bad flag).
std::optional<int> parse_flags(int argc, char** argv, Flags& f) {
  CLI::App app{"routerd: the Weft modular router daemon"};
  app.add_option("-c,--config", f.config, "graph file (YAML); with --etcd, optional: the graph to start with");
  app.add_option("-s,--socket", f.socket_path, "control socket (default: graph's control.socket, $WEFT_SOCKET, "
                                               "or /run/weft/routerd.sock)");
  app.add_option("-p,--plugin-path", f.plugin_path,
                 "extra plugin directories, colon-separated (also $WEFT_PLUGIN_PATH)");
  app.add_option("--plugin-root", f.plugin_roots,
                 "a directory under which a graph from etcd may name plugin directories (repeatable, or "
                 "colon-separated; the built-in plugin directory always is one)");
  app.add_option("-d,--duration", f.duration, "stop after this many seconds (0: run until SIGINT/SIGTERM)");
  app.add_option("--summary-json", f.summary_json, "also write the final statistics to this file as JSON");
  app.add_flag("--check", f.check_only, "validate the graph and exit");
  app.add_option("--metrics", f.metrics,
                 "serve Prometheus/OpenMetrics at http://LISTEN/metrics (ADDRESS:PORT, or a port on 127.0.0.1); "
                 "'off' turns it off; overrides the graph's telemetry.metrics");
  app.add_option("--etcd", f.etcd,
                 "etcd endpoints, comma-separated (http://127.0.0.1:2379): take the graph from etcd");
  app.add_option("--node", f.node, "this router's name in the fleet (default: the host name)");
  app.add_option("--etcd-prefix", f.etcd_prefix, "key prefix (default /weft)");
  app.add_option("--etcd-ca", f.etcd_ca, "CA certificate to verify etcd's (TLS)");
  app.add_option("--etcd-cert", f.etcd_cert, "client certificate for etcd (TLS)");
  app.add_option("--etcd-key", f.etcd_key, "client certificate's key (TLS)");
  app.add_option("--etcd-user", f.etcd_user, "etcd user (auth)");
  app.add_option("--etcd-password-file", f.etcd_password_file, "file holding the etcd user's password");
  app.add_option("--etcd-lease-ttl", f.etcd_lease_ttl,
                 "seconds the status key outlives a silent router (default 10)");
  app.add_option("--etcd-sync-interval", f.etcd_sync_interval,
                 "seconds between full reads of the desired state (default 10)");
  app.add_option("--etcd-timeout", f.etcd_timeout, "seconds per etcd request (default 2)");
  app.set_version_flag("--version", std::string("routerd (Weft) ") + weft::kVersion);
  weft::cli::add_json_dump(app);  // for the manual page
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return std::nullopt;
}

// The fleet settings: the graph file's `fleet:` overridden by flags; none if neither asks for a fleet. Throws.
std::optional<weft::FleetOptions> fleet_options(const Flags& flags, const weft::FleetSpec& file_fleet) {
  if (!file_fleet.given && flags.etcd.empty()) return std::nullopt;
  weft::FleetOptions f = weft::FleetOptions::from_spec(file_fleet);
  if (!flags.etcd.empty()) f.etcd.endpoints = weft::EtcdOptions::split_endpoints(flags.etcd);
  if (!flags.node.empty()) f.node = flags.node;
  if (f.node.empty()) {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    f.node = host;
  }
  if (!flags.etcd_prefix.empty()) f.keys.prefix = flags.etcd_prefix;
  if (!flags.etcd_ca.empty()) f.etcd.ca_file = flags.etcd_ca;
  if (!flags.etcd_cert.empty()) f.etcd.cert_file = flags.etcd_cert;
  if (!flags.etcd_key.empty()) f.etcd.key_file = flags.etcd_key;
  if (!flags.etcd_user.empty()) f.etcd.user = flags.etcd_user;
  if (!flags.etcd_password_file.empty())
    f.etcd.password = weft::FleetOptions::read_password_file(flags.etcd_password_file);
  if (flags.etcd_lease_ttl) f.lease_ttl_s = static_cast<int>(std::max(2u, flags.etcd_lease_ttl));
  if (flags.etcd_sync_interval > 0)
    f.sync_interval = std::chrono::milliseconds(static_cast<long>(flags.etcd_sync_interval * 1000));
  if (flags.etcd_timeout > 0) f.etcd.timeout = std::chrono::milliseconds(static_cast<long>(flags.etcd_timeout * 1000));
  if (f.etcd.endpoints.empty()) throw std::invalid_argument("fleet: no etcd endpoints (--etcd or fleet.etcd)");
  f.etcd.check_no_downgrade();  // before anything starts
  return f;
}

// The graph: the file, or (a fleet member started without one) the node's graph in etcd, whose label then
// names it in `flags.config`. Nothing if it cannot be had (reported).
std::optional<Boot> load_graph(Flags& flags, weft::Diagnostics& diag) {
  if (flags.config.empty() && flags.etcd.empty()) {
    std::cerr << "routerd: error: give a graph (-c FILE) or an etcd to take it from (--etcd, --node)\n";
    return std::nullopt;
  }
  Boot boot;
  weft::FleetSpec file_fleet;
  if (!flags.config.empty()) {
    boot.spec = std::make_shared<weft::GraphSpec>(weft::load_graph_file(flags.config, diag));
    if (!boot.spec->parsed) {  // not even YAML: nothing more to check
      print_diagnostics(diag);
      return std::nullopt;
    }
    file_fleet = boot.spec->fleet;
  }
  try {
    boot.fleet = fleet_options(flags, file_fleet);
    if (!boot.spec) {
      std::string label;
      boot.spec = weft::FleetAgent::fetch_boot_graph(*boot.fleet, diag, label);
      flags.config = label;
    }
  } catch (const std::exception& e) {
    print_error(e.what());
    return std::nullopt;
  }
  return boot;
}

// Loads the plugins: flag, environment, graph file, then the built-in directory; sets the plugin roots. Returns
// the directories a reload searches besides the new graph's own, or nothing (reported).
std::optional<std::vector<std::string>> load_plugins(const Flags& flags, const weft::GraphSpec& spec,
                                                     weft::Diagnostics& diag, weft::PluginLoader& loader) {
  std::vector<std::string> base_dirs = weft::PluginLoader::split_path(flags.plugin_path);
  if (const char* env = std::getenv("WEFT_PLUGIN_PATH"))
    for (auto& d : weft::PluginLoader::split_path(env)) base_dirs.push_back(d);
  std::vector<std::string> dirs = base_dirs;
  base_dirs.push_back(weft::PluginLoader::default_dir());
  try {
    std::vector<std::string> roots{weft::PluginLoader::default_dir()};
    for (const auto& r : flags.plugin_roots)
      for (auto& d : weft::PluginLoader::split_path(r)) roots.push_back(d);
    loader.set_roots(roots);
    // A graph from etcd names plugin directories only under the roots.
    std::vector<std::string> graph_dirs = spec.from_etcd ? loader.confine(spec.plugin_paths) : spec.plugin_paths;
    dirs.insert(dirs.end(), graph_dirs.begin(), graph_dirs.end());
    dirs.push_back(weft::PluginLoader::default_dir());
    loader.load_directories(dirs);
  } catch (const weft::PluginError& e) {
    print_diagnostics(diag);
    print_error(e.what());
    return std::nullopt;
  }
  return base_dirs;
}

// Validates the whole graph and prints every finding; nothing starts unless it is valid.
std::optional<weft::GraphPlan> validate(const std::shared_ptr<weft::GraphSpec>& spec,
                                        const weft::PluginLoader& loader, weft::Diagnostics& diag) {
  weft::GraphPlan plan = weft::validate_graph(spec, loader, diag);
  print_diagnostics(diag);
  if (diag.has_errors()) return std::nullopt;
  return plan;
}

// Starts DPDK and the framework's clock; false on failure (reported).
bool start_eal(const weft::GraphSpec& spec, const char* program) {
  try {
    weft::Runtime::init_eal(weft::Runtime::eal_args(spec, program));
  } catch (const std::exception& e) {
    print_error(e.what());
    return false;
  }
  return true;
}

// Builds every worker's graph and starts ports and workers; false on failure (reported, nothing running).
bool start_runtime(weft::Runtime& rt) {
  try {
    rt.start();
  } catch (const std::exception& e) {
    print_error(e.what());
    return false;
  }
  return true;
}

// The control socket: the flag's, the graph's, or the default.
std::string control_socket_path(const Flags& flags, const weft::GraphSpec& spec) {
  if (!flags.socket_path.empty()) return flags.socket_path;
  if (!spec.control_socket.empty()) return spec.control_socket;
  return weft::ControlServer::default_path();
}

// Serves routerctl on the control socket; null on failure (reported).
std::unique_ptr<weft::ControlServer> serve_control(boost::asio::io_context& io, weft::ControlApi& api,
                                                   const std::string& socket_path) {
  try {
    return std::make_unique<weft::ControlServer>(io, socket_path,
                                                 [&api](const weft::json& r) { return api.handle(r); });
  } catch (const std::exception& e) {
    print_error(e.what());
    return nullptr;
  }
}

// The metrics endpoint's settings: the graph's `telemetry.metrics`, overridden by --metrics; none when off.
// Throws std::invalid_argument on a bad flag.
std::optional<weft::MetricsServerOptions> metrics_options(const Flags& flags, const weft::TelemetrySpec& t) {
  bool on = t.metrics;
  weft::MetricsServerOptions o;
  o.listen = t.metrics_listen;
  o.max_connections = t.max_connections;
  o.timeout = std::chrono::milliseconds(static_cast<long>(t.timeout_s * 1000));
  if (!flags.metrics.empty()) {
    if (flags.metrics == "off") {
      on = false;
    } else if (auto a = weft::ListenAddress::parse(flags.metrics)) {
      on = true;
      o.listen = *a;
    } else {
      throw std::invalid_argument("--metrics " + flags.metrics + ": expected ADDRESS:PORT, a port, or off");
    }
  }
  if (!on) return std::nullopt;
  return o;
}

// Telemetry: the Prometheus endpoint (if asked for) and DPDK telemetry's /weft/... commands (unless
// `telemetry.dpdk: false`); false on failure (reported).
struct Telemetry {
  std::unique_ptr<weft::MetricsServer> http;
  std::unique_ptr<weft::DpdkTelemetry> dpdk;
};
bool start_telemetry(boost::asio::io_context& io, const Flags& flags, const weft::GraphSpec& spec, weft::Runtime& rt,
                     weft::ControlApi& api, weft::MetricsCollector& collector, Telemetry& t) {
  try {
    if (auto opts = metrics_options(flags, spec.telemetry)) {
      t.http = std::make_unique<weft::MetricsServer>(
          io, *opts, [&collector](weft::ExpositionFormat f) { return weft::render_metrics(collector.collect(), f); });
      collector.add_source([s = t.http.get()](weft::MetricSet& set) { s->add_metrics(set); });
      std::fprintf(stderr, "routerd: metrics at %s\n", t.http->url().c_str());
    }
  } catch (const std::exception& e) {
    print_error(e.what());
    return false;
  }
  if (spec.telemetry.dpdk) t.dpdk = std::make_unique<weft::DpdkTelemetry>(io, rt, api, collector);
  api.add_status("telemetry", [&t] {
    const std::string sock = weft::DpdkTelemetry::socket_path();
    const std::string dir = rte_eal_get_runtime_dir();
    return weft::json{{"metrics", t.http ? weft::json(t.http->url()) : weft::json(nullptr)},
                      {"dpdk_socket", t.dpdk && !sock.empty() ? weft::json(sock) : weft::json(nullptr)},
                      {"dpdk_file_prefix", dir.substr(dir.rfind('/') + 1)}};
  });
  return true;
}

// Joins the fleet: the agent watches this node's graph in etcd and reports its status; null on failure (reported).
std::unique_ptr<weft::FleetAgent> join_fleet(boost::asio::io_context& io, weft::ControlApi& api,
                                             const weft::FleetOptions& fleet) {
  std::unique_ptr<weft::FleetAgent> agent;
  try {
    agent = std::make_unique<weft::FleetAgent>(io, api, fleet);
  } catch (const std::exception& e) {
    print_error(e.what());
    return nullptr;
  }
  agent->start();
  std::string eps;
  for (const auto& e : fleet.etcd.endpoints) eps += (eps.empty() ? "" : ",") + e;
  std::fprintf(stderr, "routerd: fleet node '%s', etcd %s, keys under %s\n", fleet.node.c_str(), eps.c_str(),
               fleet.keys.prefix.c_str());
  return agent;
}

// SIGINT and SIGTERM stop the control loop. SIGHUP reloads the file routerd was started with (the same
// transaction as `routerctl reload`; the result goes to the log), or, for a fleet member, reads etcd again.
class SignalHandlers {
 public:
  SignalHandlers(boost::asio::io_context& io, weft::ControlApi& api, weft::FleetAgent* agent, std::string config)
      : stop_(io, SIGINT, SIGTERM), hup_(io, SIGHUP), api_(api), agent_(agent), config_(std::move(config)) {
    stop_.async_wait([&io](boost::system::error_code ec, int sig) {
      if (!ec) std::fprintf(stderr, "routerd: signal %d, stopping\n", sig);
      io.stop();
    });
    wait_for_hup();
  }

 private:
  void wait_for_hup() {
    hup_.async_wait([this](boost::system::error_code ec, int) {
      if (ec) return;
      on_hup();
      wait_for_hup();
    });
  }

  void on_hup() {
    if (agent_) {  // a fleet member: the graph is etcd's; read it all again
      std::fprintf(stderr, "routerd: SIGHUP: reading the desired state from etcd again\n");
      agent_->resync();
      return;
    }
    sd_notify(0, "RELOADING=1");
    weft::json r = api_.reload(config_);
    sd_notify(0, "READY=1");
    if (r.value("applied", false)) {
      std::fprintf(stderr, "routerd: SIGHUP: reloaded %s: %s\n", config_.c_str(), r.dump().c_str());
    } else {
      std::fprintf(stderr, "%srouterd: SIGHUP: reload of %s refused, the running graph is unchanged: %s\n",
                   weft::log_priority_prefix(weft::LogLevel::Warning), config_.c_str(), r.value("error", std::string()).c_str());
      for (const auto& d : r["diagnostics"]) std::fprintf(stderr, "%s\n", d.get<std::string>().c_str());
    }
  }

  boost::asio::signal_set stop_;
  boost::asio::signal_set hup_;
  weft::ControlApi& api_;
  weft::FleetAgent* agent_;
  std::string config_;
};

// Tells systemd (Type=notify; nothing without $NOTIFY_SOCKET) that routerd serves: workers forward and
// the control socket answers.
void notify_ready(const std::string& config, size_t workers, const std::string& socket_path) {
  sd_notifyf(0, "READY=1\nSTATUS=running %s on %zu worker(s); control socket %s\nMAINPID=%lu", config.c_str(),
             workers, socket_path.c_str(), static_cast<unsigned long>(::getpid()));
}

// Every 100 ms, looks for workers that stopped looping (Runtime::watch_workers).
void watch_workers(weft::Runtime& rt, boost::asio::steady_timer& timer) {
  timer.expires_after(std::chrono::milliseconds(100));
  timer.async_wait([&rt, &timer](boost::system::error_code ec) {
    if (ec) return;
    rt.watch_workers();
    watch_workers(rt, timer);
  });
}

// Runs the control thread's event loop until it is stopped. A handler that
// throws (a plugin's service, on this loop) is logged and counted
// (`routerctl status`, health.faults); the loop goes on.
void run_control_loop(boost::asio::io_context& io) {
  for (;;) {
    try {
      io.run();
      return;
    } catch (...) {
      weft::control_faults().note("a handler on the control thread threw: " + weft::current_exception_text() +
                                  " (the control loop goes on)");
    }
  }
}

// Stops the control loop after --duration seconds (0: never).
void stop_after(boost::asio::io_context& io, boost::asio::steady_timer& timer, double seconds) {
  if (seconds > 0) {
    timer.expires_after(std::chrono::milliseconds(static_cast<long>(seconds * 1000)));
    timer.async_wait([&io](boost::system::error_code ec) {
      if (!ec) io.stop();
    });
  }
}

// Writes the final statistics as JSON; false on failure (reported).
bool write_summary_json(const weft::json& st, const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) {
    std::perror(path.c_str());
    return false;
  }
  std::fprintf(f, "%s\n", st.dump(2).c_str());
  std::fclose(f);
  return true;
}

// Stops: the fleet lease first (the node leaves the fleet view now), the workers, then reads the final counters
// for the summary, then closes the control socket and the ports. Returns the exit code.
int shut_down(weft::Runtime& rt, std::unique_ptr<weft::ControlServer>& server, weft::FleetAgent* agent,
              const std::string& summary_json) {
  int rc = 0;
  sd_notify(0, "STOPPING=1");
  if (agent) agent->shutdown();
  rt.halt();
  weft::json st = weft::stats_json(rt);
  print_summary(st, stdout);
  if (!summary_json.empty() && !write_summary_json(st, summary_json)) rc = 1;
  server.reset();
  rt.stop();
  return rc;
}

// Runs the router on this (the main) lcore until a signal or --duration; returns the exit code.
int run_router(const Flags& flags, const Boot& boot, weft::GraphPlan plan, weft::PluginLoader& loader,
               const std::vector<std::string>& base_dirs) {
  boost::asio::io_context io;  // the control thread's event loop: routerctl and services
  weft::Runtime rt(std::move(plan));
  rt.set_control_loop(&io);
  if (!start_runtime(rt)) return 1;
  const std::string socket_path = control_socket_path(flags, *boot.spec);
  weft::ControlApi api(rt, loader, flags.config, base_dirs);
  weft::MetricsCollector collector(rt, api);
  api.set_metrics(&collector);
  std::unique_ptr<weft::ControlServer> server = serve_control(io, api, socket_path);
  Telemetry telemetry;
  if (!server || !start_telemetry(io, flags, *boot.spec, rt, api, collector, telemetry)) {
    rt.stop();
    return 1;
  }
  std::fprintf(stderr, "routerd: running %s on %zu worker(s); control socket %s\n", flags.config.c_str(),
               rt.workers().size(), socket_path.c_str());
  std::unique_ptr<weft::FleetAgent> agent;
  if (boot.fleet && !(agent = join_fleet(io, api, *boot.fleet))) {
    rt.stop();
    return 1;
  }
  if (agent) collector.add_source([a = agent.get()](weft::MetricSet& set) { a->add_metrics(set); });
  SignalHandlers signals(io, api, agent.get(), flags.config);
  notify_ready(flags.config, rt.workers().size(), socket_path);
  weft::ClockRecalibration recalibration(io);  // the clock, every second, against CLOCK_MONOTONIC_RAW
  boost::asio::steady_timer timer(io), watch(io);
  stop_after(io, timer, flags.duration);
  watch_workers(rt, watch);
  run_control_loop(io);
  return shut_down(rt, server, agent.get(), flags.summary_json);
}

}  // namespace

int main(int argc, char** argv) {
  weft::log_to_journal_if_connected();  // under systemd: lines with their priorities
  Flags flags;
  if (std::optional<int> rc = parse_flags(argc, argv, flags)) return *rc;
  weft::Diagnostics diag(flags.config);
  std::optional<Boot> boot = load_graph(flags, diag);
  if (!boot) return 1;
  weft::PluginLoader loader;
  std::optional<std::vector<std::string>> base_dirs = load_plugins(flags, *boot->spec, diag, loader);
  if (!base_dirs) return 1;
  std::optional<weft::GraphPlan> plan = validate(boot->spec, loader, diag);
  if (!plan) return 1;
  if (flags.check_only) {
    std::cout << flags.config << ": ok\n";
    return 0;
  }
  if (!start_eal(*boot->spec, argv[0])) return 1;
  int rc = run_router(flags, *boot, std::move(*plan), loader, *base_dirs);
  rte_eal_cleanup();
  return rc;
}

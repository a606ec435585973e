// routerctl fleet: desired graphs and status of a fleet of routers in etcd
// (docs/fleet.md). Talks to etcd directly, not to a routerd.
//
//   routerctl fleet put -f GRAPH NODE... [--fragment NAME=FILE]... [--wait SECONDS]
//   routerctl fleet list
//   routerctl fleet show NODE
//   routerctl fleet rm NODE... [--fragment NAME]...
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "fleet/fleet_agent.hpp"
#include "routerctl.hpp"

namespace routerctl {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

struct FleetArgs {
  std::string etcd, prefix = "/weft", ca, cert, key, user, password_file;
  double timeout_s = 5;
  // put / rm
  std::string graph_file;
  std::vector<std::string> nodes;
  std::vector<std::string> fragments;
  double wait_s = 0;
  std::string node;  // show
};

weft::EtcdOptions etcd_options(const FleetArgs& a) {
  weft::EtcdOptions o;
  std::string eps = a.etcd;
  if (eps.empty()) {
    const char* env = std::getenv("WEFT_ETCD");
    eps = env ? env : "http://127.0.0.1:2379";
  }
  o.endpoints = weft::EtcdOptions::split_endpoints(eps);
  o.ca_file = a.ca;
  o.cert_file = a.cert;
  o.key_file = a.key;
  o.user = a.user;
  if (!a.password_file.empty()) o.password = weft::FleetOptions::read_password_file(a.password_file);
  o.timeout = std::chrono::milliseconds(static_cast<long>(a.timeout_s * 1000));
  return o;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Failed("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

// A node has caught up with revision `rev` (or refused it).
std::string outcome(const json& st, int64_t rev) {
  if (st.value("applied_revision", int64_t{0}) >= rev) return "applied";
  if (st.value("refused_revision", int64_t{0}) >= rev) return "refused";
  return "";
}

int put(const Options& o, const FleetArgs& a) {
  weft::FleetKeys keys{a.prefix};
  if (a.nodes.empty() && a.fragments.empty()) throw Failed("fleet put: name nodes (with -f GRAPH) or --fragment NAME=FILE");
  if (!a.nodes.empty() && a.graph_file.empty()) throw Failed("fleet put: -f GRAPH is required with nodes");
  std::vector<weft::EtcdClient::Put> ops;
  if (!a.nodes.empty()) {
    const std::string text = read_text(a.graph_file);
    for (const auto& n : a.nodes) ops.push_back({keys.node_graph(n), text, 0});
  }
  for (const auto& f : a.fragments) {
    auto eq = f.find('=');
    if (eq == std::string::npos || eq == 0) throw Failed("--fragment expects NAME=FILE, not '" + f + "'");
    ops.push_back({keys.fragment(f.substr(0, eq)), read_text(f.substr(eq + 1)), 0});
  }
  asio::io_context io;
  weft::EtcdClient client(io, etcd_options(a));
  // One txn: every node (and fragment) changes at the same revision, or none does.
  const auto t0 = Clock::now();
  const int64_t rev = weft::run_sync(io, client.write(ops));
  const double put_ms = ms_since(t0);
  json out{{"revision", rev}, {"put_ms", put_ms}, {"keys", ops.size()}};
  if (a.wait_s <= 0 || a.nodes.empty()) {
    if (o.json_out) std::cout << out.dump(2) << "\n";
    else std::printf("put %zu key(s) at revision %lld (%.2f ms)\n", ops.size(), (long long)rev, put_ms);
    return 0;
  }
  // Wait until every node reports the revision: read the statuses, then watch them.
  std::map<std::string, json> done;
  std::set<std::string> want(a.nodes.begin(), a.nodes.end());
  auto note = [&](const weft::KeyValue& kv) {
    const std::string node = kv.key.substr(keys.statuses().size());
    if (!want.count(node) || done.count(node)) return;
    json st = json::parse(kv.value, nullptr, false);
    if (st.is_discarded()) return;
    std::string r = outcome(st, rev);
    if (r.empty()) return;
    done[node] = {{"result", r}, {"ms", ms_since(t0)}, {"errors", st.value("errors", json::array())}};
  };
  const std::string sp = keys.statuses();
  const std::vector<weft::EtcdClient::Range> ranges{{sp, weft::prefix_end(sp)}};
  auto cur = weft::run_sync(io, client.read(ranges));
  for (const auto& kv : cur[0].kvs) note(kv);
  if (done.size() < want.size()) {
    asio::steady_timer timer(io, std::chrono::milliseconds(static_cast<long>(a.wait_s * 1000)));
    timer.async_wait([&](boost::system::error_code ec) {
      if (!ec) client.cancel_watch();
    });
    auto watch = [&]() -> asio::awaitable<bool> {
      co_await client.watch(sp, weft::prefix_end(sp), cur[0].revision + 1,
                            [&](int64_t, const std::vector<weft::WatchEvent>& evs) {
                              for (const auto& e : evs)
                                if (!e.deleted) note(e.kv);
                              if (done.size() == want.size()) {
                                timer.cancel();
                                client.cancel_watch();
                              }
                            });
      co_return true;
    };
    weft::run_sync(io, watch());
  }
  out["all_ms"] = done.size() == want.size() ? json(ms_since(t0)) : json(nullptr);
  out["nodes"] = json::object();
  for (const auto& n : a.nodes) out["nodes"][n] = done.count(n) ? done[n] : json{{"result", "timeout"}};
  int rc = 0;
  for (const auto& [n, d] : out["nodes"].items())
    if (d["result"] != "applied") rc = 1;
  if (o.json_out) {
    std::cout << out.dump(2) << "\n";
    return rc;
  }
  std::printf("put %zu key(s) at revision %lld (%.2f ms)\n", ops.size(), (long long)rev, put_ms);
  for (const auto& n : a.nodes) {
    const json& d = out["nodes"][n];
    if (d["result"] == "timeout") {
      std::printf("  %-16s no report within %.1f s\n", n.c_str(), a.wait_s);
      continue;
    }
    std::printf("  %-16s %-8s after %.2f ms\n", n.c_str(), d["result"].get<std::string>().c_str(),
                d["ms"].get<double>());
    for (const auto& e : d["errors"]) std::printf("      %s\n", e.get<std::string>().c_str());
  }
  if (!out["all_ms"].is_null()) std::printf("all %zu node(s) answered in %.2f ms\n", want.size(), out["all_ms"].get<double>());
  return rc;
}

struct NodeView {
  int64_t desired = 0;  // mod revision of the node's graph key
  json status;          // null: no status key (down)
};

std::map<std::string, NodeView> read_fleet(const FleetArgs& a, int64_t& revision) {
  weft::FleetKeys keys{a.prefix};
  asio::io_context io;
  weft::EtcdClient client(io, etcd_options(a));
  const std::string np = keys.nodes(), sp = keys.statuses();
  const std::vector<weft::EtcdClient::Range> ranges{{np, weft::prefix_end(np)}, {sp, weft::prefix_end(sp)}};
  auto res = weft::run_sync(io, client.read(ranges));
  revision = res[0].revision;
  std::map<std::string, NodeView> out;
  for (const auto& kv : res[0].kvs) out[kv.key.substr(np.size())].desired = kv.mod_revision;
  for (const auto& kv : res[1].kvs) {
    json st = json::parse(kv.value, nullptr, false);
    out[kv.key.substr(sp.size())].status = st.is_discarded() ? json{{"result", "unreadable status"}} : st;
  }
  return out;
}

std::string health(const NodeView& v) {
  if (v.status.is_null()) return "down";
  const json& s = v.status;
  const int64_t applied = s.value("applied_revision", int64_t{0});
  const int64_t desired = std::max(v.desired, s.value("desired_revision", int64_t{0}));
  if (v.desired == 0) return "no-graph";
  if (s.value("result", std::string()) == "refused" && s.value("refused_revision", int64_t{0}) >= v.desired)
    return "error";
  return applied >= desired ? "ok" : "behind";
}

int list(const Options& o, const FleetArgs& a) {
  int64_t rev = 0;
  auto nodes = read_fleet(a, rev);
  if (o.json_out) {
    json out{{"revision", rev}, {"nodes", json::array()}};
    for (const auto& [n, v] : nodes)
      out["nodes"].push_back({{"node", n}, {"desired_revision", v.desired}, {"health", health(v)}, {"status", v.status}});
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::printf("etcd revision %lld\n", (long long)rev);
  std::printf("%-16s %-8s %8s %8s %-9s %6s %12s %12s %10s %s\n", "node", "health", "desired", "applied", "result", "age",
              "rx", "tx", "dropped", "errors");
  const auto now = static_cast<int64_t>(std::time(nullptr));
  for (const auto& [n, v] : nodes) {
    const json& s = v.status;
    if (s.is_null()) {
      std::printf("%-16s %-8s %8lld %8s\n", n.c_str(), "down", (long long)v.desired, "-");
      continue;
    }
    const json c = s.value("counters", json::object());
    std::printf("%-16s %-8s %8lld %8lld %-9s %5llds %12llu %12llu %10llu %zu\n", n.c_str(), health(v).c_str(),
                (long long)v.desired, (long long)s.value("applied_revision", int64_t{0}),
                s.value("result", std::string("?")).c_str(), (long long)(now - s.value("updated", now)),
                (unsigned long long)c.value("rx_packets", uint64_t{0}),
                (unsigned long long)c.value("tx_packets", uint64_t{0}),
                (unsigned long long)c.value("dropped", uint64_t{0}), s.value("errors", json::array()).size());
  }
  return 0;
}

int show(const Options& o, const FleetArgs& a) {
  int64_t rev = 0;
  auto nodes = read_fleet(a, rev);
  auto it = nodes.find(a.node);
  if (it == nodes.end()) throw Failed("no node '" + a.node + "' in the fleet (no desired graph, no status)");
  const NodeView& v = it->second;
  if (o.json_out) {
    std::cout << json{{"node", a.node}, {"desired_revision", v.desired}, {"health", health(v)}, {"status", v.status}}
                     .dump(2)
              << "\n";
    return 0;
  }
  std::printf("node %s: %s\n", a.node.c_str(), health(v).c_str());
  std::printf("  desired graph key revision %lld\n", (long long)v.desired);
  if (v.status.is_null()) {
    std::printf("  no status: the router is not running, or has not reached etcd for longer than its lease\n");
    return 0;
  }
  const json& s = v.status;
  std::printf("  result %s, applied revision %lld, desired revision %lld, seen revision %lld\n",
              s.value("result", std::string("?")).c_str(), (long long)s.value("applied_revision", int64_t{0}),
              (long long)s.value("desired_revision", int64_t{0}), (long long)s.value("seen_revision", int64_t{0}));
  std::printf("  running %s (pid %lld, routerd %s), %llu applied, %llu refused, last reload %.2f ms\n",
              s.value("graph", std::string()).c_str(), (long long)s.value("pid", int64_t{0}),
              s.value("version", std::string()).c_str(), (unsigned long long)s.value("applies", uint64_t{0}),
              (unsigned long long)s.value("refusals", uint64_t{0}), s.value("reload_ms", 0.0));
  const json c = s.value("counters", json::object());
  std::printf("  counters: rx %llu, tx %llu, rx missed %llu, dropped %llu\n",
              (unsigned long long)c.value("rx_packets", uint64_t{0}), (unsigned long long)c.value("tx_packets", uint64_t{0}),
              (unsigned long long)c.value("rx_missed", uint64_t{0}), (unsigned long long)c.value("dropped", uint64_t{0}));
  const json errs = s.value("errors", json::array());
  if (!errs.empty()) {
    std::printf("  errors (revision %lld, not applied):\n", (long long)s.value("refused_revision", int64_t{0}));
    for (const auto& e : errs) std::printf("    %s\n", e.get<std::string>().c_str());
  }
  return 0;
}

int remove(const Options& o, const FleetArgs& a) {
  weft::FleetKeys keys{a.prefix};
  std::vector<weft::EtcdClient::Put> ops;
  for (const auto& n : a.nodes) ops.push_back({keys.node_graph(n), std::nullopt, 0});
  for (const auto& f : a.fragments) ops.push_back({keys.fragment(f), std::nullopt, 0});
  if (ops.empty()) throw Failed("fleet rm: name nodes or --fragment NAME");
  asio::io_context io;
  weft::EtcdClient client(io, etcd_options(a));
  const int64_t rev = weft::run_sync(io, client.write(ops));
  if (o.json_out) std::cout << json{{"revision", rev}}.dump() << "\n";
  else std::printf("removed %zu key(s) at revision %lld\n", ops.size(), (long long)rev);
  return 0;
}

Command fleet_command{[](CLI::App& app, Options& o) -> std::pair<CLI::App*, Runner> {
  auto a = std::make_shared<FleetArgs>();
  auto* sub = app.add_subcommand("fleet", "desired graphs and status of routers configured through etcd");
  sub->require_subcommand(1);
  sub->add_option("--etcd", a->etcd, "etcd endpoints, comma-separated ($WEFT_ETCD, default http://127.0.0.1:2379)");
  sub->add_option("--etcd-prefix", a->prefix, "key prefix (default /weft)");
  sub->add_option("--etcd-ca", a->ca, "CA certificate to verify etcd's (TLS)");
  sub->add_option("--etcd-cert", a->cert, "client certificate (TLS)");
  sub->add_option("--etcd-key", a->key, "client certificate's key (TLS)");
  sub->add_option("--etcd-user", a->user, "etcd user (auth)");
  sub->add_option("--etcd-password-file", a->password_file, "file holding the etcd user's password");
  sub->add_option("--etcd-timeout", a->timeout_s, "seconds per etcd request (default 5)");
  auto* put_cmd = sub->add_subcommand("put", "set the desired graph of one or many nodes (one etcd transaction)");
  put_cmd->add_option("-f,--file", a->graph_file, "the graph (YAML)");
  put_cmd->add_option("nodes", a->nodes, "node names");
  put_cmd->add_option("--fragment", a->fragments, "also set fragment NAME from FILE (NAME=FILE; repeatable)");
  put_cmd->add_option("--wait", a->wait_s, "wait up to this many seconds for every node to report the revision");
  auto* list_cmd = sub->add_subcommand("list", "nodes with their desired and applied revisions and health");
  auto* show_cmd = sub->add_subcommand("show", "one node's status and errors");
  show_cmd->add_option("node", a->node)->required();
  auto* rm_cmd = sub->add_subcommand("rm", "remove nodes' desired graphs (the routers keep running what they have)");
  rm_cmd->add_option("nodes", a->nodes, "node names");
  rm_cmd->add_option("--fragment", a->fragments, "also remove fragment NAME (repeatable)");
  return {sub, [&o, a, put_cmd, list_cmd, show_cmd, rm_cmd] {
            try {
              if (*put_cmd) return put(o, *a);
              if (*list_cmd) return list(o, *a);
              if (*show_cmd) return show(o, *a);
              if (*rm_cmd) return remove(o, *a);
            } catch (const weft::EtcdError& e) {
              throw Failed(std::string("etcd: ") + e.what());
            } catch (const std::invalid_argument& e) {
              throw Failed(e.what());
            }
            return 1;
          }};
}};

}  // namespace

void print_fleet_status(const json& f) {
  std::printf("fleet: node '%s', etcd %s: %s", f["node"].get<std::string>().c_str(),
              f["endpoint"].get<std::string>().c_str(),
              f["connected"].get<bool>() ? "connected" : "NOT CONNECTED, STALE");
  if (f.contains("stale_for_s")) std::printf(" for %.1f s", f["stale_for_s"].get<double>());
  std::printf("\n  applied revision %lld, desired revision %lld, seen revision %lld, result %s\n",
              (long long)f["applied_revision"].get<int64_t>(), (long long)f["desired_revision"].get<int64_t>(),
              (long long)f["seen_revision"].get<int64_t>(), f["result"].get<std::string>().c_str());
  if (!f["last_error"].get<std::string>().empty() && !f["connected"].get<bool>())
    std::printf("  last error: %s\n", f["last_error"].get<std::string>().c_str());
  for (const auto& e : f["errors"]) std::printf("  %s\n", e.get<std::string>().c_str());
}

}  // namespace routerctl

// The fleet: routerd takes its desired graph from etcd and writes its status
// back (docs/fleet.md).
//
//   PREFIX/desired/nodes/NODE       the node's graph (YAML)
//   PREFIX/desired/fragments/NAME   a fragment graphs include (`include: [NAME]`)
//   PREFIX/status/NODE              the node's status (JSON), under its lease
//
// FleetMirror is the agent's copy of the keys it depends on, kept in revision
// order (pure logic, unit-tested). FleetAgent runs on routerd's control
// thread: it watches PREFIX/desired/, applies each new desired graph through
// the reload transaction, and keeps the status key alive.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "control/control_api.hpp"
#include "core/graph_spec.hpp"
#include "fleet/etcd_client.hpp"

namespace weft {

struct FleetKeys {
  std::string prefix = "/weft";
  std::string desired() const { return prefix + "/desired/"; }
  std::string nodes() const { return prefix + "/desired/nodes/"; }
  std::string node_graph(const std::string& node) const { return nodes() + node; }
  std::string fragments() const { return prefix + "/desired/fragments/"; }
  std::string fragment(const std::string& name) const { return fragments() + name; }
  std::string statuses() const { return prefix + "/status/"; }
  std::string status(const std::string& node) const { return statuses() + node; }
};

class FleetMirror {
 public:
  FleetMirror(FleetKeys keys, std::string node) : keys_(std::move(keys)), node_(std::move(node)) {}

  // A full read at `revision` of the node's key and every fragment. Ignored
  // (false) if the mirror already reflects a later revision.
  bool load_snapshot(int64_t revision, const std::vector<KeyValue>& kvs);
  // One watch response. An event older than what the mirror holds for its
  // key is ignored: an old update never overwrites a newer one.
  void apply_events(int64_t revision, const std::vector<WatchEvent>& events);
  // The store revision the mirror reflects.
  int64_t revision() const { return revision_; }

  struct Desired {
    bool present = false;            // the node has a graph key
    int64_t revision = 0;            // the latest change to the graph or a fragment it includes
    std::string fingerprint;         // the texts it was composed of
    std::shared_ptr<GraphSpec> spec; // parsed, with includes resolved
  };
  // Parses the node's graph with its fragments; findings go to `diag`
  // (whose file name should be the node's key).
  Desired compose(Diagnostics& diag) const;

 private:
  struct Entry {
    std::string value;
    int64_t mod_revision = 0;
    bool deleted = false;
  };
  bool relevant(const std::string& key) const;
  FleetKeys keys_;
  std::string node_;
  int64_t revision_ = 0;
  std::map<std::string, Entry> keys_seen_;
};

struct FleetOptions {
  EtcdOptions etcd;
  std::string node;
  FleetKeys keys;
  int lease_ttl_s = 10;
  std::chrono::milliseconds sync_interval{10000};
  std::chrono::milliseconds status_interval{5000};
  // Fills the options from a graph's `fleet:` section (flags given on the
  // command line are applied afterwards by the caller). Throws on a password
  // file that cannot be read.
  static FleetOptions from_spec(const FleetSpec& f);
  static std::string read_password_file(const std::string& path);
};

class FleetAgent {
 public:
  FleetAgent(boost::asio::io_context& io, ControlApi& api, FleetOptions opts);
  ~FleetAgent();
  // Starts watching and reporting (coroutines on `io`).
  void start();
  // Asks for a full read now (SIGHUP).
  void resync();
  // Stops the coroutines and revokes the lease so the node leaves the fleet
  // view at once; runs `io` for at most the request timeout.
  void shutdown();
  // For `routerctl status` (and its health section).
  json status() const;
  ServiceHealth health() const;
  // The weft_fleet_* metrics.
  void add_metrics(MetricSet& set) const;

  // Reads the node's graph from etcd once (routerd started without -c):
  // retries until it is present and parses; returns the spec, with findings in diag.
  static std::shared_ptr<GraphSpec> fetch_boot_graph(const FleetOptions& opts, Diagnostics& diag,
                                                     std::string& label);

 private:
  boost::asio::awaitable<void> watch_loop();
  boost::asio::awaitable<void> sync_loop();
  boost::asio::awaitable<void> lease_loop();
  boost::asio::awaitable<void> full_sync();
  boost::asio::awaitable<void> write_status();
  void reconcile();
  void failed(const std::string& what);
  void wake_status();
  json status_value();

  boost::asio::io_context& io_;
  ControlApi& api_;
  FleetOptions opts_;
  EtcdClient client_;
  FleetMirror mirror_;
  bool stopping_ = false;
  bool need_full_sync_ = true;
  bool watching_ = false;
  bool last_check_ok_ = false;
  std::chrono::steady_clock::time_point stale_since_ = std::chrono::steady_clock::now();
  std::string last_error_;
  int64_t lease_ = 0;
  bool status_dirty_ = true;
  std::unique_ptr<boost::asio::steady_timer> lease_timer_, sync_timer_, backoff_timer_;
  // What was last tried and what runs.
  std::string last_fingerprint_;
  bool desired_present_ = false;
  int64_t desired_revision_ = 0;
  int64_t applied_revision_ = 0;
  int64_t refused_revision_ = 0;
  std::string result_ = "waiting";  // waiting, applied, refused, no-graph
  std::vector<std::string> errors_;
  double last_reload_ms_ = 0;
  uint64_t applies_ = 0, refusals_ = 0, full_syncs_ = 0, compaction_resyncs_ = 0, watch_restarts_ = 0;
  uint64_t status_writes_ = 0;
  uint64_t failures_ = 0;  // requests to etcd that failed
};

}  // namespace weft

#include "fleet/fleet_agent.hpp"

#include <unistd.h>

#include <ctime>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "core/text.hpp"
#include "weft/log.hpp"
#include "weft/version.hpp"

namespace weft {

namespace asio = boost::asio;
using asio::use_awaitable;
using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------- FleetMirror

bool FleetMirror::relevant(const std::string& key) const {
  return key == keys_.node_graph(node_) || key.rfind(keys_.fragments(), 0) == 0;
}

bool FleetMirror::load_snapshot(int64_t revision, const std::vector<KeyValue>& kvs) {
  if (revision < revision_) return false;
  std::map<std::string, Entry> next;
  for (const auto& kv : kvs)
    if (relevant(kv.key)) next[kv.key] = Entry{kv.value, kv.mod_revision, false};
  // Keys that vanished were deleted at some revision up to this one; remember
  // them so the desired revision still moves forward.
  for (const auto& [key, e] : keys_seen_)
    if (!next.count(key)) next[key] = e.deleted ? e : Entry{{}, revision, true};
  keys_seen_ = std::move(next);
  revision_ = revision;
  return true;
}

void FleetMirror::apply_events(int64_t revision, const std::vector<WatchEvent>& events) {
  for (const auto& ev : events) {
    if (!relevant(ev.kv.key)) continue;
    auto it = keys_seen_.find(ev.kv.key);
    if (it != keys_seen_.end() && it->second.mod_revision >= ev.kv.mod_revision) continue;  // older than ours
    keys_seen_[ev.kv.key] = Entry{ev.deleted ? std::string() : ev.kv.value, ev.kv.mod_revision, ev.deleted};
  }
  revision_ = std::max(revision_, revision);
}

FleetMirror::Desired FleetMirror::compose(Diagnostics& diag) const {
  Desired d;
  const std::string key = keys_.node_graph(node_);
  auto it = keys_seen_.find(key);
  if (it == keys_seen_.end()) return d;
  d.revision = it->second.mod_revision;
  if (it->second.deleted) return d;
  d.present = true;
  d.fingerprint = it->second.value;
  IncludeResolver resolve = [&](const std::string& name) -> std::optional<GraphSource> {
    auto f = keys_seen_.find(keys_.fragment(name));
    d.fingerprint += std::string("\0", 1) + name + "=";
    if (f == keys_seen_.end()) return std::nullopt;
    d.revision = std::max(d.revision, f->second.mod_revision);
    if (f->second.deleted) return std::nullopt;
    d.fingerprint += f->second.value;
    return GraphSource{keys_.fragment(name), f->second.value};
  };
  d.spec = std::make_shared<GraphSpec>(parse_graph(it->second.value, key, diag, resolve));
  d.spec->from_etcd = true;
  return d;
}

// --------------------------------------------------------------- FleetOptions

std::string FleetOptions::read_password_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read etcd password file " + path);
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
  return line;
}

FleetOptions FleetOptions::from_spec(const FleetSpec& f) {
  FleetOptions o;
  o.etcd.endpoints = f.endpoints;
  o.node = f.node;
  if (!f.prefix.empty()) o.keys.prefix = f.prefix;
  o.etcd.ca_file = f.ca_file;
  o.etcd.cert_file = f.cert_file;
  o.etcd.key_file = f.key_file;
  o.etcd.user = f.user;
  if (!f.password_file.empty()) o.etcd.password = read_password_file(f.password_file);
  if (f.lease_ttl_s) o.lease_ttl_s = static_cast<int>(f.lease_ttl_s);
  if (f.sync_interval_s > 0) o.sync_interval = std::chrono::milliseconds(static_cast<long>(f.sync_interval_s * 1000));
  if (f.status_interval_s > 0)
    o.status_interval = std::chrono::milliseconds(static_cast<long>(f.status_interval_s * 1000));
  return o;
}

// ----------------------------------------------------------------- FleetAgent

FleetAgent::FleetAgent(asio::io_context& io, ControlApi& api, FleetOptions opts)
    : io_(io),
      api_(api),
      opts_(std::move(opts)),
      client_(io, opts_.etcd),
      mirror_(opts_.keys, opts_.node),
      lease_timer_(std::make_unique<asio::steady_timer>(io)),
      sync_timer_(std::make_unique<asio::steady_timer>(io)),
      backoff_timer_(std::make_unique<asio::steady_timer>(io)) {
  if (opts_.node.empty()) throw std::invalid_argument("fleet: no node name (--node)");
  api_.add_status("fleet", [this] { return status(); });
  api_.add_health("fleet", [this] { return health(); });
}

FleetAgent::~FleetAgent() = default;

void FleetAgent::start() {
  auto report = [](const char* what) {
    return [what](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (...) {
        WEFT_LOG(Error, "fleet: %s stopped: %s", what, current_exception_text().c_str());
      }
    };
  };
  asio::co_spawn(io_, watch_loop(), report("watch"));
  asio::co_spawn(io_, sync_loop(), report("periodic sync"));
  asio::co_spawn(io_, lease_loop(), report("status"));
}

void FleetAgent::resync() {
  need_full_sync_ = true;
  client_.cancel_watch();  // the watch loop reads everything, then watches again
}

void FleetAgent::failed(const std::string& what) {
  failures_++;
  if (last_check_ok_ || last_error_ != what)
    WEFT_LOG(Warning, "fleet: etcd: %s (keeping the running graph)", what.c_str());
  if (last_check_ok_) stale_since_ = Clock::now();
  last_check_ok_ = false;
  last_error_ = what;
}

void FleetAgent::wake_status() {
  status_dirty_ = true;
  lease_timer_->cancel();
}

asio::awaitable<void> FleetAgent::full_sync() {
  const std::string frags = opts_.keys.fragments();
  const std::vector<EtcdClient::Range> ranges{{opts_.keys.node_graph(opts_.node), std::string()},
                                              {frags, prefix_end(frags)}};
  auto res = co_await client_.read(ranges);
  std::vector<KeyValue> kvs = res[0].kvs;
  kvs.insert(kvs.end(), res[1].kvs.begin(), res[1].kvs.end());
  full_syncs_++;
  if (!last_check_ok_) WEFT_LOG(Notice, "fleet: in touch with etcd at revision %lld", (long long)res[0].revision);
  last_check_ok_ = true;
  if (mirror_.load_snapshot(res[0].revision, kvs)) reconcile();
}

asio::awaitable<void> FleetAgent::watch_loop() {
  auto backoff = std::chrono::milliseconds(100);
  while (!stopping_) {
    try {
      if (need_full_sync_) {
        co_await full_sync();
        need_full_sync_ = false;
      }
      const std::string desired = opts_.keys.desired();
      co_await client_.watch(
          desired, prefix_end(desired), mirror_.revision() + 1,
          [this](int64_t rev, const std::vector<WatchEvent>& evs) {
            mirror_.apply_events(rev, evs);
            reconcile();
          },
          [this, &backoff] {
            watching_ = true;
            backoff = std::chrono::milliseconds(100);
          });
    } catch (const EtcdError& e) {
      if (e.compacted()) {
        // The changes since our revision are gone: read everything again.
        WEFT_LOG(Notice, "fleet: %s; reading the whole state again", e.what());
        need_full_sync_ = true;
        compaction_resyncs_++;
        watching_ = false;
        continue;  // no back-off: etcd is there, our revision is not
      } else {
        failed(e.what());
      }
    } catch (const std::exception& e) {  // never leave the loop: the router would stay stale for good
      failed(std::string("watch: ") + e.what());
    }
    if (watching_ && last_check_ok_) stale_since_ = Clock::now();
    watching_ = false;
    if (stopping_) break;
    watch_restarts_++;
    backoff_timer_->expires_after(backoff);
    boost::system::error_code ec;
    co_await backoff_timer_->async_wait(asio::redirect_error(use_awaitable, ec));
    backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
  }
}

asio::awaitable<void> FleetAgent::sync_loop() {
  while (!stopping_) {
    sync_timer_->expires_after(opts_.sync_interval);
    boost::system::error_code ec;
    co_await sync_timer_->async_wait(asio::redirect_error(use_awaitable, ec));
    if (stopping_) break;
    try {
      co_await full_sync();  // catches anything the watch missed, and checks etcd has a quorum
    } catch (const std::exception& e) {
      failed(e.what());
    }
  }
}

asio::awaitable<void> FleetAgent::lease_loop() {
  auto last_write = Clock::now() - opts_.status_interval;
  while (!stopping_) {
    try {
      if (lease_ == 0) {
        lease_ = co_await client_.lease_grant(opts_.lease_ttl_s);
        status_dirty_ = true;
      } else if (co_await client_.lease_keepalive(lease_) <= 0) {
        WEFT_LOG(Notice, "fleet: lease %llx expired; the status key is written again", (unsigned long long)lease_);
        lease_ = 0;
        continue;
      }
      if (!last_check_ok_) WEFT_LOG(Notice, "fleet: etcd answers again");
      last_check_ok_ = true;  // a keepalive needs the leader: the cluster has a quorum
      if (status_dirty_ || Clock::now() - last_write >= opts_.status_interval) {
        status_dirty_ = false;
        co_await write_status();
        last_write = Clock::now();
      }
    } catch (const std::exception& e) {
      failed(e.what());
    }
    if (stopping_) break;
    if (status_dirty_ && last_check_ok_) continue;  // changed while we wrote
    lease_timer_->expires_after(std::chrono::milliseconds(opts_.lease_ttl_s * 1000 / 3));
    boost::system::error_code ec;
    co_await lease_timer_->async_wait(asio::redirect_error(use_awaitable, ec));
  }
}

json FleetAgent::status_value() {
  json counters{{"rx_packets", 0}, {"tx_packets", 0}, {"rx_missed", 0}, {"dropped", 0}};
  json st = api_.handle({{"cmd", "stats"}});
  if (st.value("ok", false)) {
    uint64_t rx = 0, tx = 0, missed = 0, dropped = 0;
    for (const auto& p : st["data"]["ports"]) {
      rx += p["rx_packets"].get<uint64_t>();
      tx += p["tx_packets"].get<uint64_t>();
      missed += p["rx_missed"].get<uint64_t>();
    }
    for (const auto& e : st["data"]["elements"]) dropped += e["total"]["dropped"].get<uint64_t>();
    counters = {{"rx_packets", rx}, {"tx_packets", tx}, {"rx_missed", missed}, {"dropped", dropped}};
  }
  json s{{"node", opts_.node},
         {"pid", ::getpid()},
         {"version", kVersion},
         {"result", result_},
         {"applied_revision", applied_revision_},
         {"desired_revision", desired_revision_},
         {"seen_revision", mirror_.revision()},
         {"errors", errors_},
         {"graph", api_.graph_file()},
         {"applies", applies_},
         {"refusals", refusals_},
         {"reload_ms", last_reload_ms_},
         {"counters", counters},
         {"updated", static_cast<int64_t>(std::time(nullptr))}};
  if (refused_revision_) s["refused_revision"] = refused_revision_;
  return s;
}

asio::awaitable<void> FleetAgent::write_status() {
  std::vector<EtcdClient::Put> ops(1);
  ops[0].key = opts_.keys.status(opts_.node);
  ops[0].value = status_value().dump();
  ops[0].lease = lease_;
  co_await client_.write(ops);
  status_writes_++;
}

void FleetAgent::reconcile() {
  Diagnostics diag(opts_.keys.node_graph(opts_.node));
  FleetMirror::Desired d = mirror_.compose(diag);
  if (!d.present) {
    if (desired_present_ || result_ == "waiting") {
      WEFT_LOG(Notice, "fleet: no graph for node '%s' in etcd; keeping the running graph", opts_.node.c_str());
      result_ = applied_revision_ ? result_ : "no-graph";
      desired_present_ = false;
      wake_status();
    }
    return;
  }
  desired_present_ = true;
  if (d.fingerprint == last_fingerprint_) {
    // Same texts at a later revision: what runs is what is desired.
    if (d.revision > desired_revision_) {
      desired_revision_ = d.revision;
      if (result_ == "applied") applied_revision_ = d.revision;
      else if (result_ == "refused") refused_revision_ = d.revision;
      wake_status();
    }
    return;
  }
  if (d.revision < desired_revision_) return;  // never go back to an older graph
  last_fingerprint_ = d.fingerprint;
  desired_revision_ = d.revision;
  const std::string label = opts_.keys.node_graph(opts_.node) + "@" + std::to_string(d.revision);
  json r = api_.reload(d.spec, diag, label);
  last_reload_ms_ = r.contains("timing_ms") ? r["timing_ms"].value("total", 0.0) : 0.0;
  if (r.value("applied", false)) {
    applied_revision_ = d.revision;
    result_ = "applied";
    errors_.clear();
    applies_++;
    WEFT_LOG(Notice, "fleet: applied revision %lld (%s) in %.2f ms", (long long)d.revision,
             r.value("mode", std::string()).c_str(), last_reload_ms_);
  } else {
    result_ = "refused";
    refused_revision_ = d.revision;
    errors_.clear();
    for (const auto& x : r.value("diagnostics", json::array())) errors_.push_back(x.get<std::string>());
    errors_.push_back(r.value("error", std::string("refused")));
    refusals_++;
    if (r.value("rolled_back", false)) last_fingerprint_.clear();  // not the graph's fault: retry at the next sync
    WEFT_LOG(Warning, "fleet: revision %lld refused, the running graph is unchanged: %s", (long long)d.revision,
             r.value("error", std::string()).c_str());
    for (const auto& e : errors_) WEFT_LOG(Warning, "  %s", e.c_str());
  }
  wake_status();
}

json FleetAgent::status() const {
  const bool connected = watching_ && last_check_ok_;
  json j{{"node", opts_.node},
         {"endpoints", opts_.etcd.endpoints},
         {"endpoint", client_.current_endpoint()},
         {"prefix", opts_.keys.prefix},
         {"connected", connected},
         {"stale", !connected},
         {"watching", watching_},
         {"result", result_},
         {"applied_revision", applied_revision_},
         {"desired_revision", desired_revision_},
         {"seen_revision", mirror_.revision()},
         {"errors", errors_},
         {"last_error", last_error_},
         {"lease", lease_},
         {"full_syncs", full_syncs_},
         {"compaction_resyncs", compaction_resyncs_},
         {"watch_restarts", watch_restarts_},
         {"status_writes", status_writes_}};
  if (refused_revision_) j["refused_revision"] = refused_revision_;
  if (!connected)
    j["stale_for_s"] = std::chrono::duration<double>(Clock::now() - stale_since_).count();
  return j;
}

ServiceHealth FleetAgent::health() const {
  ServiceHealth h;
  h.peer = "etcd " + client_.current_endpoint();
  h.last_error = last_error_;
  h.errors = failures_;
  if (!(watching_ && last_check_ok_)) {
    h.state = ServiceHealth::State::Degraded;
    h.since_s = std::chrono::duration<double>(Clock::now() - stale_since_).count();
    h.detail = "not connected to etcd: stale, running applied revision " + std::to_string(applied_revision_);
    // A refused revision waits for the next successful sync to be tried again: say so.
    if (result_ == "refused")
      h.detail += "; desired revision " + std::to_string(refused_revision_) + " refused, tried again once etcd answers";
  } else if (result_ == "refused") {
    h.state = ServiceHealth::State::Degraded;
    h.detail = "desired revision " + std::to_string(refused_revision_) + " refused: running revision " +
               std::to_string(applied_revision_);
  } else {
    h.detail = "connected, " + result_ + " revision " + std::to_string(applied_revision_);
  }
  return h;
}

void FleetAgent::add_metrics(MetricSet& set) const {
  const bool connected = watching_ && last_check_ok_;
  set.add("weft_fleet_connected", {}, connected ? 1 : 0);
  set.add("weft_fleet_stale", {}, connected ? 0 : 1);
  set.add("weft_fleet_stale_seconds", {},
          connected ? 0 : std::chrono::duration<double>(Clock::now() - stale_since_).count());
  set.add("weft_fleet_desired_revision", {}, double(desired_revision_));
  set.add("weft_fleet_applied_revision", {}, double(applied_revision_));
  set.add("weft_fleet_applies_total", {}, double(applies_));
  set.add("weft_fleet_refusals_total", {}, double(refusals_));
}

void FleetAgent::shutdown() {
  stopping_ = true;
  client_.cancel_watch();
  lease_timer_->cancel();
  sync_timer_->cancel();
  backoff_timer_->cancel();
  if (lease_ == 0) return;
  // Revoke the lease so the node leaves the fleet view now, not after its TTL.
  bool done = false;
  asio::co_spawn(
      io_,
      [this]() -> asio::awaitable<void> {
        try {
          co_await client_.lease_revoke(lease_);
        } catch (const EtcdError& e) {
          WEFT_LOG(Warning, "fleet: could not revoke the lease: %s", e.what());
        }
      },
      [&done, this](std::exception_ptr) {
        done = true;
        io_.stop();
      });
  io_.restart();
  io_.run_for(opts_.etcd.timeout * 2);
  if (!done) WEFT_LOG(Warning, "fleet: lease revoke did not finish");
}

std::shared_ptr<GraphSpec> FleetAgent::fetch_boot_graph(const FleetOptions& opts, Diagnostics& diag,
                                                        std::string& label) {
  asio::io_context io;
  EtcdClient client(io, opts.etcd);
  std::string last;
  for (;;) {
    try {
      const std::string frags = opts.keys.fragments();
      auto res = run_sync(io, client.read({{opts.keys.node_graph(opts.node), ""}, {frags, prefix_end(frags)}}));
      std::vector<KeyValue> kvs = res[0].kvs;
      kvs.insert(kvs.end(), res[1].kvs.begin(), res[1].kvs.end());
      FleetMirror m(opts.keys, opts.node);
      m.load_snapshot(res[0].revision, kvs);
      Diagnostics d(opts.keys.node_graph(opts.node));
      auto desired = m.compose(d);
      if (desired.present && desired.spec->parsed && !d.has_errors()) {
        diag = d;
        label = opts.keys.node_graph(opts.node) + "@" + std::to_string(desired.revision);
        return desired.spec;
      }
      std::string now = desired.present ? d.format() : "no graph at " + opts.keys.node_graph(opts.node);
      if (now != last) std::fprintf(stderr, "routerd: waiting for a usable graph in etcd: %s", now.c_str());
      last = now;
    } catch (const EtcdError& e) {
      if (last != e.what()) std::fprintf(stderr, "routerd: waiting for etcd: %s", e.what());
      last = e.what();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

}  // namespace weft

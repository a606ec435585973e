// SvpControl: Portolan on the control thread, the running state of an Svp
// service (control/svp_service.hpp) — the SVP client, the overlay cache it
// fills, and the change-log poller that keeps the cache honest.
//
//   workers (SvpResolver) ── miss: ask(key) ──► request ring (OverlayHandle)
//                                                   │ drained every millisecond
//   NeighborSink ── resolve(key, callback) ──────► SvpControl ── SvpClient ──TCP──► Portolan
//                                                   │ answers
//   workers ◄── lock-free lookups ── OverlayCache ◄─┘ put / erase (RCU)
//
// One question per key is in flight at a time, however many workers and
// packets ask. OK answers become entries with `ttl`; NOTFOUND becomes a
// negative entry with `negative_ttl`; a timeout changes nothing (the
// workers' queued packets time out on their own clock). A VL3 answer also
// fills the VL2 entry of the MAC it names.
//
// Invalidation: SHOOTDOWN (MAC, VNI) from the server, and the change log —
// every `log_interval` seconds, with `log_ip` set (this node's underlay IP),
// LOG_REQ; each VL2 record drops (MAC, VNI) and the VL3 entries naming that
// MAC, each VL3 record drops (IP, VNI); then LOG_RM acknowledges the ids
// (and the next LOG_REQ follows at once while records keep coming), as
// illumos varpd does. Subscribers (NeighborSink) hear of every dropped key.
//
// Portolan down: entries past their TTL stay in use; refreshes are asked
// for and fail quietly until it is back. Nothing here ever exits the router.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "control/overlay_resolver.hpp"
#include "control/svp_client.hpp"
#include "tables/overlay_cache.hpp"
#include "tables/overlay_handle.hpp"
#include "weft/service.hpp"

struct rte_rcu_qsbr;

namespace weft::svp {

struct SvpConfig {
  ClientConfig client;
  double ttl_s = 300;           // positive answers
  double negative_ttl_s = 10;   // NOTFOUND answers
  double refresh_retry_s = 1;   // how often workers may re-ask for an expired entry
  uint32_t max_entries = 65536;
  std::optional<IpAddr> log_ip;  // this node's underlay IP: enables the change-log poller
  double log_interval_s = 5;
  uint32_t log_bytes = 4096;    // LOG_REQ count: bytes of records accepted per reply
  bool operator==(const SvpConfig&) const = default;
};

class SvpControl final : public OverlayResolver, public std::enable_shared_from_this<SvpControl> {
 public:
  // Unconfigured until configure(); `rcu` is the workers' RCU variable (null:
  // no concurrent readers, as in tests and benchmarks).
  explicit SvpControl(rte_rcu_qsbr* rcu = nullptr, int socket = -1);
  ~SvpControl() override;

  // Applies a configuration, live: the client reconnects if its servers
  // changed, a new max_entries starts an empty cache of that size.
  void configure(const SvpConfig& c);
  bool configured() const { return configured_; }
  const SvpConfig& config() const { return cfg_; }

  // What workers use (published as the service's OverlayHandle).
  OverlayHandle& handle() { return handle_; }

  // --- control thread ---
  void resolve(const CacheKey& k, std::function<void(const Resolution&)> done) override;
  uint64_t subscribe(std::function<void(const CacheKey&)> f) override;
  void unsubscribe(uint64_t subscription) override;
  SvpClient* client() { return client_.get(); }
  OverlayCache& writable_cache() { return *owned_; }
  void drain_requests();  // what the poll timer does (tests call it)
  // Drops a key (and, for VL2, the VL3 entries naming its MAC) and tells subscribers.
  void invalidate(const CacheKey& k, const char* why);

  // Starts the client and the timers on the control thread's event loop.
  void start(boost::asio::io_context& io);
  // Closes Portolan's connection and stops the timers (the cache stays
  // readable for elements still holding the handle).
  void stop();
  bool started() const { return io_ != nullptr; }
  nlohmann::json status() const;
  // Ok while the session with Portolan is up; Degraded while it is not (the
  // cache keeps forwarding, also past its ttl; new destinations wait).
  ServiceHealth health() const;

  // Commands (`routerctl service NAME CMD`).
  nlohmann::json cache_entries(const nlohmann::json& args) const;  // {kind?: vl2|vl3}
  nlohmann::json pending() const;
  nlohmann::json flush();
  nlohmann::json lookup(const nlohmann::json& args);  // {mac: MAC or ip: ADDRESS, vni: N}
  nlohmann::json bulk(const nlohmann::json& args);    // {type?: vl2|vl3|N}

  struct Counters {
    uint64_t asked = 0, deduplicated = 0, resolved = 0, notfound = 0, failed = 0, timeouts = 0;
    uint64_t evicted = 0, cache_full = 0, shootdowns = 0, invalidated = 0;
    uint64_t log_polls = 0, log_records = 0, log_removed = 0, log_errors = 0;
  };
  const Counters& counters() const { return c_; }

 private:
  struct Pending {
    std::chrono::steady_clock::time_point since;
    std::vector<std::function<void(const Resolution&)>> waiters;
  };
  void ask_server(const CacheKey& k);
  void answered(const CacheKey& k, const Resolution& r);
  bool store(const CacheKey& k, const CacheEntry& e);
  void make_room();
  void arm_poll();
  void arm_log(double seconds);
  void poll_log();
  void rebuild_cache(size_t capacity);
  nlohmann::json entry_json(const CacheKey& k, const CacheEntry& e) const;
  double now_s() const;

  rte_rcu_qsbr* rcu_;
  int socket_;
  SvpConfig cfg_;
  bool configured_ = false;
  OverlayHandle handle_;
  std::unique_ptr<OverlayCache> owned_;
  struct Retired {
    uint64_t token;
    std::unique_ptr<OverlayCache> cache;
  };
  std::vector<Retired> retired_;

  boost::asio::io_context* io_ = nullptr;
  std::shared_ptr<SvpClient> client_;
  std::optional<boost::asio::steady_timer> poll_timer_, log_timer_;
  std::unordered_map<CacheKey, Pending, CacheKeyHash> pending_;
  std::list<std::pair<uint64_t, std::function<void(const CacheKey&)>>> subscribers_;
  uint64_t next_sub_ = 1;
  bool log_running_ = false;
  std::chrono::steady_clock::time_point epoch_ = std::chrono::steady_clock::now();
  nlohmann::json last_bulk_;
  std::string last_log_error_;
  Counters c_;
};

}  // namespace weft::svp

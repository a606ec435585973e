// FibControl: the control-thread side of routing, the running state of a
// Fib service (control/fib_service.hpp). An FPM server (zebra's
// dplane_fpm_nl connects to it) feeding FpmDecoder -> Rib -> Fib.
//
//   zebra ──TCP──► acceptor (one connection at a time; a new one replaces
//                  the old and starts a resync)
//                  FpmDecoder ─► Rib (reconciles, resolves nexthop groups)
//                             ─► on_change ─► entry content ─► Fib (LPMs)
//
// Resync: zebra replays its whole table on every (re)connection. The Rib
// marks everything stale when a connection starts; whatever the replay does
// not re-send is withdrawn when it is over. zebra re-sends a protocol's
// routes (rtm_protocol: connected, static, bgp, ...) only once that
// protocol's daemon is back in touch with it — connected routes at once,
// staticd's seconds later — so the end is judged per protocol: a protocol's
// replay is over when, once its messages arrived, none came for `quiet`
// seconds; its stale routes go then. The whole replay is over when every
// protocol that had routes before is done, or `grace` seconds after the
// connection started, whichever is first; then everything still stale goes
// (routes of daemons that did not come back, unused nexthop objects).
// Routes stay in the FIB meanwhile, and also while zebra is away: a lost
// connection changes nothing.
//
// A framing error closes the connection (zebra reconnects); the FIB keeps
// its last good state. Everything runs on the control thread's io_context;
// workers only read the Fib.
#pragma once

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include "control/fpm.hpp"
#include "control/rib.hpp"
#include "tables/fib_tables.hpp"
#include "weft/service.hpp"

namespace weft::route {

struct FibConfig {
  std::string listen = "127.0.0.1:2620";  // kNoListen: no FPM server
  static constexpr const char* kNoListen = "none";
  double grace_s = 10;
  double quiet_s = 1;
  FibSizes sizes;
  struct Interface {
    uint32_t ifindex = 0;  // zebra's ifindex, or 0 and ...
    std::string ifname;    // ... a name resolved with if_nametoindex (in routerd's namespace)
    std::string output;    // IpLookup output name
    Mac mac;               // source MAC written on packets leaving there
    bool operator==(const Interface&) const = default;
  };
  std::vector<Interface> interfaces;
  struct Neighbor {
    IpAddr addr;
    Mac mac;
    bool operator==(const Neighbor&) const = default;
  };
  std::vector<Neighbor> neighbors;
  // The router's own subnets (from an Interfaces service): routed directly
  // out of `output` in the main table, unless zebra sends a route for the
  // same prefix (zebra's wins while it has one).
  struct Connected {
    Prefix prefix;  // network
    std::string output;
    Mac mac;
    bool operator==(const Connected&) const = default;
  };
  std::vector<Connected> connected;
  // Next hops without a MAC are resolved by IpLookup (an Interfaces
  // service's neighbour table): such members can forward.
  bool dynamic_neighbors = false;
  bool operator==(const FibConfig&) const = default;

  // "127.0.0.1:2620", "[::1]:2620", "0.0.0.0:0" (port 0: any free port).
  static bool parse_listen(const std::string& text, std::string& host, uint16_t& port);
};

class FibControl final : public std::enable_shared_from_this<FibControl> {
 public:
  // Unconfigured until configure(); `rcu` is the workers' RCU variable.
  explicit FibControl(rte_rcu_qsbr* rcu = nullptr, int socket = -1);
  ~FibControl();

  // Applies a configuration on the control thread, live: a new `listen`
  // reopens the listening socket (the zebra connection stays), new sizes
  // rebuild the LPMs, new interfaces or neighbours re-resolve every route.
  void configure(const FibConfig& c);
  bool configured() const { return configured_; }
  const FibConfig& config() const { return cfg_; }

  Fib& fib() { return fib_; }
  const Fib& fib() const { return fib_; }
  FibHandle& handle() { return handle_; }
  const Rib& rib() const { return rib_; }

  // Starts listening on the control thread's event loop.
  void start(boost::asio::io_context& io);
  // Closes the listening socket and zebra's connection.
  void stop();
  // {prefix?, table?}: {"routes": [{table, prefix, type, nexthops: [text], installed, forwarding: [...]}]}
  nlohmann::json routes(const nlohmann::json& args) const;
  // {address, table?}: {address, table, route: {...} or null} — the route the address takes
  nlohmann::json lookup(const nlohmann::json& args) const;
  nlohmann::json status() const;
  // Ok while zebra is connected; Degraded while it is away (the FIB keeps
  // its last routes); Failed if it cannot listen.
  ServiceHealth health() const;

  bool started() const { return io_ != nullptr; }
  bool connected() const { return conn_.has_value(); }
  // The port it listens on once started (0: not listening).
  uint16_t port() const { return bound_port_; }
  bool resyncing() const { return rib_.resyncing(); }
  uint64_t resyncs() const { return resyncs_; }
  uint64_t ignored_link_local() const { return ignored_link_local_; }
  const FpmCounters& fpm_counters() const { return decoder_.counters(); }

  // The entry a resolved route turns into under the current configuration.
  Entry content_of(const Resolved& r);

 private:
  void open_acceptor();
  void do_accept();
  void on_connection(boost::asio::ip::tcp::socket s);
  void do_read();
  void on_bytes(const uint8_t* data, size_t n);
  void on_disconnect(const std::string& why);
  void arm_quiet();
  void finish_resync(const char* ended_by);
  void arm_reclaim();
  bool resolve_interfaces();  // true if the ifindex map changed
  void apply_connected(const std::vector<FibConfig::Connected>& old);
  void rebuild_all();
  void flush();  // applies pending removals, commits the FIB
  void log_refused(const Rib::Key& k, const std::string& why);
  nlohmann::json route_json(const Rib::Key& k, const Resolved& r) const;

  Fib fib_;
  FibHandle handle_{fib_};
  Rib rib_;
  FpmDecoder decoder_;
  FibConfig cfg_;
  bool configured_ = false;

  struct IfaceInfo {
    uint16_t id;
    Mac mac;
  };
  std::unordered_map<uint32_t, IfaceInfo> by_ifindex_;
  std::map<Rib::Key, Entry> connected_;
  std::map<std::pair<uint8_t, std::array<uint8_t, 16>>, std::array<uint8_t, 6>> neighbor_macs_;

  boost::asio::io_context* io_ = nullptr;
  std::optional<boost::asio::ip::tcp::acceptor> acceptor_;
  std::optional<boost::asio::ip::tcp::socket> conn_;
  std::optional<boost::asio::steady_timer> quiet_timer_, grace_timer_, retry_timer_, reclaim_timer_;
  std::vector<uint8_t> rbuf_;
  uint64_t conn_gen_ = 0, listen_gen_ = 0;
  uint16_t bound_port_ = 0;
  std::string listen_error_, peer_, last_disconnect_, last_error_;
  std::chrono::steady_clock::time_point started_at_, connected_at_, disconnected_at_;
  bool quiet_armed_ = false, reclaim_armed_ = false;
  std::chrono::steady_clock::time_point read_time_, resync_start_;
  // The replay, per protocol: those that had routes when it began and are
  // not done; when each last sent something; those done.
  std::set<uint8_t> waiting_, done_;
  std::map<uint8_t, std::chrono::steady_clock::time_point> last_msg_;
  uint64_t resync_withdrawn_ = 0;
  std::unordered_set<Rib::Key, Rib::KeyHash> pending_removes_;

  uint64_t connections_ = 0, replaced_ = 0, disconnects_ = 0, resyncs_ = 0, refused_ = 0, members_dropped_ = 0;
  // Route messages ignored because their prefix is link-local (fe80::/10, 169.254.0.0/16).
  uint64_t ignored_link_local_ = 0;
  struct LastResync {
    std::string ended_by;
    uint64_t withdrawn = 0, messages = 0;
    double seconds = 0;
  };
  std::optional<LastResync> last_resync_;
  uint64_t resync_messages_ = 0;
};

}  // namespace weft::route

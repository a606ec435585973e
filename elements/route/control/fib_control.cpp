#include "control/fib_control.hpp"

#include <arpa/inet.h>
#include <net/if.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <cstdio>
#include <numeric>

#include "weft/log.hpp"

namespace weft::route {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

std::string endpoint_text(const tcp::endpoint& e) {
  std::string a = e.address().to_string();
  if (e.address().is_v6()) a = "[" + a + "]";
  return a + ":" + std::to_string(e.port());
}

// Buckets for weighted ECMP: each member's share of kBuckets is its share of
// the total weight (equal weights: one bucket each).
void fill_buckets(Entry& e, const std::vector<uint8_t>& weights) {
  const size_t n = weights.size();
  if (n <= 1) {
    e.n_buckets = 1;
    return;
  }
  bool equal = std::all_of(weights.begin(), weights.end(), [&](uint8_t w) { return w == weights[0]; });
  unsigned total = std::accumulate(weights.begin(), weights.end(), 0u);
  if (equal || total <= kBuckets) {
    unsigned b = 0;
    for (size_t m = 0; m < n; m++)
      for (unsigned k = 0; k < (equal ? 1u : weights[m]); k++) e.buckets[b++] = static_cast<uint8_t>(m);
    e.n_buckets = static_cast<uint8_t>(b);
    return;
  }
  // Largest remainder, at least one bucket per member.
  std::vector<unsigned> share(n);
  unsigned used = 0;
  for (size_t m = 0; m < n; m++) {
    share[m] = std::max(1u, weights[m] * kBuckets / total);
    used += share[m];
  }
  while (used > kBuckets) {
    size_t big = static_cast<size_t>(std::max_element(share.begin(), share.end()) - share.begin());
    share[big]--;
    used--;
  }
  unsigned b = 0;
  for (size_t m = 0; m < n; m++)
    for (unsigned k = 0; k < share[m]; k++) e.buckets[b++] = static_cast<uint8_t>(m);
  e.n_buckets = static_cast<uint8_t>(b);
}

}  // namespace

bool FibConfig::parse_listen(const std::string& text, std::string& host, uint16_t& port) {
  size_t colon;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') return false;
    host = text.substr(1, close - 1);
    colon = close + 1;
  } else {
    colon = text.rfind(':');
    if (colon == std::string::npos) return false;
    host = text.substr(0, colon);
    if (host.find(':') != std::string::npos) return false;  // IPv6 needs brackets
  }
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  if (ec) return false;
  std::string p = text.substr(colon + 1);
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos) return false;
  unsigned long v = std::stoul(p);
  if (v > 65535) return false;
  port = static_cast<uint16_t>(v);
  return true;
}

namespace {

// Inside fe80::/10 or 169.254.0.0/16: a link-local destination is never
// routed (RFC 4291 2.5.6, RFC 3927 7). zebra sends fe80::/64 as a connected
// route of every interface; one FIB entry cannot say which link is meant.
bool link_local(const Prefix& p) {
  static const Prefix ll6 = *Prefix::parse("fe80::/10"), ll4 = *Prefix::parse("169.254.0.0/16");
  return (p.v6() ? ll6 : ll4).contains(p);
}

}  // namespace

FibControl::FibControl(rte_rcu_qsbr* rcu, int socket) : fib_(rcu, socket, FibSizes{}), rbuf_(1 << 18) {
  decoder_.on_route = [this](const RouteUpdate& u) {
    if (link_local(u.dst)) {
      ignored_link_local_++;
      return;
    }
    // A protocol's replay is judged on the routes it (re-)sends.
    if (u.add && rib_.resyncing() && conn_) last_msg_[u.protocol] = read_time_;
    rib_.apply(u);
  };
  decoder_.on_nexthop = [this](const NexthopUpdate& u) { rib_.apply(u); };
  decoder_.on_error = [this](const std::string& e) {
    last_error_ = e;
    WEFT_LOG(Warning, "%s", e.c_str());
  };
  rib_.on_change = [this](const Rib::Key& k, const Resolved* r) {
    // Removals wait for the end of the burst (flush()): zebra replaces a
    // route with DEL and NEW in one frame, and a worker must not find the
    // prefix missing in between.
    if (!r) {
      if (auto it = connected_.find(k); it != connected_.end()) {  // the router's own subnet stays
        pending_removes_.erase(k);
        if (std::string err = fib_.set(k.table, k.prefix, it->second); !err.empty()) log_refused(k, err);
        return;
      }
      pending_removes_.insert(k);
      return;
    }
    pending_removes_.erase(k);
    if (std::string err = fib_.set(k.table, k.prefix, content_of(*r)); !err.empty()) log_refused(k, err);
  };
}

FibControl::~FibControl() { stop(); }

void FibControl::stop() {
  // Pending handlers hold a weak reference and find it expired, or see the
  // sockets closed.
  boost::system::error_code ec;
  if (conn_) conn_->close(ec);
  if (acceptor_) acceptor_->close(ec);
  conn_.reset();
  acceptor_.reset();
  conn_gen_++;
  listen_gen_++;
  for (auto* t : {&quiet_timer_, &grace_timer_, &retry_timer_, &reclaim_timer_})
    if (*t) (*t)->cancel();
}

void FibControl::flush() {
  for (const auto& k : pending_removes_) fib_.remove(k.table, k.prefix);
  pending_removes_.clear();
  fib_.commit();
  arm_reclaim();
}

void FibControl::log_refused(const Rib::Key& k, const std::string& why) {
  refused_++;
  if (refused_ <= 10 || refused_ % 10000 == 0)
    WEFT_LOG(Warning, "FIB: table %u %s not installed: %s (%llu refused so far)", k.table, k.prefix.str().c_str(),
             why.c_str(), static_cast<unsigned long long>(refused_));
}

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

bool FibControl::resolve_interfaces() {
  std::unordered_map<uint32_t, IfaceInfo> m;
  for (const auto& i : cfg_.interfaces) {
    uint32_t idx = i.ifindex;
    if (!idx && !i.ifname.empty()) idx = if_nametoindex(i.ifname.c_str());
    if (!idx) continue;  // not there (yet): retried on each zebra connection
    m[idx] = {fib_.iface_id(i.output), i.mac};
  }
  bool changed = m.size() != by_ifindex_.size();
  for (const auto& [idx, info] : m) {
    auto it = by_ifindex_.find(idx);
    if (it == by_ifindex_.end() || it->second.id != info.id || it->second.mac != info.mac) changed = true;
  }
  by_ifindex_ = std::move(m);
  return changed;
}

void FibControl::configure(const FibConfig& c) {
  if (configured_ && c == cfg_) return;
  const FibConfig old = cfg_;
  const bool first = !configured_;
  cfg_ = c;
  configured_ = true;
  const bool resized = first || !(c.sizes == old.sizes);
  if (resized) {
    fib_.resize(c.sizes);
    rib_.reserve(std::min<size_t>(size_t{c.sizes.max_routes} + c.sizes.max_routes6, size_t{1} << 22));
  }
  // New sizes may fit routes refused before: re-resolving retries them.
  bool reresolve = resized || c.interfaces != old.interfaces || c.neighbors != old.neighbors;
  if (reresolve) {
    resolve_interfaces();
    neighbor_macs_.clear();
    auto table = std::make_unique<NeighborTable>(c.neighbors.size());
    for (const auto& n : c.neighbors) {
      const uint8_t family = static_cast<uint8_t>(n.addr.family());
      neighbor_macs_[{family, n.addr.bytes}] = n.mac.bytes;
      table->insert(family, n.addr.data(), n.mac.data());
    }
    fib_.set_neighbors(std::move(table));
    rebuild_all();
  }
  if (first || c.connected != old.connected || reresolve) apply_connected(old.connected);
  if (io_ && (first || c.listen != old.listen)) open_acceptor();
}

Entry FibControl::content_of(const Resolved& r) {
  Entry e{};
  switch (r.type) {
    case RouteType::Blackhole: e.action = Action::Blackhole; return e;
    case RouteType::Unreachable: e.action = Action::Unreachable; return e;
    case RouteType::Prohibit: e.action = Action::Prohibit; return e;
    case RouteType::Unicast: e.action = Action::Forward; break;
  }
  // Members that can forward (a configured interface, and a MAC for the
  // gateway or a directly connected destination) win over those that
  // cannot; if none can, the entry keeps them all so the drop says why.
  Member usable[kMaxMembers], other[kMaxMembers];
  std::vector<uint8_t> wu, wo;
  size_t nu = 0, no = 0;
  for (size_t i = 0; i < r.nexthops.size(); i++) {
    const NextHop& nh = r.nexthops[i];
    if (i >= kMaxMembers) {
      members_dropped_ += r.nexthops.size() - kMaxMembers;
      break;
    }
    Member m{};
    m.iface = kNoIface;
    if (auto it = by_ifindex_.find(nh.ifindex); it != by_ifindex_.end()) {
      m.iface = it->second.id;
      std::memcpy(m.src_mac, it->second.mac.data(), 6);
    }
    if (nh.family) {
      e.family = nh.family;
      std::memcpy(m.gateway, nh.gateway.data(), nh.family == AF_INET ? 4 : 16);
      if (auto it = neighbor_macs_.find({nh.family, nh.gateway}); it != neighbor_macs_.end()) {
        m.has_mac = 1;
        std::memcpy(m.dst_mac, it->second.data(), 6);
      }
    } else {
      m.direct = 1;
    }
    if (!e.vni) e.vni = nh.vni;
    bool ok = m.iface != kNoIface && (m.has_mac || m.direct || cfg_.dynamic_neighbors);
    (ok ? usable[nu++] : other[no++]) = m;
    (ok ? wu : wo).push_back(nh.weight ? nh.weight : 1);
  }
  const Member* src = nu ? usable : other;
  size_t n = nu ? nu : no;
  e.n_members = static_cast<uint8_t>(n);
  std::memcpy(e.members, src, n * sizeof(Member));
  fill_buckets(e, nu ? wu : wo);
  return e;
}

void FibControl::apply_connected(const std::vector<FibConfig::Connected>& old) {
  std::map<Rib::Key, Entry> next;
  for (const auto& c : cfg_.connected) {
    Entry e{};
    e.action = Action::Forward;
    e.n_members = 1;
    e.n_buckets = 1;
    Member& m = e.members[0];
    m.iface = fib_.iface_id(c.output);
    m.direct = 1;
    std::memcpy(m.src_mac, c.mac.data(), 6);
    next[Rib::Key{254, c.prefix.network()}] = e;
  }
  for (const auto& o : old) {
    const Rib::Key k{254, o.prefix.network()};
    if (!next.count(k) && !rib_.find(k)) fib_.remove(k.table, k.prefix);
  }
  connected_ = std::move(next);
  for (const auto& [k, e] : connected_)
    if (!rib_.find(k))
      if (std::string err = fib_.set(k.table, k.prefix, e); !err.empty()) log_refused(k, err);
  flush();
}

void FibControl::rebuild_all() {
  for (const auto& [k, r] : rib_.resolved())
    if (std::string err = fib_.set(k.table, k.prefix, content_of(r)); !err.empty()) log_refused(k, err);
  flush();
}

// ---------------------------------------------------------------------------
// TCP: one zebra at a time
// ---------------------------------------------------------------------------

void FibControl::start(asio::io_context& io) {
  io_ = &io;
  started_at_ = Clock::now();
  quiet_timer_.emplace(io);
  grace_timer_.emplace(io);
  retry_timer_.emplace(io);
  reclaim_timer_.emplace(io);
  if (configured_) open_acceptor();
}

void FibControl::open_acceptor() {
  listen_gen_++;
  boost::system::error_code ec;
  if (acceptor_) acceptor_->close(ec);
  acceptor_.reset();
  bound_port_ = 0;
  retry_timer_->cancel();
  listen_error_.clear();
  if (cfg_.listen == FibConfig::kNoListen) return;  // no zebra: connected routes only
  std::string host;
  uint16_t port = 0;
  if (!FibConfig::parse_listen(cfg_.listen, host, port)) {
    listen_error_ = "bad listen address '" + cfg_.listen + "'";
    WEFT_LOG(Error, "FPM: %s", listen_error_.c_str());
    return;
  }
  tcp::endpoint ep(asio::ip::make_address(host), port);
  tcp::acceptor a(*io_);
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(4, ec);
  if (ec) {
    // Often a previous graph's service still holds the port for a moment
    // during a reload, or another program has it: try again.
    listen_error_ = "cannot listen on " + cfg_.listen + ": " + ec.message() + " (retrying every second)";
    WEFT_LOG(Error, "FPM: %s", listen_error_.c_str());
    auto self = weak_from_this();
    retry_timer_->expires_after(std::chrono::seconds(1));
    retry_timer_->async_wait([self, this, gen = listen_gen_](boost::system::error_code e) {
      auto keep = self.lock();
      if (!keep || e || gen != listen_gen_) return;
      open_acceptor();
    });
    return;
  }
  listen_error_.clear();
  bound_port_ = a.local_endpoint(ec).port();
  acceptor_.emplace(std::move(a));
  WEFT_LOG(Info, "FPM: listening on %s", endpoint_text(acceptor_->local_endpoint(ec)).c_str());
  do_accept();
}

void FibControl::do_accept() {
  auto self = weak_from_this();
  acceptor_->async_accept([self, this, gen = listen_gen_](boost::system::error_code ec, tcp::socket s) {
    auto keep = self.lock();
    if (!keep || gen != listen_gen_ || !acceptor_) return;
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      WEFT_LOG(Warning, "FPM: accept failed: %s", ec.message().c_str());
    } else {
      on_connection(std::move(s));
    }
    do_accept();
  });
}

void FibControl::on_connection(tcp::socket s) {
  boost::system::error_code ec;
  std::string peer = endpoint_text(s.remote_endpoint(ec));
  if (conn_) {
    replaced_++;
    WEFT_LOG(Notice, "FPM: connection from %s replaces the one from %s", peer.c_str(), peer_.c_str());
    conn_->close(ec);
  } else {
    WEFT_LOG(Notice, "FPM: zebra connected from %s", peer.c_str());
  }
  conn_.emplace(std::move(s));
  connected_at_ = Clock::now();
  conn_->set_option(tcp::no_delay(true), ec);
  conn_gen_++;
  connections_++;
  peer_ = peer;
  decoder_.reset();
  // zebra's ifindexes may name interfaces created since the last time.
  if (resolve_interfaces()) rebuild_all();
  // The replay starts: everything is stale until re-sent.
  rib_.begin_resync();
  resyncs_++;
  resync_start_ = Clock::now();
  resync_messages_ = 0;
  resync_withdrawn_ = 0;
  waiting_ = rib_.protocols();
  done_.clear();
  last_msg_.clear();
  quiet_armed_ = false;
  quiet_timer_->cancel();
  auto self = weak_from_this();
  grace_timer_->expires_after(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(cfg_.grace_s)));
  grace_timer_->async_wait([self, this, gen = conn_gen_](boost::system::error_code e) {
    auto keep = self.lock();
    if (!keep || e || gen != conn_gen_ || !rib_.resyncing()) return;
    finish_resync("grace");
  });
  do_read();
}

void FibControl::do_read() {
  auto self = weak_from_this();
  conn_->async_read_some(asio::buffer(rbuf_), [self, this, gen = conn_gen_](boost::system::error_code ec, size_t n) {
    auto keep = self.lock();
    if (!keep || gen != conn_gen_ || !conn_) return;
    if (ec) {
      on_disconnect(ec == asio::error::eof ? "closed by zebra" : ec.message());
      return;
    }
    on_bytes(rbuf_.data(), n);
    if (conn_ && gen == conn_gen_) do_read();
  });
}

void FibControl::on_bytes(const uint8_t* data, size_t n) {
  const uint64_t before = decoder_.counters().messages;
  read_time_ = Clock::now();
  bool ok = decoder_.feed(data, n);
  flush();
  const uint64_t got = decoder_.counters().messages - before;
  if (got && rib_.resyncing()) {
    resync_messages_ += got;
    arm_quiet();
  }
  if (!ok) on_disconnect(last_error_ + " (the FIB keeps its last good state)");
}

void FibControl::on_disconnect(const std::string& why) {
  boost::system::error_code ec;
  if (conn_) conn_->close(ec);
  conn_.reset();
  conn_gen_++;
  disconnects_++;
  last_disconnect_ = why;
  disconnected_at_ = Clock::now();
  if (const size_t cut = decoder_.end_of_stream()) {
    last_disconnect_ += "; an incomplete FPM frame (" + std::to_string(cut) + " bytes) was dropped";
    WEFT_LOG(Warning, "FPM: the connection from %s ended inside a frame: %zu byte(s) dropped (truncated)",
             peer_.c_str(), cut);
  }
  last_error_ = "zebra " + peer_ + ": " + last_disconnect_;
  quiet_timer_->cancel();
  grace_timer_->cancel();
  quiet_armed_ = false;
  WEFT_LOG(Notice, "FPM: connection from %s closed: %s; %s", peer_.c_str(), last_disconnect_.c_str(),
           rib_.resyncing() ? "the replay was not finished: routes stay until the next one completes"
                            : "routes stay installed");
}

void FibControl::arm_quiet() {
  if (quiet_armed_) return;
  // The earliest moment a protocol that sent something may be done.
  const auto wait = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(cfg_.quiet_s));
  std::optional<Clock::time_point> next;
  for (const auto& [p, last] : last_msg_)
    if (!done_.count(p) && (!next || last + wait < *next)) next = last + wait;
  if (!next) return;  // nothing to judge: `grace` ends the replay
  quiet_armed_ = true;
  auto self = weak_from_this();
  quiet_timer_->expires_at(*next);
  quiet_timer_->async_wait([self, this, gen = conn_gen_, wait](boost::system::error_code e) {
    auto keep = self.lock();
    if (!keep || e || gen != conn_gen_) return;
    quiet_armed_ = false;
    if (!rib_.resyncing()) return;
    const auto now = Clock::now();
    for (const auto& [p, last] : last_msg_) {
      if (done_.count(p) || now - last < wait) continue;
      size_t n = rib_.sweep(p);
      resync_withdrawn_ += n;
      done_.insert(p);
      waiting_.erase(p);
      WEFT_LOG(Info, "FPM: replay of %s routes from %s done, %zu stale withdrawn", protocol_name(p).c_str(),
               peer_.c_str(), n);
    }
    flush();
    if (waiting_.empty()) finish_resync("quiet");
    else arm_quiet();
  });
}

void FibControl::finish_resync(const char* ended_by) {
  quiet_timer_->cancel();
  grace_timer_->cancel();
  quiet_armed_ = false;
  std::string missing;
  for (uint8_t p : waiting_) missing += (missing.empty() ? "" : ", ") + protocol_name(p);
  resync_withdrawn_ += rib_.end_resync();
  flush();
  LastResync lr;
  lr.ended_by = ended_by;
  lr.withdrawn = resync_withdrawn_;
  lr.messages = resync_messages_;
  lr.seconds = std::chrono::duration<double>(Clock::now() - resync_start_).count();
  last_resync_ = lr;
  WEFT_LOG(Notice, "FPM: replay from %s complete (%s) after %.2f s, %llu message(s); %llu stale route(s) withdrawn%s%s",
           peer_.c_str(), ended_by, lr.seconds, static_cast<unsigned long long>(lr.messages),
           static_cast<unsigned long long>(lr.withdrawn), missing.empty() ? "" : "; nothing came back for ",
           missing.c_str());
  waiting_.clear();
  last_msg_.clear();
}

void FibControl::arm_reclaim() {
  if (reclaim_armed_ || !reclaim_timer_ || !fib_.reclaim_pending()) return;
  reclaim_armed_ = true;
  auto self = weak_from_this();
  reclaim_timer_->expires_after(std::chrono::milliseconds(20));
  reclaim_timer_->async_wait([self, this](boost::system::error_code e) {
    auto keep = self.lock();
    if (!keep) return;
    reclaim_armed_ = false;
    if (e) return;
    fib_.reclaim();
    arm_reclaim();
  });
}

// ---------------------------------------------------------------------------
// routerctl
// ---------------------------------------------------------------------------

nlohmann::json FibControl::routes(const nlohmann::json& args) const {
  std::optional<Prefix> within;
  std::optional<uint32_t> table;
  if (args.is_object()) {
    if (args.contains("prefix") && !args["prefix"].is_null()) {
      if (args["prefix"].is_string()) within = Prefix::parse(args["prefix"].get<std::string>());
      if (!within) throw std::invalid_argument("prefix: expected an address or prefix, e.g. 10.0.0.0/8 or 2001:db8::/32");
    }
    if (args.contains("table") && !args["table"].is_null()) {
      const auto& t = args["table"];
      if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() > UINT32_MAX)
        throw std::invalid_argument("table: expected a table number");
      table = static_cast<uint32_t>(t.get<int64_t>());
    }
  }
  nlohmann::json routes = nlohmann::json::array();
  for (const auto& k : rib_.sorted_keys()) {
    if (within && !within->contains(k.prefix)) continue;
    if (table && *table != k.table) continue;
    routes.push_back(route_json(k, *rib_.find(k)));
  }
  // The router's own subnets zebra does not send (yet).
  const auto& names = fib_.iface_names();
  for (const auto& [k, e] : connected_) {
    if (rib_.find(k) || (within && !within->contains(k.prefix)) || (table && *table != k.table)) continue;
    const uint16_t id = e.members[0].iface;
    routes.push_back({{"table", k.table},
                      {"prefix", k.prefix.str()},
                      {"type", "connected"},
                      {"nexthops", {"direct, output " + (id < names.size() ? names[id] : std::string("?"))}},
                      {"installed", fib_.entry_of(k.table, k.prefix) != nullptr}});
  }
  return {{"routes", routes}};
}

nlohmann::json FibControl::route_json(const Rib::Key& k, const Resolved& r) const {
  const auto& names = fib_.iface_names();
  nlohmann::json nhs = nlohmann::json::array();
  for (const auto& nh : r.nexthops) nhs.push_back(nh.str());
  nlohmann::json j = {{"table", k.table}, {"prefix", k.prefix.str()}, {"type", to_string(r.type)}, {"nexthops", nhs}};
  const Entry* e = fib_.entry_of(k.table, k.prefix);
  j["installed"] = e != nullptr;
  if (e && e->action == Action::Forward) {
    nlohmann::json fw = nlohmann::json::array();
    for (unsigned m = 0; m < e->n_members; m++) {
      const Member& mb = e->members[m];
      nlohmann::json x;
      x["output"] = mb.iface == kNoIface ? nlohmann::json(nullptr) : nlohmann::json(names[mb.iface]);
      x["src_mac"] = Mac::of(mb.src_mac).str();
      x["dst_mac"] = mb.direct    ? nlohmann::json("packet's destination")
                     : mb.has_mac ? nlohmann::json(Mac::of(mb.dst_mac).str())
                                  : nlohmann::json(nullptr);
      fw.push_back(x);
    }
    j["forwarding"] = fw;
  }
  return j;
}

// The route an address takes: the longest installed prefix holding it.
nlohmann::json FibControl::lookup(const nlohmann::json& args) const {
  if (!args.is_object() || !args.contains("address") || !args["address"].is_string())
    throw std::invalid_argument("lookup: expected {\"address\": \"10.1.2.3\"} (and optionally \"table\")");
  const std::string text = args["address"].get<std::string>();
  const auto addr = IpAddr::parse(text);
  if (!addr) throw std::invalid_argument("lookup: '" + text + "' is not an IPv4 or IPv6 address");
  const Prefix a{*addr, static_cast<uint8_t>(addr->v4() ? 32 : 128)};
  uint32_t table = 254;
  if (args.contains("table")) {
    const auto& t = args["table"];
    if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() > UINT32_MAX)
      throw std::invalid_argument("table: expected a table number");
    table = static_cast<uint32_t>(t.get<int64_t>());
  }
  for (int len = a.len; len >= 0; len--) {
    const Prefix p = Prefix{a.addr, static_cast<uint8_t>(len)}.network();
    Rib::Key k{table, p};
    if (const Resolved* r = rib_.find(k); r && fib_.entry_of(table, p))
      return {{"address", text}, {"table", table}, {"route", route_json(k, *r)}};
  }
  return {{"address", text}, {"table", table}, {"route", nullptr}};
}

ServiceHealth FibControl::health() const {
  ServiceHealth h;
  const FpmCounters& c = decoder_.counters();
  h.errors = c.framing_errors + c.message_errors + c.truncated_frames + disconnects_;
  h.last_error = last_error_;
  const auto since = [](Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); };
  if (!configured_ || !io_) {
    h.detail = configured_ ? "not started" : "not configured";
  } else if (!listen_error_.empty()) {
    h.state = ServiceHealth::State::Failed;
    h.detail = listen_error_;
    h.last_error = listen_error_;
  } else if (cfg_.listen == FibConfig::kNoListen) {
    h.detail = "no FPM server (listen: none): the interfaces' connected routes";
  } else if (conn_) {
    h.peer = "zebra " + peer_;
    h.detail = rib_.resyncing() ? "connected, zebra replaying its table" : "connected";
    h.since_s = since(connected_at_);
  } else {
    h.state = ServiceHealth::State::Degraded;
    h.detail = std::string(connections_ ? "zebra is away" : "waiting for zebra") + " (listening on " + cfg_.listen +
               "): the FIB keeps its last routes";
    if (connections_) h.peer = "zebra " + peer_;
    h.since_s = since(connections_ ? disconnected_at_ : started_at_);
  }
  return h;
}

nlohmann::json FibControl::status() const {
  const FpmCounters& c = decoder_.counters();
  nlohmann::json s;
  s["configured"] = configured_;
  s["listen"] = cfg_.listen;
  if (!configured_) s["state"] = "not configured";
  else if (!io_) s["state"] = "not started";
  else if (!listen_error_.empty()) s["state"] = "error";
  else if (cfg_.listen == FibConfig::kNoListen) s["state"] = "no fpm";
  else s["state"] = conn_ ? "connected" : "listening";
  if (!listen_error_.empty()) s["error"] = listen_error_;
  s["port"] = bound_port_;
  s["peer"] = conn_ ? nlohmann::json(peer_) : nlohmann::json(nullptr);
  s["connections"] = connections_;
  s["connections_replaced"] = replaced_;
  s["disconnects"] = disconnects_;
  if (!last_disconnect_.empty()) s["last_disconnect"] = last_disconnect_;
  s["resyncing"] = rib_.resyncing();
  if (rib_.resyncing()) {
    nlohmann::json w = nlohmann::json::array(), d = nlohmann::json::array();
    for (uint8_t p : waiting_) w.push_back(protocol_name(p));
    for (uint8_t p : done_) d.push_back(protocol_name(p));
    s["replay"] = {{"waiting_for", w}, {"done", d}};
  }
  s["resyncs"] = resyncs_;
  if (last_resync_)
    s["last_resync"] = {{"ended_by", last_resync_->ended_by}, {"withdrawn", last_resync_->withdrawn},
                        {"messages", last_resync_->messages}, {"seconds", last_resync_->seconds}};
  s["fpm"] = {{"bytes", c.bytes},
              {"frames", c.frames},
              {"messages", c.messages},
              {"messages_by_type",
               {{"new_route", c.new_route},
                {"del_route", c.del_route},
                {"new_nexthop", c.new_nexthop},
                {"del_nexthop", c.del_nexthop},
                {"other", c.other_messages}}},
              {"errors",
               {{"framing", c.framing_errors},
                {"message", c.message_errors},
                {"truncated", c.truncated_frames},
                {"unknown_attributes", c.unknown_attributes}}}};
  // O(1): routerctl and monitoring poll this while a full table loads.
  s["rib"] = {{"routes", rib_.route_count()}, {"nexthop_objects", rib_.nexthop_count()},
              {"resolved", rib_.resolved().size()}};
  const FibCounters& f = fib_.counters();
  s["routes"] = fib_.routes4() + fib_.routes6();
  s["fib"] = {{"routes_ipv4", fib_.routes4()},
              {"routes_ipv6", fib_.routes6()},
              {"nexthop_entries", fib_.entries_used()},
              {"tables", fib_.table_ids()},
              {"refused",
               {{"total", refused_},
                {"table_full", f.table_full},
                {"nexthops_full", f.nexthops_full},
                {"tables_full", f.tables_full},
                {"alloc_failed", f.alloc_failed}}},
              {"ecmp_members_ignored", members_dropped_},
              {"ignored", {{"link_local", ignored_link_local_}}},
              {"commits", f.commits}};
  s["interfaces"] = nlohmann::json::array();
  for (const auto& i : cfg_.interfaces) {
    uint32_t idx = i.ifindex ? i.ifindex : (i.ifname.empty() ? 0 : if_nametoindex(i.ifname.c_str()));
    s["interfaces"].push_back({{"ifindex", idx}, {"ifname", i.ifname}, {"output", i.output}, {"mac", i.mac.str()}});
  }
  return s;
}

}  // namespace weft::route

#include "control/svp_control.hpp"

#include <rte_rcu_qsbr.h>

#include <algorithm>

#include "weft/clock.hpp"
#include "weft/log.hpp"

namespace weft::svp {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

fields::Underlay underlay_of(const Addr& a, uint16_t port) {
  fields::Underlay u{};
  const IpAddr ip = from_wire(a);
  u.family = ip.version;
  std::memcpy(u.addr, ip.data(), ip.size());
  u.udp_port = port;
  u.has_mac = 0;
  return u;
}

// A VNI given as a JSON number or as decimal text (`routerctl service ... vni=100`).
constexpr uint32_t kNoVni = UINT32_MAX;
uint32_t vni_of(const nlohmann::json& v) {
  uint64_t n = kNoVni;
  if (v.is_number_unsigned()) n = v.get<uint64_t>();
  else if (v.is_string() && !v.get<std::string>().empty() && v.get<std::string>().size() <= 8 &&
           v.get<std::string>().find_first_not_of("0123456789") == std::string::npos)
    n = std::stoull(v.get<std::string>());
  return n <= 0xffffff ? static_cast<uint32_t>(n) : kNoVni;
}

std::string underlay_text(const fields::Underlay& u) {
  if (u.family == 4) return Ip4::of(u.addr).str() + ":" + std::to_string(u.udp_port);
  return "[" + Ip6::of(u.addr).str() + "]:" + std::to_string(u.udp_port);
}

}  // namespace

SvpControl::SvpControl(rte_rcu_qsbr* rcu, int socket) : rcu_(rcu), socket_(socket), handle_(socket) {
  handle_.set_refresh_gap(weft::Clock::ns_of_seconds(cfg_.refresh_retry_s));
}

SvpControl::~SvpControl() {
  stop();  // pending callbacks find us gone
  handle_.publish(nullptr);
}

double SvpControl::now_s() const { return std::chrono::duration<double>(Clock::now() - epoch_).count(); }

void SvpControl::rebuild_cache(size_t capacity) {
  auto fresh = std::make_unique<OverlayCache>(capacity, rcu_, socket_);
  handle_.publish(fresh.get());
  if (owned_) {
    if (rcu_) retired_.push_back({rte_rcu_qsbr_start(rcu_), std::move(owned_)});
    // Without RCU there are no concurrent readers: the old one can go now.
  }
  owned_ = std::move(fresh);
}

void SvpControl::configure(const SvpConfig& c) {
  if (configured_ && c == cfg_) return;
  const bool first = !configured_;
  const SvpConfig old = cfg_;
  cfg_ = c;
  configured_ = true;
  handle_.set_refresh_gap(weft::Clock::ns_of_seconds(c.refresh_retry_s));
  if (first || c.max_entries != old.max_entries) {
    if (!first) WEFT_LOG(Notice, "SVP: max_entries %u -> %u: the overlay cache starts empty", old.max_entries, c.max_entries);
    rebuild_cache(c.max_entries);
  }
  if (client_) client_->reconfigure(c.client);
  if (io_ && c.log_ip && (!old.log_ip || first)) arm_log(0);
}

uint64_t SvpControl::subscribe(std::function<void(const CacheKey&)> f) {
  subscribers_.emplace_back(next_sub_, std::move(f));
  return next_sub_++;
}

void SvpControl::unsubscribe(uint64_t subscription) {
  subscribers_.remove_if([subscription](const auto& s) { return s.first == subscription; });
}

// ---------------------------------------------------------------------------
// Control thread
// ---------------------------------------------------------------------------

void SvpControl::start(asio::io_context& io) {
  io_ = &io;
  poll_timer_.emplace(io);
  log_timer_.emplace(io);
  client_ = std::make_shared<SvpClient>(io, cfg_.client);
  auto self = weak_from_this();
  client_->on_shootdown = [self, this](const Shootdown& sd) {
    if (!self.lock()) return;
    c_.shootdowns++;
    invalidate(CacheKey::vl2(sd.mac.data(), sd.vnetid), "shootdown");
  };
  client_->on_state = [self, this](bool up) {
    if (!self.lock()) return;
    if (up) WEFT_LOG(Notice, "SVP: Portolan session up (%s)", client_->server().c_str());
    else
      WEFT_LOG(Warning, "SVP: Portolan session down; forwarding continues from the overlay cache (%zu entries)",
               owned_ ? owned_->size() : size_t{0});
    if (up && cfg_.log_ip && !log_running_) arm_log(0);
  };
  client_->start();
  // Questions asked before the start go out now.
  for (const auto& [k, p] : pending_) ask_server(k);
  arm_poll();
  if (cfg_.log_ip) arm_log(0);
}

void SvpControl::stop() {
  if (client_) client_->stop();
  client_.reset();
  if (poll_timer_) poll_timer_->cancel();
  if (log_timer_) log_timer_->cancel();
  poll_timer_.reset();
  log_timer_.reset();
  log_running_ = false;
  io_ = nullptr;
}

void SvpControl::arm_poll() {
  poll_timer_->expires_after(std::chrono::milliseconds(1));
  auto self = weak_from_this();
  poll_timer_->async_wait([self, this](boost::system::error_code e) {
    auto keep = self.lock();
    if (!keep || e) return;
    drain_requests();
    if (owned_ && owned_->reclaim_pending()) owned_->reclaim();
    std::erase_if(retired_, [&](const Retired& r) { return rte_rcu_qsbr_check(rcu_, r.token, false) == 1; });
    arm_poll();
  });
}

void SvpControl::drain_requests() {
  CacheKey keys[64];
  unsigned n;
  while ((n = handle_.take_requests(keys, 64)) > 0) {
    for (unsigned i = 0; i < n; i++) {
      c_.asked++;
      if (pending_.count(keys[i])) {
        c_.deduplicated++;
        continue;
      }
      pending_[keys[i]].since = Clock::now();
      ask_server(keys[i]);
    }
  }
}

void SvpControl::resolve(const CacheKey& k, std::function<void(const Resolution&)> done) {
  if (owned_) {
    if (const CacheEntry* e = owned_->lookup(k); e && !e->expired(weft::Clock::now_ns())) {
      Resolution r;
      r.kind = e->state == CacheEntry::kResolved ? Resolution::Resolved : Resolution::NotFound;
      r.mac = Mac::of(e->mac);
      r.underlay = e->underlay;
      if (done) done(r);
      return;
    }
  }
  auto [it, fresh] = pending_.try_emplace(k);
  if (done) it->second.waiters.push_back(std::move(done));
  if (!fresh) {
    c_.deduplicated++;
    return;
  }
  it->second.since = Clock::now();
  ask_server(k);
}

void SvpControl::ask_server(const CacheKey& k) {
  if (!client_) return;  // asked again by start()
  auto self = weak_from_this();
  if (k.kind == static_cast<uint8_t>(KeyKind::Vl2)) {
    Vl2Req q;
    q.mac = k.mac();
    q.vnetid = k.vni;
    client_->vl2(q, [self, this, k](Outcome o, const Vl2Ack& a) {
      if (!self.lock()) return;
      Resolution r;
      if (o != Outcome::Reply) {
        r.why = to_string(o);
      } else if (a.status == kOk) {
        r.kind = Resolution::Resolved;
        r.underlay = underlay_of(a.addr, a.port);
      } else if (a.status == kNotFound) {
        r.kind = Resolution::NotFound;
      } else {
        r.why = "status " + status_name(a.status);
      }
      answered(k, r);
    });
    return;
  }
  Vl3Req q;
  std::memcpy(q.ip.data(), k.addr, 16);
  q.type = is_mapped_v4(q.ip) ? kVl3Ip : kVl3Ipv6;
  q.vnetid = k.vni;
  client_->vl3(q, [self, this, k](Outcome o, const Vl3Ack& a) {
    if (!self.lock()) return;
    Resolution r;
    if (o != Outcome::Reply) {
      r.why = to_string(o);
    } else if (a.status == kOk) {
      r.kind = Resolution::Resolved;
      r.mac = a.mac;
      r.underlay = underlay_of(a.addr, a.port);
    } else if (a.status == kNotFound) {
      r.kind = Resolution::NotFound;
    } else {
      r.why = "status " + status_name(a.status);
    }
    answered(k, r);
  });
}

void SvpControl::answered(const CacheKey& k, const Resolution& r) {
  const uint64_t now = weft::Clock::now_ns();
  if (r.kind == Resolution::Resolved) {
    c_.resolved++;
    CacheEntry e;
    e.state = CacheEntry::kResolved;
    std::memcpy(e.mac, r.mac.data(), 6);
    e.underlay = r.underlay;
    e.expires_ns = now + weft::Clock::ns_of_seconds(cfg_.ttl_s);
    e.retry_ns.store(e.expires_ns, std::memory_order_relaxed);
    e.learned_at = now_s();
    store(k, e);
    // A VL3 answer names the MAC's underlay too.
    if (k.kind == static_cast<uint8_t>(KeyKind::Vl3)) store(CacheKey::vl2(r.mac.data(), k.vni), e);
  } else if (r.kind == Resolution::NotFound) {
    c_.notfound++;
    CacheEntry e;
    e.state = CacheEntry::kNegative;
    e.expires_ns = now + weft::Clock::ns_of_seconds(cfg_.negative_ttl_s);
    e.retry_ns.store(e.expires_ns, std::memory_order_relaxed);
    e.learned_at = now_s();
    store(k, e);
  } else {
    c_.failed++;
    if (r.why == "timeout") c_.timeouts++;
  }
  auto it = pending_.find(k);
  if (it == pending_.end()) return;
  auto waiters = std::move(it->second.waiters);
  pending_.erase(it);
  for (auto& w : waiters) w(r);
}

bool SvpControl::store(const CacheKey& k, const CacheEntry& e) {
  if (owned_->put(k, e)) return true;
  make_room();
  if (owned_->put(k, e)) return true;
  c_.cache_full++;
  return false;
}

// Full: first the expired negative entries go, then the oldest one.
void SvpControl::make_room() {
  const uint64_t now = weft::Clock::now_ns();
  std::vector<CacheKey> drop;
  std::optional<CacheKey> oldest;
  double oldest_at = 0;
  owned_->for_each([&](const CacheKey& k, const CacheEntry& e) {
    if (e.state == CacheEntry::kNegative && e.expired(now)) drop.push_back(k);
    if (!oldest || e.learned_at < oldest_at) {
      oldest = k;
      oldest_at = e.learned_at;
    }
  });
  if (drop.empty() && oldest) drop.push_back(*oldest);
  for (const auto& k : drop) {
    owned_->erase(k);
    c_.evicted++;
  }
}

void SvpControl::invalidate(const CacheKey& k, const char* why) {
  std::vector<CacheKey> gone{k};
  if (k.kind == static_cast<uint8_t>(KeyKind::Vl2)) {
    owned_->for_each([&](const CacheKey& x, const CacheEntry& e) {
      if (x.kind == static_cast<uint8_t>(KeyKind::Vl3) && x.vni == k.vni && e.state == CacheEntry::kResolved &&
          std::memcmp(e.mac, k.addr, 6) == 0)
        gone.push_back(x);
    });
  }
  for (const auto& x : gone) {
    if (owned_->erase(x)) c_.invalidated++;
    WEFT_LOG(Info, "SVP: %s dropped (%s)", x.text().c_str(), why);
  }
  for (const auto& x : gone)
    for (auto& [h, f] : subscribers_) f(x);
}

// --- the change log ------------------------------------------------------------

void SvpControl::arm_log(double seconds) {
  if (!log_timer_) return;
  log_timer_->expires_after(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds)));
  auto self = weak_from_this();
  log_timer_->async_wait([self, this](boost::system::error_code e) {
    auto keep = self.lock();
    if (!keep || e) return;
    poll_log();
  });
}

void SvpControl::poll_log() {
  if (!cfg_.log_ip || log_running_ || !client_) return;
  if (!client_->up()) {
    arm_log(cfg_.log_interval_s);
    return;
  }
  log_running_ = true;
  c_.log_polls++;
  auto self = weak_from_this();
  auto give_up = [this](const std::string& why) {
    c_.log_errors++;
    last_log_error_ = why;
    log_running_ = false;
    arm_log(cfg_.log_interval_s);
  };
  client_->log(LogReq{cfg_.log_bytes, to_wire(*cfg_.log_ip)}, [self, this, give_up](Outcome o, const LogAck& a) {
    if (!self.lock()) return;
    if (o != Outcome::Reply) return give_up(std::string("LOG_REQ: ") + to_string(o));
    if (a.status != kOk) return give_up("LOG_REQ: status " + status_name(a.status));
    if (a.records.empty()) {
      log_running_ = false;
      arm_log(cfg_.log_interval_s);
      return;
    }
    LogRm rm;
    for (const auto& r : a.records) {
      if (r.type == kLogVl2) invalidate(CacheKey::vl2(r.mac.data(), r.vnetid), "change log");
      else invalidate(CacheKey::vl3(r.ip.data(), r.vnetid), "change log");
      rm.ids.push_back(r.id);
    }
    c_.log_records += a.records.size();
    const size_t n = rm.ids.size();
    client_->log_rm(rm, [self, this, give_up, n](Outcome o2, const LogRmAck& ack) {
      if (!self.lock()) return;
      if (o2 != Outcome::Reply) return give_up(std::string("LOG_RM: ") + to_string(o2));
      if (ack.status != kOk) return give_up("LOG_RM: status " + status_name(ack.status));
      c_.log_removed += n;
      log_running_ = false;
      arm_log(0);  // more may be waiting
    });
  });
}

// ---------------------------------------------------------------------------
// routerctl
// ---------------------------------------------------------------------------

nlohmann::json SvpControl::entry_json(const CacheKey& k, const CacheEntry& e) const {
  const uint64_t now = weft::Clock::now_ns();
  nlohmann::json j;
  j["kind"] = k.kind == static_cast<uint8_t>(KeyKind::Vl2) ? "vl2" : "vl3";
  j["key"] = k.text();
  j["vni"] = k.vni;
  j["state"] = e.state == CacheEntry::kResolved ? "resolved" : "notfound";
  if (e.state == CacheEntry::kResolved) {
    if (k.kind == static_cast<uint8_t>(KeyKind::Vl3)) j["mac"] = Mac::of(e.mac).str();
    j["underlay"] = underlay_text(e.underlay);
  }
  j["age_s"] = now_s() - e.learned_at;
  j["ttl_left_s"] = e.expired(now) ? 0.0 : static_cast<double>(e.expires_ns - now) / 1e9;
  j["expired"] = e.expired(now);
  return j;
}

nlohmann::json SvpControl::cache_entries(const nlohmann::json& args) const {
  std::string want;
  if (args.is_object() && args.contains("kind") && args["kind"].is_string()) want = args["kind"].get<std::string>();
  if (!want.empty() && want != "vl2" && want != "vl3") throw std::invalid_argument("cache: kind is vl2 or vl3");
  std::vector<std::pair<std::string, nlohmann::json>> rows;
  if (owned_)
    owned_->for_each([&](const CacheKey& k, const CacheEntry& e) {
      nlohmann::json j = entry_json(k, e);
      if (want.empty() || j["kind"] == want) rows.emplace_back(k.text(), j);
    });
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  nlohmann::json out = nlohmann::json::array();
  for (auto& r : rows) out.push_back(std::move(r.second));
  return {{"entries", out}};
}

nlohmann::json SvpControl::pending() const {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [k, p] : pending_)
    out.push_back({{"key", k.text()},
                   {"age_s", std::chrono::duration<double>(Clock::now() - p.since).count()},
                   {"waiters", p.waiters.size()}});
  return {{"pending", out}};
}

nlohmann::json SvpControl::flush() {
  size_t n = owned_ ? owned_->size() : 0;
  if (owned_) owned_->clear();
  return {{"flushed", n}};
}

nlohmann::json SvpControl::lookup(const nlohmann::json& args) {
  const uint32_t vni = args.is_object() && args.contains("vni") ? vni_of(args["vni"]) : kNoVni;
  if (vni == kNoVni) throw std::invalid_argument("lookup: expected {\"mac\": MAC or \"ip\": ADDRESS, \"vni\": N}");
  CacheKey k;
  if (args.contains("mac") && args["mac"].is_string()) {
    auto m = Mac::parse(args["mac"].get<std::string>());
    if (!m) throw std::invalid_argument("lookup: bad mac");
    k = CacheKey::vl2(m->data(), vni);
  } else if (args.contains("ip") && args["ip"].is_string()) {
    auto a = IpAddr::parse(args["ip"].get<std::string>());
    if (!a) throw std::invalid_argument("lookup: bad ip");
    k = CacheKey::vl3(*a, vni);
  } else {
    throw std::invalid_argument("lookup: expected mac or ip");
  }
  if (owned_) owned_->erase(k);  // ask again even if cached
  resolve(k, nullptr);
  return {{"asked", k.text()}};
}

nlohmann::json SvpControl::bulk(const nlohmann::json& args) {
  uint32_t type = kBulkVl2;
  if (args.is_object() && args.contains("type")) {
    const auto& t = args["type"];
    if (t == "vl2") type = kBulkVl2;
    else if (t == "vl3") type = kBulkVl3;
    else if (t.is_number_unsigned()) type = t.get<uint32_t>();
    else if (t.is_string() && !t.get<std::string>().empty() && t.get<std::string>().size() <= 9 &&
             t.get<std::string>().find_first_not_of("0123456789") == std::string::npos)
      type = static_cast<uint32_t>(std::stoul(t.get<std::string>()));
    else throw std::invalid_argument("bulk: type is vl2, vl3 or a number");
  }
  if (!client_) throw std::invalid_argument("bulk: the SVP client is not running");
  auto self = weak_from_this();
  client_->bulk(BulkReq{type}, [self, this, type](Outcome o, const BulkAck& a) {
    if (!self.lock()) return;
    last_bulk_ = {{"type", type}, {"outcome", to_string(o)}};
    if (o == Outcome::Reply) {
      last_bulk_["status"] = status_name(a.status);
      last_bulk_["supported"] = a.status == kOk;
      last_bulk_["bytes"] = a.data.size();
      if (a.status != kOk)
        WEFT_LOG(Notice, "SVP: the server does not support BULK type %u (%s)", type, status_name(a.status).c_str());
    }
  });
  return {{"asked", "bulk type " + std::to_string(type)}};
}

ServiceHealth SvpControl::health() const {
  ServiceHealth h;
  if (!configured_ || !client_) {
    h.detail = configured_ ? "not started" : "not configured";
    return h;
  }
  const ClientCounters& c = client_->counters();
  h.errors = c.bad_crc + c.bad_version + c.bad_size + c.unknown_op + c.unsolicited_id + c.too_large + c.truncated +
             c.connect_failures + c.disconnects + c.stalls;
  h.last_error = client_->last_error();
  h.peer = "Portolan " + client_->server();
  h.since_s = client_->state_seconds();
  if (client_->up()) {
    h.detail = "session up";
  } else {
    h.state = ServiceHealth::State::Degraded;
    h.detail = std::string("no session (") + to_string(client_->state()) +
               "): the overlay cache keeps forwarding, new destinations wait";
  }
  return h;
}

nlohmann::json SvpControl::status() const {
  nlohmann::json s;
  s["configured"] = configured_;
  if (!configured_) s["state"] = "not configured";
  else if (!client_) s["state"] = "not started";
  else s["state"] = client_->up() ? "up" : std::string(to_string(client_->state()));
  s["portolan"] = client_ ? client_->status() : nlohmann::json(nullptr);
  size_t vl2 = 0, vl3 = 0, neg = 0, expired = 0;
  const uint64_t now = weft::Clock::now_ns();
  if (owned_)
    owned_->for_each([&](const CacheKey& k, const CacheEntry& e) {
      (k.kind == static_cast<uint8_t>(KeyKind::Vl2) ? vl2 : vl3)++;
      if (e.state == CacheEntry::kNegative) neg++;
      if (e.expired(now)) expired++;
    });
  s["cache"] = {{"entries", owned_ ? owned_->size() : 0},
                {"capacity", cfg_.max_entries},
                {"vl2", vl2},
                {"vl3", vl3},
                {"negative", neg},
                {"expired", expired},
                {"ttl_s", cfg_.ttl_s},
                {"negative_ttl_s", cfg_.negative_ttl_s}};
  s["pending"] = pending_.size();
  s["counters"] = {{"asked", c_.asked},
                   {"deduplicated", c_.deduplicated},
                   {"resolved", c_.resolved},
                   {"notfound", c_.notfound},
                   {"failed", c_.failed},
                   {"timeouts", c_.timeouts},
                   {"evicted", c_.evicted},
                   {"cache_full", c_.cache_full},
                   {"shootdowns", c_.shootdowns},
                   {"invalidated", c_.invalidated}};
  s["log"] = {{"enabled", cfg_.log_ip.has_value()},
              {"ip", cfg_.log_ip ? cfg_.log_ip->str() : ""},
              {"interval_s", cfg_.log_interval_s},
              {"polls", c_.log_polls},
              {"records", c_.log_records},
              {"removed", c_.log_removed},
              {"errors", c_.log_errors}};
  if (!last_log_error_.empty()) s["log"]["last_error"] = last_log_error_;
  if (!last_bulk_.is_null()) s["bulk"] = last_bulk_;
  return s;
}

}  // namespace weft::svp

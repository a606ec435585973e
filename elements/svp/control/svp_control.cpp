#include "control/svp_control.hpp"

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "weft/log.hpp"

namespace weft::svp {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

constexpr unsigned kRingSize = 4096;

fields::Underlay underlay_of(const Addr& a, uint16_t port) {
  fields::Underlay u{};
  if (is_mapped_v4(a)) {
    u.family = 4;
    std::memcpy(u.addr, &a[12], 4);
  } else {
    u.family = 6;
    std::memcpy(u.addr, a.data(), 16);
  }
  u.udp_port = port;
  u.has_mac = 0;
  return u;
}

std::string underlay_text(const fields::Underlay& u) {
  Addr a{};
  if (u.family == 4) a = mapped_v4(u.addr);
  else std::memcpy(a.data(), u.addr, 16);
  std::string t = addr_text(a);
  if (u.family == 6) t = "[" + t + "]";
  return t + ":" + std::to_string(u.udp_port);
}

}  // namespace

SvpService::SvpService(rte_rcu_qsbr* rcu, int socket) : rcu_(rcu), socket_(socket) {
  static std::atomic<unsigned> serial{0};
  char name[RTE_RING_NAMESIZE];
  std::snprintf(name, sizeof name, "svpq%d_%u", static_cast<int>(getpid() % 100000), serial++);
  requests_ = rte_ring_create_elem(name, sizeof(CacheKey), kRingSize, socket < 0 ? SOCKET_ID_ANY : socket,
                                   RING_F_SC_DEQ);
  if (!requests_) throw std::runtime_error(std::string("cannot create the SVP request ring: ") + rte_strerror(rte_errno));
  tsc_hz_ = rte_get_tsc_hz();
  refresh_gap_ = ttl_cycles(cfg_.refresh_retry_s);
}

SvpService::~SvpService() {
  if (client_) client_->stop();  // pending callbacks find us gone
  cache_.store(nullptr);
  rte_ring_free(requests_);
}

uint64_t SvpService::ttl_cycles(double s) const { return static_cast<uint64_t>(s * static_cast<double>(tsc_hz_)); }

double SvpService::now_s() const { return std::chrono::duration<double>(Clock::now() - epoch_).count(); }

void SvpService::rebuild_cache(size_t capacity) {
  auto fresh = std::make_unique<OverlayCache>(capacity, rcu_, socket_);
  cache_.store(fresh.get(), std::memory_order_release);
  if (owned_) {
    if (rcu_) retired_.push_back({rte_rcu_qsbr_start(rcu_), std::move(owned_)});
    // Without RCU there are no concurrent readers: the old one can go now.
  }
  owned_ = std::move(fresh);
}

void SvpService::configure(const SvpConfig& c) {
  if (configured_ && c == cfg_) return;
  const bool first = !configured_;
  const SvpConfig old = cfg_;
  cfg_ = c;
  configured_ = true;
  refresh_gap_ = ttl_cycles(c.refresh_retry_s);
  if (first || c.max_entries != old.max_entries) {
    if (!first) WEFT_LOG(Notice, "SVP: max_entries %u -> %u: the overlay cache starts empty", old.max_entries, c.max_entries);
    rebuild_cache(c.max_entries);
  }
  if (client_) client_->reconfigure(c.client);
  if (io_ && c.log_ip && (!old.log_ip || first)) arm_log(0);
}

bool SvpService::ask(const CacheKey& k) { return rte_ring_mp_enqueue_elem(requests_, const_cast<CacheKey*>(&k), sizeof k) == 0; }

uint64_t SvpService::subscribe(std::function<void(const CacheKey&)> f) {
  subscribers_.emplace_back(next_sub_, std::move(f));
  return next_sub_++;
}

void SvpService::unsubscribe(uint64_t h) {
  subscribers_.remove_if([h](const auto& s) { return s.first == h; });
}

// ---------------------------------------------------------------------------
// Control thread
// ---------------------------------------------------------------------------

void SvpService::start(asio::io_context& io) {
  io_ = &io;
  poll_timer_.emplace(io);
  log_timer_.emplace(io);
  if (!configured_) {
    WEFT_LOG(Warning, "SVP service started without an Svp element configuring it: no Portolan, misses are dropped");
    return;
  }
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

void SvpService::arm_poll() {
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

void SvpService::drain_requests() {
  CacheKey keys[64];
  unsigned n;
  while ((n = rte_ring_sc_dequeue_burst_elem(requests_, keys, sizeof(CacheKey), 64, nullptr)) > 0) {
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

void SvpService::resolve(const CacheKey& k, std::function<void(const Resolution&)> done) {
  if (owned_) {
    if (const CacheEntry* e = owned_->lookup(k); e && !e->expired(rte_get_tsc_cycles())) {
      Resolution r;
      r.kind = e->state == CacheEntry::kResolved ? Resolution::Resolved : Resolution::NotFound;
      std::memcpy(r.mac.data(), e->mac, 6);
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

void SvpService::ask_server(const CacheKey& k) {
  if (!client_) return;  // asked again by start()
  auto self = weak_from_this();
  if (k.kind == static_cast<uint8_t>(KeyKind::Vl2)) {
    Vl2Req q;
    std::memcpy(q.mac.data(), k.addr, 6);
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

void SvpService::answered(const CacheKey& k, const Resolution& r) {
  const uint64_t now = rte_get_tsc_cycles();
  if (r.kind == Resolution::Resolved) {
    c_.resolved++;
    CacheEntry e;
    e.state = CacheEntry::kResolved;
    std::memcpy(e.mac, r.mac.data(), 6);
    e.underlay = r.underlay;
    e.expires_tsc = now + ttl_cycles(cfg_.ttl_s);
    e.retry_tsc.store(e.expires_tsc, std::memory_order_relaxed);
    e.learned_at = now_s();
    store(k, e);
    // A VL3 answer names the MAC's underlay too.
    if (k.kind == static_cast<uint8_t>(KeyKind::Vl3)) store(CacheKey::vl2(r.mac.data(), k.vni), e);
  } else if (r.kind == Resolution::NotFound) {
    c_.notfound++;
    CacheEntry e;
    e.state = CacheEntry::kNotFound;
    e.expires_tsc = now + ttl_cycles(cfg_.negative_ttl_s);
    e.retry_tsc.store(e.expires_tsc, std::memory_order_relaxed);
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

bool SvpService::store(const CacheKey& k, const CacheEntry& e) {
  if (owned_->put(k, e)) return true;
  make_room();
  if (owned_->put(k, e)) return true;
  c_.cache_full++;
  return false;
}

// Full: first the expired negative entries go, then the oldest one.
void SvpService::make_room() {
  const uint64_t now = rte_get_tsc_cycles();
  std::vector<CacheKey> drop;
  std::optional<CacheKey> oldest;
  double oldest_at = 0;
  owned_->for_each([&](const CacheKey& k, const CacheEntry& e) {
    if (e.state == CacheEntry::kNotFound && e.expired(now)) drop.push_back(k);
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

void SvpService::invalidate(const CacheKey& k, const char* why) {
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

void SvpService::arm_log(double seconds) {
  if (!log_timer_) return;
  log_timer_->expires_after(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds)));
  auto self = weak_from_this();
  log_timer_->async_wait([self, this](boost::system::error_code e) {
    auto keep = self.lock();
    if (!keep || e) return;
    poll_log();
  });
}

void SvpService::poll_log() {
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
  client_->log(LogReq{cfg_.log_bytes, *cfg_.log_ip}, [self, this, give_up](Outcome o, const LogAck& a) {
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

nlohmann::json SvpService::entry_json(const CacheKey& k, const CacheEntry& e) const {
  const uint64_t now = rte_get_tsc_cycles();
  nlohmann::json j;
  j["kind"] = k.kind == static_cast<uint8_t>(KeyKind::Vl2) ? "vl2" : "vl3";
  j["key"] = k.text();
  j["vni"] = k.vni;
  j["state"] = e.state == CacheEntry::kResolved ? "resolved" : "notfound";
  if (e.state == CacheEntry::kResolved) {
    if (k.kind == static_cast<uint8_t>(KeyKind::Vl3)) {
      Mac m;
      std::memcpy(m.data(), e.mac, 6);
      j["mac"] = mac_text(m);
    }
    j["underlay"] = underlay_text(e.underlay);
  }
  j["age_s"] = now_s() - e.learned_at;
  j["ttl_left_s"] = e.expired(now) ? 0.0 : static_cast<double>(e.expires_tsc - now) / static_cast<double>(tsc_hz_);
  j["expired"] = e.expired(now);
  return j;
}

nlohmann::json SvpService::command(const std::string& cmd, const nlohmann::json& args) {
  if (cmd == "status") return status();
  if (cmd == "cache") {
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
  if (cmd == "pending") {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& [k, p] : pending_)
      out.push_back({{"key", k.text()},
                     {"age_s", std::chrono::duration<double>(Clock::now() - p.since).count()},
                     {"waiters", p.waiters.size()}});
    return {{"pending", out}};
  }
  if (cmd == "flush") {
    size_t n = owned_ ? owned_->size() : 0;
    if (owned_) owned_->clear();
    return {{"flushed", n}};
  }
  if (cmd == "lookup") {
    if (!args.is_object() || !args.contains("vni") || !args["vni"].is_number_unsigned())
      throw std::invalid_argument("lookup: expected {\"mac\": MAC or \"ip\": ADDRESS, \"vni\": N}");
    const uint32_t vni = args["vni"].get<uint32_t>();
    CacheKey k;
    if (args.contains("mac") && args["mac"].is_string()) {
      Mac m;
      if (!parse_mac(args["mac"].get<std::string>(), m)) throw std::invalid_argument("lookup: bad mac");
      k = CacheKey::vl2(m.data(), vni);
    } else if (args.contains("ip") && args["ip"].is_string()) {
      Addr a;
      if (!parse_addr(args["ip"].get<std::string>(), a)) throw std::invalid_argument("lookup: bad ip");
      k = CacheKey::vl3(a.data(), vni);
    } else {
      throw std::invalid_argument("lookup: expected mac or ip");
    }
    if (owned_) owned_->erase(k);  // ask again even if cached
    resolve(k, nullptr);
    return {{"asked", k.text()}};
  }
  if (cmd == "bulk") {
    uint32_t type = kBulkVl2;
    if (args.is_object() && args.contains("type")) {
      const auto& t = args["type"];
      if (t == "vl2") type = kBulkVl2;
      else if (t == "vl3") type = kBulkVl3;
      else if (t.is_number_unsigned()) type = t.get<uint32_t>();
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
  throw std::invalid_argument("unknown command '" + cmd + "' (commands: status, cache, pending, flush, lookup, bulk)");
}

nlohmann::json SvpService::status() const {
  nlohmann::json s;
  s["configured"] = configured_;
  if (!configured_) s["state"] = "not configured (no Svp element)";
  else if (!client_) s["state"] = "not started";
  else s["state"] = client_->up() ? "up" : std::string(to_string(client_->state()));
  s["portolan"] = client_ ? client_->status() : nlohmann::json(nullptr);
  size_t vl2 = 0, vl3 = 0, neg = 0, expired = 0;
  const uint64_t now = rte_get_tsc_cycles();
  if (owned_)
    owned_->for_each([&](const CacheKey& k, const CacheEntry& e) {
      (k.kind == static_cast<uint8_t>(KeyKind::Vl2) ? vl2 : vl3)++;
      if (e.state == CacheEntry::kNotFound) neg++;
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
              {"ip", cfg_.log_ip ? addr_text(*cfg_.log_ip) : ""},
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

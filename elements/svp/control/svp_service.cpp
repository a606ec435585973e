#include "control/svp_service.hpp"

namespace weft::svp {

namespace {

double seconds(const Params& p, const char* name, double min = 0) {
  double v = p.get<double>(name);
  if (!(v > min) || v > 86400)
    throw ConfigError(p.mark(name), std::string(name) + ": expected seconds, above " + std::to_string(min).substr(0, 4) +
                                        " and at most 86400");
  return v;
}

uint32_t count(const Params& p, const char* name, uint64_t min, uint64_t max) {
  uint64_t v = p.get<uint64_t>(name);
  if (v < min || v > max)
    throw ConfigError(p.mark(name), std::string(name) + ": expected " + std::to_string(min) + ".." + std::to_string(max));
  return static_cast<uint32_t>(v);
}

}  // namespace

const ServiceClass& SvpService::klass() {
  static const ServiceClass k =
      ServiceClass::make<SvpService>("Svp")
          .describe("Portolan over SVP: the client and the overlay cache SvpResolver elements and NeighborSink "
                    "services use.",
                    "On the control thread it keeps one SVP v1 session to the first Portolan server of `servers` "
                    "that answers (failing over to the next, reconnecting with backoff), asks it for the overlay "
                    "destinations workers and NeighborSink miss, pipelined, and keeps the answers in an overlay "
                    "cache every worker reads lock-free: VL2 (MAC, VNI) -> underlay IP and port, VL3 (IP, VNI) -> "
                    "MAC and underlay. Answers live `ttl` seconds, NOTFOUND `negative_ttl`; SHOOTDOWN and, with "
                    "`log_ip`, Portolan's change log drop entries. When Portolan is down the router keeps "
                    "forwarding with what the cache holds. A reload keeping the service keeps the cache and the "
                    "connection. `routerctl overlay` shows the cache, the pending lookups and the connection. See "
                    "docs/overlay.md.")
          .required("servers", ParamType::List, "Portolan servers [\"ADDR:PORT\", ...] in order of preference")
          .param("timeout", ParamType::Double, "2", "seconds before an unanswered request fails (and the server is left)")
          .param("backoff_min", ParamType::Double, "0.25", "seconds before the first reconnection round")
          .param("backoff_max", ParamType::Double, "16", "longest wait between reconnection rounds (doubling)")
          .param("keepalive", ParamType::Double, "10", "seconds of silence before a keepalive PING")
          .param("window", ParamType::UInt, "4096", "requests in flight on the connection at once (pipelining)")
          .param("ping", ParamType::Bool, "true", "use a connection only once the server answered PING with PONG")
          .param("ttl", ParamType::Double, "300", "seconds an answer is fresh (an older one is used while it is refreshed)")
          .param("negative_ttl", ParamType::Double, "10", "seconds a NOTFOUND answer is remembered")
          .param("refresh_retry", ParamType::Double, "1", "seconds between refresh requests for an expired entry")
          .param("max_entries", ParamType::UInt, "65536", "overlay cache entries (VL2 and VL3 together)")
          .param("log_ip", ParamType::Ip, "", "(optional) this node's underlay IP: poll Portolan's change log for it")
          .param("log_interval", ParamType::Double, "5", "seconds between change-log polls")
          .param("log_bytes", ParamType::UInt, "4096", "bytes of log records accepted per LOG_REQ")
          .provides<OverlayHandle>("the overlay cache SvpResolver reads and the ring it posts its misses to",
                                   [](SvpService& s) { return std::shared_ptr<OverlayHandle>(s.core_, &s.core_->handle()); })
          .provides<OverlayResolver>("lookups for the control thread (NeighborSink): cache first, then Portolan",
                                     [](SvpService& s) { return std::shared_ptr<OverlayResolver>(s.core_); })
          .command("cache", "[kind=vl2|vl3]", "the overlay cache, entry by entry",
                   [](SvpService& s, const nlohmann::json& a) { return s.core_->cache_entries(a); })
          .command("pending", "", "the lookups waiting for Portolan's answer",
                   [](SvpService& s, const nlohmann::json&) { return s.core_->pending(); })
          .command("flush", "", "empty the overlay cache",
                   [](SvpService& s, const nlohmann::json&) { return s.core_->flush(); })
          .command("lookup", "mac=MAC|ip=ADDRESS vni=N", "ask Portolan now (even if cached)",
                   [](SvpService& s, const nlohmann::json& a) { return s.core_->lookup(a); })
          .command("bulk", "[type=vl2|vl3|N]", "ask for a BULK transfer (the answer shows in the status)",
                   [](SvpService& s, const nlohmann::json& a) { return s.core_->bulk(a); })
          .metric("weft_svp_server_up", MetricType::Gauge,
                  "1 while a Portolan server answers on the SVP connection", [](const SvpService& s) {
                    return s.core_ && s.core_->client() && s.core_->client()->up();
                  })
          .metric("weft_svp_cache_entries", MetricType::Gauge,
                  "overlay cache entries by kind: vl2 (MAC, VNI), vl3 (IP, VNI); NOTFOUND answers included", {"kind"},
                  [](const SvpService& s, MetricSink& out) {
                    const nlohmann::json c = s.status().value("cache", nlohmann::json::object());
                    out.sample({"vl2"}, c.value("vl2", 0.0));
                    out.sample({"vl3"}, c.value("vl3", 0.0));
                  })
          .metric("weft_svp_cache_capacity", MetricType::Gauge, "overlay cache entries at most (max_entries)",
                  [](const SvpService& s) { return s.cfg_.max_entries; })
          .metric("weft_svp_cache_hits_total", MetricType::Counter,
                  "workers' lookups the cache answered (NOTFOUND answers included)",
                  [](const SvpService& s) { return s.core_ ? s.core_->handle().hits() : 0; })
          .metric("weft_svp_cache_misses_total", MetricType::Counter,
                  "workers' lookups the cache could not answer (the packet waits for Portolan)",
                  [](const SvpService& s) { return s.core_ ? s.core_->handle().misses() : 0; })
          .metric("weft_svp_pending", MetricType::Gauge, "lookups waiting for Portolan's answer",
                  [](const SvpService& s) { return s.status().value("pending", 0.0); })
          .metric("weft_svp_answers_total", MetricType::Counter,
                  "lookups asked of Portolan, by outcome: resolved, notfound, failed, timeout", {"result"},
                  [](const SvpService& s, MetricSink& out) {
                    if (!s.core_) return;
                    const SvpControl::Counters& c = s.core_->counters();
                    out.sample({"resolved"}, double(c.resolved));
                    out.sample({"notfound"}, double(c.notfound));
                    out.sample({"failed"}, double(c.failed));
                    out.sample({"timeout"}, double(c.timeouts));
                  })
          .metric("weft_svp_requests_total", MetricType::Counter, "lookups sent to Portolan",
                  [](const SvpService& s) { return s.core_ ? s.core_->counters().asked : 0; })
          .metric("weft_svp_cache_evictions_total", MetricType::Counter,
                  "entries dropped to make room (evicted) or refused for want of room (cache_full)", {"reason"},
                  [](const SvpService& s, MetricSink& out) {
                    if (!s.core_) return;
                    out.sample({"evicted"}, double(s.core_->counters().evicted));
                    out.sample({"cache_full"}, double(s.core_->counters().cache_full));
                  })
          .metric("weft_svp_invalidated_entries_total", MetricType::Counter,
                  "entries dropped on Portolan's word (SHOOTDOWN, the change log)",
                  [](const SvpService& s) { return s.core_ ? s.core_->counters().invalidated : 0; })
          .metric("weft_svp_shootdowns_total", MetricType::Counter, "SHOOTDOWN messages Portolan sent",
                  [](const SvpService& s) { return s.core_ ? s.core_->counters().shootdowns : 0; });
  return k;
}

SvpConfig parse_svp_config(const Params& p) {
  SvpConfig c;
  const ParamValue servers = p.value("servers");
  if (!servers.is_list() || servers.size() == 0)
    throw ConfigError(p.mark("servers"), "servers: expected a list such as [\"192.0.2.10:1296\"]");
  for (const ParamValue& s : servers.items()) {
    boost::asio::ip::tcp::endpoint ep;
    if (!s.is_scalar() || !ClientConfig::parse_server(s.text("servers"), ep))
      throw ConfigError(s.mark(), "servers: expected ADDRESS[:PORT], e.g. 192.0.2.10:1296 or [2001:db8::10]:1296");
    c.client.servers.push_back(s.text("servers"));
  }
  c.client.timeout_s = seconds(p, "timeout");
  c.client.backoff_min_s = seconds(p, "backoff_min");
  c.client.backoff_max_s = seconds(p, "backoff_max");
  if (c.client.backoff_max_s < c.client.backoff_min_s)
    throw ConfigError(p.mark("backoff_max"), "backoff_max: must not be below backoff_min");
  c.client.keepalive_s = seconds(p, "keepalive");
  c.client.window = count(p, "window", 1, 1u << 20);
  c.client.ping_on_connect = p.get<bool>("ping");
  c.ttl_s = seconds(p, "ttl");
  c.negative_ttl_s = seconds(p, "negative_ttl");
  c.refresh_retry_s = seconds(p, "refresh_retry");
  c.max_entries = count(p, "max_entries", 16, 1u << 24);
  if (p.has("log_ip")) c.log_ip = p.get<IpAddr>("log_ip");
  c.log_interval_s = seconds(p, "log_interval");
  c.log_bytes = count(p, "log_bytes", kLogAckMinSize + kLogVl3Size, kMaxPayload);
  return c;
}

void SvpService::configure(ServiceConfigContext& ctx) { cfg_ = parse_svp_config(ctx.params()); }

void SvpService::initialize(ServiceInitContext& ctx) {
  core_ = std::make_shared<SvpControl>(ctx.rcu(), ctx.socket());
  core_->configure(cfg_);
}

StateCarry SvpService::take_state(Service& old) {
  auto& from = static_cast<SvpService&>(old);
  core_ = std::move(from.core_);
  try {
    core_->configure(cfg_);
  } catch (...) {
    from.core_ = std::move(core_);
    throw;
  }
  return StateCarry::kept("the overlay cache and Portolan's connection kept");
}

void SvpService::start(boost::asio::io_context& io) {
  if (core_) core_->start(io);
}

void SvpService::stop() {
  if (core_) core_->stop();
}

nlohmann::json SvpService::status() const { return core_ ? core_->status() : nlohmann::json::object(); }

ServiceHealth SvpService::health() const { return core_ ? core_->health() : ServiceHealth{}; }

}  // namespace weft::svp

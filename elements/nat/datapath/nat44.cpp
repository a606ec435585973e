// Nat44: class description, configuration, lifecycle and handlers. The
// per-packet code is in nat44_fast_path.cpp.
#include "datapath/nat44.hpp"
#include "datapath/nat_params.hpp"
#include "tables/tcp_state.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <set>
#include <tuple>
#include <sstream>

namespace weft::nat {

const ElementClass& Nat44::klass() {
  static const ElementClass k =
      ElementClass::make<Nat44>("Nat44")
          .describe(
              "Stateful NAPT for IPv4 (TCP, UDP, ICMP echo): endpoint-independent mapping, address-and-port "
              "dependent filtering, hairpinning, ICMP error translation; one session table shared by all workers.",
              "Packets from `from_inside` get a source from `pool` (the same external address:port for every "
              "destination while the inside address:port has a session) and leave on `to_outside`; packets from "
              "`from_outside` that belong to a session (or open one through a `static` mapping) get their "
              "inside destination back and leave on `to_inside`, as do hairpinned packets (inside host to the "
              "external address of another inside host's mapping). ICMP errors about a session's packets are "
              "translated, inner headers included (RFC 5508). Checksums are updated incrementally (RFC 1624). "
              "Non-first fragments are dropped (`fragment`). Sessions expire after their protocol's idle "
              "timeout. The table is kept across reloads that keep the element with the same max_sessions, "
              "pool, port_range and static mappings. See docs/nat.md.\n"
              "Example:\n"
              "  nat:\n"
              "    class: Nat44\n"
              "    pool: [198.51.100.1, 203.0.113.0/30]\n"
              "    inside: [10.0.0.0/8]\n"
              "    static:\n"
              "      - {proto: tcp, external: \"198.51.100.1:8080\", internal: \"10.0.0.5:80\"}\n"
              "      - {external: 198.51.100.9, internal: 10.0.0.9}")
          .input("from_inside")
          .input("from_outside")
          .output("to_outside")
          .output("to_inside")
          .poll()
          .required("pool", ParamType::List, "external IPv4 addresses and/or prefixes (at most 1024 addresses)")
          .param("port_range", ParamType::String, "1024-65535",
                 "external ports (and ICMP identifiers) handed out, LO-HI; split evenly between the workers")
          .param("inside", ParamType::List, "[]", "prefixes allowed to open sessions from inside (empty: any)")
          .param("static", ParamType::List, "[]",
                 "fixed mappings: {proto: tcp|udp, external: \"A:P\", internal: \"B:Q\"} or {external: A, "
                 "internal: B} (1:1)")
          .param("tcp_established", ParamType::UInt, "7440", "idle timeout of an established TCP session (s)")
          .param("tcp_transitory", ParamType::UInt, "240",
                 "idle timeout of a TCP session being opened or closed (s)")
          .param("udp", ParamType::UInt, "300", "idle timeout of a UDP session (s)")
          .param("icmp", ParamType::UInt, "60", "idle timeout of an ICMP echo session (s)")
          .param("max_sessions", ParamType::UInt, "1048576", "sessions of all workers together")
          .param("max_sessions_per_source", ParamType::UInt, "8192", "sessions one inside address may hold")
          .drop("runt", "shorter than its Ethernet (and VLAN) header")
          .drop("not_ipv4", "not an IPv4 packet (ARP, IPv6, ...)")
          .drop("truncated_ip", "the IPv4 header or total length ends past the packet")
          .drop("bad_ip", "IP version is not 4, header length below 20, or total length below the header")
          .drop("fragment", "a non-first fragment: it carries no ports to find its session by")
          .drop("truncated_l4", "the TCP, UDP or ICMP header ends past the packet or the IP total length")
          .drop("unsupported_protocol", "neither TCP, UDP nor ICMP")
          .drop("unsupported_icmp",
                "an ICMP type that is neither echo nor a translatable error (or an error about an error)")
          .drop("truncated_icmp_inner", "an ICMP error quoting too little of its packet to find the session")
          .drop("not_inside", "a new session from a source outside the `inside` prefixes")
          .drop("no_mapping", "no session and no static mapping for it (filtered)")
          .drop("pool_exhausted", "no free external port in this worker's slice of the pool")
          .drop("source_limit", "the inside address already holds max_sessions_per_source sessions")
          .drop("table_full", "max_sessions sessions exist")
          .handler("count", true, false, "sessions now")
          .handler("tcp_sessions", true, false, "TCP sessions now")
          .handler("udp_sessions", true, false, "UDP sessions now")
          .handler("icmp_sessions", true, false, "ICMP sessions now")
          .handler("mappings", true, false, "dynamic external endpoints in use")
          .handler("created", true, false, "sessions created since the table was made")
          .handler("expired", true, false, "sessions ended by their idle timeout")
          .handler("allocation_failures", true, false, "new sessions refused for want of a port")
          .handler("memory", true, false, "bytes the session table holds")
          .handler("pool", true, false, "free ports per pool address and protocol")
          .handler("timeouts", true, false, "the idle timeouts in force (s)")
          .handler("sessions", true, false, "the first 1000 sessions matching session_filter, one a line")
          .handler("session_filter", true, true,
                   "filter for `sessions`: inside=ADDR proto=tcp|udp|icmp port=N remote=ADDR external=ADDR")
          .handler("clock", true, false, "the table's clock (s)")
          .handler("advance_clock", false, true, "moves the table's clock forward N seconds (tests)")
          .handler("clear", false, true, "ends every session");
  return k;
}

namespace {

// "A.B.C.D:PORT" → host-order address and port.
std::pair<uint32_t, uint16_t> parse_endpoint(const YAML::Node& n, const char* what) {
  const std::string s = n.IsScalar() ? n.Scalar() : "";
  auto colon = s.rfind(':');
  if (colon == std::string::npos)
    throw ConfigError(mark_of(n), std::string(what) + ": expected ADDRESS:PORT such as 198.51.100.1:8080");
  uint32_t ip = parse_ipv4(s.substr(0, colon), mark_of(n), what);
  unsigned long port = 0;
  try {
    size_t pos = 0;
    port = std::stoul(s.substr(colon + 1), &pos);
    if (pos != s.size() - colon - 1) port = 0;
  } catch (const std::exception&) {
    port = 0;
  }
  if (port == 0 || port > 65535) throw ConfigError(mark_of(n), std::string(what) + ": port must be 1-65535 in '" + s + "'");
  return {ip, static_cast<uint16_t>(port)};
}

uint64_t fwd_key(uint8_t proto, uint32_t ip_net, uint16_t port_net) {
  return (uint64_t{proto} << 48) | (uint64_t{ip_net} << 16) | port_net;
}

}  // namespace

void Nat44::configure(ConfigContext& ctx) {
  const Params& p = ctx.params();
  workers_ = ctx.worker_count() ? ctx.worker_count() : 1;

  // pool
  pool_ = parse_pool(p);
  const std::set<uint32_t> pool(pool_.begin(), pool_.end());
  std::tie(port_lo_, port_hi_) = parse_port_range(p, workers_);

  // inside
  inside_.clear();
  for (const auto& n : p.node("inside")) {
    auto [addr, len] = parse_ipv4_prefix(n, "inside");
    inside_.push_back({addr, len ? ~0u << (32 - len) : 0});
  }

  // static
  fwd_in_.clear();
  fwd_out_.clear();
  one_in_.clear();
  one_out_.clear();
  reserved_.clear();
  for (const auto& n : p.node("static")) {
    if (!n.IsMap()) throw ConfigError(mark_of(n), "static: each mapping is {proto: tcp, external: \"A:P\", internal: "
                                                  "\"B:Q\"} or {external: A, internal: B}");
    for (auto it = n.begin(); it != n.end(); ++it) {
      const std::string key = it->first.Scalar();
      if (key != "proto" && key != "external" && key != "internal")
        throw ConfigError(mark_of(it->first), "static: unknown field '" + key + "' (fields: proto, external, internal)");
    }
    if (!n["external"] || !n["internal"])
      throw ConfigError(mark_of(n), "static: a mapping needs both `external` and `internal`");
    const YAML::Node ext = n["external"], in = n["internal"];
    const bool ports = ext.IsScalar() && ext.Scalar().find(':') != std::string::npos;
    if (ports) {
      if (!n["proto"] || !n["proto"].IsScalar() || (n["proto"].Scalar() != "tcp" && n["proto"].Scalar() != "udp"))
        throw ConfigError(n["proto"] ? mark_of(n["proto"]) : mark_of(n),
                          "static: a port forward needs `proto: tcp` or `proto: udp`");
      const uint8_t proto = n["proto"].Scalar() == "tcp" ? IPPROTO_TCP : IPPROTO_UDP;
      auto [eip, eport] = parse_endpoint(ext, "static external");
      auto [iip, iport] = parse_endpoint(in, "static internal");
      Endpoint e{htonl(eip), htons(eport)}, i{htonl(iip), htons(iport)};
      if (!fwd_out_.emplace(fwd_key(proto, e.ip, e.port), i).second)
        throw ConfigError(mark_of(ext), "static: external " + ext.Scalar() + " is mapped twice");
      if (!fwd_in_.emplace(fwd_key(proto, i.ip, i.port), e).second)
        throw ConfigError(mark_of(in), "static: internal " + in.Scalar() + " is mapped twice");
      if (pool.count(eip)) reserved_.push_back({eip, eport, proto == IPPROTO_TCP ? 0 : 1});
    } else {
      if (n["proto"]) throw ConfigError(mark_of(n["proto"]), "static: a 1:1 mapping (no ports) takes no `proto`");
      auto [eip, elen] = parse_ipv4_prefix(ext, "static external");
      auto [iip, ilen] = parse_ipv4_prefix(in, "static internal");
      if (elen != 32 || ilen != 32)
        throw ConfigError(mark_of(elen != 32 ? ext : in), "static: a 1:1 mapping maps one address to one address");
      if (pool.count(eip))
        throw ConfigError(mark_of(ext), "static: a 1:1 external address must not be in the pool");
      if (!one_out_.emplace(htonl(eip), htonl(iip)).second)
        throw ConfigError(mark_of(ext), "static: external " + ext.Scalar() + " is mapped twice");
      if (!one_in_.emplace(htonl(iip), htonl(eip)).second)
        throw ConfigError(mark_of(in), "static: internal " + in.Scalar() + " is mapped twice");
    }
  }

  t_established_ = parse_timeout(p, "tcp_established");
  t_transitory_ = parse_timeout(p, "tcp_transitory");
  t_udp_ = parse_timeout(p, "udp");
  t_icmp_ = parse_timeout(p, "icmp");
  uint64_t ms = p.get<uint64_t>("max_sessions");
  if (ms < 64 || ms > (1u << 28)) throw ConfigError(p.mark("max_sessions"), "max_sessions: 64 to 268435456");
  max_sessions_ = static_cast<uint32_t>(ms);
  uint64_t mps = p.get<uint64_t>("max_sessions_per_source");
  if (mps < 1) throw ConfigError(p.mark("max_sessions_per_source"), "max_sessions_per_source: at least 1");
  max_per_source_ = static_cast<uint32_t>(std::min<uint64_t>(mps, ms));
}

void Nat44::initialize(InitContext& ctx) {
  SessionTable::Config c;
  c.max_sessions = max_sessions_;
  c.max_per_source = max_per_source_;
  c.workers = ctx.worker_count();
  c.pool = pool_;
  c.port_lo = port_lo_;
  c.port_hi = port_hi_;
  c.reserved = reserved_;
  c.socket = ctx.socket() < 0 ? 0 : ctx.socket();
  std::string compat = SessionTable::compat(c) + " per_source=" + std::to_string(max_per_source_);
  rte_rcu_qsbr* rcu = ctx.rcu();
  table_ = ctx.shared<SessionTable>(id() + ":sessions", compat, [&] { return std::make_shared<SessionTable>(c, rcu); });
  cache_ = WorkerCache{};
  cache_.worker = ctx.worker_index();
}

void Nat44::cleanup() {
  if (table_) {
    table_->finish(cache_);  // empty after every batch; kept safe all the same
    table_->release_cache(cache_);
  }
  table_.reset();
}

bool Nat44::run() {
  // Expiry is the only polled work: a bounded slice of the shared sweep.
  return table_->expire(cache_, table_->now()) > 0;
}

StateCarry Nat44::take_state(Element& old_el) {
  auto& old = static_cast<Nat44&>(old_el);
  filter_ = old.filter_;
  if (old.table_ != table_)
    return StateCarry::reset("max_sessions, max_sessions_per_source, pool, port_range or static mappings changed: "
                             "a new, empty session table");
  std::swap(cache_.sessions, old.cache_.sessions);
  std::swap(cache_.mappings, old.cache_.mappings);
  std::swap(cache_.expiry_token, old.cache_.expiry_token);
  std::swap(cache_.expiry_pending, old.cache_.expiry_pending);
  return StateCarry::kept(std::to_string(table_->live()) + " session(s) kept: the table is shared");
}

bool Nat44::allowed_inside(uint32_t ip_net) const {
  if (inside_.empty()) return true;
  uint32_t ip = ntohl(ip_net);
  for (const auto& p : inside_)
    if ((ip & p.mask) == p.addr) return true;
  return false;
}

bool Nat44::is_external(uint32_t ip_net) const {
  return table_->pool().index_of(ntohl(ip_net)) >= 0 || (!one_out_.empty() && one_out_.count(ip_net) != 0);
}

std::string Nat44::list_sessions() const {
  static const char* names[] = {"tcp", "udp", "icmp"};
  std::ostringstream out;
  const uint32_t now = table_->now();
  unsigned shown = 0;
  for (uint32_t i = 0; i < table_->capacity() && shown < 1000; i++) {
    uint32_t d = table_->deadline(i);
    if (d == 0) continue;
    const Session s = table_->session(i);
    if (filter_.proto >= 0 && s.pclass != filter_.proto) continue;
    if (filter_.inside && s.in_ip != filter_.inside) continue;
    if (filter_.remote && s.rem_ip != filter_.remote) continue;
    if (filter_.external && s.ext_ip != filter_.external) continue;
    if (filter_.port >= 0 && ntohs(s.in_port) != filter_.port && ntohs(s.ext_port) != filter_.port &&
        ntohs(s.rem_port) != filter_.port)
      continue;
    std::string state = "active";
    if (s.proto == IPPROTO_TCP) {
      state = tcp_state_name(__atomic_load_n(&table_->session(i).tcp, __ATOMIC_RELAXED));
    }
    out << names[s.pclass] << ' ' << ipv4_text(s.in_ip) << ':' << ntohs(s.in_port) << " -> " << ipv4_text(s.ext_ip)
        << ':' << ntohs(s.ext_port) << " <-> " << ipv4_text(s.rem_ip) << ':' << ntohs(s.rem_port);
    if (s.kind == kHairpin) {
      const HairpinPeer& p = table_->peer(i);
      out << " (hairpin to " << ipv4_text(p.ip) << ':' << ntohs(p.port) << ')';
    } else if (s.kind == kOutsideInitiated) {
      out << " (static, opened from outside)";
    }
    out << ' ' << state << " age " << (now - s.created) << "s expires " << (d > now ? d - now : 0) << "s\n";
    shown++;
  }
  return out.str();
}

void Nat44::add_handlers(HandlerSet& h) {
  add_table_handlers(h, table_);
  auto num = [](uint64_t v) { return std::to_string(v); };
  h.read("timeouts", "the idle timeouts in force (s)", [this] {
    return "tcp_established " + std::to_string(t_established_) + " tcp_transitory " + std::to_string(t_transitory_) +
           " udp " + std::to_string(t_udp_) + " icmp " + std::to_string(t_icmp_);
  });
  h.read("sessions", "the first 1000 sessions matching session_filter", [this] { return list_sessions(); });
  h.read_write(
      "session_filter", "filter for `sessions`", [this] { return filter_.text; },
      [this](const std::string& v) {
        Filter f;
        std::istringstream in(v);
        std::string term;
        while (in >> term) {
          auto eq = term.find('=');
          std::string k = term.substr(0, eq), val = eq == std::string::npos ? "" : term.substr(eq + 1);
          auto addr = [&] {
            in_addr a{};
            if (inet_pton(AF_INET, val.c_str(), &a) != 1) throw std::invalid_argument(k + ": '" + val + "' is not an IPv4 address");
            return a.s_addr;
          };
          if (k == "inside") f.inside = addr();
          else if (k == "remote") f.remote = addr();
          else if (k == "external") f.external = addr();
          else if (k == "proto") {
            f.proto = val == "tcp" ? 0 : val == "udp" ? 1 : val == "icmp" ? 2 : -1;
            if (f.proto < 0) throw std::invalid_argument("proto: tcp, udp or icmp");
          } else if (k == "port") {
            try {
              f.port = std::stoi(val);
            } catch (const std::exception&) {
              f.port = -1;
            }
            if (f.port < 0 || f.port > 65535) throw std::invalid_argument("port: 0-65535");
          } else {
            throw std::invalid_argument("unknown filter term '" + term +
                                        "' (inside=ADDR proto=tcp|udp|icmp port=N remote=ADDR external=ADDR)");
          }
        }
        f.text = v;
        filter_ = f;
      });
  h.read("clock", "the table's clock (s)", [this, num] { return num(table_->now()); });
  h.write("advance_clock", "moves the table's clock forward N seconds", [this](const std::string& v) {
    unsigned long s = 0;
    try {
      s = std::stoul(v);
    } catch (const std::exception&) {
      throw std::invalid_argument("advance_clock: a number of seconds");
    }
    table_->advance(static_cast<uint32_t>(s));
  });
  h.write("clear", "ends every session", [this](const std::string&) { table_->clear(cache_); });
}

}  // namespace weft::nat

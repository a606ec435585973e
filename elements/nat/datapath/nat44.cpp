// Nat44: class description, configuration, lifecycle and handlers. The
// per-packet code is in nat44_fast_path.cpp.
#include "datapath/nat44.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <set>
#include <sstream>

#include "datapath/header_window.hpp"
#include "datapath/nat_params.hpp"
#include "datapath/session_handlers.hpp"
#include "tables/tcp_state.hpp"

namespace weft::nat {

const ElementClass& Nat44::klass() {
  static const ElementClass k = [] {
    auto b = ElementClass::make<Nat44>("Nat44")
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
          .param("port_range", ParamType::PortRange, "1024-65535",
                 "external ports (and ICMP identifiers) handed out, such as 1024-65535 (from 1); split evenly "
                 "between the workers")
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
          .drop(kRunt, "runt", "shorter than its Ethernet (and VLAN) header")
          .drop(kNotIpv4, "not_ipv4", "not an IPv4 packet (ARP, IPv6, ...)")
          .drop(kTruncatedIp, "truncated_ip", "the IPv4 header or total length ends past the packet")
          .drop(kBadIp, "bad_ip", "IP version is not 4, header length below 20, or total length below the header")
          .drop(kFragment, "fragment", "a non-first fragment: it carries no ports to find its session by")
          .drop(kTruncatedL4, "truncated_l4", "the TCP, UDP or ICMP header ends past the packet or the IP total length")
          .drop(kUnsupportedProtocol, "unsupported_protocol", "neither TCP, UDP nor ICMP")
          .drop(kUnsupportedIcmp, "unsupported_icmp",
                "an ICMP type that is neither echo nor a translatable error (or an error about an error)")
          .drop(kTruncatedIcmpInner, "truncated_icmp_inner",
                "an ICMP error quoting too little of its packet to find the session")
          .drop(kNotInside, "not_inside", "a new session from a source outside the `inside` prefixes")
          .drop(kNoMapping, "no_mapping", "no session and no static mapping for it (filtered)")
          .drop(kPoolExhausted, "pool_exhausted", "no free external port in this worker's slice of the pool")
          .drop(kSourceLimit, "source_limit", "the inside address already holds max_sessions_per_source sessions")
          .drop(kTableFull, "table_full", "max_sessions sessions exist");
    add_session_table_handlers(b, [](const Nat44& e) -> SessionTable& { return *e.table_; });
    add_session_table_metrics(b, [](const Nat44& e) -> SessionTable& { return *e.table_; });
    b.read("timeouts", "the idle timeouts in force (s)",
           [](const Nat44& e) {
             return "tcp_established " + std::to_string(e.t_established_) + " tcp_transitory " +
                    std::to_string(e.t_transitory_) + " udp " + std::to_string(e.t_udp_) + " icmp " +
                    std::to_string(e.t_icmp_);
           })
        .read("sessions", "the first 1000 sessions matching session_filter, one a line",
              [](const Nat44& e) { return e.list_sessions(); })
        .read_write(
            "session_filter",
            "filter for `sessions`: inside=ADDR proto=tcp|udp|icmp port=N remote=ADDR external=ADDR (any subset; "
            "empty: all)",
            [](const Nat44& e) { return e.filter_.text; },
            [](Nat44& e, const std::string& v) { e.filter_ = parse_filter(v); })
        .read("clock", "the table's clock (s)", [](const Nat44& e) { return std::to_string(e.table_->now()); })
        .write("advance_clock", "moves the table's clock forward N seconds (tests)",
               [](Nat44& e, const std::string& v) { e.table_->advance(parse_seconds(v)); })
        .write("clear", "ends every session", [](Nat44& e, const std::string&) { e.table_->clear(e.cache_); });
    return ElementClass(b);
  }();
  return k;
}

namespace {

// A static mapping's "A.B.C.D:PORT" → host-order address and port.
std::pair<uint32_t, uint16_t> read_endpoint(const ParamValue& v, const char* what) {
  const std::string s = v.is_scalar() ? v.text(what) : std::string();
  const auto colon = s.rfind(':');
  if (colon == std::string::npos)
    throw ConfigError(v.mark(), std::string(what) + ": expected ADDRESS:PORT such as 198.51.100.1:8080");
  const std::optional<Ip4> ip = Ip4::parse(std::string_view(s).substr(0, colon));
  if (!ip) throw ConfigError(v.mark(), std::string(what) + ": '" + s.substr(0, colon) + "' is not an IPv4 address");
  unsigned port = 0;
  const char* end = s.data() + s.size();
  const auto r = std::from_chars(s.data() + colon + 1, end, port);
  if (r.ec != std::errc() || r.ptr != end || port == 0 || port > 65535)
    throw ConfigError(v.mark(), std::string(what) + ": port must be 1-65535 in '" + s + "'");
  return {ip->host(), static_cast<uint16_t>(port)};
}

// A 1:1 mapping's address: one IPv4 address (host order).
uint32_t read_address(const ParamValue& v, const char* what) {
  const Prefix a = read_ipv4_prefix(v, what);
  if (a.len != 32) throw ConfigError(v.mark(), "static: a 1:1 mapping maps one address to one address");
  return a.addr.ip4().host();
}

uint64_t fwd_key(uint8_t proto, uint32_t ip_net, uint16_t port_net) {
  return (uint64_t{proto} << 48) | (uint64_t{ip_net} << 16) | port_net;
}

}  // namespace

void Nat44::configure(ConfigContext& ctx) {
  const Params& p = ctx.params();
  workers_ = ctx.worker_count() ? ctx.worker_count() : 1;

  // pool
  pool_ = read_pool(p);
  const std::set<uint32_t> pool(pool_.begin(), pool_.end());
  const PortRange range = read_port_range(p, workers_);
  port_lo_ = range.lo;
  port_hi_ = range.hi;

  // inside
  inside_.clear();
  for (const ParamValue& v : p.value("inside").items()) {
    const Prefix pre = read_ipv4_prefix(v, "inside");
    inside_.push_back({pre.addr.ip4().host(), pre.len ? ~0u << (32 - pre.len) : 0});
  }

  // static
  fwd_in_.clear();
  fwd_out_.clear();
  one_in_.clear();
  one_out_.clear();
  reserved_.clear();
  for (const ParamValue& n : p.value("static").items()) {
    if (!n.is_map())
      throw ConfigError(n.mark(), "static: each mapping is {proto: tcp, external: \"A:P\", internal: \"B:Q\"} or "
                                  "{external: A, internal: B}");
    n.only_keys({"proto", "external", "internal"}, "static");
    const ParamValue ext = n["external"], in = n["internal"], proto_v = n["proto"];
    if (!ext.defined() || !in.defined())
      throw ConfigError(n.mark(), "static: a mapping needs both `external` and `internal`");
    const bool ports = ext.is_scalar() && ext.text("static external").find(':') != std::string::npos;
    if (ports) {
      const std::string proto_name = proto_v.is_scalar() ? proto_v.text("static proto") : std::string();
      if (proto_name != "tcp" && proto_name != "udp")
        throw ConfigError(proto_v.defined() ? proto_v.mark() : n.mark(),
                          "static: a port forward needs `proto: tcp` or `proto: udp`");
      const uint8_t proto = proto_name == "tcp" ? IPPROTO_TCP : IPPROTO_UDP;
      auto [eip, eport] = read_endpoint(ext, "static external");
      auto [iip, iport] = read_endpoint(in, "static internal");
      Endpoint e{htonl(eip), htons(eport)}, i{htonl(iip), htons(iport)};
      if (!fwd_out_.emplace(fwd_key(proto, e.ip, e.port), i).second)
        throw ConfigError(ext.mark(), "static: external " + ext.text("static external") + " is mapped twice");
      if (!fwd_in_.emplace(fwd_key(proto, i.ip, i.port), e).second)
        throw ConfigError(in.mark(), "static: internal " + in.text("static internal") + " is mapped twice");
      if (pool.count(eip)) reserved_.push_back({eip, eport, proto == IPPROTO_TCP ? 0 : 1});
    } else {
      if (proto_v.defined())
        throw ConfigError(proto_v.mark(), "static: a 1:1 mapping (no ports) takes no `proto`");
      const uint32_t eip = read_address(ext, "static external");
      const uint32_t iip = read_address(in, "static internal");
      if (pool.count(eip)) throw ConfigError(ext.mark(), "static: a 1:1 external address must not be in the pool");
      if (!one_out_.emplace(htonl(eip), htonl(iip)).second)
        throw ConfigError(ext.mark(), "static: external " + ext.text("static external") + " is mapped twice");
      if (!one_in_.emplace(htonl(iip), htonl(eip)).second)
        throw ConfigError(in.mark(), "static: internal " + in.text("static internal") + " is mapped twice");
    }
  }

  t_established_ = read_timeout(p, "tcp_established");
  t_transitory_ = read_timeout(p, "tcp_transitory");
  t_udp_ = read_timeout(p, "udp");
  t_icmp_ = read_timeout(p, "icmp");
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
  auto ip = [](uint32_t net) { return Ip4::of(reinterpret_cast<const uint8_t*>(&net)).str(); };
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
    out << names[s.pclass] << ' ' << ip(s.in_ip) << ':' << ntohs(s.in_port) << " -> " << ip(s.ext_ip)
        << ':' << ntohs(s.ext_port) << " <-> " << ip(s.rem_ip) << ':' << ntohs(s.rem_port);
    if (s.kind == kHairpin) {
      const HairpinPeer& p = table_->peer(i);
      out << " (hairpin to " << ip(p.ip) << ':' << ntohs(p.port) << ')';
    } else if (s.kind == kOutsideInitiated) {
      out << " (static, opened from outside)";
    }
    out << ' ' << state << " age " << (now - s.created) << "s expires " << (d > now ? d - now : 0) << "s\n";
    shown++;
  }
  return out.str();
}

Nat44::Filter Nat44::parse_filter(const std::string& text) {
  Filter f;
  std::istringstream in(text);
  std::string term;
  while (in >> term) {
    const auto eq = term.find('=');
    const std::string k = term.substr(0, eq), val = eq == std::string::npos ? "" : term.substr(eq + 1);
    auto addr = [&] {
      const std::optional<Ip4> a = Ip4::parse(val);
      if (!a) throw std::invalid_argument(k + ": '" + val + "' is not an IPv4 address");
      return ld32(a->data());  // network order
    };
    if (k == "inside") {
      f.inside = addr();
    } else if (k == "remote") {
      f.remote = addr();
    } else if (k == "external") {
      f.external = addr();
    } else if (k == "proto") {
      f.proto = val == "tcp" ? 0 : val == "udp" ? 1 : val == "icmp" ? 2 : -1;
      if (f.proto < 0) throw std::invalid_argument("proto: tcp, udp or icmp");
    } else if (k == "port") {
      f.port = parse_filter_port(val);
    } else {
      throw std::invalid_argument("unknown filter term '" + term +
                                  "' (inside=ADDR proto=tcp|udp|icmp port=N remote=ADDR external=ADDR)");
    }
  }
  f.text = text;
  return f;
}

}  // namespace weft::nat

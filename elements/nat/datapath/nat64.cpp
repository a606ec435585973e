// Nat64: class description, configuration, lifecycle and handlers. The
// per-packet code is in nat64_fast_path.cpp (TCP, UDP, ICMP echo) and
// nat64_icmp.cpp (ICMP errors).
#include "datapath/nat64.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <optional>
#include <sstream>

#include "datapath/header_window.hpp"
#include "datapath/nat_params.hpp"
#include "datapath/prefix_match.hpp"
#include "datapath/session_handlers.hpp"

namespace weft::nat {

const ElementClass& Nat64::klass() {
  static const ElementClass k = [] {
    auto b = ElementClass::make<Nat64>("Nat64")
          .describe(
              "Stateful NAT64 (RFC 6146): IPv6-only hosts reach IPv4 hosts at PREFIX+IPv4 (RFC 6052, "
              "64:ff9b::/96 by default), headers and ICMP translated per RFC 7915; one session table shared by "
              "all workers.",
              "Packets from `from_ipv6` to an address of `prefix` leave on `to_ipv4` as IPv4 packets from a "
              "`pool` address:port to the IPv4 address embedded in the destination (the same pool address:port "
              "for every destination while the IPv6 address:port has a session); packets from `from_ipv4` that "
              "belong to a session go back to their IPv6 host on `to_ipv6`, from PREFIX+source. TCP, UDP and "
              "ICMP echo; ICMP errors about a session's packets are translated both ways, quoted packet included "
              "(RFC 7915). Hop limit and TTL are decremented. Only the IPv6 side opens sessions (filtering is "
              "address-and-port dependent). Fragments are dropped (`fragment`). The table is kept across reloads "
              "that keep the element with the same pool, prefix, port_range and limits. See docs/nat.md.\n"
              "Example:\n"
              "  nat64:\n"
              "    class: Nat64\n"
              "    pool: [198.51.100.1]\n"
              "    prefix: 64:ff9b::/96\n"
              "    inside: [2001:db8:1::/64]")
          .input("from_ipv6")
          .input("from_ipv4")
          .output("to_ipv4")
          .output("to_ipv6")
          .poll()
          .required("pool", ParamType::List, "IPv4 addresses and/or prefixes sessions leave from (at most 1024)")
          .param("prefix", ParamType::Prefix, "64:ff9b::/96",
                 "the NAT64 prefix IPv4 addresses are embedded in (RFC 6052): length 32, 40, 48, 56, 64 or 96")
          .param("port_range", ParamType::PortRange, "1024-65535",
                 "external ports (and ICMP identifiers) handed out, such as 1024-65535 (from 1); split evenly "
                 "between the workers")
          .param("inside", ParamType::List, "[]", "IPv6 prefixes allowed to open sessions (empty: any)")
          .param("tcp_established", ParamType::UInt, "7440", "idle timeout of an established TCP session (s)")
          .param("tcp_transitory", ParamType::UInt, "240",
                 "idle timeout of a TCP session being opened or closed (s)")
          .param("udp", ParamType::UInt, "300", "idle timeout of a UDP session (s)")
          .param("icmp", ParamType::UInt, "60", "idle timeout of an ICMP echo session (s)")
          .param("max_sessions", ParamType::UInt, "1048576", "sessions of all workers together")
          .param("max_sessions_per_source", ParamType::UInt, "8192", "sessions one IPv6 address may hold")
          .param("max_hosts", ParamType::UInt, "262144", "IPv6 addresses holding sessions at once")
          .drop(kRunt, "runt", "shorter than its Ethernet (and VLAN) header")
          .drop(kNotIpv6, "not_ipv6", "on from_ipv6: not an IPv6 packet")
          .drop(kNotIpv4, "not_ipv4", "on from_ipv4: not an IPv4 packet (ARP, IPv6, ...)")
          .drop(kTruncated, "truncated",
                "an IP header, extension header or L4 header ends past the packet, or the IP length says more "
                "than the frame holds")
          .drop(kBadIp, "bad_ip",
                "IPv4 header length below 20 or total length below the header, or an IPv6 payload too long for "
                "an IPv4 packet")
          .drop(kBadChecksum, "bad_checksum",
                "a wrong IPv4 header checksum, a wrong ICMP error checksum (errors are recomputed, so they are "
                "verified first), or an IPv6 UDP checksum of 0")
          .drop(kHopLimit, "hop_limit",
                "hop limit or TTL of 1 or less: it would reach 0 here (no ICMP time exceeded is sent)")
          .drop(kFragment, "fragment",
                "a fragment (IPv4 MF or offset; an IPv6 fragment header other than an atomic one)")
          .drop(kSourceRoute, "source_route",
                "an IPv6 routing header with segments left, or an IPv4 unexpired source route option (RFC 7915)")
          .drop(kUnsupportedProtocol, "unsupported_protocol",
                "neither TCP, UDP nor ICMP/ICMPv6 (or an unknown extension header)")
          .drop(kUnsupportedIcmp, "unsupported_icmp",
                "an ICMP/ICMPv6 type or code with no counterpart in the other protocol (RFC 7915), "
                "neighbour discovery, or an error about an error")
          .drop(kTruncatedIcmpInner, "truncated_icmp_inner",
                "an ICMP error quoting too little of its packet to find the session")
          .drop(kNotPrefix, "not_prefix",
                "from IPv6: the destination (or an ICMPv6 error's quoted source) is not a canonical address of "
                "`prefix`")
          .drop(kReservedAddress, "reserved_address",
                "the IPv4 address translated to or from is unspecified, loopback, link-local, multicast or "
                "reserved (0/8, 127/8, 169.254/16, 224/4, 240/4)")
          .drop(kHairpin, "hairpin", "from IPv6 to PREFIX+a pool address: hairpinning is not supported")
          .drop(kNotInside, "not_inside", "a new session from an IPv6 source outside the `inside` prefixes")
          .drop(kNoSession, "no_session",
                "no session for it: from IPv4 (filtered), or an echo reply / ICMP error from IPv6 without one")
          .drop(kPoolExhausted, "pool_exhausted", "no free external port in this worker's slice of the pool")
          .drop(kSourceLimit, "source_limit", "the IPv6 address already holds max_sessions_per_source sessions")
          .drop(kTableFull, "table_full", "max_sessions sessions exist")
          .drop(kHostsFull, "hosts_full", "max_hosts IPv6 addresses hold sessions")
          .drop(kNoHeadroom, "no_headroom",
                "the packet could not be resized in place (no mbuf headroom for the longer IPv6 header, or a "
                "first segment shorter than the bytes removed)");
    add_session_table_handlers(b, [](const Nat64& e) -> SessionTable& { return *e.table_; });
    add_session_table_metrics(b, [](const Nat64& e) -> SessionTable& { return *e.table_; });
    b.read("hosts", "IPv6 addresses holding sessions now",
           [](const Nat64& e) { return std::to_string(e.table_->live_hosts()); })
        .read("prefix", "the NAT64 prefix", [](const Nat64& e) { return e.prefix_.prefix().str(); })
        .read("timeouts", "the idle timeouts in force (s)",
              [](const Nat64& e) {
                const Timeouts& t = e.timeouts_;
                return "tcp_established " + std::to_string(t.tcp_established) + " tcp_transitory " +
                       std::to_string(t.tcp_transitory) + " udp " + std::to_string(t.udp) + " icmp " +
                       std::to_string(t.icmp);
              })
        .read("sessions", "the first 1000 sessions matching session_filter, one a line",
              [](const Nat64& e) { return e.list_sessions(); })
        .read_write(
            "session_filter",
            "filter for `sessions`: inside=IPV6 proto=tcp|udp|icmp port=N remote=IPV4 external=IPV4 (any subset; "
            "empty: all)",
            [](const Nat64& e) { return e.filter_.text; },
            [](Nat64& e, const std::string& v) { e.filter_ = parse_filter(v); })
        .read("clock", "the table's clock (s)", [](const Nat64& e) { return std::to_string(e.table_->now()); })
        .write("advance_clock", "moves the table's clock forward N seconds (tests)",
               [](Nat64& e, const std::string& v) { e.table_->advance(parse_seconds(v)); })
        .write("clear", "ends every session", [](Nat64& e, const std::string&) { e.table_->clear(e.cache_); });
    return ElementClass(b);
  }();
  return k;
}

void Nat64::configure(ConfigContext& ctx) {
  const Params& p = ctx.params();
  workers_ = ctx.worker_count() ? ctx.worker_count() : 1;
  pool_ = read_pool(p);
  const PortRange ports = read_port_range(p, workers_);
  port_lo_ = ports.lo;
  port_hi_ = ports.hi;

  const Prefix pre = read_ipv6_prefix(p.value("prefix"), "prefix");
  if (!Rfc6052Prefix::valid_length(pre.len))
    throw ConfigError(p.mark("prefix"), "prefix: the length must be 32, 40, 48, 56, 64 or 96 (RFC 6052), not /" +
                                            std::to_string(pre.len));
  prefix_.set(pre);

  inside_.clear();
  for (const ParamValue& v : p.value("inside").items()) inside_.push_back(read_ipv6_prefix(v, "inside"));

  timeouts_.tcp_established = read_timeout(p, "tcp_established");
  timeouts_.tcp_transitory = read_timeout(p, "tcp_transitory");
  timeouts_.udp = read_timeout(p, "udp");
  timeouts_.icmp = read_timeout(p, "icmp");
  uint64_t ms = p.get<uint64_t>("max_sessions");
  if (ms < 64 || ms > (1u << 28)) throw ConfigError(p.mark("max_sessions"), "max_sessions: 64 to 268435456");
  max_sessions_ = static_cast<uint32_t>(ms);
  uint64_t mps = p.get<uint64_t>("max_sessions_per_source");
  if (mps < 1) throw ConfigError(p.mark("max_sessions_per_source"), "max_sessions_per_source: at least 1");
  max_per_source_ = static_cast<uint32_t>(std::min<uint64_t>(mps, ms));
  uint64_t mh = p.get<uint64_t>("max_hosts");
  if (mh < 1) throw ConfigError(p.mark("max_hosts"), "max_hosts: at least 1");
  max_hosts_ = static_cast<uint32_t>(std::min<uint64_t>(mh, ms));
}

void Nat64::initialize(InitContext& ctx) {
  SessionTable::Config c;
  c.max_sessions = max_sessions_;
  c.max_per_source = max_per_source_;
  c.workers = ctx.worker_count();
  c.pool = pool_;
  c.port_lo = port_lo_;
  c.port_hi = port_hi_;
  c.max_hosts = max_hosts_;
  c.socket = ctx.socket() < 0 ? 0 : ctx.socket();
  // The prefix is part of every session (the remote's IPv6 address): a new
  // prefix means new sessions.
  std::string compat = "nat64 " + SessionTable::compat(c) + " per_source=" + std::to_string(max_per_source_) +
                       " prefix=" + prefix_.prefix().str();
  rte_rcu_qsbr* rcu = ctx.rcu();
  table_ = ctx.shared<SessionTable>(id() + ":sessions", compat, [&] { return std::make_shared<SessionTable>(c, rcu); });
  cache_ = WorkerCache{};
  cache_.worker = ctx.worker_index();
  ip_id_ = static_cast<uint16_t>(ctx.worker_index());
}

void Nat64::cleanup() {
  if (table_) {
    table_->finish(cache_);  // empty after every batch; kept safe all the same
    table_->release_cache(cache_);
  }
  table_.reset();
}

bool Nat64::run() { return table_->expire(cache_, table_->now()) > 0; }

StateCarry Nat64::take_state(Element& old_el) {
  auto& old = static_cast<Nat64&>(old_el);
  filter_ = old.filter_;
  ip_id_ = old.ip_id_;
  if (old.table_ != table_)
    return StateCarry::reset("max_sessions, max_sessions_per_source, max_hosts, pool, prefix or port_range changed: "
                             "a new, empty session table");
  std::swap(cache_.sessions, old.cache_.sessions);
  std::swap(cache_.mappings, old.cache_.mappings);
  std::swap(cache_.hosts, old.cache_.hosts);
  std::swap(cache_.expiry_token, old.cache_.expiry_token);
  std::swap(cache_.expiry_pending, old.cache_.expiry_pending);
  return StateCarry::kept(std::to_string(table_->live()) + " session(s) of " + std::to_string(table_->live_hosts()) +
                          " IPv6 host(s) kept: the table is shared");
}

bool Nat64::allowed_inside(const uint8_t* a) const {
  if (inside_.empty()) return true;
  for (const auto& p : inside_)
    if (prefix_contains6(p, a)) return true;
  return false;
}

std::string Nat64::list_sessions() const {
  static const char* names[] = {"tcp", "udp", "icmp"};
  auto ip4 = [](uint32_t net) { return Ip4::of(reinterpret_cast<const uint8_t*>(&net)).str(); };
  std::ostringstream out;
  const uint32_t now = table_->now();
  unsigned shown = 0;
  for (uint32_t i = 0; i < table_->capacity() && shown < 1000; i++) {
    uint32_t d = table_->deadline(i);
    if (d == 0) continue;
    const Session s = table_->session(i);
    const uint8_t* host = table_->host_address(s.in_ip);
    if (filter_.proto >= 0 && s.pclass != filter_.proto) continue;
    if (filter_.has_inside && std::memcmp(host, filter_.inside.a, 16) != 0) continue;
    if (filter_.remote && s.rem_ip != filter_.remote) continue;
    if (filter_.external && s.ext_ip != filter_.external) continue;
    if (filter_.port >= 0 && ntohs(s.in_port) != filter_.port && ntohs(s.ext_port) != filter_.port &&
        ntohs(s.rem_port) != filter_.port)
      continue;
    const char* state = s.proto == IPPROTO_TCP ? tcp_state_name(__atomic_load_n(&table_->session(i).tcp, __ATOMIC_RELAXED))
                                               : "active";
    uint8_t rem6[16];
    prefix_.embed(s.rem_ip, rem6);
    out << names[s.pclass] << " [" << Ip6::of(host).str() << "]:" << ntohs(s.in_port) << " -> " << ip4(s.ext_ip)
        << ':' << ntohs(s.ext_port) << " <-> " << ip4(s.rem_ip) << ':' << ntohs(s.rem_port) << " (["
        << Ip6::of(rem6).str() << "]) " << state << " age " << (now - s.created) << "s expires "
        << (d > now ? d - now : 0) << "s\n";
    shown++;
  }
  return out.str();
}

Nat64::Filter Nat64::parse_filter(const std::string& text) {
  Filter f;
  std::istringstream in(text);
  std::string term;
  while (in >> term) {
    const auto eq = term.find('=');
    const std::string k = term.substr(0, eq), val = eq == std::string::npos ? "" : term.substr(eq + 1);
    auto addr4 = [&] {
      const std::optional<Ip4> a = Ip4::parse(val);
      if (!a) throw std::invalid_argument(k + ": '" + val + "' is not an IPv4 address");
      return ld32(a->data());  // network order
    };
    if (k == "inside") {
      const std::optional<Ip6> a = Ip6::parse(val);
      if (!a) throw std::invalid_argument("inside: '" + val + "' is not an IPv6 address");
      std::memcpy(f.inside.a, a->data(), 16);
      f.has_inside = true;
    } else if (k == "remote") {
      f.remote = addr4();
    } else if (k == "external") {
      f.external = addr4();
    } else if (k == "proto") {
      f.proto = val == "tcp" ? 0 : val == "udp" ? 1 : val == "icmp" ? 2 : -1;
      if (f.proto < 0) throw std::invalid_argument("proto: tcp, udp or icmp");
    } else if (k == "port") {
      f.port = parse_filter_port(val);
    } else {
      throw std::invalid_argument("unknown filter term '" + term +
                                  "' (inside=IPV6 proto=tcp|udp|icmp port=N remote=IPV4 external=IPV4)");
    }
  }
  f.text = text;
  return f;
}

}  // namespace weft::nat

// Nat44 — stateful NAPT for IPv4 (TCP, UDP, ICMP echo), in the manner of
// VPP's NAT44-ED and Linux conntrack NAT.
//
// Ports:       inputs `from_inside`, `from_outside`;
//              outputs `to_outside`, `to_inside` (replies, and hairpinned
//              packets: inside host to another inside host's external address)
// Parameters:  pool      (required) external addresses: list of IPv4
//                        addresses and/or prefixes (a prefix gives all of its
//                        addresses), at most 1024
//              port_range (default "1024-65535") external ports and ICMP
//                        identifiers handed out; split between the workers
//              inside    (default: any) list of prefixes allowed to open
//                        sessions from inside
//              static    list of fixed mappings:
//                          {proto: tcp|udp, external: "A:P", internal: "B:Q"}
//                          (a port forward), or {external: A, internal: B} (1:1)
//              tcp_established (7440), tcp_transitory (240), udp (300),
//              icmp (60)  idle timeouts in seconds
//              max_sessions (1048576) sessions of all workers together
//              max_sessions_per_source (8192) sessions one inside address may hold
// Handlers:    count, tcp_sessions, udp_sessions, icmp_sessions, mappings,
//              created, expired, allocation_failures, memory, pool, timeouts (read);
//              sessions (read: the first 1000 sessions matching
//              session_filter, one a line); session_filter (read/write:
//              "inside=ADDR proto=tcp port=N remote=ADDR external=ADDR",
//              any subset, empty for all); clock (read) and advance_clock
//              (write, seconds: tests); clear (write: end every session)
// Drops:       runt, not_ipv4, truncated_ip, bad_ip, fragment, truncated_l4,
//              unsupported_protocol, unsupported_icmp, truncated_icmp_inner,
//              not_inside, no_mapping, pool_exhausted, source_limit, table_full
//
// Mapping is endpoint-independent (RFC 4787 REQ-1): an inside address:port
// keeps its external address:port for every destination while any of its
// sessions lives, and an inside address keeps one external address (paired
// pooling) unless that address's ports run out. Filtering is address-and-port
// dependent: a packet from outside gets in only if it belongs to a session,
// or a static mapping lets it open one. TCP is tracked (SYN both ways, then
// ACK: established; FIN both ways or RST: transitory); ICMP echo uses the
// identifier as its port. ICMP errors carrying a packet of a known session
// are translated inside and out, inner headers and checksums included
// (RFC 5508). Checksums are updated incrementally (RFC 1624); a UDP checksum
// of 0 stays 0. Non-first fragments are dropped (`fragment`): they carry no
// ports to find their session by. TTL is left alone (decrement it elsewhere).
//
// One session table per element, shared by all workers and kept across
// reloads that keep the element with the same max_sessions, pool,
// port_range and static mappings: see docs/nat.md.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "tables/session_table.hpp"
#include "weft/element.hpp"

namespace weft::nat {

// Drop reasons, in the order klass() declares them.
enum Nat44Drop : uint16_t {
  kDropRunt = 0,
  kDropNotIpv4,
  kDropTruncatedIp,
  kDropBadIp,
  kDropFragment,
  kDropTruncatedL4,
  kDropUnsupportedProtocol,
  kDropUnsupportedIcmp,
  kDropTruncatedIcmpInner,
  kDropNotInside,
  kDropNoMapping,
  kDropPoolExhausted,
  kDropSourceLimit,
  kDropTableFull,
};
enum Nat44Port : uint16_t { kInInside = 0, kInOutside = 1, kOutOutside = 0, kOutInside = 1 };

class Nat44 final : public Element {
 public:
  static const ElementClass& klass();
  void configure(ConfigContext& ctx) override;
  void initialize(InitContext& ctx) override;
  void cleanup() override;
  void push(uint16_t input, Batch& b) override;
  bool run() override;
  StateCarry take_state(Element& old) override;
  void add_handlers(HandlerSet& h) override;

  // Where a packet's headers are (offsets from the start of the frame) and
  // the flow it belongs to; filled by parse().
  struct Parsed {
    uint16_t l3 = 0, l4 = 0, l4_len = 0;
    uint8_t proto = 0, tcp_flags = 0, icmp_type = 0;
    bool icmp_error = false;
    FlowKey key;
  };

 private:
  struct Prefix {
    uint32_t addr, mask;  // host order
  };
  struct Endpoint {
    uint32_t ip;    // network order
    uint16_t port;  // network order
  };
  struct Filter {
    int proto = -1;
    uint32_t inside = 0, remote = 0, external = 0;  // network order, 0: any
    int port = -1;                                  // host order: any of the session's ports
    std::string text;
  };

  // Fast path (nat44_fast_path.cpp).
  int parse(rte_mbuf* m, bool from_inside, Parsed& p) const;  // a drop reason, or -1
  void forward(rte_mbuf* m, const Parsed& p, bool from_inside, void* data, uint32_t now);
  void rewrite(rte_mbuf* m, const Parsed& p, bool from_inside, uint32_t sip, uint16_t sport, uint32_t dip,
               uint16_t dport) const;
  uint32_t timeout_of(const Session& s) const;
  // Slow path (nat44_fast_path.cpp): a packet without a session.
  void miss(rte_mbuf* m, const Parsed& p, bool from_inside, uint32_t now);
  void icmp_error(rte_mbuf* m, const Parsed& p, bool from_inside);
  int make_inside_session(const Parsed& p, NewSession& n) const;   // drop reason or -1
  int make_outside_session(const Parsed& p, NewSession& n) const;  // drop reason or -1
  bool allowed_inside(uint32_t ip_net) const;
  bool is_external(uint32_t ip_net) const;

  std::string list_sessions() const;

  // Configuration.
  std::vector<uint32_t> pool_;  // host order
  uint16_t port_lo_ = 1024, port_hi_ = 65535;
  std::vector<Prefix> inside_;
  std::unordered_map<uint64_t, Endpoint> fwd_in_, fwd_out_;  // port forwards, both ways (key: proto, ip, port)
  std::unordered_map<uint32_t, uint32_t> one_in_, one_out_;  // 1:1, both ways
  std::vector<SessionTable::Config::Reserved> reserved_;
  uint32_t t_established_ = 7440, t_transitory_ = 240, t_udp_ = 300, t_icmp_ = 60;
  uint32_t max_sessions_ = 1u << 20, max_per_source_ = 8192;
  unsigned workers_ = 1;

  // State.
  std::shared_ptr<SessionTable> table_;
  WorkerCache cache_;
  Filter filter_;
};

}  // namespace weft::nat

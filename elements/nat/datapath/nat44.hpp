// Nat44 — stateful NAPT for IPv4 (TCP, UDP, ICMP echo), in the manner of
// VPP's NAT44-ED and Linux conntrack NAT. Its class declaration (nat44.cpp)
// is its manual: `routerctl elements --doc Nat44`.
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

  // Where a packet's headers are (offsets from the start of the frame) and
  // the flow it belongs to; filled by parse().
  struct Parsed {
    uint16_t l3 = 0, l4 = 0, l4_len = 0;
    uint8_t proto = 0, tcp_flags = 0, icmp_type = 0;
    bool icmp_error = false;
    FlowKey key;
  };

 private:
  static inline Drop kRunt, kNotIpv4, kTruncatedIp, kBadIp, kFragment, kTruncatedL4, kUnsupportedProtocol,
      kUnsupportedIcmp, kTruncatedIcmpInner, kNotInside, kNoMapping, kPoolExhausted, kSourceLimit, kTableFull;

  struct InsidePrefix {
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
  const Drop* parse(rte_mbuf* m, bool from_inside, Parsed& p) const;  // a drop reason, or null
  void forward(rte_mbuf* m, const Parsed& p, bool from_inside, void* data, uint32_t now);
  void rewrite(rte_mbuf* m, const Parsed& p, bool from_inside, uint32_t sip, uint16_t sport, uint32_t dip,
               uint16_t dport) const;
  uint32_t timeout_of(const Session& s) const;
  // Slow path (nat44_fast_path.cpp): a packet without a session.
  void miss(rte_mbuf* m, const Parsed& p, bool from_inside, uint32_t now);
  void icmp_error(rte_mbuf* m, const Parsed& p, bool from_inside);
  const Drop* make_inside_session(const Parsed& p, NewSession& n) const;   // a drop reason, or null
  const Drop* make_outside_session(const Parsed& p, NewSession& n) const;  // a drop reason, or null
  bool allowed_inside(uint32_t ip_net) const;
  bool is_external(uint32_t ip_net) const;

  // Handlers.
  std::string list_sessions() const;
  static Filter parse_filter(const std::string& text);  // throws std::invalid_argument

  // Configuration.
  std::vector<uint32_t> pool_;  // host order
  uint16_t port_lo_ = 1024, port_hi_ = 65535;
  std::vector<InsidePrefix> inside_;
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

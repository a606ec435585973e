// Nat64 — stateful NAT64 (RFC 6146): IPv6-only hosts reach IPv4 hosts at
// IPv4-embedded IPv6 addresses (RFC 6052, 64:ff9b::/96 by default), with
// IP/ICMP translation per RFC 7915. Its class declaration (nat64.cpp) is its
// manual: `routerctl elements --doc Nat64`.
//
// From `from_ipv6`, a packet to PREFIX+A (A an IPv4 address) leaves on
// `to_ipv4` as an IPv4 packet from a pool address:port to A; from
// `from_ipv4`, a packet to a session's pool address:port goes back to its
// IPv6 host from PREFIX+source. Mapping is endpoint-independent, filtering
// address-and-port dependent (as Nat44); only the IPv6 side opens sessions.
// Headers are translated per RFC 7915: traffic class/TOS copied, hop limit
// and TTL decremented (a packet arriving with 1 or less is dropped,
// `hop_limit`), IPv6 extension headers (hop-by-hop, destination options, a
// routing header with no segments left) removed, IPv4 options ignored, the
// IPv4 DF flag set on packets over 1260 bytes; TCP and UDP checksums updated
// incrementally for the new pseudo-header (an IPv4 UDP checksum of 0 is
// computed), ICMP echo <-> ICMPv6 echo with the identifier as the port.
// ICMP errors about a session's packets are translated both ways, type,
// code, MTU and pointer per RFC 7915 sections 4.2 and 5.2, their quoted
// packet translated back too, their checksum verified and recomputed; a
// translated ICMPv4 error is cut to 576 bytes, an ICMPv6 one to 1280.
// Fragments (other than IPv6 atomic fragments) are dropped (`fragment`);
// no packet is originated (no ICMP errors of its own).
//
// One session table per element, shared by all workers (Nat44's table with
// each IPv6 host given a 32-bit id) and kept across reloads that keep the
// element with the same pool, prefix, port_range and limits: see docs/nat.md.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "datapath/rfc6052.hpp"
#include "tables/session_table.hpp"
#include "tables/tcp_state.hpp"
#include "weft/element.hpp"

namespace weft::nat {

enum Nat64Port : uint16_t { kFrom6 = 0, kFrom4 = 1, kTo4 = 0, kTo6 = 1 };

class Nat64 final : public Element {
 public:
  static const ElementClass& klass();
  void configure(ConfigContext& ctx) override;
  void initialize(InitContext& ctx) override;
  void cleanup() override;
  void push(uint16_t input, Batch& b) override;
  bool run() override;
  StateCarry take_state(Element& old) override;

  // Where a packet's headers are and the flow it belongs to; filled by
  // parse6()/parse4().
  struct Parsed {
    uint16_t l3 = 0;       // offset of the IP header (after Ethernet and VLAN tags)
    uint16_t l4 = 0;       // offset of the L4 header (after any IPv6 extension headers)
    uint16_t l4_len = 0;   // L4 header and payload
    uint8_t proto = 0;     // TCP, UDP, or ICMP/ICMPv6 (58 from IPv6)
    uint8_t tcp_flags = 0, icmp_type = 0;
    uint8_t hop = 0;       // hop limit or TTL as received
    uint8_t tclass = 0;    // traffic class or TOS
    bool icmp_error = false;
    uint32_t addr_sum = 0;  // one's-complement sum of the source and destination addresses
    HostKey src6;           // from IPv6: the source address
    FlowKey key;            // from IPv6: src_ip is the host id, once known
  };

 private:
  static inline Drop kRunt, kNotIpv6, kNotIpv4, kTruncated, kBadIp, kBadChecksum, kHopLimit, kFragment, kSourceRoute,
      kUnsupportedProtocol, kUnsupportedIcmp, kTruncatedIcmpInner, kNotPrefix, kReservedAddress, kHairpin, kNotInside,
      kNoSession, kPoolExhausted, kSourceLimit, kTableFull, kHostsFull, kNoHeadroom;

  struct Filter {
    int proto = -1;
    bool has_inside = false;
    HostKey inside{};
    uint32_t remote = 0, external = 0;  // network order, 0: any
    int port = -1;
    std::string text;
  };

  // Fast path (nat64_fast_path.cpp).
  const Drop* parse6(rte_mbuf* m, Parsed& p) const;  // a drop reason, or null
  const Drop* parse4(rte_mbuf* m, Parsed& p) const;
  void forward6(rte_mbuf* m, const Parsed& p, uint32_t idx, uint32_t now);  // IPv6 -> IPv4
  void forward4(rte_mbuf* m, const Parsed& p, uint32_t idx, uint32_t now);  // IPv4 -> IPv6
  void miss6(rte_mbuf* m, Parsed& p, uint32_t now);
  bool allowed_inside(const uint8_t* a) const;
  uint16_t next_ip_id() {
    uint16_t id = ip_id_;
    ip_id_ = static_cast<uint16_t>(ip_id_ + workers_);
    return id;
  }
  // ICMP errors (nat64_icmp.cpp): a drop reason, or null when emitted.
  const Drop* icmp6_error(rte_mbuf* m, const Parsed& p);
  const Drop* icmp4_error(rte_mbuf* m, const Parsed& p);

  // Handlers.
  std::string list_sessions() const;
  static Filter parse_filter(const std::string& text);  // throws std::invalid_argument

  // Configuration.
  std::vector<uint32_t> pool_;  // host order
  Rfc6052Prefix prefix_;
  uint16_t port_lo_ = 1024, port_hi_ = 65535;
  std::vector<Prefix> inside_;  // IPv6, host bits clear
  Timeouts timeouts_;
  uint32_t max_sessions_ = 1u << 20, max_per_source_ = 8192, max_hosts_ = 1u << 18;
  unsigned workers_ = 1;

  // State.
  std::shared_ptr<SessionTable> table_;
  WorkerCache cache_;
  uint16_t ip_id_ = 0;  // IPv4 identification of translated packets: worker index, then + workers
  Filter filter_;
};

}  // namespace weft::nat

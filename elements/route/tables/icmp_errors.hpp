// ICMP and ICMPv6 errors about a packet: which packets may get one (RFC 1812
// 4.3.2.7, RFC 4443 2.4(e)) and the error itself. The one place they are
// built: the IcmpError element (errors IpLookup asks for) and the Interfaces
// service (host unreachable for a next hop that never answered) both call
// these.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "tables/interfaces.hpp"

struct rte_mbuf;
struct rte_mempool;

namespace weft::route::icmp_errors {

// IPv4 total length and IPv6 length of an error at most (RFC 1812 4.3.2.3, RFC 4443 2.4(c)).
inline constexpr uint32_t kMax4 = 576, kMax6 = 1280;

// The packet an error would be about (an Ethernet frame carrying IP).
struct Offender {
  bool v4 = true;
  const uint8_t* l3 = nullptr;  // its IP header, in the first segment
  uint32_t ihl = 0;             // its IP header's length (IPv6: 40)
  uint32_t avail = 0;           // bytes of the IP packet there are to quote
  IpAddr source;                // its source: the error's destination
};

enum class Verdict { Ok, NotIp, Truncated, NotEligible };

// Reads the frame m and says whether an error of (type, code) may be sent
// about it: `broadcasts4` are our IPv4 subnets' broadcast addresses (network
// order). Never about an ICMP error, a non-first fragment, a packet to a
// multicast or broadcast address or sent to a link-layer multicast address
// (except IPv6 packet too big and parameter problem code 2), a packet whose
// source is not one host. On Ok, `out` describes the packet.
Verdict examine(const rte_mbuf* m, uint8_t type, uint8_t code, std::span<const uint32_t> broadcasts4, Offender& out);

// The broadcast addresses of the IPv4 subnets of `table` (network order).
std::vector<uint32_t> broadcasts4(const InterfaceTable& table);

// The error (type, code, info: next-hop MTU, packet too big's MTU or the
// parameter problem pointer) about `o` in m, from `src`, in a new mbuf from
// `pool`: Ethernet header with both MACs zero, IP header (IPv4: TOS 0xc0,
// TTL 64, id `ip_id`; IPv6: hop limit 64), ICMP header, then as much of the
// packet as fits in kMax4 / kMax6; checksums in full. Null: no mbuf.
rte_mbuf* build(rte_mempool* pool, const rte_mbuf* m, const Offender& o, const IpAddr& src, uint8_t type,
                uint8_t code, uint32_t info, uint16_t ip_id);

}  // namespace weft::route::icmp_errors

// ARP (RFC 826) and IPv6 Neighbour Discovery (RFC 4861): the one parser
// and the one builder of both, shared by the ArpNd element (workers) and the
// Interfaces service (control thread). Pure functions on byte buffers; no
// allocation, no system calls.
#pragma once

#include <rte_arp.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>

#include <cstdint>
#include <cstring>

#include "weft/net.hpp"

namespace weft::route::nd {

// --- parsing ------------------------------------------------------------------

enum class Verdict : uint8_t {
  Ok,
  NotArpNd,     // neither ARP nor an ICMPv6 ND message (the caller passes it on)
  Truncated,    // shorter than its headers say
  BadArp,       // not Ethernet/IPv4 ARP, or an unknown operation
  BadNd,        // ND: hop limit not 255, code not 0, bad checksum, bad lengths or options
};

struct Arp {
  uint16_t op = 0;  // RTE_ARP_OP_REQUEST / RTE_ARP_OP_REPLY
  Mac sender_mac, target_mac;
  uint32_t sender_ip = 0, target_ip = 0;  // network order
};

struct Nd {
  uint8_t type = 0;  // icmp6::kNeighborSolicit ... kRedirect
  Ip6 src, dst;      // IPv6 header addresses
  Ip6 target;        // NS/NA/redirect target
  bool has_lladdr = false;
  Mac lladdr;  // source link-layer option (NS, RS, RA) or target link-layer option (NA)
  bool router = false, solicited = false, override_flag = false;  // NA flags
};

// An Ethernet frame at `frame` (`len` bytes): ARP? (ethertype 0x0806)
Verdict parse_arp(const uint8_t* frame, size_t len, Arp& out);
// An Ethernet frame carrying IPv6 with ICMPv6 right after its header (ND
// never uses extension headers): an ND message of type 133..137?
// Checks hop limit 255, code 0, the ICMPv6 checksum, lengths and options
// (RFC 4861 7.1.1, 7.1.2, 6.1).
Verdict parse_nd(const uint8_t* frame, size_t len, Nd& out);

// --- building ---------------------------------------------------------------

inline constexpr size_t kArpFrame = sizeof(rte_ether_hdr) + sizeof(rte_arp_hdr);  // 42
// NS/NA with a link-layer option: Ethernet + IPv6 + 24-byte ICMPv6 + 8-byte option.
inline constexpr size_t kNdFrame = sizeof(rte_ether_hdr) + sizeof(rte_ipv6_hdr) + 24 + 8;  // 86

// Writes an ARP frame (42 bytes) into `out`: an Ethernet header to
// `eth_dst`, then the ARP message.
void build_arp(uint8_t* out, uint16_t op, const Mac& eth_src, const Mac& eth_dst, const Mac& sender_mac,
               uint32_t sender_ip, const Mac& target_mac, uint32_t target_ip);

// Writes a neighbour solicitation for `target` (86 bytes): multicast to the
// target's solicited-node address unless `unicast_to` is given (probe of a
// known neighbour: unicast to its address and MAC).
void build_ns(uint8_t* out, const Mac& src_mac, const Ip6& src_ip, const Ip6& target, const Mac* unicast_mac);

// Writes a neighbour advertisement (86 bytes) for our `target` address, to
// `dst_ip`/`dst_mac` (ff02::1 / 33:33:00:00:00:01 for an unsolicited one).
void build_na(uint8_t* out, const Mac& src_mac, const Ip6& src_ip, const Ip6& dst_ip, const Mac& dst_mac,
              const Ip6& target, bool solicited, bool override_flag, bool router);

// The 16-bit one's-complement sum of an ICMPv6 message of `len` bytes at
// `msg` with its pseudo-header (0xffff: the checksum in it is right).
uint16_t icmp6_sum(const rte_ipv6_hdr* ip, const uint8_t* msg, size_t len);

// Helpers.
Ip6 solicited_node(const Ip6& a);     // ff02::1:ffXX:XXXX
Mac multicast_mac(const Ip6& a);      // 33:33 + the low 32 bits
Ip6 link_local_of(const Mac& m);      // fe80::/64 with the modified EUI-64 of m
inline Ip6 all_nodes() { return *Ip6::parse("ff02::1"); }

}  // namespace weft::route::nd

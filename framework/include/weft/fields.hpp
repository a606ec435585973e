// The metadata fields Weft's own elements exchange. Third-party elements use
// the same names to interoperate (a classifier reading the VNI a decapsulator
// set, an encapsulator reading the underlay destination a lookup chose).
//
//   weft::fields::Vni vni_;                    // member
//   vni_ = weft::fields::vni();                // in initialize()
//   if (vni_.has(m)) use(vni_.get(m));         // on the fast path
//   vni_.set(m, 100);
#pragma once

#include <cstdint>

#include "weft/metadata.hpp"

namespace weft::fields {

// VXLAN network identifier (24 bits), set by VxlanDecap or a lookup, read by
// VxlanEncap and Classifier.
using Vni = MetaSlot<uint32_t>;
inline Vni vni() { return Vni("weft_vni"); }

// VLAN tags removed by VlanPop (outermost first), and the tag VlanPush
// applies when it has no `vid` parameter.
struct VlanTags {
  uint16_t tpid[2];  // host order: 0x8100, 0x88a8
  uint16_t tci[2];   // host order: PCP(3) DEI(1) VID(12)
  uint8_t count;     // 1 or 2
};
using Vlan = MetaSlot<VlanTags>;
inline Vlan vlan() { return Vlan("weft_vlan"); }

// Where an encapsulated packet goes in the underlay, chosen upstream (an
// overlay lookup) and used by VxlanEncap when it has no `remote_ip`.
struct Underlay {
  uint8_t family;     // 4 or 6
  uint8_t has_mac;    // 1 if mac is the next-hop MAC to use
  uint16_t udp_port;  // host order; 0: the encapsulator's own (VxlanDecap records 0)
  uint8_t addr[16];   // IPv4 in the first 4 bytes, or IPv6
  uint8_t mac[6];
};
using UnderlaySlot = MetaSlot<Underlay>;
inline UnderlaySlot underlay() { return UnderlaySlot("weft_underlay"); }

// Policing color set by RateLimiter, read by a color-aware RateLimiter
// downstream: 0 green, 1 yellow, 2 red.
using Color = MetaSlot<uint8_t>;
inline Color color() { return Color("weft_color"); }

// Set on a packet this router originates itself (an ICMP error, an echo
// reply, a neighbour message, a VXLAN outer header): a router never
// decrements the TTL of its own packets (RFC 1812 4.2.2.9, 5.3.1), so
// IpLookup routes a marked packet without checking or decrementing its TTL or
// hop limit, and clears the mark. Packets from the host path's tap are the
// kernel's, already routed by it: they go straight to a port and are not
// marked (docs/host-path.md).
using LocalOrigin = MetaFlag;
inline LocalOrigin local_origin() { return LocalOrigin("weft_local_origin"); }

}  // namespace weft::fields

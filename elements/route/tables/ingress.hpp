// The interface a packet arrived on, carried as metadata.
//
// The port a packet came in by names its interface only when the port
// carries one untagged interface. It does not for a VLAN interface, and not
// for an interface without a port (an overlay: its frames come out of a
// VxlanDecap, on the underlay's port). The interface's ArpNd element, which
// every frame of the interface crosses first, knows: it sets this slot on
// everything it passes on. Who answers the packet (IcmpEcho: the reply's
// source MAC; IcmpError: the error's source address; the Interfaces service:
// the unreachable it sends when a neighbour does not answer) takes the
// interface from here, and from the port only when the slot is not set.
#pragma once

#include "tables/interfaces.hpp"
#include "weft/metadata.hpp"

namespace weft::route {

using IngressSlot = MetaSlot<uint16_t>;  // an Interface::id
inline IngressSlot ingress_slot() { return IngressSlot("weft_ingress_interface"); }

// The interface `m` arrived on: the ingress metadata if set (and still an
// interface of `t`), else the untagged interface of its port (null: none).
inline const Interface* ingress_of(const InterfaceTable& t, const IngressSlot& s, rte_mbuf* m) {
  if (s.has(m))
    if (const Interface* i = t.by_id(s.get(m))) return i;
  return t.by_port(m->port);
}

}  // namespace weft::route

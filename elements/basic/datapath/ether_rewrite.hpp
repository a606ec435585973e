// EtherRewrite — set the Ethernet source and/or destination address.
//
// Ports:       input `in`; output `out`
// Parameters:  src (optional) source MAC to write, e.g. 02:00:00:00:00:01
//              dst (optional) destination MAC to write
//              (at least one of them)
// Handlers:    none
// Drops:       runt — shorter than an Ethernet header
//
// For graphs that address a neighbour statically (no ARP): the next hop's
// MAC as `dst`, the port's own as `src`. Everything after the two addresses
// (EtherType, VLAN tags, payload) is left as it is.
#pragma once

#include <array>

#include "weft/element.hpp"

namespace weft::basic {

class EtherRewrite final : public Element {
 public:
  static const ElementClass& klass();
  void configure(ConfigContext& ctx) override;
  void push(uint16_t, Batch& b) override;

 private:
  bool set_src_ = false, set_dst_ = false;
  std::array<uint8_t, 6> src_{}, dst_{};
};

}  // namespace weft::basic

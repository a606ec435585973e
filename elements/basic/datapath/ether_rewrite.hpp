// EtherRewrite — set the Ethernet source and/or destination address. Its
// class declaration (ether_rewrite.cpp) is its manual: `routerctl elements
// --doc EtherRewrite`.
//
// For graphs that address a neighbour statically (no ARP): the next hop's
// MAC as `dst`, the port's own as `src`. Everything after the two addresses
// (EtherType, VLAN tags, payload) is left as it is. The addresses must be in
// the first segment, where they are written in place.
#pragma once

#include "weft/element.hpp"
#include "weft/net.hpp"

namespace weft::basic {

class EtherRewrite final : public Element {
 public:
  static const ElementClass& klass();
  void configure(ConfigContext& ctx) override;
  void push(uint16_t, Batch& b) override;

 private:
  static inline Drop kRunt;

  bool set_src_ = false, set_dst_ = false;
  Mac src_{}, dst_{};
};

}  // namespace weft::basic

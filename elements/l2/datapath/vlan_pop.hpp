// VlanPop — remove the outermost VLAN tag (or both tags of a QinQ frame).
// Its class declaration (vlan_pop.cpp) is its manual: `routerctl elements
// --doc VlanPop`.
//
// A tag is a TPID of 0x8100 (802.1Q) or 0x88a8 (802.1ad) followed by its
// TCI. The removed tags are recorded in the packet's VLAN metadata
// (weft::fields::vlan(), outermost first) for a VlanPush without `vid` or any
// other reader; an untagged frame that passes has its VLAN metadata cleared.
// Headers are read with rte_pktmbuf_read and the frame is shortened in place
// (rte_pktmbuf_adj), so multi-segment packets work.
#pragma once

#include "weft/element.hpp"
#include "weft/fields.hpp"

namespace weft::l2 {

class VlanPop final : public Element {
 public:
  static const ElementClass& klass();
  void configure(ConfigContext& ctx) override;
  void initialize(InitContext& ctx) override;
  void push(uint16_t, Batch& b) override;

 private:
  static inline Drop kRunt, kTruncVlan, kUntagged;

  unsigned count_ = 1;
  bool drop_untagged_ = false;
  fields::Vlan vlan_;
};

}  // namespace weft::l2

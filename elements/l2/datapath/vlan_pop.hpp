// VlanPop — remove the outermost VLAN tag (or both tags of a QinQ frame).
//
// Ports:       input `in`; output `out`
// Parameters:  count    (default 1) tags to remove: 1, or 2 for both tags of a
//                       QinQ frame (a frame with one tag loses that one)
//              untagged (default pass) what to do with a frame that has no
//                       tag: `pass` (unchanged) or `drop`
// Handlers:    none
// Drops:       runt           — shorter than an Ethernet header (14 bytes)
//              truncated_vlan — a tag to remove ends past the packet
//              untagged       — no tag and `untagged: drop`
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
  unsigned count_ = 1;
  bool drop_untagged_ = false;
  fields::Vlan vlan_;
};

}  // namespace weft::l2

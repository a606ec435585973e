// VlanPush — insert an outermost 802.1Q or 802.1ad tag. Its class
// declaration (vlan_push.cpp) is its manual: `routerctl elements --doc
// VlanPush`.
//
// The tag goes right after the MAC addresses, so a frame that is already
// tagged becomes a QinQ frame (push with `tpid: 0x88a8` for an S-tag). The
// packet is modified in place (rte_pktmbuf_prepend, then the 12 address bytes
// move 4 bytes forward); multi-segment packets work. Without `vid` the tag is
// the outermost one a VlanPop recorded in the packet's VLAN metadata
// (weft::fields::vlan()); the metadata is left as it was.
#pragma once

#include <optional>

#include "weft/element.hpp"
#include "weft/fields.hpp"

namespace weft::l2 {

class VlanPush final : public Element {
 public:
  static const ElementClass& klass();
  void configure(ConfigContext& ctx) override;
  void initialize(InitContext& ctx) override;
  void push(uint16_t, Batch& b) override;

 private:
  static inline Drop kRunt, kNoHeadroom, kNoVid;

  std::string tag_text() const;

  std::optional<uint16_t> vid_;  // absent: the tag comes from metadata
  uint16_t pcp_ = 0;
  bool dei_ = false;
  uint16_t tpid_ = 0x8100;
  bool pcp_given_ = false, dei_given_ = false, tpid_given_ = false;
  fields::Vlan vlan_;
};

}  // namespace weft::l2

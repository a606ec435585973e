// VlanPush — insert an outermost 802.1Q or 802.1ad tag.
//
// Ports:       input `in`; output `out`
// Parameters:  vid   (optional) VLAN id 0-4095. Without it the tag is the
//                    outermost one a VlanPop recorded in the packet's VLAN
//                    metadata (weft::fields::vlan(): VID, PCP, DEI and TPID);
//                    `pcp`, `dei` and `tpid`, when written, override those
//              pcp   (default 0) priority code point 0-7
//              dei   (default false) drop eligible indicator
//              tpid  (default 0x8100) 0x8100 (802.1Q), 0x88a8 (802.1ad) or
//                    any 16-bit value
// Handlers:    tag (read) the tag as configured
// Drops:       runt        — shorter than an Ethernet header (14 bytes)
//              no_headroom — fewer than 4 bytes of headroom before the frame
//              no_vid      — no `vid` and no VLAN metadata on the packet
//
// The tag goes right after the MAC addresses, so a frame that is already
// tagged becomes a QinQ frame (push with `tpid: 0x88a8` for an S-tag). The
// packet is modified in place (rte_pktmbuf_prepend, then the 12 address bytes
// move 4 bytes forward); multi-segment packets work. The metadata is left as
// it was.
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
  void add_handlers(HandlerSet& h) override;

 private:
  std::optional<uint16_t> vid_;  // absent: the tag comes from metadata
  uint16_t pcp_ = 0;
  bool dei_ = false;
  uint16_t tpid_ = 0x8100;
  bool pcp_given_ = false, dei_given_ = false, tpid_given_ = false;
  fields::Vlan vlan_;
};

}  // namespace weft::l2

// VxlanDecap — check VXLAN packets (RFC 7348) and strip their outer headers.
// Its class declaration (vxlan_decap.cpp) is its manual: `routerctl elements
// --doc VxlanDecap`.
//
// Checks are made in the order of the drop reasons; the first failure names
// the drop. Reserved VXLAN fields are ignored (RFC 7348) and the UDP checksum
// is not verified (RFC 7348 and RFC 6935 let a tunnel endpoint skip it).
// Headers are read with rte_pktmbuf_read (never past the end; multi-segment
// packets work). On success the outer headers and any bytes after the UDP
// datagram (Ethernet padding) are removed in place, the VNI metadata
// (weft::fields::vni()) is set, and the underlay metadata
// (weft::fields::underlay()) records the outer source: family, address, UDP
// source port and MAC (has_mac = 1), for a reply path. The NIC's RX results
// for the outer headers (packet_type, checksum status flags) are cleared.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "weft/element.hpp"
#include "weft/fields.hpp"
#include "weft/net.hpp"

namespace weft::overlay {

class VxlanDecap final : public Element {
 public:
  static const ElementClass& klass();
  void configure(ConfigContext& ctx) override;
  void initialize(InitContext& ctx) override;
  void push(uint16_t, Batch& b) override;

  // What the checks learned about one packet.
  struct Outer {
    uint32_t inner_off = 0;  // where the inner frame starts
    uint32_t inner_len = 0;
    uint32_t vni = 0;
    fields::Underlay source{};
  };

 private:
  static inline Drop kRunt, kNotIp, kTruncIp, kBadIpHeader, kBadIpLength, kBadIpChecksum, kIpFragment, kNotLocal,
      kNotUdp, kTruncUdp, kWrongPort, kBadUdpLength, kTruncVxlan, kBadFlags, kTruncInner;

  // The reason to drop the packet, or null if it is good VXLAN.
  const Drop* check(rte_mbuf* m, Outer& o) const;
  uint16_t output_for(uint32_t vni) const;

  uint16_t port_ = 4789;
  std::optional<IpAddr> local_;
  std::vector<std::pair<std::string, uint32_t>> names_;  // vnis, in the order given
  std::vector<std::pair<uint32_t, uint16_t>> by_vni_;    // sorted by VNI
  fields::Vni vni_;
  fields::UnderlaySlot underlay_;
  fields::LocalOrigin local_origin_;
};

}  // namespace weft::overlay

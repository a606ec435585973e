// VxlanEncap — wrap Ethernet frames in VXLAN (RFC 7348) over IPv4 or IPv6.
// Its class declaration (vxlan_encap.cpp) is its manual: `routerctl elements
// --doc VxlanEncap`.
//
// Outer headers: Ethernet, IPv4 (header checksum computed; identification 0
// with DF, a per-worker counter without) or IPv6 (flow label 0), UDP
// (checksum 0 over IPv4 as RFC 7348 allows; computed over IPv6, multi-segment
// packets included), VXLAN with the I flag. Every field that does not change
// per packet is written once, in configure(), into a template copied in
// front of each frame; they go into the headroom (rte_pktmbuf_prepend), the
// frame itself is not copied. The UDP source port is a hash of the inner flow
// mapped into src_port_min..src_port_max, so one flow keeps one port (ECMP).
// A packet that asked for TX offloads gets the tunnel offsets (outer_l2_len,
// outer_l3_len, RTE_MBUF_F_TX_TUNNEL_VXLAN) so the NIC finds the inner headers.
#pragma once

#include <optional>

#include "weft/element.hpp"
#include "weft/fields.hpp"
#include "weft/net.hpp"

namespace weft::overlay {

class VxlanEncap final : public Element {
 public:
  static const ElementClass& klass();
  void configure(ConfigContext& ctx) override;
  void initialize(InitContext& ctx) override;
  void push(uint16_t, Batch& b) override;

 private:
  // The UDP source port for a frame: a hash (rte_hash_crc) of its flow
  // mapped into [min, max].
  static uint16_t source_port(rte_mbuf* m, uint16_t min, uint16_t max);
  // Ethernet + IPv6 + UDP + VXLAN, the largest outer header.
  static constexpr size_t kMaxOverhead = 14 + 40 + 8 + 8;

  static inline Drop kNoVni, kBadVni, kNoDestination, kFamilyMismatch, kNoDestinationMac, kRunt, kTooBig,
      kSharedBuffer, kNoHeadroom;

  // The reason to drop the packet, or null once it is encapsulated.
  const Drop* encapsulate(rte_mbuf* m);

  std::optional<uint32_t> vni_param_;
  IpAddr local_;
  std::optional<IpAddr> remote_;
  std::optional<Mac> remote_mac_;
  bool routed_ = false;  // no MACs given: an IpLookup downstream writes them
  uint16_t dst_port_ = 4789, src_min_ = 49152, src_max_ = 65535;
  uint8_t ttl_ = 64;
  bool df_ = true;
  uint32_t mtu_ = 1500;
  uint16_t ip_len_ = 20;     // outer IP header length
  uint16_t overhead_ = 50;   // bytes put in front of the frame
  uint16_t next_id_ = 0;     // IPv4 identification without DF
  alignas(8) uint8_t template_[kMaxOverhead] = {};  // outer headers with every constant field set

  fields::Vni vni_;
  fields::UnderlaySlot underlay_;
  fields::LocalOrigin local_origin_;  // the outer packet is ours: an IpLookup keeps its TTL
};

}  // namespace weft::overlay

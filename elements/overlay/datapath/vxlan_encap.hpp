// VxlanEncap — wrap Ethernet frames in VXLAN (RFC 7348) over IPv4 or IPv6.
//
// Ports:       input `in` (Ethernet frames); output `out` (VXLAN packets)
// Parameters:  vni        (optional) VNI 0-16777215; without it, the packet's
//                         VNI metadata (weft::fields::vni(), set by VxlanDecap
//                         or a lookup)
//              local_ip   (required) outer source, IPv4 or IPv6
//              remote_ip  (optional) outer destination, same family; without
//                         it, the packet's underlay metadata
//                         (weft::fields::underlay(): address, and a non-zero
//                         udp_port replaces dst_port)
//              local_mac  (required) outer source MAC
//              remote_mac (optional) outer destination MAC; without it, the
//                         underlay metadata's mac when it has one
//              dst_port   (default 4789) outer UDP destination port
//              src_port_min, src_port_max (default 49152, 65535) outer UDP
//                         source port range: a hash of the inner flow
//                         (addresses, ethertype, IP protocol, ports) mapped
//                         into it, so one flow keeps one port (ECMP)
//              ttl        (default 64) outer TTL / hop limit
//              dont_fragment (default true) IPv4 DF bit
//              mtu        (default 1500) largest outer IP packet
// Handlers:    none of its own (the framework's `config` shows the values)
// Drops:       no_vni             — no `vni` and no VNI metadata
//              bad_vni            — VNI metadata above 16777215
//              no_destination     — no `remote_ip` and no underlay metadata
//              family_mismatch    — underlay metadata of the other IP family
//              no_destination_mac — no `remote_mac` and no MAC in the metadata
//              runt               — inner frame shorter than an Ethernet header
//              too_big            — the outer IP packet would exceed `mtu`
//              shared_buffer      — the packet's buffer is shared (a clone):
//                                   writing headers in front would corrupt it
//              no_headroom        — fewer than 50 (IPv4) / 70 (IPv6) bytes
//                                   of headroom before the frame
//
// Outer headers: Ethernet, IPv4 (header checksum computed; identification 0
// with DF, a per-worker counter without) or IPv6 (flow label 0), UDP
// (checksum 0 over IPv4 as RFC 7348 allows; computed over IPv6, multi-segment
// packets included), VXLAN with the I flag. They are written into the
// headroom (rte_pktmbuf_prepend); the frame itself is not copied. A packet
// that asked for TX offloads gets the tunnel offsets (outer_l2_len,
// outer_l3_len, RTE_MBUF_F_TX_TUNNEL_VXLAN) so the NIC finds the inner headers.
#pragma once

#include <array>
#include <optional>

#include "addresses.hpp"
#include "weft/element.hpp"
#include "weft/fields.hpp"

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

  // Returns a drop reason, or -1 once the packet is encapsulated.
  int encapsulate(rte_mbuf* m);

  std::optional<uint32_t> vni_param_;
  IpAddress local_;
  std::optional<IpAddress> remote_;
  std::optional<std::array<uint8_t, 6>> remote_mac_;
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
};

}  // namespace weft::overlay

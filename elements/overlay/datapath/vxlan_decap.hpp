// VxlanDecap — check VXLAN packets (RFC 7348) and strip their outer headers.
//
// Ports:       input `in` (VXLAN packets); outputs: without `vnis`, one
//              output `out`; with `vnis`, one output per name in `vnis` (in
//              order) then `default` for every other VNI
// Parameters:  port     (default 4789) UDP destination port of VXLAN
//              local_ip (optional) IPv4 or IPv6 address the outer
//                       destination must be (else drop not_local)
//              vnis     (optional) map of output name to VNI, for example
//                       {tenant_a: 100, tenant_b: 200}
// Handlers:    vnis (read) the VNI of each named output
// Drops:       runt            — shorter than Ethernet (+ one VLAN tag)
//              not_ip          — outer ethertype is neither IPv4 nor IPv6
//              truncated_ip    — ends inside the outer IP header (or options)
//              bad_ip_header   — IP version wrong, IPv4 IHL below 5
//              bad_ip_length   — IP total/payload length shorter than the
//                                header or longer than the packet
//              bad_ip_checksum — outer IPv4 header checksum wrong
//              ip_fragment     — outer IP packet is a fragment
//              not_local       — outer destination is not `local_ip`
//              not_udp         — outer protocol is not UDP (IPv6 extension
//                                headers are not followed)
//              truncated_udp   — fewer than 8 bytes of UDP header
//              wrong_port      — UDP destination port is not `port`
//              bad_udp_length  — UDP length differs from the IP payload length
//              truncated_vxlan — UDP payload shorter than the VXLAN header
//              bad_flags       — VXLAN I flag (0x08) not set
//              truncated_inner — inner frame shorter than an Ethernet header
//
// Checks are made in that order; the first failure names the drop. Reserved
// VXLAN fields are ignored (RFC 7348) and the UDP checksum is not verified
// (RFC 7348 and RFC 6935 let a tunnel endpoint skip it). Headers are read
// with rte_pktmbuf_read (never past the end; multi-segment packets work).
// On success the outer headers and any bytes after the UDP datagram
// (Ethernet padding) are removed in place, the VNI metadata
// (weft::fields::vni()) is set, and the underlay metadata
// (weft::fields::underlay()) records the outer source: family, address, UDP
// source port and MAC (has_mac = 1), for a reply path. The NIC's RX results
// for the outer headers (packet_type, checksum status flags) are cleared.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "addresses.hpp"
#include "weft/element.hpp"
#include "weft/fields.hpp"

namespace weft::overlay {

class VxlanDecap final : public Element {
 public:
  static const ElementClass& klass();
  void configure(ConfigContext& ctx) override;
  void initialize(InitContext& ctx) override;
  void push(uint16_t, Batch& b) override;
  void add_handlers(HandlerSet& h) override;

  // What the checks learned about one packet.
  struct Outer {
    uint32_t inner_off = 0;  // where the inner frame starts
    uint32_t inner_len = 0;
    uint32_t vni = 0;
    fields::Underlay source{};
  };

 private:
  // Returns a drop reason, or -1 if the packet is good VXLAN.
  int check(rte_mbuf* m, Outer& o) const;
  uint16_t output_for(uint32_t vni) const;

  uint16_t port_ = 4789;
  std::optional<IpAddress> local_;
  std::vector<std::pair<std::string, uint32_t>> names_;  // vnis, in the order given
  std::vector<std::pair<uint32_t, uint16_t>> by_vni_;    // sorted by VNI
  fields::Vni vni_;
  fields::UnderlaySlot underlay_;
};

}  // namespace weft::overlay

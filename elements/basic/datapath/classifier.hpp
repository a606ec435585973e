// Classifier — sort packets to named outputs by header fields. Its class
// declaration (classifier.cpp) is its manual: `routerctl elements --doc
// Classifier`.
//
// Headers are read with rte_pktmbuf_read, so multi-segment packets work and
// nothing is read past the end of a packet. Parsing goes only as deep as the
// rules need (Depth): rules without `vni` and `inner` never look at metadata
// or past the outer headers, and a rule set without `inner` runs a loop that
// has no inner parsing at all (classify<false>).
//
// VXLAN for `inner` rules: outer Ethernet (up to two VLAN tags), IPv4 or
// IPv6 (not a fragment), UDP to `vxlan_port`, an 8-byte VXLAN header with
// the I flag set; the inner Ethernet frame is then parsed like an outer one.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "weft/element.hpp"
#include "weft/fields.hpp"
#include "weft/net.hpp"

namespace weft::basic {

class Classifier final : public Element {
 public:
  struct Rule {
    uint16_t output = 0;
    std::optional<uint16_t> ethertype;
    std::optional<int> vlan;  // -1: untagged
    std::optional<Mac> src_mac, dst_mac;
    std::optional<Prefix> ip_src, ip_dst;
    std::optional<uint8_t> ip_proto;
    std::optional<PortRange> src_port, dst_port;
    std::optional<uint32_t> vni;
    std::unique_ptr<Rule> inner;  // matched against the frame inside VXLAN
    std::string text;
  };
  // What the parser extracted from one frame (the packet, or the frame
  // inside its VXLAN header).
  struct Headers {
    uint8_t dst_mac[6], src_mac[6];
    uint16_t ethertype = 0;
    int vlan = -1;
    bool has_ip = false, ip_v6 = false, fragment = false, has_ports = false;
    bool has_vni = false;
    uint8_t ip_proto = 0;
    uint8_t src[16], dst[16];
    uint16_t sport = 0, dport = 0;
    uint32_t l4_off = 0;
    uint32_t vni = 0;
  };
  // How deep to parse a frame.
  struct Depth {
    bool l3 = false, l4 = false;
    bool udp_ports = false;  // read UDP ports even without l4 (VXLAN detection)
  };

  static const ElementClass& klass();
  void configure(ConfigContext& ctx) override;
  void initialize(InitContext& ctx) override;
  void push(uint16_t, Batch& b) override;

 private:
  static inline Drop kRunt, kTruncVlan, kTruncIp, kTruncL4, kBadIp, kTruncInner, kBadInnerIp, kNoMatch;

  // Each returns the reason to drop the packet, or null if the headers were
  // read. parse is inlined so the outer frame's offset 0 folds into the reads.
  [[gnu::always_inline]] inline const Drop* parse(rte_mbuf* m, uint32_t off, const Depth& depth, Headers& h) const;
  const Drop* parse_inner(rte_mbuf* m, const Headers& outer, Headers& inner, bool& is_vxlan) const;
  // The rule's own fields (not `inner`). Inlined: it runs for every rule
  // tried on every packet.
  [[gnu::always_inline]] inline bool matches(const Rule& r, const Headers& h) const;
  template <bool kInner>
  void classify(Batch& b);

  std::vector<Rule> rules_;
  int default_output_ = -1;  // -1: drop
  Depth outer_, inner_;
  bool need_vni_ = false;    // a rule reads the VNI metadata
  bool need_inner_ = false;  // a rule has `inner`
  uint16_t vxlan_port_ = 4789;
  fields::Vni vni_;
};

}  // namespace weft::basic

// Classifier — sort packets to named outputs by header fields.
//
// Ports:       input `in`; one output per distinct rule `output`, plus the
//              default output (unless `default: drop`)
// Parameters:  rules   (required) list of rules, tried in order, first match
//                      wins. Each rule has `output:` and any of:
//                        ethertype: 0x0800 | ipv4 | ipv6 | arp | vlan | qinq
//                                   (the type after any VLAN tags)
//                        vlan:      outer VLAN id (0-4095); `none` for untagged
//                        src_mac, dst_mac: aa:bb:cc:dd:ee:ff
//                        ip_src, ip_dst:   IPv4 or IPv6 prefix (10.0.0.0/8, 2001:db8::/32)
//                        ip_proto:  tcp | udp | icmp | icmpv6 | sctp | gre | number
//                        src_port, dst_port: port or range (80, 1000-2000)
//                        vni:       the VNI metadata an upstream element set
//                                   (VxlanDecap); no metadata, no match
//                        inner:     a nested rule (the fields above, no
//                                   `output`, no `inner`) matched against the
//                                   frame inside a VXLAN packet; there `vni`
//                                   is the VNI of the packet's VXLAN header.
//                                   A packet that is not VXLAN does not match.
//                      All fields of a rule must match.
//              default (default "default") output for packets no rule
//                      matches, or `drop` to drop them (reason no_match)
//              vxlan_port (default 4789) the UDP destination port that makes
//                      a packet VXLAN for `inner` rules
// Handlers:    rules (read) the rules as parsed
// Drops:       runt — shorter than an Ethernet header
//              truncated_vlan, truncated_ip, truncated_l4 — a header the
//                      rules need ends before its announced length
//              bad_ip — IP version or header length is wrong
//              truncated_inner — an `inner` rule needs a header of the
//                      encapsulated frame (VXLAN header included) that ends
//                      past the packet
//              bad_inner_ip — the encapsulated IP header's version or length
//                      is wrong
//              no_match — no rule matched and `default: drop`
//
// VXLAN for `inner` rules: outer Ethernet (up to two VLAN tags), IPv4 or
// IPv6 (not a fragment), UDP to `vxlan_port`, an 8-byte VXLAN header with
// the I flag set; the inner Ethernet frame is then parsed like an outer one.
//
// Headers are read with rte_pktmbuf_read, so multi-segment packets work and
// nothing is read past the end of a packet. Parsing goes only as deep as the
// rules need: rules without `vni` and `inner` never look at metadata or past
// the outer headers.
#pragma once

#include <array>
#include <memory>
#include <optional>

#include "weft/element.hpp"
#include "weft/fields.hpp"

namespace weft::basic {

class Classifier final : public Element {
 public:
  struct Prefix {
    bool v6 = false;
    std::array<uint8_t, 16> addr{};
    unsigned len = 0;
  };
  struct Rule {
    uint16_t output = 0;
    std::optional<uint16_t> ethertype;
    std::optional<int> vlan;  // -1: untagged
    std::optional<std::array<uint8_t, 6>> src_mac, dst_mac;
    std::optional<Prefix> ip_src, ip_dst;
    std::optional<uint8_t> ip_proto;
    std::optional<std::pair<uint16_t, uint16_t>> src_port, dst_port;
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
  void add_handlers(HandlerSet& h) override;

 private:
  // Each returns a drop reason, or -1 if the headers were read. parse is
  // inlined so the outer frame's offset 0 folds into the reads.
  [[gnu::always_inline]] inline int parse(rte_mbuf* m, uint32_t off, const Depth& depth, Headers& h) const;
  int parse_inner(rte_mbuf* m, const Headers& outer, Headers& inner, bool& is_vxlan) const;
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

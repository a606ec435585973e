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
//                      All fields of a rule must match.
//              default (default "default") output for packets no rule
//                      matches, or `drop` to drop them (reason no_match)
// Handlers:    rules (read) the rules as parsed
// Drops:       runt — shorter than an Ethernet header
//              truncated_vlan, truncated_ip, truncated_l4 — a header the
//                      rules need ends before its announced length
//              bad_ip — IP version or header length is wrong
//              no_match — no rule matched and `default: drop`
//
// Headers are read with rte_pktmbuf_read, so multi-segment packets work and
// nothing is read past the end of a packet. Parsing goes only as deep as the
// rules need.
#pragma once

#include <array>
#include <optional>

#include "weft/element.hpp"

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
    std::string text;
  };
  // What the parser extracted from one packet.
  struct Headers {
    uint8_t dst_mac[6], src_mac[6];
    uint16_t ethertype = 0;
    int vlan = -1;
    bool has_ip = false, ip_v6 = false, has_ports = false;
    uint8_t ip_proto = 0;
    uint8_t src[16], dst[16];
    uint16_t sport = 0, dport = 0;
  };

  static const ElementClass& klass();
  void configure(ConfigContext& ctx) override;
  void push(uint16_t, Batch& b) override;
  void add_handlers(HandlerSet& h) override;

 private:
  // Returns a drop reason, or -1 if the headers were read.
  int parse(rte_mbuf* m, Headers& h) const;
  bool matches(const Rule& r, const Headers& h) const;

  std::vector<Rule> rules_;
  int default_output_ = -1;  // -1: drop
  bool need_l3_ = false, need_l4_ = false;
};

}  // namespace weft::basic

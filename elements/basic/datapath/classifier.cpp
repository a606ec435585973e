#include "datapath/classifier.hpp"

#include <netinet/in.h>
#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_udp.h>
#include <rte_vxlan.h>

#include <cstring>
#include <map>

namespace weft::basic {

const ElementClass& Classifier::klass() {
  static const ElementClass k =
      ElementClass::make<Classifier>("Classifier")
          .describe("Sorts packets to named outputs by header fields; first matching rule wins.",
                    "Each rule names an `output` and any of the fields below. All fields of a rule must match. "
                    "Packets no rule matches go to the `default` output (or are dropped with `default: drop`).\n"
                    "Fields:\n"
                    "  ethertype           the type after any VLAN tags: a number (0x0800) or ipv4, ipv6, arp, vlan, "
                    "qinq, lldp, mpls\n"
                    "  vlan                outer VLAN id 0-4095, or `none` for untagged frames\n"
                    "  src_mac, dst_mac    a MAC address (52:54:00:12:34:56)\n"
                    "  ip_src, ip_dst      an IPv4 or IPv6 address or prefix (10.0.0.0/8, 2001:db8::/32)\n"
                    "  ip_proto            tcp, udp, icmp, icmpv6, sctp, gre or a number 0-255\n"
                    "  src_port, dst_port  a port (80) or a range (1000-2000)\n"
                    "  vni                 a VXLAN network identifier 0-16777215 (below)\n"
                    "  inner               a nested rule for the frame inside a VXLAN packet (below)\n"
                    "`vni` matches the VNI metadata an upstream element (VxlanDecap) set; a packet without it "
                    "does not match. `inner` is a nested rule (the same fields, without `output` and `inner`) "
                    "matched against the Ethernet frame inside a VXLAN packet (outer Ethernet, up to two VLAN "
                    "tags, IPv4 or IPv6 that is not a fragment, UDP to `vxlan_port`, VXLAN header with the I "
                    "flag); inside `inner`, `vni` is the VNI of the VXLAN header. A packet that is not VXLAN does "
                    "not match an `inner` rule. Parsing goes only as deep as the rules need.\n"
                    "Example:\n"
                    "  rules:\n"
                    "    - {output: arp, ethertype: arp}\n"
                    "    - {output: web, ip_proto: tcp, dst_port: 80}\n"
                    "    - {output: lan, ip_src: 10.0.0.0/8}\n"
                    "    - {output: vm1, vlan: 10, dst_mac: 52:54:00:00:00:01}\n"
                    "    - {output: tenant_a, vni: 100}\n"
                    "    - {output: tenant_b_web, inner: {vni: 200, ip_proto: tcp, dst_port: 443}}")
          .input("in")
          .outputs_from_config("one per distinct rule output, in order of first use, then the default output")
          .required("rules", ParamType::List, "rules tried in order; each has `output:` and match fields")
          .param("default", ParamType::String, "default", "output for unmatched packets, or `drop`")
          .param("vxlan_port", ParamType::UInt, "4789", "UDP destination port of VXLAN packets, for `inner` rules")
          .drop(kRunt, "runt", "shorter than an Ethernet header")
          .drop(kTruncVlan, "truncated_vlan", "a VLAN tag ends past the packet")
          .drop(kTruncIp, "truncated_ip", "the IP header ends past the packet")
          .drop(kTruncL4, "truncated_l4", "the TCP/UDP/SCTP ports end past the packet")
          .drop(kBadIp, "bad_ip", "wrong IP version or header length")
          .drop(kTruncInner, "truncated_inner",
                "an `inner` rule needs a header of the encapsulated frame that ends past the packet")
          .drop(kBadInnerIp, "bad_inner_ip", "wrong IP version or header length in the encapsulated frame")
          .drop(kNoMatch, "no_match", "no rule matched and `default: drop`")
          .read("rules", "the rules as parsed, one per line", [](const Classifier& e) {
            std::string s;
            for (const auto& r : e.rules_) s += r.text + "\n";
            return s;
          });
  return k;
}

namespace {

// The scalar's text, or "" for a list or mapping (which then fails the
// field's own check, with the field's own message).
std::string scalar(const ParamValue& v, std::string_view what) { return v.is_scalar() ? v.text(what) : std::string(); }

uint16_t parse_ethertype(const ParamValue& n) {
  static const std::map<std::string, uint16_t> names = {
      {"ipv4", RTE_ETHER_TYPE_IPV4}, {"ipv6", RTE_ETHER_TYPE_IPV6}, {"arp", RTE_ETHER_TYPE_ARP},
      {"vlan", RTE_ETHER_TYPE_VLAN}, {"qinq", RTE_ETHER_TYPE_QINQ}, {"lldp", RTE_ETHER_TYPE_LLDP},
      {"mpls", RTE_ETHER_TYPE_MPLS}};
  if (!n.is_scalar()) throw ConfigError(n.mark(), "ethertype: expected a number or a name");
  const std::string& s = n.text("ethertype");
  if (auto it = names.find(s); it != names.end()) return it->second;
  try {
    size_t pos = 0;
    unsigned long v = std::stoul(s, &pos, 0);
    if (pos == s.size() && v <= 0xffff) return static_cast<uint16_t>(v);
  } catch (const std::exception&) {
  }
  throw ConfigError(n.mark(), "ethertype: '" + s + "' is not a number (0x0800) or one of ipv4, ipv6, arp, vlan, qinq, "
                                                   "lldp, mpls");
}

uint8_t parse_proto(const ParamValue& n) {
  static const std::map<std::string, uint8_t> names = {{"icmp", IPPROTO_ICMP}, {"tcp", IPPROTO_TCP},
                                                       {"udp", IPPROTO_UDP},   {"icmpv6", IPPROTO_ICMPV6},
                                                       {"sctp", IPPROTO_SCTP}, {"gre", IPPROTO_GRE}};
  if (n.is_scalar()) {
    const std::string& s = n.text("ip_proto");
    if (auto it = names.find(s); it != names.end()) return it->second;
    try {
      size_t pos = 0;
      unsigned long v = std::stoul(s, &pos, 0);
      if (pos == s.size() && v <= 255) return static_cast<uint8_t>(v);
    } catch (const std::exception&) {
    }
  }
  throw ConfigError(n.mark(), "ip_proto: expected tcp, udp, icmp, icmpv6, sctp, gre or a number 0-255");
}

bool prefix_match(const Prefix& p, const uint8_t* addr) {
  unsigned full = p.len / 8, rest = p.len % 8;
  if (std::memcmp(p.addr.data(), addr, full) != 0) return false;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (p.addr.bytes[full] & mask) == (addr[full] & mask);
}

bool is_ipv6_ext(uint8_t nh) { return nh == 0 || nh == 43 || nh == 60 || nh == 44 || nh == 51; }

int parse_vlan(const ParamValue& n) {
  const std::string s = scalar(n, "vlan");
  if (s == "none") return -1;
  int v = -2;
  try {
    size_t pos = 0;
    v = std::stoi(s, &pos);
    if (pos != s.size()) v = -2;
  } catch (const std::exception&) {
  }
  if (v < 0 || v > 4095) throw ConfigError(n.mark(), "vlan: expected 0-4095 or none");
  return v;
}

uint32_t parse_vni(const ParamValue& n) {
  const std::string s = scalar(n, "vni");
  try {
    size_t pos = 0;
    const unsigned long v = std::stoul(s, &pos, 0);
    if (s[0] != '-' && pos == s.size() && v <= 0xffffff) return static_cast<uint32_t>(v);
  } catch (const std::exception&) {
  }
  throw ConfigError(n.mark(), "vni: expected a VXLAN network identifier 0-16777215");
}

// The match fields of a rule (everything but `output`), for a top-level rule
// or, with `nested`, for the rule inside `inner`. Sets what the fields need
// parsed in `depth` (and in `inner_depth` for an `inner` rule).
void parse_match_fields(const ParamValue& r, Classifier::Rule& rule, bool nested, Classifier::Depth& depth,
                        Classifier::Depth& inner_depth, bool& uses_vni) {
  if (nested) {
    for (const auto& e : r.entries()) {
      if (e.key == "output")
        throw ConfigError(e.key_mark, "an `inner` rule takes no `output`: the rule holding it names one");
      if (e.key == "inner")
        throw ConfigError(e.key_mark, "an `inner` rule cannot hold another `inner` (one level of VXLAN)");
    }
    r.only_keys({"ethertype", "vlan", "src_mac", "dst_mac", "ip_src", "ip_dst", "ip_proto", "src_port", "dst_port",
                 "vni"},
                "inner");
  } else {
    r.only_keys({"output", "ethertype", "vlan", "src_mac", "dst_mac", "ip_src", "ip_dst", "ip_proto", "src_port",
                 "dst_port", "vni", "inner"},
                "rules");
  }
  if (auto n = r["ethertype"]; n.defined()) rule.ethertype = parse_ethertype(n);
  if (auto n = r["vlan"]; n.defined()) rule.vlan = parse_vlan(n);
  if (auto n = r["src_mac"]; n.defined()) rule.src_mac = n.as<Mac>("src_mac");
  if (auto n = r["dst_mac"]; n.defined()) rule.dst_mac = n.as<Mac>("dst_mac");
  if (auto n = r["ip_src"]; n.defined()) rule.ip_src = n.as<Prefix>("ip_src");
  if (auto n = r["ip_dst"]; n.defined()) rule.ip_dst = n.as<Prefix>("ip_dst");
  if (rule.ip_src && rule.ip_dst && rule.ip_src->v6() != rule.ip_dst->v6())
    throw ConfigError(r["ip_dst"].mark(), "ip_src and ip_dst are of different families");
  if (auto n = r["ip_proto"]; n.defined()) rule.ip_proto = parse_proto(n);
  if (auto n = r["src_port"]; n.defined()) rule.src_port = n.as<PortRange>("src_port");
  if (auto n = r["dst_port"]; n.defined()) rule.dst_port = n.as<PortRange>("dst_port");
  if (auto n = r["vni"]; n.defined()) {
    rule.vni = parse_vni(n);
    if (!nested) uses_vni = true;
  }
  if (rule.ip_src || rule.ip_dst || rule.ip_proto) depth.l3 = true;
  if (rule.src_port || rule.dst_port) depth.l3 = depth.l4 = true;
  if (auto n = r["inner"]; n.defined()) {
    if (!n.is_map())
      throw ConfigError(n.mark(), "inner: expected a mapping of match fields such as {vni: 100, ip_proto: tcp}");
    rule.inner = std::make_unique<Classifier::Rule>();
    Classifier::Depth unused;
    parse_match_fields(n, *rule.inner, true, inner_depth, unused, uses_vni);
    // Recognizing VXLAN takes the outer IP header and UDP ports.
    depth.l3 = true;
    depth.udp_ports = true;
  }
}

}  // namespace

void Classifier::configure(ConfigContext& ctx) {
  const Params& p = ctx.params();
  std::vector<std::string> outputs;
  auto output_index = [&](const std::string& name) {
    for (size_t i = 0; i < outputs.size(); i++)
      if (outputs[i] == name) return static_cast<uint16_t>(i);
    outputs.push_back(name);
    return static_cast<uint16_t>(outputs.size() - 1);
  };
  for (const ParamValue& r : p.value("rules").items()) {
    if (!r.is_map()) throw ConfigError(r.mark(), "a rule is a mapping such as {output: web, dst_port: 80}");
    Rule rule;
    parse_match_fields(r, rule, false, outer_, inner_, need_vni_);
    const ParamValue out_v = r["output"];
    if (!out_v.is_scalar()) throw ConfigError(r.mark(), "rule has no `output:` naming where matching packets go");
    const std::string out = out_v.text("output");
    if (out == "drop") throw ConfigError(out_v.mark(), "'drop' is reserved; use a Discard element");
    rule.output = output_index(out);
    rule.text = r.yaml();
    need_inner_ = need_inner_ || rule.inner != nullptr;
    rules_.push_back(std::move(rule));
  }
  if (rules_.empty()) throw ConfigError(p.mark("rules"), "rules: give at least one rule");
  const uint64_t port = p.get<uint64_t>("vxlan_port");
  if (port < 1 || port > 65535) throw ConfigError(p.mark("vxlan_port"), "vxlan_port must be 1-65535");
  vxlan_port_ = static_cast<uint16_t>(port);
  const std::string def = p.get<std::string>("default");
  default_output_ = def == "drop" ? -1 : output_index(def);
  ctx.set_outputs(std::move(outputs));
}

void Classifier::initialize(InitContext&) {
  if (need_vni_) vni_ = fields::vni();
}

const Drop* Classifier::parse(rte_mbuf* m, uint32_t off, const Depth& depth, Headers& h) const {
  uint8_t buf[40];
  const auto* eth = static_cast<const rte_ether_hdr*>(rte_pktmbuf_read(m, off, sizeof(rte_ether_hdr), buf));
  if (!eth) return &kRunt;
  std::memcpy(h.dst_mac, eth->dst_addr.addr_bytes, 6);
  std::memcpy(h.src_mac, eth->src_addr.addr_bytes, 6);
  uint16_t type = rte_be_to_cpu_16(eth->ether_type);
  off += sizeof(rte_ether_hdr);
  for (int tags = 0; (type == RTE_ETHER_TYPE_VLAN || type == RTE_ETHER_TYPE_QINQ) && tags < 2; tags++) {
    const auto* v = static_cast<const rte_vlan_hdr*>(rte_pktmbuf_read(m, off, sizeof(rte_vlan_hdr), buf));
    if (!v) return &kTruncVlan;
    if (tags == 0) h.vlan = rte_be_to_cpu_16(v->vlan_tci) & 0xfff;
    type = rte_be_to_cpu_16(v->eth_proto);
    off += sizeof(rte_vlan_hdr);
  }
  h.ethertype = type;
  if (!depth.l3) return nullptr;
  uint32_t l4 = 0;
  bool first_fragment = true;
  if (type == RTE_ETHER_TYPE_IPV4) {
    const auto* ip = static_cast<const rte_ipv4_hdr*>(rte_pktmbuf_read(m, off, sizeof(rte_ipv4_hdr), buf));
    if (!ip) return &kTruncIp;
    if ((ip->version_ihl >> 4) != 4 || (ip->version_ihl & 0xf) < 5) return &kBadIp;
    uint32_t ihl = (ip->version_ihl & 0xfu) * 4u;
    if (off + ihl > m->pkt_len) return &kTruncIp;
    h.has_ip = true;
    h.ip_v6 = false;
    h.ip_proto = ip->next_proto_id;
    std::memcpy(h.src, &ip->src_addr, 4);
    std::memcpy(h.dst, &ip->dst_addr, 4);
    const uint16_t frag = rte_be_to_cpu_16(ip->fragment_offset);
    first_fragment = (frag & RTE_IPV4_HDR_OFFSET_MASK) == 0;
    h.fragment = (frag & (RTE_IPV4_HDR_OFFSET_MASK | RTE_IPV4_HDR_MF_FLAG)) != 0;
    l4 = off + ihl;
  } else if (type == RTE_ETHER_TYPE_IPV6) {
    const auto* ip = static_cast<const rte_ipv6_hdr*>(rte_pktmbuf_read(m, off, sizeof(rte_ipv6_hdr), buf));
    if (!ip) return &kTruncIp;
    if ((rte_be_to_cpu_32(ip->vtc_flow) >> 28) != 6) return &kBadIp;
    h.has_ip = true;
    h.ip_v6 = true;
    std::memcpy(h.src, ip->src_addr, 16);
    std::memcpy(h.dst, ip->dst_addr, 16);
    uint8_t nh = ip->proto;
    l4 = off + sizeof(rte_ipv6_hdr);
    // Walk extension headers to the upper-layer protocol (bounded).
    for (int i = 0; i < 8 && is_ipv6_ext(nh); i++) {
      const auto* ext = static_cast<const uint8_t*>(rte_pktmbuf_read(m, l4, 8, buf));
      if (!ext) return &kTruncIp;
      uint32_t len;
      if (nh == 44) {  // fragment header: fixed 8 bytes
        const uint16_t frag = rte_be_to_cpu_16(*reinterpret_cast<const uint16_t*>(ext + 2));
        first_fragment = (frag & 0xfff8) == 0;
        h.fragment = h.fragment || (frag & 0xfff9) != 0;  // offset or M flag (not an atomic fragment)
        len = 8;
      } else if (nh == 51) {  // AH: length in 4-octet units minus 2
        len = (ext[1] + 2u) * 4u;
      } else {
        len = (ext[1] + 1u) * 8u;
      }
      nh = ext[0];
      l4 += len;
    }
    if (is_ipv6_ext(nh)) return &kBadIp;
    h.ip_proto = nh;
  } else {
    return nullptr;
  }
  h.l4_off = l4;
  if (!first_fragment) return nullptr;
  const bool ports = h.ip_proto == IPPROTO_TCP || h.ip_proto == IPPROTO_UDP || h.ip_proto == IPPROTO_SCTP;
  if (ports && (depth.l4 || (depth.udp_ports && h.ip_proto == IPPROTO_UDP))) {
    const auto* p = static_cast<const uint16_t*>(rte_pktmbuf_read(m, l4, 4, buf));
    if (!p) return &kTruncL4;
    h.has_ports = true;
    h.sport = rte_be_to_cpu_16(p[0]);
    h.dport = rte_be_to_cpu_16(p[1]);
  }
  return nullptr;
}

const Drop* Classifier::parse_inner(rte_mbuf* m, const Headers& outer, Headers& inner, bool& is_vxlan) const {
  is_vxlan = false;
  if (!outer.has_ip || outer.fragment || outer.ip_proto != IPPROTO_UDP || !outer.has_ports ||
      outer.dport != vxlan_port_)
    return nullptr;
  rte_vxlan_hdr buf;
  const uint32_t off = outer.l4_off + sizeof(rte_udp_hdr);
  const auto* vx = static_cast<const rte_vxlan_hdr*>(rte_pktmbuf_read(m, off, sizeof(rte_vxlan_hdr), &buf));
  if (!vx) return &kTruncInner;
  if (!(rte_be_to_cpu_32(vx->vx_flags) & 0x08000000u)) return nullptr;  // no I flag: not VXLAN
  is_vxlan = true;
  inner.has_vni = true;
  inner.vni = rte_be_to_cpu_32(vx->vx_vni) >> 8;
  const Drop* bad = parse(m, off + sizeof(rte_vxlan_hdr), inner_, inner);
  if (bad == &kBadIp) return &kBadInnerIp;
  return bad ? &kTruncInner : nullptr;
}

bool Classifier::matches(const Rule& r, const Headers& h) const {
  if (r.ethertype && *r.ethertype != h.ethertype) return false;
  if (r.vlan && *r.vlan != h.vlan) return false;
  if (r.dst_mac && std::memcmp(r.dst_mac->data(), h.dst_mac, 6) != 0) return false;
  if (r.src_mac && std::memcmp(r.src_mac->data(), h.src_mac, 6) != 0) return false;
  if (r.ip_src || r.ip_dst || r.ip_proto) {
    if (!h.has_ip) return false;
    if (r.ip_src && (r.ip_src->v6() != h.ip_v6 || !prefix_match(*r.ip_src, h.src))) return false;
    if (r.ip_dst && (r.ip_dst->v6() != h.ip_v6 || !prefix_match(*r.ip_dst, h.dst))) return false;
    if (r.ip_proto && *r.ip_proto != h.ip_proto) return false;
  }
  if (r.src_port || r.dst_port) {
    if (!h.has_ports) return false;
    if (r.src_port && !r.src_port->contains(h.sport)) return false;
    if (r.dst_port && !r.dst_port->contains(h.dport)) return false;
  }
  if (r.vni && (!h.has_vni || h.vni != *r.vni)) return false;
  return true;
}

// One loop per kind of rule set, so rules without `inner` pay nothing for it.
template <bool kInner>
void Classifier::classify(Batch& b) {
  for (uint16_t i = 0; i < b.count; i++) {
    rte_mbuf* m = b.pkts[i];
    Headers h;
    const Drop* bad = parse(m, 0, outer_, h);
    [[maybe_unused]] Headers inner;
    [[maybe_unused]] bool is_vxlan = false;
    if constexpr (kInner)
      if (!bad) bad = parse_inner(m, h, inner, is_vxlan);
    if (bad) {
      drop(m, *bad);
      continue;
    }
    if (need_vni_ && vni_.has(m)) {
      h.has_vni = true;
      h.vni = vni_.get(m);
    }
    int out = default_output_;
    for (const auto& r : rules_) {
      if (!matches(r, h)) continue;
      if constexpr (kInner)
        if (r.inner && !(is_vxlan && matches(*r.inner, inner))) continue;
      out = r.output;
      break;
    }
    if (out < 0) drop(m, kNoMatch);
    else emit(static_cast<uint16_t>(out), m);
  }
}

void Classifier::push(uint16_t, Batch& b) {
  if (need_inner_) classify<true>(b);
  else classify<false>(b);
}

}  // namespace weft::basic

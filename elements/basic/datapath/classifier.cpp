#include "datapath/classifier.hpp"

#include <arpa/inet.h>
#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_udp.h>
#include <rte_vxlan.h>

#include <cstring>
#include <map>

namespace weft::basic {

enum : uint16_t {
  kDropRunt = 0,
  kDropTruncVlan,
  kDropTruncIp,
  kDropTruncL4,
  kDropBadIp,
  kDropTruncInner,
  kDropBadInnerIp,
  kDropNoMatch,
};

const ElementClass& Classifier::klass() {
  static const ElementClass k =
      ElementClass::make<Classifier>("Classifier")
          .describe("Sorts packets to named outputs by header fields; first matching rule wins.",
                    "Each rule names an `output` and any of: ethertype, vlan, src_mac, dst_mac, ip_src, ip_dst, "
                    "ip_proto, src_port, dst_port, vni, inner. All fields of a rule must match. Packets no rule "
                    "matches go to the `default` output (or are dropped with `default: drop`).\n"
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
          .drop("runt", "shorter than an Ethernet header")
          .drop("truncated_vlan", "a VLAN tag ends past the packet")
          .drop("truncated_ip", "the IP header ends past the packet")
          .drop("truncated_l4", "the TCP/UDP/SCTP ports end past the packet")
          .drop("bad_ip", "wrong IP version or header length")
          .drop("truncated_inner", "an `inner` rule needs a header of the encapsulated frame that ends past the packet")
          .drop("bad_inner_ip", "wrong IP version or header length in the encapsulated frame")
          .drop("no_match", "no rule matched and `default: drop`")
          .handler("rules", true, false, "the rules as parsed, one per line");
  return k;
}

namespace {

uint16_t parse_ethertype(const YAML::Node& n) {
  static const std::map<std::string, uint16_t> names = {
      {"ipv4", RTE_ETHER_TYPE_IPV4}, {"ipv6", RTE_ETHER_TYPE_IPV6}, {"arp", RTE_ETHER_TYPE_ARP},
      {"vlan", RTE_ETHER_TYPE_VLAN}, {"qinq", RTE_ETHER_TYPE_QINQ}, {"lldp", RTE_ETHER_TYPE_LLDP},
      {"mpls", RTE_ETHER_TYPE_MPLS}};
  if (!n.IsScalar()) throw ConfigError(mark_of(n), "ethertype: expected a number or a name");
  if (auto it = names.find(n.Scalar()); it != names.end()) return it->second;
  try {
    size_t pos = 0;
    unsigned long v = std::stoul(n.Scalar(), &pos, 0);
    if (pos == n.Scalar().size() && v <= 0xffff) return static_cast<uint16_t>(v);
  } catch (const std::exception&) {
  }
  throw ConfigError(mark_of(n), "ethertype: '" + n.Scalar() + "' is not a number (0x0800) or one of ipv4, ipv6, "
                                                                "arp, vlan, qinq, lldp, mpls");
}

std::array<uint8_t, 6> parse_mac(const YAML::Node& n, const char* what) {
  rte_ether_addr a{};
  if (!n.IsScalar() || rte_ether_unformat_addr(n.Scalar().c_str(), &a) != 0)
    throw ConfigError(mark_of(n), std::string(what) + ": expected a MAC address such as 52:54:00:12:34:56");
  std::array<uint8_t, 6> out;
  std::memcpy(out.data(), a.addr_bytes, 6);
  return out;
}

Classifier::Prefix parse_prefix(const YAML::Node& n, const char* what) {
  if (!n.IsScalar()) throw ConfigError(mark_of(n), std::string(what) + ": expected an address or prefix");
  std::string s = n.Scalar();
  Classifier::Prefix p;
  std::string addr = s;
  int len = -1;
  if (auto slash = s.find('/'); slash != std::string::npos) {
    addr = s.substr(0, slash);
    try {
      size_t pos = 0;
      len = std::stoi(s.substr(slash + 1), &pos);
      if (pos != s.size() - slash - 1) len = -2;
    } catch (const std::exception&) {
      len = -2;
    }
  }
  if (inet_pton(AF_INET, addr.c_str(), p.addr.data()) == 1) {
    p.v6 = false;
    if (len == -1) len = 32;
    if (len < 0 || len > 32) throw ConfigError(mark_of(n), std::string(what) + ": bad IPv4 prefix length in '" + s + "'");
  } else if (inet_pton(AF_INET6, addr.c_str(), p.addr.data()) == 1) {
    p.v6 = true;
    if (len == -1) len = 128;
    if (len < 0 || len > 128)
      throw ConfigError(mark_of(n), std::string(what) + ": bad IPv6 prefix length in '" + s + "'");
  } else {
    throw ConfigError(mark_of(n), std::string(what) + ": '" + s + "' is not an IPv4 or IPv6 address");
  }
  p.len = static_cast<unsigned>(len);
  return p;
}

uint8_t parse_proto(const YAML::Node& n) {
  static const std::map<std::string, uint8_t> names = {{"icmp", IPPROTO_ICMP}, {"tcp", IPPROTO_TCP},
                                                       {"udp", IPPROTO_UDP},   {"icmpv6", IPPROTO_ICMPV6},
                                                       {"sctp", IPPROTO_SCTP}, {"gre", IPPROTO_GRE}};
  if (n.IsScalar()) {
    if (auto it = names.find(n.Scalar()); it != names.end()) return it->second;
    try {
      size_t pos = 0;
      unsigned long v = std::stoul(n.Scalar(), &pos, 0);
      if (pos == n.Scalar().size() && v <= 255) return static_cast<uint8_t>(v);
    } catch (const std::exception&) {
    }
  }
  throw ConfigError(mark_of(n), "ip_proto: expected tcp, udp, icmp, icmpv6, sctp, gre or a number 0-255");
}

std::pair<uint16_t, uint16_t> parse_port_range(const YAML::Node& n, const char* what) {
  if (n.IsScalar()) {
    std::string s = n.Scalar();
    auto dash = s.find('-');
    try {
      size_t p1 = 0, p2 = 0;
      unsigned long lo = std::stoul(s.substr(0, dash), &p1, 10);
      unsigned long hi = lo;
      bool ok = p1 == (dash == std::string::npos ? s.size() : dash);
      if (dash != std::string::npos) {
        hi = std::stoul(s.substr(dash + 1), &p2, 10);
        ok = ok && p2 == s.size() - dash - 1;
      }
      if (ok && lo <= hi && hi <= 65535) return {static_cast<uint16_t>(lo), static_cast<uint16_t>(hi)};
    } catch (const std::exception&) {
    }
  }
  throw ConfigError(mark_of(n), std::string(what) + ": expected a port (80) or a range (1000-2000) within 0-65535");
}

bool prefix_match(const Classifier::Prefix& p, const uint8_t* addr) {
  unsigned full = p.len / 8, rest = p.len % 8;
  if (std::memcmp(p.addr.data(), addr, full) != 0) return false;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (p.addr[full] & mask) == (addr[full] & mask);
}

bool is_ipv6_ext(uint8_t nh) { return nh == 0 || nh == 43 || nh == 60 || nh == 44 || nh == 51; }

int parse_vlan(const YAML::Node& n) {
  if (n.IsScalar() && n.Scalar() == "none") return -1;
  int v = -2;
  try {
    size_t pos = 0;
    v = std::stoi(n.Scalar(), &pos);
    if (pos != n.Scalar().size()) v = -2;
  } catch (const std::exception&) {
  }
  if (v < 0 || v > 4095) throw ConfigError(mark_of(n), "vlan: expected 0-4095 or none");
  return v;
}

uint32_t parse_vni(const YAML::Node& n) {
  const std::string s = n.IsScalar() ? n.Scalar() : "";
  try {
    size_t pos = 0;
    const unsigned long v = std::stoul(s, &pos, 0);
    if (s[0] != '-' && pos == s.size() && v <= 0xffffff) return static_cast<uint32_t>(v);
  } catch (const std::exception&) {
  }
  throw ConfigError(mark_of(n), "vni: expected a VXLAN network identifier 0-16777215");
}

std::string one_line(const YAML::Node& n) {
  std::string text = YAML::Dump(n);
  for (auto& ch : text)
    if (ch == '\n') ch = ' ';
  return text;
}

// The match fields of a rule (everything but `output`), for a top-level rule
// or, with `nested`, for the rule inside `inner`. Sets what the fields need
// parsed in `depth` (and in `inner_depth` for an `inner` rule).
void parse_match_fields(const YAML::Node& r, Classifier::Rule& rule, bool nested, Classifier::Depth& depth,
                        Classifier::Depth& inner_depth, bool& uses_vni) {
  static const std::vector<std::string> fields = {"output", "ethertype", "vlan",     "src_mac",  "dst_mac", "ip_src",
                                                  "ip_dst", "ip_proto",  "src_port", "dst_port", "vni",     "inner"};
  for (auto it = r.begin(); it != r.end(); ++it) {
    const std::string key = it->first.Scalar();
    bool known = false;
    for (const auto& f : fields) known = known || f == key;
    if (nested && key == "output")
      throw ConfigError(mark_of(it->first), "an `inner` rule takes no `output`: the rule holding it names one");
    if (nested && key == "inner")
      throw ConfigError(mark_of(it->first), "an `inner` rule cannot hold another `inner` (one level of VXLAN)");
    if (!known) {
      std::string list;
      for (const auto& f : fields)
        if (!nested || (f != "output" && f != "inner")) list += (list.empty() ? "" : ", ") + f;
      throw ConfigError(mark_of(it->first), "unknown rule field '" + key + "' (fields: " + list + ")");
    }
  }
  if (auto n = r["ethertype"]) rule.ethertype = parse_ethertype(n);
  if (auto n = r["vlan"]) rule.vlan = parse_vlan(n);
  if (auto n = r["src_mac"]) rule.src_mac = parse_mac(n, "src_mac");
  if (auto n = r["dst_mac"]) rule.dst_mac = parse_mac(n, "dst_mac");
  if (auto n = r["ip_src"]) rule.ip_src = parse_prefix(n, "ip_src");
  if (auto n = r["ip_dst"]) rule.ip_dst = parse_prefix(n, "ip_dst");
  if (rule.ip_src && rule.ip_dst && rule.ip_src->v6 != rule.ip_dst->v6)
    throw ConfigError(mark_of(r["ip_dst"]), "ip_src and ip_dst are of different families");
  if (auto n = r["ip_proto"]) rule.ip_proto = parse_proto(n);
  if (auto n = r["src_port"]) rule.src_port = parse_port_range(n, "src_port");
  if (auto n = r["dst_port"]) rule.dst_port = parse_port_range(n, "dst_port");
  if (auto n = r["vni"]) {
    rule.vni = parse_vni(n);
    if (!nested) uses_vni = true;
  }
  if (rule.ip_src || rule.ip_dst || rule.ip_proto) depth.l3 = true;
  if (rule.src_port || rule.dst_port) depth.l3 = depth.l4 = true;
  if (auto n = r["inner"]) {
    if (!n.IsMap())
      throw ConfigError(mark_of(n), "inner: expected a mapping of match fields such as {vni: 100, ip_proto: tcp}");
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
  for (const auto& r : p.node("rules")) {
    if (!r.IsMap()) throw ConfigError(mark_of(r), "a rule is a mapping such as {output: web, dst_port: 80}");
    Rule rule;
    parse_match_fields(r, rule, false, outer_, inner_, need_vni_);
    if (!r["output"] || !r["output"].IsScalar())
      throw ConfigError(mark_of(r), "rule has no `output:` naming where matching packets go");
    const std::string out = r["output"].Scalar();
    if (out == "drop") throw ConfigError(mark_of(r["output"]), "'drop' is reserved; use a Discard element");
    rule.output = output_index(out);
    rule.text = one_line(r);
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

int Classifier::parse(rte_mbuf* m, uint32_t off, const Depth& depth, Headers& h) const {
  uint8_t buf[40];
  const auto* eth = static_cast<const rte_ether_hdr*>(rte_pktmbuf_read(m, off, sizeof(rte_ether_hdr), buf));
  if (!eth) return kDropRunt;
  std::memcpy(h.dst_mac, eth->dst_addr.addr_bytes, 6);
  std::memcpy(h.src_mac, eth->src_addr.addr_bytes, 6);
  uint16_t type = rte_be_to_cpu_16(eth->ether_type);
  off += sizeof(rte_ether_hdr);
  for (int tags = 0; (type == RTE_ETHER_TYPE_VLAN || type == RTE_ETHER_TYPE_QINQ) && tags < 2; tags++) {
    const auto* v = static_cast<const rte_vlan_hdr*>(rte_pktmbuf_read(m, off, sizeof(rte_vlan_hdr), buf));
    if (!v) return kDropTruncVlan;
    if (tags == 0) h.vlan = rte_be_to_cpu_16(v->vlan_tci) & 0xfff;
    type = rte_be_to_cpu_16(v->eth_proto);
    off += sizeof(rte_vlan_hdr);
  }
  h.ethertype = type;
  if (!depth.l3) return -1;
  uint32_t l4 = 0;
  bool first_fragment = true;
  if (type == RTE_ETHER_TYPE_IPV4) {
    const auto* ip = static_cast<const rte_ipv4_hdr*>(rte_pktmbuf_read(m, off, sizeof(rte_ipv4_hdr), buf));
    if (!ip) return kDropTruncIp;
    if ((ip->version_ihl >> 4) != 4 || (ip->version_ihl & 0xf) < 5) return kDropBadIp;
    uint32_t ihl = (ip->version_ihl & 0xfu) * 4u;
    if (off + ihl > m->pkt_len) return kDropTruncIp;
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
    if (!ip) return kDropTruncIp;
    if ((rte_be_to_cpu_32(ip->vtc_flow) >> 28) != 6) return kDropBadIp;
    h.has_ip = true;
    h.ip_v6 = true;
    std::memcpy(h.src, ip->src_addr, 16);
    std::memcpy(h.dst, ip->dst_addr, 16);
    uint8_t nh = ip->proto;
    l4 = off + sizeof(rte_ipv6_hdr);
    // Walk extension headers to the upper-layer protocol (bounded).
    for (int i = 0; i < 8 && is_ipv6_ext(nh); i++) {
      const auto* ext = static_cast<const uint8_t*>(rte_pktmbuf_read(m, l4, 8, buf));
      if (!ext) return kDropTruncIp;
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
    if (is_ipv6_ext(nh)) return kDropBadIp;
    h.ip_proto = nh;
  } else {
    return -1;
  }
  h.l4_off = l4;
  if (!first_fragment) return -1;
  const bool ports = h.ip_proto == IPPROTO_TCP || h.ip_proto == IPPROTO_UDP || h.ip_proto == IPPROTO_SCTP;
  if (ports && (depth.l4 || (depth.udp_ports && h.ip_proto == IPPROTO_UDP))) {
    const auto* p = static_cast<const uint16_t*>(rte_pktmbuf_read(m, l4, 4, buf));
    if (!p) return kDropTruncL4;
    h.has_ports = true;
    h.sport = rte_be_to_cpu_16(p[0]);
    h.dport = rte_be_to_cpu_16(p[1]);
  }
  return -1;
}

int Classifier::parse_inner(rte_mbuf* m, const Headers& outer, Headers& inner, bool& is_vxlan) const {
  is_vxlan = false;
  if (!outer.has_ip || outer.fragment || outer.ip_proto != IPPROTO_UDP || !outer.has_ports ||
      outer.dport != vxlan_port_)
    return -1;
  rte_vxlan_hdr buf;
  const uint32_t off = outer.l4_off + sizeof(rte_udp_hdr);
  const auto* vx = static_cast<const rte_vxlan_hdr*>(rte_pktmbuf_read(m, off, sizeof(rte_vxlan_hdr), &buf));
  if (!vx) return kDropTruncInner;
  if (!(rte_be_to_cpu_32(vx->vx_flags) & 0x08000000u)) return -1;  // no I flag: not VXLAN
  is_vxlan = true;
  inner.has_vni = true;
  inner.vni = rte_be_to_cpu_32(vx->vx_vni) >> 8;
  int bad = parse(m, off + sizeof(rte_vxlan_hdr), inner_, inner);
  if (bad == kDropBadIp) return kDropBadInnerIp;
  return bad < 0 ? -1 : kDropTruncInner;
}

bool Classifier::matches(const Rule& r, const Headers& h) const {
  if (r.ethertype && *r.ethertype != h.ethertype) return false;
  if (r.vlan && *r.vlan != h.vlan) return false;
  if (r.dst_mac && std::memcmp(r.dst_mac->data(), h.dst_mac, 6) != 0) return false;
  if (r.src_mac && std::memcmp(r.src_mac->data(), h.src_mac, 6) != 0) return false;
  if (r.ip_src || r.ip_dst || r.ip_proto) {
    if (!h.has_ip) return false;
    if (r.ip_src && (r.ip_src->v6 != h.ip_v6 || !prefix_match(*r.ip_src, h.src))) return false;
    if (r.ip_dst && (r.ip_dst->v6 != h.ip_v6 || !prefix_match(*r.ip_dst, h.dst))) return false;
    if (r.ip_proto && *r.ip_proto != h.ip_proto) return false;
  }
  if (r.src_port || r.dst_port) {
    if (!h.has_ports) return false;
    if (r.src_port && (h.sport < r.src_port->first || h.sport > r.src_port->second)) return false;
    if (r.dst_port && (h.dport < r.dst_port->first || h.dport > r.dst_port->second)) return false;
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
    int bad = parse(m, 0, outer_, h);
    [[maybe_unused]] Headers inner;
    [[maybe_unused]] bool is_vxlan = false;
    if constexpr (kInner)
      if (bad < 0) bad = parse_inner(m, h, inner, is_vxlan);
    if (bad >= 0) {
      drop(m, static_cast<uint16_t>(bad));
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
    if (out < 0) drop(m, kDropNoMatch);
    else emit(static_cast<uint16_t>(out), m);
  }
}

void Classifier::push(uint16_t, Batch& b) {
  if (need_inner_) classify<true>(b);
  else classify<false>(b);
}

void Classifier::add_handlers(HandlerSet& h) {
  h.read("rules", "the rules as parsed, one per line", [this] {
    std::string s;
    for (const auto& r : rules_) s += r.text + "\n";
    return s;
  });
}

}  // namespace weft::basic

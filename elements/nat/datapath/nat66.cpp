// Nat66: NPTv6 (RFC 6296). Class description, configuration and the
// per-packet path (stateless: one address rewritten in place, plus the
// quoted address of an ICMPv6 error).
#include "datapath/nat66.hpp"

#include <arpa/inet.h>
#include <rte_ether.h>

#include <cstdio>

#include "datapath/checksum.hpp"
#include "datapath/header_window.hpp"
#include "datapath/nat_params.hpp"
#include "datapath/prefix_match.hpp"

namespace weft::nat {

namespace {

constexpr uint8_t kNextHopByHop = 0, kNextRouting = 43, kNextFragment = 44, kNextDestOpts = 60, kNextIcmp6 = 58;
constexpr unsigned kMaxExtensionHeaders = 8;

uint16_t prefix_sum(const Prefix& p) {
  uint32_t s = 0;
  for (unsigned i = 0; i < 16; i += 2) s += ld16(p.addr.data() + i);
  return csum_fold(s);
}

}  // namespace

NptMap NptMap::make(const Prefix& from, const Prefix& to) {
  NptMap m;
  m.from = from;
  m.to = to;
  // The address loses sum(from) and gains sum(to): the adjustment word gets
  // sum(from) - sum(to), in one's complement.
  uint16_t a = csum_fold(uint32_t{prefix_sum(from)} + static_cast<uint16_t>(~prefix_sum(to)));
  m.adjustment = a == 0xffff ? 0 : a;
  return m;
}

bool NptMap::apply(uint8_t* a) const {
  unsigned word = 3;  // bits 48-63: the subnet field of a /48 or shorter
  if (from.len > 48) {
    for (word = 4; word < 8 && ld16(a + 2 * word) == 0xffff; word++) {
    }
    if (word == 8) return false;
  } else if (ld16(a + 6) == 0xffff) {
    return false;
  }
  const unsigned bytes = from.len / 8, bits = from.len % 8;
  const uint8_t* t = to.addr.data();
  std::memcpy(a, t, bytes);
  if (bits) {
    const uint8_t mask = static_cast<uint8_t>(0xff00u >> bits);
    a[bytes] = static_cast<uint8_t>((a[bytes] & ~mask) | t[bytes]);
  }
  uint16_t w = csum_fold(uint32_t{ld16(a + 2 * word)} + adjustment);
  st16(a + 2 * word, w == 0xffff ? 0 : w);
  return true;
}

const ElementClass& Nat66::klass() {
  static const ElementClass k =
      ElementClass::make<Nat66>("Nat66")
          .describe("Stateless IPv6 network prefix translation (NPTv6, RFC 6296), checksum-neutral.",
                    "Packets from `from_inside` whose source lies in `inside_prefix` get that prefix replaced by "
                    "`outside_prefix` and leave on `to_outside`; packets from `from_outside` whose destination "
                    "lies in `outside_prefix` get `inside_prefix` back and leave on `to_inside`. One 16-bit word "
                    "of the address (the subnet word for /48 or shorter, else the first interface-identifier word "
                    "that is not 0xFFFF) is adjusted so that the address's checksum contribution does not change: "
                    "TCP, UDP and ICMPv6 checksums stay valid untouched, any protocol and fragments pass. ICMPv6 "
                    "errors have their quoted packet's address translated too. No state. See docs/nat.md.\n"
                    "Example:\n"
                    "  npt:\n"
                    "    class: Nat66\n"
                    "    inside_prefix: fd01:203:405::/48\n"
                    "    outside_prefix: 2001:db8:1::/48")
          .input("from_inside")
          .input("from_outside")
          .output("to_outside")
          .output("to_inside")
          .required("inside_prefix", ParamType::Prefix, "the inside IPv6 prefix (at most /64), e.g. fd01:203:405::/48")
          .required("outside_prefix", ParamType::Prefix,
                    "the outside IPv6 prefix, of the same length as inside_prefix, e.g. 2001:db8:1::/48")
          .drop(kNotIpv6, "not_ipv6", "not an IPv6 packet (another EtherType, or IP version not 6)")
          .drop(kTruncated, "truncated",
                "shorter than its Ethernet, IPv6 or extension headers, payload length past the frame, or an "
                "ICMPv6 error quoting less than an IPv6 header")
          .drop(kPrefixMismatch, "prefix_mismatch",
                "from inside: source not in inside_prefix; from outside: destination not in outside_prefix (or "
                "an ICMPv6 error's quoted address not in the expected prefix)")
          .drop(kUnmappable, "unmappable",
                "the word that would carry the checksum adjustment is 0xFFFF (RFC 6296: cannot be translated)")
          .read("mapping", "the two prefixes and the adjustment: INSIDE <-> OUTSIDE adjustment 0xNNNN",
                [](const Nat66& e) {
                  char adj[8];
                  std::snprintf(adj, sizeof adj, "0x%04x", ntohs(e.out_.adjustment));
                  return e.out_.from.str() + " <-> " + e.out_.to.str() + " adjustment " + adj;
                });
  return k;
}

void Nat66::configure(ConfigContext& ctx) {
  const Params& p = ctx.params();
  const Prefix in = read_ipv6_prefix(p.value("inside_prefix"), "inside_prefix");
  const Prefix out = read_ipv6_prefix(p.value("outside_prefix"), "outside_prefix");
  if (in.len == 0 || in.len > 64)
    throw ConfigError(p.mark("inside_prefix"), "inside_prefix: the length must be 1-64 (RFC 6296; /48 is typical)");
  if (out.len != in.len)
    throw ConfigError(p.mark("outside_prefix"), "outside_prefix: must have the same length as inside_prefix (/" +
                                                    std::to_string(in.len) + ")");
  out_ = NptMap::make(in, out);
  in_ = NptMap::make(out, in);
}

const Drop* Nat66::translate(rte_mbuf* m, bool from_inside) const {
  Window w;
  if (!w.open(m, 0, RTE_ETHER_HDR_LEN)) return &kTruncated;
  uint16_t type = ld16(w.p + 12);
  uint32_t off = RTE_ETHER_HDR_LEN;
  for (int tags = 0; tags < 2 && (type == htons(RTE_ETHER_TYPE_VLAN) || type == htons(RTE_ETHER_TYPE_QINQ)); tags++) {
    if (!w.open(m, off, 4)) return &kTruncated;
    type = ld16(w.p + 2);
    off += 4;
  }
  if (type != htons(RTE_ETHER_TYPE_IPV6)) return &kNotIpv6;
  Window ip;
  if (!ip.open(m, off, 40)) return &kTruncated;
  if ((ip.p[0] >> 4) != 6) return &kNotIpv6;
  const uint32_t end = off + 40 + ntohs(ld16(ip.p + 4));
  if (end > m->pkt_len) return &kTruncated;

  const NptMap& map = from_inside ? out_ : in_;
  uint8_t* addr = ip.p + (from_inside ? 8 : 24);
  if (!prefix_contains6(map.from, addr)) return &kPrefixMismatch;

  // Find an ICMPv6 error behind the extension headers (a non-first fragment
  // has none to find).
  uint8_t next = ip.p[6];
  uint32_t l4 = off + 40;
  for (unsigned i = 0; i < kMaxExtensionHeaders; i++) {
    if (next != kNextHopByHop && next != kNextRouting && next != kNextDestOpts && next != kNextFragment) break;
    if (!w.open(m, l4, next == kNextFragment ? 8 : 2) || l4 + 8 > end) return &kTruncated;
    if (next == kNextFragment && (ntohs(ld16(w.p + 2)) & 0xfff8) != 0) {
      next = 0xff;  // a later fragment: payload only
      break;
    }
    const uint32_t len = next == kNextFragment ? 8 : (w.p[1] + 1u) * 8;
    next = w.p[0];
    l4 += len;
  }
  if (next == kNextIcmp6 && l4 + 4 <= end) {
    Window icmp;
    if (!icmp.open(m, l4, 4)) return &kTruncated;
    if (icmp.p[0] < 128) {  // an error: translate the quoted packet's address back
      if (l4 + 8 + 40 > end || !icmp.open(m, l4, 8 + 40)) return &kTruncated;
      if ((icmp.p[8] >> 4) != 6) return &kNotIpv6;
      uint8_t* quoted = icmp.p + 8 + (from_inside ? 24 : 8);
      if (!prefix_contains6(map.from, quoted)) return &kPrefixMismatch;
      uint8_t before[16];
      std::memcpy(before, quoted, 16);
      if (!map.apply(quoted)) return &kUnmappable;
      uint32_t delta = 0;
      for (unsigned i = 0; i < 16; i += 2) delta += csum_delta16(ld16(before + i), ld16(quoted + i));
      st16(icmp.p + 2, csum_apply(ld16(icmp.p + 2), delta));
      icmp.commit(m);
    }
  }
  if (!map.apply(addr)) return &kUnmappable;
  ip.commit(m);
  return nullptr;
}

void Nat66::push(uint16_t input, Batch& b) {
  const bool from_inside = input == 0;
  for (uint16_t i = 0; i < b.count; i++) {
    rte_mbuf* m = b.pkts[i];
    if (const Drop* r = translate(m, from_inside)) drop(m, *r);
    else emit(from_inside ? 0 : 1, m);
  }
  b.clear();
}

}  // namespace weft::nat

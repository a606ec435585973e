// Nat66 — stateless IPv6-to-IPv6 network prefix translation (NPTv6,
// RFC 6296), checksum-neutral.
//
// Ports:       inputs `from_inside`, `from_outside`;
//              outputs `to_outside`, `to_inside`
// Parameters:  inside_prefix  (required) the inside prefix, e.g. fd01:203:405::/48
//              outside_prefix (required) the outside prefix, of the same length
//                             (at most /64; /48 is typical)
// Handlers:    mapping (read): "INSIDE <-> OUTSIDE adjustment 0xNNNN"
// Drops:       not_ipv6, truncated, prefix_mismatch, unmappable
//
// From inside, the source's first LEN bits become the outside prefix; from
// outside, the destination's become the inside prefix. One 16-bit word
// absorbs the change so that the one's-complement sum of the address is
// unchanged (RFC 6296 section 3.2): the subnet word (bits 48-63) for
// prefixes of /48 or shorter, else the first word of the interface
// identifier that is not 0xFFFF. Transport checksums (TCP, UDP, ICMPv6, and
// any other that covers the pseudo-header) therefore stay valid untouched,
// and ports are never looked at: any protocol, and fragments, pass.
// An address whose adjustment word is 0xFFFF (for /49-/64: whose interface
// identifier words are all 0xFFFF) cannot be mapped and is dropped
// (`unmappable`; RFC 6296 says the ICMPv6 Parameter Problem the translator
// SHOULD send is not generated here); a word that would come out 0xFFFF is
// written 0x0000. An ICMPv6 error's quoted packet has its address translated
// back the same way (from inside: its destination; from outside: its
// source), the ICMPv6 checksum updated for it (a change of zero, as the
// mapping is neutral, but computed). No state: nothing to keep across a
// reload. Hop limit untouched.
#pragma once

#include <cstdint>
#include <string>

#include "prefix6.hpp"
#include "weft/element.hpp"

namespace weft::nat {

enum Nat66Drop : uint16_t { kN66NotIpv6 = 0, kN66Truncated, kN66PrefixMismatch, kN66Unmappable };

// One direction of an NPTv6 mapping: prefix `from` → prefix `to`, plus the
// one's-complement adjustment that keeps the address's sum unchanged.
struct NptMap {
  Prefix6 from, to;
  uint16_t adjustment = 0;  // added to the adjustment word (network-order arithmetic)

  static NptMap make(const Prefix6& from, const Prefix6& to);
  // Translates the address at `a` in place (it must match `from`); false if
  // its adjustment word is 0xFFFF (RFC 6296: not mappable).
  bool apply(uint8_t* a) const;
};

class Nat66 final : public Element {
 public:
  static const ElementClass& klass();
  void configure(ConfigContext& ctx) override;
  void push(uint16_t input, Batch& b) override;
  void add_handlers(HandlerSet& h) override;

 private:
  int translate(rte_mbuf* m, bool from_inside) const;  // a drop reason, or -1

  NptMap out_, in_;  // inside → outside, outside → inside
};

}  // namespace weft::nat

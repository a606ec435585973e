// Nat66 — stateless IPv6-to-IPv6 network prefix translation (NPTv6,
// RFC 6296), checksum-neutral. Its class declaration (nat66.cpp) is its
// manual: `routerctl elements --doc Nat66`.
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

#include "weft/element.hpp"

namespace weft::nat {

// One direction of an NPTv6 mapping: prefix `from` → prefix `to`, plus the
// one's-complement adjustment that keeps the address's sum unchanged.
struct NptMap {
  Prefix from, to;          // IPv6, of the same length, host bits clear
  uint16_t adjustment = 0;  // added to the adjustment word (network-order arithmetic)

  static NptMap make(const Prefix& from, const Prefix& to);
  // Translates the address at `a` in place (it must match `from`); false if
  // its adjustment word is 0xFFFF (RFC 6296: not mappable).
  bool apply(uint8_t* a) const;
};

class Nat66 final : public Element {
 public:
  static const ElementClass& klass();
  void configure(ConfigContext& ctx) override;
  void push(uint16_t input, Batch& b) override;

 private:
  static inline Drop kNotIpv6, kTruncated, kPrefixMismatch, kUnmappable;

  const Drop* translate(rte_mbuf* m, bool from_inside) const;  // a drop reason, or null

  NptMap out_, in_;  // inside → outside, outside → inside
};

}  // namespace weft::nat

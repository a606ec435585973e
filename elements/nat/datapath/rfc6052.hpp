// IPv4-embedded IPv6 addresses (RFC 6052): a NAT64 prefix of length 32, 40,
// 48, 56, 64 or 96 and where the IPv4 address sits in it. Bits 64-71 (the
// "u" octet) and the suffix after the IPv4 address are zero.
#pragma once

#include <cstdint>
#include <cstring>

#include "prefix6.hpp"

namespace weft::nat {

class Rfc6052Prefix {
 public:
  Rfc6052Prefix() { set(Prefix6{{0, 0x64, 0xff, 0x9b}, 96}); }
  // `p.len` must be 32, 40, 48, 56, 64 or 96 (checked by the caller).
  void set(const Prefix6& p);
  static bool valid_length(unsigned len) {
    return len == 32 || len == 40 || len == 48 || len == 56 || len == 64 || len == 96;
  }

  const Prefix6& prefix() const { return p_; }
  // The IPv6 address standing for `v4` (network order), written to `a`.
  void embed(uint32_t v4, uint8_t* a) const {
    std::memcpy(a, p_.addr, 16);
    const auto* b = reinterpret_cast<const uint8_t*>(&v4);
    for (int i = 0; i < 4; i++) a[pos_[i]] = b[i];
  }
  // The IPv4 address (network order) in `a` if `a` is in the prefix and has
  // the canonical form (u octet and suffix zero).
  bool extract(const uint8_t* a, uint32_t& v4) const {
    if (p_.len == 96) {  // the usual case: 12 bytes of prefix, then the address
      if (std::memcmp(a, p_.addr, 12) != 0) return false;
      std::memcpy(&v4, a + 12, 4);
      return true;
    }
    if (std::memcmp(a, p_.addr, p_.len / 8) != 0) return false;
    for (unsigned i = p_.len / 8; i < 16; i++)
      if (!is_v4_[i] && a[i] != 0) return false;
    auto* b = reinterpret_cast<uint8_t*>(&v4);
    for (int i = 0; i < 4; i++) b[i] = a[pos_[i]];
    return true;
  }

 private:
  Prefix6 p_;
  uint8_t pos_[4] = {};    // byte offsets of the IPv4 address's octets
  bool is_v4_[16] = {};
};

inline void Rfc6052Prefix::set(const Prefix6& p) {
  p_ = p;
  unsigned at = p.len / 8;
  std::memset(is_v4_, 0, sizeof is_v4_);
  for (int i = 0; i < 4; i++) {
    if (at == 8) at++;  // skip the u octet
    pos_[i] = static_cast<uint8_t>(at);
    is_v4_[at] = true;
    at++;
  }
}

}  // namespace weft::nat

// IPv4-embedded IPv6 addresses (RFC 6052): a NAT64 prefix of length 32, 40,
// 48, 56, 64 or 96 and where the IPv4 address sits in it. Bits 64-71 (the
// "u" octet) and the suffix after the IPv4 address are zero.
#pragma once

#include <cstdint>
#include <cstring>

#include "weft/net.hpp"

namespace weft::nat {

class Rfc6052Prefix {
 public:
  Rfc6052Prefix() { set(Prefix{IpAddr(Ip6{{0, 0x64, 0xff, 0x9b}}), 96}); }  // 64:ff9b::/96
  // `p` must be an IPv6 prefix of length 32, 40, 48, 56, 64 or 96, host bits
  // clear (checked by the caller).
  void set(const Prefix& p);
  static bool valid_length(unsigned len) {
    return len == 32 || len == 40 || len == 48 || len == 56 || len == 64 || len == 96;
  }

  const Prefix& prefix() const { return p_; }
  // The IPv6 address standing for `v4` (network order), written to `a`.
  void embed(uint32_t v4, uint8_t* a) const {
    std::memcpy(a, p_.addr.data(), 16);
    const auto* b = reinterpret_cast<const uint8_t*>(&v4);
    for (int i = 0; i < 4; i++) a[pos_[i]] = b[i];
  }
  // The IPv4 address (network order) in `a` if `a` is in the prefix and has
  // the canonical form (u octet and suffix zero).
  bool extract(const uint8_t* a, uint32_t& v4) const {
    if (p_.len == 96) {  // the usual case: 12 bytes of prefix, then the address
      if (std::memcmp(a, p_.addr.data(), 12) != 0) return false;
      std::memcpy(&v4, a + 12, 4);
      return true;
    }
    if (std::memcmp(a, p_.addr.data(), p_.len / 8) != 0) return false;
    for (unsigned i = p_.len / 8; i < 16; i++)
      if (!is_v4_[i] && a[i] != 0) return false;
    auto* b = reinterpret_cast<uint8_t*>(&v4);
    for (int i = 0; i < 4; i++) b[i] = a[pos_[i]];
    return true;
  }

 private:
  Prefix p_;
  uint8_t pos_[4] = {};    // byte offsets of the IPv4 address's octets
  bool is_v4_[16] = {};
};

inline void Rfc6052Prefix::set(const Prefix& p) {
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

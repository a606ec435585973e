// Matching an IPv6 address in a packet against a prefix, inline for the fast
// path (weft::Prefix::contains takes an IpAddr and is compiled in libweft).
#pragma once

#include <cstdint>
#include <cstring>

#include "weft/net.hpp"

namespace weft::nat {

// True if the first `p.len` bits of the 16 bytes at `a` (network order) are
// those of `p`, an IPv6 prefix with its host bits clear (Prefix::network()).
inline bool prefix_contains6(const Prefix& p, const uint8_t* a) {
  const unsigned bytes = p.len / 8u, bits = p.len % 8u;
  const uint8_t* pa = p.addr.data();
  if (std::memcmp(a, pa, bytes) != 0) return false;
  if (bits == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff00u >> bits);
  return (a[bytes] & mask) == pa[bytes];
}

}  // namespace weft::nat

// IPv6 prefixes for the NAT elements' parameters ("fd01:203:405::/48").
#pragma once

#include <arpa/inet.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "weft/error.hpp"
#include "weft/params.hpp"

namespace weft::nat {

struct Prefix6 {
  uint8_t addr[16] = {};  // bits past `len` are zero
  unsigned len = 0;

  // True if the first `len` bits of `a` (16 bytes, network order) are ours.
  bool contains(const uint8_t* a) const {
    const unsigned bytes = len / 8, bits = len % 8;
    if (std::memcmp(a, addr, bytes) != 0) return false;
    if (bits == 0) return true;
    const uint8_t mask = static_cast<uint8_t>(0xff00u >> bits);
    return (a[bytes] & mask) == addr[bytes];
  }
  std::string text() const;
};

// Parses "ADDR/LEN" (or a bare address: /128); throws ConfigError at `n`.
Prefix6 parse_prefix6(const YAML::Node& n, const char* what);
std::string ipv6_text(const uint8_t* a);

}  // namespace weft::nat

// IP and MAC addresses in the parameters of the overlay elements: parsed once
// in configure(), with the value's position in every error.
#pragma once

#include <arpa/inet.h>
#include <rte_ether.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "weft/params.hpp"

namespace weft::overlay {

struct IpAddress {
  uint8_t family = 0;  // 4 or 6, as in weft::fields::Underlay
  std::array<uint8_t, 16> bytes{};  // IPv4 in the first 4 bytes

  size_t size() const { return family == 4 ? 4 : 16; }
  bool equals(const uint8_t* addr) const { return std::memcmp(bytes.data(), addr, size()) == 0; }
  std::string text() const {
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(family == 4 ? AF_INET : AF_INET6, bytes.data(), buf, sizeof buf);
    return buf;
  }
};

inline IpAddress parse_ip(const Params& p, std::string_view name) {
  const std::string s = p.get<std::string>(name);
  IpAddress a;
  if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) a.family = 4;
  else if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) a.family = 6;
  else
    throw ConfigError(p.mark(name), std::string(name) + ": '" + s + "' is not an IPv4 or IPv6 address");
  return a;
}

inline std::array<uint8_t, 6> parse_mac(const Params& p, std::string_view name) {
  const std::string s = p.get<std::string>(name);
  rte_ether_addr a{};
  if (rte_ether_unformat_addr(s.c_str(), &a) != 0)
    throw ConfigError(p.mark(name), std::string(name) + ": '" + s + "' is not a MAC address such as 52:54:00:12:34:56");
  std::array<uint8_t, 6> out;
  std::memcpy(out.data(), a.addr_bytes, 6);
  return out;
}

}  // namespace weft::overlay

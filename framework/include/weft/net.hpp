// Network value types shared by every element family and service: a MAC
// address, IPv4 and IPv6 addresses, an address of either family, a prefix,
// a port range. Each has exactly one parser (`parse`, nullopt on any
// mistake) and one printer (`str`); parameters of the matching types
// (ParamType::Mac, Ip, Prefix, PortRange...) are checked with these parsers
// by the validator and read with Params::get<Mac>() and friends.
//
// All are plain values (trivially copyable, compared with ==) holding bytes
// in network order, so they can be copied into headers and table keys.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace weft {

// An Ethernet MAC address. Text: six two-digit hex bytes separated by ':'
// ("02:00:00:00:00:01", either case).
struct Mac {
  std::array<uint8_t, 6> bytes{};

  static std::optional<Mac> parse(std::string_view text);
  static Mac of(const uint8_t* p) {
    Mac m;
    std::memcpy(m.bytes.data(), p, 6);
    return m;
  }
  std::string str() const;
  const uint8_t* data() const { return bytes.data(); }
  uint8_t* data() { return bytes.data(); }
  bool zero() const { return (bytes[0] | bytes[1] | bytes[2] | bytes[3] | bytes[4] | bytes[5]) == 0; }
  bool multicast() const { return (bytes[0] & 1) != 0; }  // broadcast included
  bool broadcast() const { return (bytes[0] & bytes[1] & bytes[2] & bytes[3] & bytes[4] & bytes[5]) == 0xff; }
  friend auto operator<=>(const Mac&, const Mac&) = default;
};

// An IPv4 address ("192.0.2.1").
struct Ip4 {
  std::array<uint8_t, 4> bytes{};

  static std::optional<Ip4> parse(std::string_view text);
  static Ip4 of(const uint8_t* p) {
    Ip4 a;
    std::memcpy(a.bytes.data(), p, 4);
    return a;
  }
  static Ip4 from_host(uint32_t v) {
    return Ip4{{uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)}};
  }
  uint32_t host() const { return uint32_t(bytes[0]) << 24 | uint32_t(bytes[1]) << 16 | uint32_t(bytes[2]) << 8 | bytes[3]; }
  std::string str() const;
  const uint8_t* data() const { return bytes.data(); }
  friend auto operator<=>(const Ip4&, const Ip4&) = default;
};

// An IPv6 address ("2001:db8::1").
struct Ip6 {
  std::array<uint8_t, 16> bytes{};

  static std::optional<Ip6> parse(std::string_view text);
  static Ip6 of(const uint8_t* p) {
    Ip6 a;
    std::memcpy(a.bytes.data(), p, 16);
    return a;
  }
  std::string str() const;
  const uint8_t* data() const { return bytes.data(); }
  friend auto operator<=>(const Ip6&, const Ip6&) = default;
};

// An IPv4 or IPv6 address. IPv4 occupies the first 4 bytes (the rest zero).
struct IpAddr {
  uint8_t version = 0;  // 4 or 6; 0: none
  std::array<uint8_t, 16> bytes{};

  static std::optional<IpAddr> parse(std::string_view text);
  IpAddr() = default;
  IpAddr(const Ip4& a) : version(4) { std::memcpy(bytes.data(), a.bytes.data(), 4); }  // NOLINT: implicit on purpose
  IpAddr(const Ip6& a) : version(6), bytes(a.bytes) {}                              // NOLINT
  bool v4() const { return version == 4; }
  bool v6() const { return version == 6; }
  int family() const;     // AF_INET, AF_INET6, or AF_UNSPEC
  size_t size() const { return version == 4 ? 4 : version == 6 ? 16 : 0; }  // bytes of the address
  Ip4 ip4() const { return Ip4::of(bytes.data()); }
  Ip6 ip6() const { return Ip6{bytes}; }
  std::string str() const;
  const uint8_t* data() const { return bytes.data(); }
  friend auto operator<=>(const IpAddr&, const IpAddr&) = default;
};

// An address prefix of either family: "10.0.0.0/8", "2001:db8::/32"; a bare
// address is a host prefix (/32, /128). The address is kept as written
// (an interface address "192.0.2.1/24" keeps its host bits); network()
// clears them.
struct Prefix {
  IpAddr addr;
  uint8_t len = 0;

  static std::optional<Prefix> parse(std::string_view text);
  bool v4() const { return addr.v4(); }
  bool v6() const { return addr.v6(); }
  unsigned max_len() const { return addr.v4() ? 32 : 128; }
  Prefix network() const;  // host bits cleared
  bool contains(const IpAddr& a) const;
  bool contains(const Prefix& p) const;  // p is this prefix or a longer one inside it
  bool overlaps(const Prefix& p) const { return contains(p) || p.contains(*this); }
  std::string str() const;
  friend auto operator<=>(const Prefix&, const Prefix&) = default;
};

// An inclusive range of transport ports: "80" (one port) or "1024-65535".
struct PortRange {
  uint16_t lo = 0;
  uint16_t hi = 65535;

  static std::optional<PortRange> parse(std::string_view text);
  uint32_t size() const { return uint32_t(hi) - lo + 1; }
  bool contains(uint16_t p) const { return p >= lo && p <= hi; }
  std::string str() const;
  friend auto operator<=>(const PortRange&, const PortRange&) = default;
};

}  // namespace weft

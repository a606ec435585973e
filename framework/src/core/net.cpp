// The one parser and printer of each network value type (weft/net.hpp).
#include "weft/net.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdio>

namespace weft {

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decimal digits only (no sign, no spaces), at most `max`.
std::optional<unsigned> small_decimal(std::string_view s, unsigned max) {
  if (s.empty() || s.size() > 5) return std::nullopt;
  unsigned v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + unsigned(c - '0');
  }
  if (v > max) return std::nullopt;
  return v;
}

template <size_t N>
bool pton(int af, std::string_view text, std::array<uint8_t, N>& out) {
  char buf[INET6_ADDRSTRLEN + 1];
  if (text.empty() || text.size() >= sizeof buf) return false;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  return inet_pton(af, buf, out.data()) == 1;
}

std::string ntop(int af, const uint8_t* p) {
  char buf[INET6_ADDRSTRLEN];
  return inet_ntop(af, p, buf, sizeof buf) ? std::string(buf) : std::string("?");
}

bool prefix_match(const uint8_t* a, const uint8_t* b, unsigned len) {
  const unsigned full = len / 8, rest = len % 8;
  if (std::memcmp(a, b, full) != 0) return false;
  if (rest == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a[full] & mask) == (b[full] & mask);
}

}  // namespace

std::optional<Mac> Mac::parse(std::string_view text) {
  if (text.size() != 17) return std::nullopt;
  Mac m;
  for (size_t i = 0; i < 6; i++) {
    const int hi = hex_digit(text[i * 3]), lo = hex_digit(text[i * 3 + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    if (i < 5 && text[i * 3 + 2] != ':') return std::nullopt;
    m.bytes[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return m;
}

std::string Mac::str() const {
  char b[18];
  std::snprintf(b, sizeof b, "%02x:%02x:%02x:%02x:%02x:%02x", bytes[0], bytes[1], bytes[2], bytes[3], bytes[4],
                bytes[5]);
  return b;
}

std::optional<Ip4> Ip4::parse(std::string_view text) {
  Ip4 a;
  if (!pton(AF_INET, text, a.bytes)) return std::nullopt;
  return a;
}

std::string Ip4::str() const { return ntop(AF_INET, bytes.data()); }

std::optional<Ip6> Ip6::parse(std::string_view text) {
  Ip6 a;
  if (!pton(AF_INET6, text, a.bytes)) return std::nullopt;
  return a;
}

std::string Ip6::str() const { return ntop(AF_INET6, bytes.data()); }

std::optional<IpAddr> IpAddr::parse(std::string_view text) {
  if (auto a = Ip4::parse(text)) return IpAddr(*a);
  if (auto a = Ip6::parse(text)) return IpAddr(*a);
  return std::nullopt;
}

int IpAddr::family() const { return version == 4 ? AF_INET : version == 6 ? AF_INET6 : AF_UNSPEC; }

std::string IpAddr::str() const {
  if (version == 4) return ip4().str();
  if (version == 6) return ip6().str();
  return "none";
}

std::optional<Prefix> Prefix::parse(std::string_view text) {
  const size_t slash = text.find('/');
  auto addr = IpAddr::parse(text.substr(0, slash));
  if (!addr) return std::nullopt;
  Prefix p;
  p.addr = *addr;
  const unsigned max = p.max_len();
  if (slash == std::string_view::npos) {
    p.len = static_cast<uint8_t>(max);
    return p;
  }
  auto len = small_decimal(text.substr(slash + 1), max);
  if (!len) return std::nullopt;
  p.len = static_cast<uint8_t>(*len);
  return p;
}

Prefix Prefix::network() const {
  Prefix p = *this;
  for (unsigned i = 0; i < 16; i++) {
    const unsigned keep = len > i * 8 ? std::min(8u, len - i * 8) : 0u;
    p.addr.bytes[i] &= static_cast<uint8_t>(0xff00u >> keep);
  }
  return p;
}

bool Prefix::contains(const IpAddr& a) const {
  return a.version == addr.version && prefix_match(addr.data(), a.data(), len);
}

bool Prefix::contains(const Prefix& p) const {
  return p.addr.version == addr.version && p.len >= len && prefix_match(addr.data(), p.addr.data(), len);
}

std::string Prefix::str() const { return addr.str() + "/" + std::to_string(len); }

std::optional<PortRange> PortRange::parse(std::string_view text) {
  const size_t dash = text.find('-');
  auto lo = small_decimal(text.substr(0, dash), 65535);
  if (!lo) return std::nullopt;
  auto hi = dash == std::string_view::npos ? lo : small_decimal(text.substr(dash + 1), 65535);
  if (!hi || *hi < *lo) return std::nullopt;
  return PortRange{static_cast<uint16_t>(*lo), static_cast<uint16_t>(*hi)};
}

std::string PortRange::str() const { return lo == hi ? std::to_string(lo) : std::to_string(lo) + "-" + std::to_string(hi); }

}  // namespace weft

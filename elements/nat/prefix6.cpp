// Prefix6: parsing and printing.
#include "prefix6.hpp"

namespace weft::nat {

std::string ipv6_text(const uint8_t* a) {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, a, buf, sizeof buf);
  return buf;
}

std::string Prefix6::text() const { return ipv6_text(addr) + "/" + std::to_string(len); }

Prefix6 parse_prefix6(const YAML::Node& n, const char* what) {
  if (!n.IsDefined() || !n.IsScalar())
    throw ConfigError(mark_of(n), std::string(what) + ": expected an IPv6 prefix such as fd00:1::/48");
  const std::string s = n.Scalar();
  const auto slash = s.find('/');
  Prefix6 p;
  if (inet_pton(AF_INET6, s.substr(0, slash).c_str(), p.addr) != 1)
    throw ConfigError(mark_of(n), std::string(what) + ": '" + s + "' is not an IPv6 prefix");
  p.len = 128;
  if (slash != std::string::npos) {
    try {
      size_t pos = 0;
      int v = std::stoi(s.substr(slash + 1), &pos);
      if (pos != s.size() - slash - 1 || v < 0 || v > 128) throw std::invalid_argument(s);
      p.len = static_cast<unsigned>(v);
    } catch (const std::exception&) {
      throw ConfigError(mark_of(n), std::string(what) + ": bad prefix length in '" + s + "'");
    }
  }
  for (unsigned i = 0; i < 16; i++) {
    const unsigned keep = p.len > i * 8 ? std::min(8u, p.len - i * 8) : 0u;
    const uint8_t mask = static_cast<uint8_t>(0xff00u >> keep);
    p.addr[i] &= mask;
  }
  return p;
}

}  // namespace weft::nat

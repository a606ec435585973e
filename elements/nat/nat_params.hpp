// Parameter parsing shared by the stateful NAT elements (Nat44, Nat64):
// IPv4 addresses and prefixes, the pool, the port range, timeouts.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "weft/error.hpp"
#include "weft/params.hpp"

namespace weft::nat {

// "A.B.C.D" → host-order address; throws ConfigError at `mark`.
uint32_t parse_ipv4(const std::string& s, Mark mark, const char* what);
// "A.B.C.D" or "A.B.C.D/LEN" → (host-order address with host bits cleared, length).
std::pair<uint32_t, unsigned> parse_ipv4_prefix(const YAML::Node& n, const char* what);
// `pool`: IPv4 addresses and/or prefixes, at most `max` addresses, sorted, no duplicates (host order).
std::vector<uint32_t> parse_pool(const Params& p, size_t max = 1024);
// `port_range` "LO-HI", with at least one port per worker.
std::pair<uint16_t, uint16_t> parse_port_range(const Params& p, unsigned workers);
// A timeout parameter: 1 to 604800 seconds.
uint32_t parse_timeout(const Params& p, const char* name);
// Dotted text of a network-order IPv4 address.
std::string ipv4_text(uint32_t net);

}  // namespace weft::nat

// Parameters the NAT elements share, read with the framework's network value
// types (weft/net.hpp): the pool, IPv4 and IPv6 prefixes, the port range,
// timeouts. Each throws ConfigError at the offending value's position.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "weft/net.hpp"
#include "weft/params.hpp"

namespace weft::nat {

// A list item that must be an IPv4 address or prefix; host bits cleared.
Prefix read_ipv4_prefix(const ParamValue& v, std::string_view what);
// A value that must be an IPv6 address or prefix; host bits cleared.
Prefix read_ipv6_prefix(const ParamValue& v, std::string_view what);
// `pool`: IPv4 addresses and/or prefixes, at most `max` addresses, sorted, no
// duplicates (host order).
std::vector<uint32_t> read_pool(const Params& p, size_t max = 1024);
// `port_range`: ports from 1 up, at least one per worker (each allocates from
// its own slice).
PortRange read_port_range(const Params& p, unsigned workers);
// A timeout parameter: 1 to 604800 seconds.
uint32_t read_timeout(const Params& p, const char* name);

}  // namespace weft::nat

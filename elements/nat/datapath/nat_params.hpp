// Parameter parsing shared by the stateful NAT elements (Nat44, Nat64):
// IPv4 addresses and prefixes, the pool, the port range, timeouts; and the
// handlers they share over their session table.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "weft/element.hpp"
#include "weft/error.hpp"
#include "weft/params.hpp"

namespace weft::nat {

class SessionTable;

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

// The session-table handlers of a stateful NAT element: count, per-protocol
// sessions, mappings, created, expired, allocation_failures, memory, pool.
// `table` is the element's own member (read at each call: a reload may hand
// the element another table).
void add_table_handlers(HandlerSet& h, const std::shared_ptr<SessionTable>& table);

}  // namespace weft::nat

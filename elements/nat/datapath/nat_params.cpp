#include "datapath/nat_params.hpp"

#include <optional>
#include <set>
#include <string>

#include "weft/error.hpp"

namespace weft::nat {

namespace {

Prefix read_prefix(const ParamValue& v, std::string_view what, uint8_t version, const char* example) {
  std::optional<Prefix> pre;
  if (v.is_scalar()) pre = Prefix::parse(v.text(what));
  if (!pre || pre->addr.version != version)
    throw ConfigError(v.mark(), std::string(what) + ": expected an IPv" + std::to_string(version) +
                                    " address or prefix such as " + example +
                                    (v.is_scalar() ? ", not '" + v.text(what) + "'" : std::string()));
  return pre->network();
}

}  // namespace

Prefix read_ipv4_prefix(const ParamValue& v, std::string_view what) {
  return read_prefix(v, what, 4, "198.51.100.0/30");
}

Prefix read_ipv6_prefix(const ParamValue& v, std::string_view what) { return read_prefix(v, what, 6, "fd00:1::/48"); }

std::vector<uint32_t> read_pool(const Params& p, size_t max) {
  std::set<uint32_t> pool;
  for (const ParamValue& v : p.value("pool").items()) {
    const Prefix pre = read_ipv4_prefix(v, "pool");
    const uint32_t addr = pre.addr.ip4().host();
    const uint64_t count = uint64_t{1} << (32 - pre.len);
    if (pool.size() + count > max)
      throw ConfigError(v.mark(),
                        "pool: at most " + std::to_string(max) + " addresses (ports are tracked per address)");
    for (uint64_t i = 0; i < count; i++)
      if (!pool.insert(addr + static_cast<uint32_t>(i)).second)
        throw ConfigError(v.mark(), "pool: address " + Ip4::from_host(addr + static_cast<uint32_t>(i)).str() +
                                        " is listed twice");
  }
  if (pool.empty()) throw ConfigError(p.mark("pool"), "pool: at least one address is needed");
  return {pool.begin(), pool.end()};
}

PortRange read_port_range(const Params& p, unsigned workers) {
  const PortRange r = p.get<PortRange>("port_range");
  if (r.lo < 1) throw ConfigError(p.mark("port_range"), "port_range: ports start at 1, not 0 (such as 1024-65535)");
  if (r.size() < workers)
    throw ConfigError(p.mark("port_range"), "port_range: fewer ports than workers (each worker needs a slice)");
  return r;
}

uint32_t read_timeout(const Params& p, const char* name) {
  uint64_t v = p.get<uint64_t>(name);
  if (v < 1 || v > 86400 * 7) throw ConfigError(p.mark(name), std::string(name) + ": a timeout is 1 to 604800 seconds");
  return static_cast<uint32_t>(v);
}

}  // namespace weft::nat

#include "datapath/nat_params.hpp"

#include "tables/session_table.hpp"

#include <arpa/inet.h>

#include <cstdio>
#include <set>
#include <sstream>

namespace weft::nat {

uint32_t parse_ipv4(const std::string& s, Mark mark, const char* what) {
  in_addr a{};
  if (inet_pton(AF_INET, s.c_str(), &a) != 1)
    throw ConfigError(mark, std::string(what) + ": '" + s + "' is not an IPv4 address");
  return ntohl(a.s_addr);
}

std::pair<uint32_t, unsigned> parse_ipv4_prefix(const YAML::Node& n, const char* what) {
  if (!n.IsScalar()) throw ConfigError(mark_of(n), std::string(what) + ": expected an IPv4 address or prefix");
  const std::string s = n.Scalar();
  auto slash = s.find('/');
  uint32_t addr = parse_ipv4(s.substr(0, slash), mark_of(n), what);
  unsigned len = 32;
  if (slash != std::string::npos) {
    try {
      size_t pos = 0;
      int v = std::stoi(s.substr(slash + 1), &pos);
      if (pos != s.size() - slash - 1 || v < 0 || v > 32) throw std::invalid_argument(s);
      len = static_cast<unsigned>(v);
    } catch (const std::exception&) {
      throw ConfigError(mark_of(n), std::string(what) + ": bad prefix length in '" + s + "'");
    }
  }
  uint32_t mask = len ? ~0u << (32 - len) : 0;
  return {addr & mask, len};
}

std::vector<uint32_t> parse_pool(const Params& p, size_t max) {
  std::set<uint32_t> pool;
  for (const auto& n : p.node("pool")) {
    auto [addr, len] = parse_ipv4_prefix(n, "pool");
    uint64_t count = uint64_t{1} << (32 - len);
    if (pool.size() + count > max)
      throw ConfigError(mark_of(n), "pool: at most " + std::to_string(max) +
                                        " addresses (ports are tracked per address)");
    for (uint64_t i = 0; i < count; i++)
      if (!pool.insert(addr + static_cast<uint32_t>(i)).second)
        throw ConfigError(mark_of(n), "pool: address " + ipv4_text(htonl(addr + static_cast<uint32_t>(i))) +
                                          " is listed twice");
  }
  if (pool.empty()) throw ConfigError(p.mark("pool"), "pool: at least one address is needed");
  return {pool.begin(), pool.end()};
}

std::pair<uint16_t, uint16_t> parse_port_range(const Params& p, unsigned workers) {
  const std::string s = p.get<std::string>("port_range");
  auto dash = s.find('-');
  unsigned long lo = 0, hi = 0;
  bool ok = dash != std::string::npos;
  try {
    size_t p1 = 0, p2 = 0;
    if (ok) {
      lo = std::stoul(s.substr(0, dash), &p1);
      hi = std::stoul(s.substr(dash + 1), &p2);
      ok = p1 == dash && p2 == s.size() - dash - 1;
    }
  } catch (const std::exception&) {
    ok = false;
  }
  if (!ok || lo < 1 || hi > 65535 || lo > hi)
    throw ConfigError(p.mark("port_range"), "port_range: expected LO-HI within 1-65535, such as 1024-65535");
  if (hi - lo + 1 < workers)
    throw ConfigError(p.mark("port_range"), "port_range: fewer ports than workers (each worker needs a slice)");
  return {static_cast<uint16_t>(lo), static_cast<uint16_t>(hi)};
}

uint32_t parse_timeout(const Params& p, const char* name) {
  uint64_t v = p.get<uint64_t>(name);
  if (v < 1 || v > 86400 * 7) throw ConfigError(p.mark(name), std::string(name) + ": a timeout is 1 to 604800 seconds");
  return static_cast<uint32_t>(v);
}

std::string ipv4_text(uint32_t net) {
  char buf[INET_ADDRSTRLEN];
  in_addr a{net};
  inet_ntop(AF_INET, &a, buf, sizeof buf);
  return buf;
}

void add_table_handlers(HandlerSet& h, const std::shared_ptr<SessionTable>& table) {
  const std::shared_ptr<SessionTable>* t = &table;
  auto num = [](uint64_t v) { return std::to_string(v); };
  h.read("count", "sessions now", [t, num] { return num((*t)->live()); });
  h.read("tcp_sessions", "TCP sessions now", [t, num] { return num((*t)->live(0)); });
  h.read("udp_sessions", "UDP sessions now", [t, num] { return num((*t)->live(1)); });
  h.read("icmp_sessions", "ICMP sessions now", [t, num] { return num((*t)->live(2)); });
  h.read("mappings", "dynamic external endpoints in use", [t, num] { return num((*t)->mappings()); });
  h.read("created", "sessions created", [t, num] {
    TableTotals x = (*t)->totals();
    return num(x.created[0] + x.created[1] + x.created[2]);
  });
  h.read("expired", "sessions ended by their idle timeout", [t, num] { return num((*t)->totals().expired); });
  h.read("allocation_failures", "new sessions refused for want of a port",
         [t, num] { return num((*t)->totals().allocation_failures); });
  h.read("memory", "bytes the session table holds", [t] {
    size_t dpdk = (*t)->dpdk_memory(), heap = (*t)->heap_memory();
    char buf[160];
    std::snprintf(buf, sizeof buf, "dpdk %zu heap %zu per_session %.1f", dpdk, heap,
                  double(dpdk + heap) / double((*t)->capacity()));
    return std::string(buf);
  });
  h.read("pool", "free ports per pool address and protocol", [t] {
    std::ostringstream out;
    const PortPool& pp = (*t)->pool();
    for (size_t a = 0; a < pp.size(); a++)
      out << ipv4_text(htonl(pp.address(a))) << " tcp " << pp.free_ports(a, 0) << " udp " << pp.free_ports(a, 1)
          << " icmp " << pp.free_ports(a, 2) << '\n';
    return out.str();
  });
}

}  // namespace weft::nat

#include "datapath/session_handlers.hpp"

#include <cstdio>
#include <sstream>
#include <stdexcept>

#include "weft/net.hpp"

namespace weft::nat {

uint32_t parse_seconds(const std::string& v) {
  unsigned long s = 0;
  try {
    s = std::stoul(v);
  } catch (const std::exception&) {
    throw std::invalid_argument("advance_clock: a number of seconds");
  }
  return static_cast<uint32_t>(s);
}

int parse_filter_port(const std::string& v) {
  int port = -1;
  try {
    port = std::stoi(v);
  } catch (const std::exception&) {
    port = -1;
  }
  if (port < 0 || port > 65535) throw std::invalid_argument("port: 0-65535");
  return port;
}

std::string memory_text(SessionTable& t) {
  const size_t dpdk = t.dpdk_memory(), heap = t.heap_memory();
  char buf[160];
  std::snprintf(buf, sizeof buf, "dpdk %zu heap %zu per_session %.1f", dpdk, heap,
                double(dpdk + heap) / double(t.capacity()));
  return buf;
}

std::string pool_text(const SessionTable& t) {
  std::ostringstream out;
  const PortPool& pp = t.pool();
  for (size_t a = 0; a < pp.size(); a++)
    out << Ip4::from_host(pp.address(a)).str() << " tcp " << pp.free_ports(a, 0) << " udp " << pp.free_ports(a, 1)
        << " icmp " << pp.free_ports(a, 2) << '\n';
  return out.str();
}

}  // namespace weft::nat

// Shared set-up for unit tests: DPDK (once per process), a packet pool, the
// built-in plugins, and packet builders.
#pragma once

#include <rte_ethdev.h>

#include <string>
#include <vector>

#include "core/plugin_loader.hpp"
#include "runtime/runtime.hpp"
#include "testing/graph_harness.hpp"

namespace weft::test {

// Starts DPDK with --no-huge, lcores 0 and 1, and four net_null devices
// (net_null0..3). Safe to call many times.
void eal();
rte_mempool* pool();
// A loader with the built-in plugins and the harness Capture class.
const PluginLoader& loader();

// A packet holding exactly `bytes`.
rte_mbuf* packet(const std::vector<uint8_t>& bytes);
std::vector<uint8_t> bytes_of(rte_mbuf* m);
void free_all(std::vector<rte_mbuf*>& v);

// Frame builders (network byte order, no checksums needed by the elements under test).
std::vector<uint8_t> eth(uint16_t ethertype, const std::vector<uint8_t>& payload = {},
                         const std::string& dst = "02:00:00:00:00:02", const std::string& src = "02:00:00:00:00:01");
std::vector<uint8_t> vlan_eth(uint16_t vid, uint16_t ethertype, const std::vector<uint8_t>& payload = {});
std::vector<uint8_t> ipv4(const std::string& src, const std::string& dst, uint8_t proto,
                          const std::vector<uint8_t>& l4 = {});
std::vector<uint8_t> ipv6(const std::string& src, const std::string& dst, uint8_t next,
                          const std::vector<uint8_t>& l4 = {});
std::vector<uint8_t> ports(uint16_t sport, uint16_t dport, size_t pad = 16);

std::string builtin_plugin_dir();
std::string test_plugin_dir(const std::string& name);

}  // namespace weft::test

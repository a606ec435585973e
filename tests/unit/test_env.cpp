#include "test_env.hpp"

#include "weft/metadata.hpp"
#include "weft/testing.hpp"

#include <arpa/inet.h>
#include <rte_eal.h>
#include <rte_ether.h>
#include <sched.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace weft::test {

void eal() {
  // lcore 0 is the test's control thread; workers on lcores 1 and 2, spread
  // over the CPUs this process may use.
  std::vector<int> cpus = allowed_cpus();
  std::string lcores = "--lcores=0@" + std::to_string(cpus[0]);
  for (int l = 1; l <= 2; l++) lcores += "," + std::to_string(l) + "@" + std::to_string(cpus[l % cpus.size()]);
  testing::start_dpdk({"-m", "512", lcores, "--vdev=net_null0", "--vdev=net_null1", "--vdev=net_null2", "--vdev=net_null3"});
}

rte_mempool* pool() {
  eal();
  return testing::pool();
}

const PluginLoader& loader() {
  static PluginLoader* l = [] {
    auto* x = new PluginLoader();
    x->load_directories({builtin_plugin_dir(), test_plugin_dir("testkit")});
    x->add_class(GraphHarness::capture_class(), "harness");
    return x;
  }();
  return *l;
}

rte_mbuf* packet(const std::vector<uint8_t>& bytes) {
  eal();
  return testing::make_packet(bytes);
}

std::vector<uint8_t> bytes_of(rte_mbuf* m) { return testing::frame_of(m); }

void free_all(std::vector<rte_mbuf*>& v) {
  for (auto* m : v) rte_pktmbuf_free(m);
  v.clear();
}

static void put16(std::vector<uint8_t>& v, uint16_t x) {
  v.push_back(static_cast<uint8_t>(x >> 8));
  v.push_back(static_cast<uint8_t>(x));
}

static void put_mac(std::vector<uint8_t>& v, const std::string& s) {
  rte_ether_addr a{};
  if (rte_ether_unformat_addr(s.c_str(), &a) != 0) throw std::invalid_argument(s);
  v.insert(v.end(), a.addr_bytes, a.addr_bytes + 6);
}

std::vector<uint8_t> eth(uint16_t ethertype, const std::vector<uint8_t>& payload, const std::string& dst,
                         const std::string& src) {
  std::vector<uint8_t> v;
  put_mac(v, dst);
  put_mac(v, src);
  put16(v, ethertype);
  v.insert(v.end(), payload.begin(), payload.end());
  return v;
}

std::vector<uint8_t> vlan_eth(uint16_t vid, uint16_t ethertype, const std::vector<uint8_t>& payload) {
  std::vector<uint8_t> tag;
  put16(tag, vid);
  put16(tag, ethertype);
  tag.insert(tag.end(), payload.begin(), payload.end());
  return eth(0x8100, tag);
}

std::vector<uint8_t> ipv4(const std::string& src, const std::string& dst, uint8_t proto, const std::vector<uint8_t>& l4) {
  std::vector<uint8_t> v{0x45, 0};
  put16(v, static_cast<uint16_t>(20 + l4.size()));
  put16(v, 1);
  put16(v, 0);
  v.push_back(64);
  v.push_back(proto);
  put16(v, 0);
  uint8_t a[4];
  inet_pton(AF_INET, src.c_str(), a);
  v.insert(v.end(), a, a + 4);
  inet_pton(AF_INET, dst.c_str(), a);
  v.insert(v.end(), a, a + 4);
  v.insert(v.end(), l4.begin(), l4.end());
  return v;
}

std::vector<uint8_t> ipv6(const std::string& src, const std::string& dst, uint8_t next, const std::vector<uint8_t>& l4) {
  std::vector<uint8_t> v{0x60, 0, 0, 0};
  put16(v, static_cast<uint16_t>(l4.size()));
  v.push_back(next);
  v.push_back(64);
  uint8_t a[16];
  inet_pton(AF_INET6, src.c_str(), a);
  v.insert(v.end(), a, a + 16);
  inet_pton(AF_INET6, dst.c_str(), a);
  v.insert(v.end(), a, a + 16);
  v.insert(v.end(), l4.begin(), l4.end());
  return v;
}

std::vector<uint8_t> ports(uint16_t sport, uint16_t dport, size_t pad) {
  std::vector<uint8_t> v;
  put16(v, sport);
  put16(v, dport);
  v.resize(4 + pad, 0);
  return v;
}

std::string builtin_plugin_dir() { return WEFT_BUILTIN_PLUGIN_DIR; }
std::string test_plugin_dir(const std::string& name) { return std::string(WEFT_TEST_PLUGIN_DIR) + "/" + name; }

}  // namespace weft::test

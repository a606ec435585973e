// IpLocal, IcmpEcho and IcmpError, driven through the harness with real
// mbufs and a real Interfaces service. Input frames and expected replies
// are written out here with their own RFC 1071 checksum code; what the
// elements produce is verified again with DPDK's checksum functions.
#define ALLOW_EXPERIMENTAL_API  // rte_ipv6_udptcp_cksum_verify is experimental in DPDK 22.11
#include <arpa/inet.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <rte_ethdev.h>
#include <rte_ip.h>

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "control/fib_service.hpp"
#include "tables/ingress.hpp"
#include "tables/interfaces.hpp"
#include "fpm_zebra.hpp"
#include "test_env.hpp"
#include "testing/graph_harness.hpp"
#include "weft/fields.hpp"
#include "weft/testing.hpp"

using namespace weft;
using namespace weft::test;

namespace {

using Bytes = std::vector<uint8_t>;

const std::string kServices = R"(
ports:
  p0: net_null0
  p1: net_null1
services:
  ifaces:
    class: Interfaces
    interfaces:
      - {name: wan, port: p0, mac: "02:00:00:00:00:01", addresses: [192.0.2.1/24, "2001:db8::1/64"], mtu: 1500}
      - {name: lan, port: p1, mac: "02:00:00:00:00:02", addresses: [10.0.0.1/24]}
)";
const char* kWanMac = "02:00:00:00:00:01";
const char* kLanMac = "02:00:00:00:00:02";
const char* kPeerMac = "02:00:00:00:99:99";

uint16_t port_of(const char* dev) {
  eal();
  uint16_t id = 0xffff;
  REQUIRE(rte_eth_dev_get_port_by_name(dev, &id) == 0);
  return id;
}

// --- frames, with checksums computed here (RFC 1071), not by the code under test ---

uint32_t sum16(const uint8_t* p, size_t n, uint32_t acc = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) acc += uint32_t(p[i] << 8 | p[i + 1]);
  if (n & 1) acc += uint32_t(p[n - 1] << 8);
  return acc;
}
uint16_t finish(uint32_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return static_cast<uint16_t>(~acc);
}
void put16(Bytes& v, size_t at, uint16_t x) {
  v[at] = static_cast<uint8_t>(x >> 8);
  v[at + 1] = static_cast<uint8_t>(x);
}
Bytes a4(const char* s) {
  Bytes b(4);
  REQUIRE(inet_pton(AF_INET, s, b.data()) == 1);
  return b;
}
Bytes a6(const char* s) {
  Bytes b(16);
  REQUIRE(inet_pton(AF_INET6, s, b.data()) == 1);
  return b;
}
Bytes mac(const char* s) {
  rte_ether_addr a{};
  REQUIRE(rte_ether_unformat_addr(s, &a) == 0);
  return Bytes(a.addr_bytes, a.addr_bytes + 6);
}
Bytes ether(const char* dst, const char* src, uint16_t type, const Bytes& payload) {
  Bytes v = mac(dst);
  Bytes s = mac(src);
  v.insert(v.end(), s.begin(), s.end());
  v.push_back(static_cast<uint8_t>(type >> 8));
  v.push_back(static_cast<uint8_t>(type));
  v.insert(v.end(), payload.begin(), payload.end());
  return v;
}

struct Ip4Opts {
  uint8_t ttl = 64, tos = 0;
  uint16_t id = 0x1234, frag = 0;  // flags + offset, host order
};
Bytes ip4(const char* src, const char* dst, uint8_t proto, const Bytes& l4, Ip4Opts o = {}) {
  Bytes v(20, 0);
  v[0] = 0x45;
  v[1] = o.tos;
  put16(v, 2, static_cast<uint16_t>(20 + l4.size()));
  put16(v, 4, o.id);
  put16(v, 6, o.frag);
  v[8] = o.ttl;
  v[9] = proto;
  Bytes s = a4(src), d = a4(dst);
  std::copy(s.begin(), s.end(), v.begin() + 12);
  std::copy(d.begin(), d.end(), v.begin() + 16);
  put16(v, 10, finish(sum16(v.data(), 20)));
  v.insert(v.end(), l4.begin(), l4.end());
  return v;
}
Bytes ip6(const char* src, const char* dst, uint8_t next, const Bytes& l4, uint8_t hops = 64) {
  Bytes v(40, 0);
  v[0] = 0x60;
  put16(v, 4, static_cast<uint16_t>(l4.size()));
  v[6] = next;
  v[7] = hops;
  Bytes s = a6(src), d = a6(dst);
  std::copy(s.begin(), s.end(), v.begin() + 8);
  std::copy(d.begin(), d.end(), v.begin() + 24);
  v.insert(v.end(), l4.begin(), l4.end());
  return v;
}
// An ICMPv4 message with its checksum.
Bytes icmp4(uint8_t type, uint8_t code, uint32_t rest, const Bytes& data) {
  Bytes v(8 + data.size(), 0);
  v[0] = type;
  v[1] = code;
  put16(v, 4, static_cast<uint16_t>(rest >> 16));
  put16(v, 6, static_cast<uint16_t>(rest));
  std::copy(data.begin(), data.end(), v.begin() + 8);
  put16(v, 2, finish(sum16(v.data(), v.size())));
  return v;
}
// An ICMPv6 message with its checksum over the pseudo-header (RFC 4443 2.3).
Bytes icmp6(const char* src, const char* dst, uint8_t type, uint8_t code, uint32_t rest, const Bytes& data) {
  Bytes v(8 + data.size(), 0);
  v[0] = type;
  v[1] = code;
  put16(v, 4, static_cast<uint16_t>(rest >> 16));
  put16(v, 6, static_cast<uint16_t>(rest));
  std::copy(data.begin(), data.end(), v.begin() + 8);
  Bytes ph = a6(src);
  Bytes d = a6(dst);
  ph.insert(ph.end(), d.begin(), d.end());
  Bytes len(4, 0);
  len[2] = static_cast<uint8_t>(v.size() >> 8);
  len[3] = static_cast<uint8_t>(v.size());
  ph.insert(ph.end(), len.begin(), len.end());
  ph.insert(ph.end(), {0, 0, 0, 58});
  put16(v, 2, finish(sum16(v.data(), v.size(), sum16(ph.data(), ph.size()))));
  return v;
}
Bytes udp(uint16_t sport, uint16_t dport, size_t payload) {
  Bytes v(8 + payload, 0xab);
  put16(v, 0, sport);
  put16(v, 2, dport);
  put16(v, 4, static_cast<uint16_t>(8 + payload));
  put16(v, 6, 0);
  return v;
}
Bytes data(size_t n) {
  Bytes v(n);
  for (size_t i = 0; i < n; i++) v[i] = static_cast<uint8_t>(i * 7 + 1);
  return v;
}

rte_mbuf* on_port(const Bytes& f, uint16_t port) {
  rte_mbuf* m = packet(f);
  m->port = port;
  return m;
}
Batch batch(std::initializer_list<rte_mbuf*> ms) {
  Batch b;
  for (auto* m : ms) b.add(m);
  return b;
}
std::vector<Bytes> take(GraphHarness& h, const std::string& id) {
  auto v = h.take(id);
  std::vector<Bytes> out;
  for (auto* m : v) out.push_back(bytes_of(m));
  free_all(v);
  return out;
}
void push1(GraphHarness& h, const std::string& id, const Bytes& f, uint16_t port) {
  Batch b = batch({on_port(f, port)});
  h.push(id, b);
}

// DPDK's verdicts on a frame holding IPv4 + ICMP or IPv6 + ICMPv6.
bool ipv4_header_ok(const Bytes& f) {
  const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(f.data() + 14);
  rte_ipv4_hdr copy = *ip;
  const uint16_t got = copy.hdr_checksum;
  copy.hdr_checksum = 0;
  return rte_ipv4_cksum(&copy) == got;
}
bool icmp4_ok(const Bytes& f) {
  const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(f.data() + 14);
  const size_t ihl = (ip->version_ihl & 0xf) * 4u;
  return rte_raw_cksum(f.data() + 14 + ihl, rte_be_to_cpu_16(ip->total_length) - ihl) == 0xffff;
}
bool icmp6_ok(const Bytes& f) {
  const auto* ip = reinterpret_cast<const rte_ipv6_hdr*>(f.data() + 14);
  return rte_ipv6_udptcp_cksum_verify(ip, f.data() + 54) == 0;
}

}  // namespace

// ---------------------------------------------------------------------------
// IpLocal
// ---------------------------------------------------------------------------

TEST_CASE("IpLocal sends ours to local, link control to control, the rest to forward, and drops by name", "[icmp]") {
  GraphHarness h(kServices + R"(
elements:
  split: {class: IpLocal, interfaces: ifaces}
  fwd: Capture
  loc: Capture
  ctl: Capture
connections:
  - split[forward] -> fwd
  - split[local] -> loc
  - split[control] -> ctl
)",
                 loader(), pool());
  const uint16_t p0 = port_of("net_null0");
  auto v4 = [](const char* s, const char* d) { return ether(kWanMac, kPeerMac, 0x0800, ip4(s, d, 17, udp(1, 2, 8))); };
  auto v6 = [](const char* s, const char* d) {
    return ether(kWanMac, kPeerMac, 0x86dd, ip6(s, d, 17, udp(1, 2, 8)));
  };
  const std::vector<Bytes> local = {v4("192.0.2.7", "192.0.2.1"), v4("192.0.2.7", "10.0.0.1"),
                                    v6("2001:db8::7", "2001:db8::1"), v6("fe80::7", "fe80::ff:fe00:1"),
                                    v6("fe80::7", "fe80::ff:fe00:2")};
  const std::vector<Bytes> control = {v4("192.0.2.7", "224.0.0.5"),    v4("192.0.2.7", "255.255.255.255"),
                                      v4("192.0.2.7", "192.0.2.255"),  v4("10.0.0.9", "10.0.0.255"),
                                      v4("0.0.0.0", "255.255.255.255"), v6("fe80::7", "ff02::1"),
                                      v6("fe80::7", "ff02::1:ff00:1"),  v6("::", "ff02::1:ff00:1"),
                                      v6("fe80::7", "ff02::5")};
  const std::vector<Bytes> forward = {v4("192.0.2.7", "198.51.100.1"), v4("10.0.0.9", "192.0.2.200"),
                                      v6("2001:db8::7", "2001:db8:1::5")};
  Batch b;
  for (const auto* list : {&local, &control, &forward})
    for (const auto& f : *list) b.add(on_port(f, p0));
  h.push("split", b);
  CHECK(take(h, "loc") == local);
  CHECK(take(h, "ctl") == control);
  CHECK(take(h, "fwd") == forward);

  // Drops, one reason at a time.
  Bytes bad_ver = v4("192.0.2.7", "192.0.2.1");
  bad_ver[14] = 0x55;
  Bytes bad_ihl = v4("192.0.2.7", "192.0.2.1");
  bad_ihl[14] = 0x44;
  Bytes bad_sum = v4("192.0.2.7", "192.0.2.1");
  bad_sum[14 + 10] ^= 0x01;
  Bytes bad_len = v4("192.0.2.7", "192.0.2.1");
  put16(bad_len, 14 + 2, 19);
  Bytes long_len = v4("192.0.2.7", "192.0.2.1");
  put16(long_len, 14 + 2, 1000);
  Bytes v6_long = v6("2001:db8::7", "2001:db8::1");
  put16(v6_long, 14 + 4, 1000);
  Bytes v6_ver = v6("2001:db8::7", "2001:db8::1");
  v6_ver[14] = 0x40;
  const std::vector<std::pair<Bytes, const char*>> drops = {
      {ether(kWanMac, kPeerMac, 0x0806, Bytes(28, 0)), "not_ip"},
      {Bytes(10, 0), "truncated"},
      {ether(kWanMac, kPeerMac, 0x0800, Bytes(12, 0x45)), "truncated"},
      {ether(kWanMac, kPeerMac, 0x86dd, Bytes(30, 0x60)), "truncated"},
      {long_len, "truncated"},
      {v6_long, "truncated"},
      {bad_ver, "bad_ip"},
      {bad_ihl, "bad_ip"},
      {bad_sum, "bad_ip"},
      {bad_len, "bad_ip"},
      {v6_ver, "bad_ip"},
      {v4("192.0.2.7", "239.1.1.1"), "multicast"},
      {v6("2001:db8::7", "ff05::1"), "multicast"},
      {v6("2001:db8::7", "ff0e::1"), "multicast"},
      {v6("2001:db8::7", "ff01::1"), "multicast"},
      {v4("127.0.0.1", "192.0.2.1"), "martian"},
      {v4("224.1.1.1", "198.51.100.1"), "martian"},
      {v4("240.0.0.1", "198.51.100.1"), "martian"},
      {v4("0.0.0.0", "198.51.100.1"), "martian"},
      {v4("192.0.2.7", "127.0.0.1"), "martian"},
      {v4("192.0.2.7", "0.1.2.3"), "martian"},
      {v4("192.0.2.7", "240.0.0.1"), "martian"},
      {v6("::1", "2001:db8::1"), "martian"},
      {v6("ff02::1", "2001:db8::1"), "martian"},
      {v6("::", "2001:db8::1"), "martian"},
      {v6("2001:db8::7", "::1"), "martian"},
      {v6("2001:db8::7", "::"), "martian"},
      {v4("192.0.2.7", "169.254.1.1"), "link_local"},
      {v6("fe80::7", "fe80::99"), "link_local"},
  };
  std::map<std::string, uint64_t> want;
  for (const auto& [f, reason] : drops) {
    INFO("drop reason " << reason);
    const uint64_t before = h.drops("split", reason);
    push1(h, "split", f, p0);
    CHECK(h.drops("split", reason) == before + 1);
  }
  CHECK(take(h, "loc").empty());
  CHECK(take(h, "ctl").empty());
  CHECK(take(h, "fwd").empty());

  // A forwarded packet's header checksum is IpLookup's to check, not IpLocal's.
  Bytes fwd_bad_sum = v4("192.0.2.7", "198.51.100.1");
  fwd_bad_sum[14 + 10] ^= 0x01;
  push1(h, "split", fwd_bad_sum, p0);
  CHECK(take(h, "fwd").size() == 1);

  const std::string table = h.read_handler("split", "addresses");
  CHECK(table.find("192.0.2.1 local") != std::string::npos);
  CHECK(table.find("192.0.2.255 broadcast") != std::string::npos);
  CHECK(table.find("fe80::ff:fe00:1 local") != std::string::npos);
}

// ---------------------------------------------------------------------------
// IcmpEcho
// ---------------------------------------------------------------------------

TEST_CASE("IcmpEcho answers IPv4 and IPv6 echo requests in place, checksums right", "[icmp]") {
  GraphHarness h(kServices + R"(
elements:
  echo: {class: IcmpEcho, interfaces: ifaces}
  out: Capture
  other: Capture
connections:
  - echo[out] -> out
  - echo[other] -> other
)",
                 loader(), pool());
  const uint16_t p0 = port_of("net_null0"), p1 = port_of("net_null1");
  const Bytes payload = data(56);

  SECTION("IPv4: reply from the address asked, MAC of the ingress interface, TTL 64, padding trimmed") {
    Bytes req = ether(kWanMac, kPeerMac, 0x0800,
                      ip4("192.0.2.7", "192.0.2.1", 1, icmp4(8, 0, 0x4d2001c, payload), {.ttl = 3, .id = 77}));
    Bytes want = ether(kPeerMac, kWanMac, 0x0800,
                       ip4("192.0.2.1", "192.0.2.7", 1, icmp4(0, 0, 0x4d2001c, payload), {.ttl = 64, .id = 77}));
    push1(h, "echo", req, p0);
    auto got = take(h, "out");
    REQUIRE(got.size() == 1);
    CHECK(got[0] == want);
    CHECK(ipv4_header_ok(got[0]));
    CHECK(icmp4_ok(got[0]));
    // A request padded to the Ethernet minimum (a tiny payload): the reply drops the padding.
    Bytes small = ether(kWanMac, kPeerMac, 0x0800, ip4("192.0.2.7", "192.0.2.1", 1, icmp4(8, 0, 1, {})));
    small.resize(60, 0);
    push1(h, "echo", small, p0);
    got = take(h, "out");
    REQUIRE(got.size() == 1);
    CHECK(got[0] == ether(kPeerMac, kWanMac, 0x0800, ip4("192.0.2.1", "192.0.2.7", 1, icmp4(0, 0, 1, {}))));
    // The wan address asked on the lan port: the lan interface's MAC answers.
    push1(h, "echo", req, p1);
    got = take(h, "out");
    REQUIRE(got.size() == 1);
    CHECK(Bytes(got[0].begin() + 6, got[0].begin() + 12) == mac(kLanMac));
    CHECK(h.read_handler("echo", "replied4") == "3");
  }

  SECTION("IPv6: global and link-local addresses, pseudo-header checksum right") {
    for (const char* ours : {"2001:db8::1", "fe80::ff:fe00:1"}) {
      const char* peer = ours[0] == 'f' ? "fe80::7" : "2001:db8::7";
      Bytes req = ether(kWanMac, kPeerMac, 0x86dd, ip6(peer, ours, 58, icmp6(peer, ours, 128, 0, 0x10002, payload), 9));
      Bytes want =
          ether(kPeerMac, kWanMac, 0x86dd, ip6(ours, peer, 58, icmp6(ours, peer, 129, 0, 0x10002, payload), 64));
      push1(h, "echo", req, p0);
      auto got = take(h, "out");
      REQUIRE(got.size() == 1);
      CHECK(got[0] == want);
      CHECK(icmp6_ok(got[0]));
    }
    CHECK(h.read_handler("echo", "replied6") == "2");
  }

  SECTION("everything that is not an echo request to us goes to other, untouched") {
    Ip4Opts frag;
    frag.frag = 0x2000;  // MF
    Bytes hbh = {58, 0, 1, 4, 0, 0, 0, 0};  // hop-by-hop options, then ICMPv6
    Bytes hbh_req = hbh;
    Bytes m6 = icmp6("2001:db8::7", "2001:db8::1", 128, 0, 1, {});
    hbh_req.insert(hbh_req.end(), m6.begin(), m6.end());
    const std::vector<Bytes> others = {
        ether(kWanMac, kPeerMac, 0x0800, ip4("192.0.2.7", "192.0.2.1", 17, udp(1, 7, 8))),
        ether(kWanMac, kPeerMac, 0x0800, ip4("192.0.2.7", "192.0.2.1", 1, icmp4(0, 0, 1, payload))),
        ether(kWanMac, kPeerMac, 0x0800, ip4("192.0.2.7", "192.0.2.1", 1, icmp4(8, 0, 1, payload), frag)),
        ether(kWanMac, kPeerMac, 0x0800, ip4("192.0.2.7", "192.0.2.99", 1, icmp4(8, 0, 1, payload))),
        ether(kWanMac, kPeerMac, 0x86dd,
              ip6("2001:db8::7", "2001:db8::1", 58, icmp6("2001:db8::7", "2001:db8::1", 135, 0, 0, data(16)))),
        ether(kWanMac, kPeerMac, 0x86dd, ip6("2001:db8::7", "2001:db8::1", 0, hbh_req)),
        ether(kWanMac, kPeerMac, 0x86dd,
              ip6("2001:db8::7", "2001:db8::5", 58, icmp6("2001:db8::7", "2001:db8::5", 128, 0, 1, {}))),
        ether(kWanMac, kPeerMac, 0x0806, Bytes(28, 0)),
    };
    Batch b;
    for (const auto& f : others) b.add(on_port(f, p0));
    h.push("echo", b);
    CHECK(take(h, "other") == others);
    CHECK(take(h, "out").empty());
  }

  SECTION("bad checksums, bad sources and truncated requests are dropped by name") {
    Bytes bad = ether(kWanMac, kPeerMac, 0x0800, ip4("192.0.2.7", "192.0.2.1", 1, icmp4(8, 0, 1, payload)));
    bad.back() ^= 0xff;
    Bytes bad6 = ether(kWanMac, kPeerMac, 0x86dd,
                       ip6("2001:db8::7", "2001:db8::1", 58, icmp6("2001:db8::7", "2001:db8::1", 128, 0, 1, payload)));
    bad6[14 + 8] ^= 0x01;  // the source changed: the pseudo-header no longer sums
    Bytes trunc = ether(kWanMac, kPeerMac, 0x0800, ip4("192.0.2.7", "192.0.2.1", 1, icmp4(8, 0, 1, payload)));
    trunc.resize(trunc.size() - 10);
    Bytes trunc6 = ether(kWanMac, kPeerMac, 0x86dd,
                         ip6("2001:db8::7", "2001:db8::1", 58, icmp6("2001:db8::7", "2001:db8::1", 128, 0, 1, payload)));
    trunc6.resize(trunc6.size() - 1);
    const std::vector<std::pair<Bytes, const char*>> drops = {
        {bad, "bad_checksum"},
        {bad6, "bad_checksum"},
        {ether(kWanMac, kPeerMac, 0x0800, ip4("0.0.0.0", "192.0.2.1", 1, icmp4(8, 0, 1, payload))), "bad_source"},
        {ether(kWanMac, kPeerMac, 0x0800, ip4("127.0.0.1", "192.0.2.1", 1, icmp4(8, 0, 1, payload))), "bad_source"},
        {ether(kWanMac, kPeerMac, 0x0800, ip4("224.0.0.1", "192.0.2.1", 1, icmp4(8, 0, 1, payload))), "bad_source"},
        {ether(kWanMac, kPeerMac, 0x86dd,
               ip6("ff02::1", "2001:db8::1", 58, icmp6("ff02::1", "2001:db8::1", 128, 0, 1, payload))),
         "bad_source"},
        {ether(kWanMac, kPeerMac, 0x86dd, ip6("::", "2001:db8::1", 58, icmp6("::", "2001:db8::1", 128, 0, 1, payload))),
         "bad_source"},
        {trunc, "truncated"},
        {trunc6, "truncated"},
        {Bytes(8, 0), "truncated"},
        {ether(kWanMac, kPeerMac, 0x0800, Bytes(10, 0x45)), "truncated"},
    };
    for (const auto& [f, reason] : drops) {
      INFO("drop reason " << reason);
      const uint64_t before = h.drops("echo", reason);
      push1(h, "echo", f, p0);
      CHECK(h.drops("echo", reason) == before + 1);
    }
    CHECK(take(h, "out").empty());
    CHECK(take(h, "other").empty());
  }
}

TEST_CASE("IcmpEcho limits its replies with a token bucket on the framework's clock", "[icmp]") {
  GraphHarness h(kServices + R"(
elements:
  echo: {class: IcmpEcho, interfaces: ifaces, rate: 20, burst: 3}
  out: Capture
  other: Capture
connections:
  - echo[out] -> out
  - echo[other] -> other
)",
                 loader(), pool());
  const uint16_t p0 = port_of("net_null0");
  const Bytes req = ether(kWanMac, kPeerMac, 0x0800, ip4("192.0.2.7", "192.0.2.1", 1, icmp4(8, 0, 1, data(8))));
  Batch b;
  for (int i = 0; i < 10; i++) b.add(on_port(req, p0));
  h.push("echo", b);
  CHECK(take(h, "out").size() == 3);  // the burst (20/s refills one per 50 ms: none within one batch)
  CHECK(h.drops("echo", "rate_limited") == 7);
  // 120 ms later: two more tokens (one more if this thread slept longer than 150 ms).
  std::this_thread::sleep_for(std::chrono::milliseconds(120));
  Batch b2;
  for (int i = 0; i < 10; i++) b2.add(on_port(req, p0));
  h.push("echo", b2);
  const size_t sent = take(h, "out").size();
  CHECK(sent >= 2);
  CHECK(sent <= 3);
  CHECK(h.drops("echo", "rate_limited") == 7 + 10 - sent);
}

// ---------------------------------------------------------------------------
// IcmpError
// ---------------------------------------------------------------------------

namespace {

const std::string kErrorGraph = kServices + R"(
elements:
  meta: {class: IcmpError, interfaces: ifaces, rate: 0}
  ttl: {class: IcmpError, interfaces: ifaces, type: time_exceeded, rate: 0}
  unr: {class: IcmpError, interfaces: ifaces, type: unreachable, code: port, rate: 0}
  big: {class: IcmpError, interfaces: ifaces, type: too_big, mtu: 1400, rate: 0}
  out: Capture
connections:
  - meta -> out
  - ttl -> out
  - unr -> out
  - big -> out
)";

// The error's fields, read back from the frame.
struct Error4 {
  Bytes frame;
  const rte_ipv4_hdr* ip() const { return reinterpret_cast<const rte_ipv4_hdr*>(frame.data() + 14); }
  const uint8_t* icmp() const { return frame.data() + 34; }
  Bytes quote() const { return Bytes(frame.begin() + 42, frame.end()); }
};

}  // namespace

TEST_CASE("IcmpError builds ICMPv4 errors: source, destination, quote, MTU, checksums", "[icmp]") {
  GraphHarness h(kErrorGraph, loader(), pool());
  const uint16_t p0 = port_of("net_null0"), p1 = port_of("net_null1");
  const Bytes orig = ip4("198.51.100.9", "203.0.113.5", 17, udp(4000, 33434, 4), {.ttl = 1});  // 46 bytes: padded
  Bytes frame = ether(kWanMac, kPeerMac, 0x0800, orig);
  frame.resize(std::max<size_t>(frame.size(), 60), 0);

  // Fixed time exceeded, arriving on lan (10.0.0.1): its only IPv4 address answers.
  push1(h, "ttl", frame, p1);
  auto got = take(h, "out");
  REQUIRE(got.size() == 1);
  Error4 e{got[0]};
  CHECK(Bytes(e.frame.begin(), e.frame.begin() + 12) == Bytes(12, 0));  // MACs zero: IpLookup writes them
  CHECK(e.frame[12] == 0x08);
  CHECK(e.frame[13] == 0x00);
  CHECK(e.ip()->version_ihl == 0x45);
  CHECK(e.ip()->type_of_service == 0xc0);
  CHECK(e.ip()->time_to_live == 64);
  CHECK(e.ip()->next_proto_id == 1);
  CHECK(Bytes((const uint8_t*)&e.ip()->src_addr, (const uint8_t*)&e.ip()->src_addr + 4) == a4("10.0.0.1"));
  CHECK(Bytes((const uint8_t*)&e.ip()->dst_addr, (const uint8_t*)&e.ip()->dst_addr + 4) == a4("198.51.100.9"));
  CHECK(rte_be_to_cpu_16(e.ip()->total_length) == 28 + orig.size());
  CHECK(e.frame.size() == 14 + 28 + orig.size());  // the Ethernet padding is not quoted
  CHECK(e.icmp()[0] == 11);
  CHECK(e.icmp()[1] == 0);
  CHECK(e.quote() == orig);
  CHECK(ipv4_header_ok(e.frame));
  CHECK(icmp4_ok(e.frame));
  CHECK(e.frame == ether("00:00:00:00:00:00", "00:00:00:00:00:00", 0x0800,
                         ip4("10.0.0.1", "198.51.100.9", 1, icmp4(11, 0, 0, orig),
                             {.ttl = 64, .tos = 0xc0, .id = rte_be_to_cpu_16(e.ip()->packet_id)})));
  CHECK(h.drops("ttl", "answered") == 1);
  CHECK(h.read_handler("ttl", "time_exceeded") == "1 0");

  // On wan, the source is the wan address on the destination's subnet if there is one, else the first.
  const Bytes near = ip4("192.0.2.77", "203.0.113.5", 17, udp(1, 2, 8));
  push1(h, "unr", ether(kWanMac, kPeerMac, 0x0800, near), p0);
  got = take(h, "out");
  REQUIRE(got.size() == 1);
  CHECK(got[0] == ether("00:00:00:00:00:00", "00:00:00:00:00:00", 0x0800,
                        ip4("192.0.2.1", "192.0.2.77", 1, icmp4(3, 3, 0, near),
                            {.ttl = 64, .tos = 0xc0, .id = rte_be_to_cpu_16(Error4{got[0]}.ip()->packet_id)})));

  // Fragmentation needed carries the next-hop MTU (RFC 1191); a long packet is quoted up to 576 bytes in all.
  Ip4Opts df;
  df.frag = 0x4000;
  const Bytes long_orig = ip4("198.51.100.9", "203.0.113.5", 17, udp(1, 2, 1472), df);
  push1(h, "big", ether(kWanMac, kPeerMac, 0x0800, long_orig), p0);
  got = take(h, "out");
  REQUIRE(got.size() == 1);
  e = Error4{got[0]};
  CHECK(rte_be_to_cpu_16(e.ip()->total_length) == 576);
  CHECK(e.frame.size() == 14 + 576);
  CHECK(e.icmp()[0] == 3);
  CHECK(e.icmp()[1] == 4);
  CHECK((e.icmp()[6] << 8 | e.icmp()[7]) == 1400);
  CHECK(e.icmp()[4] == 0);
  CHECK(e.icmp()[5] == 0);
  CHECK(e.quote() == Bytes(long_orig.begin(), long_orig.begin() + 548));
  CHECK(ipv4_header_ok(e.frame));
  CHECK(icmp4_ok(e.frame));
  CHECK(h.read_handler("big", "too_big") == "1 0");

  // Metadata decides over nothing: type, code, interface (lan's id), MTU.
  route::IcmpErrorSlot slot = route::icmp_error_slot();
  rte_mbuf* m = on_port(ether(kWanMac, kPeerMac, 0x0800, long_orig), p0);  // arrived on p0, but says lan
  slot.set(m, route::IcmpErrorMeta{3, 4, 1, 1280});
  Batch b = batch({m});
  h.push("meta", b);
  got = take(h, "out");
  REQUIRE(got.size() == 1);
  e = Error4{got[0]};
  CHECK((e.icmp()[6] << 8 | e.icmp()[7]) == 1280);
  CHECK(Bytes((const uint8_t*)&e.ip()->src_addr, (const uint8_t*)&e.ip()->src_addr + 4) == a4("10.0.0.1"));
  CHECK(icmp4_ok(e.frame));
  // kNoInterface: the interface is the one on the packet's port.
  m = on_port(ether(kWanMac, kPeerMac, 0x0800, orig), p0);
  slot.set(m, route::IcmpErrorMeta{3, 13, route::kNoInterface, 0});
  Batch b2 = batch({m});
  h.push("meta", b2);
  got = take(h, "out");
  REQUIRE(got.size() == 1);
  e = Error4{got[0]};
  CHECK(e.icmp()[0] == 3);
  CHECK(e.icmp()[1] == 13);
  CHECK(Bytes((const uint8_t*)&e.ip()->src_addr, (const uint8_t*)&e.ip()->src_addr + 4) == a4("192.0.2.1"));
  CHECK(h.read_handler("meta", "too_big") == "1 0");
  CHECK(h.read_handler("meta", "unreachable") == "1 0");
  CHECK(h.drops("meta", "answered") == 2);
}

TEST_CASE("IcmpError builds ICMPv6 errors: packet too big, quoting to 1280 bytes, pseudo-header checksum", "[icmp]") {
  GraphHarness h(kErrorGraph, loader(), pool());
  const uint16_t p0 = port_of("net_null0"), p1 = port_of("net_null1");
  const Bytes orig = ip6("2001:db8:5::9", "2001:db8:6::5", 17, udp(4000, 33434, 1400), 1);
  push1(h, "big", ether(kWanMac, kPeerMac, 0x86dd, orig), p0);
  auto got = take(h, "out");
  REQUIRE(got.size() == 1);
  const Bytes& f = got[0];
  CHECK(f.size() == 14 + 1280);
  const Bytes quote(orig.begin(), orig.begin() + 1280 - 48);
  CHECK(f == ether("00:00:00:00:00:00", "00:00:00:00:00:00", 0x86dd,
                   ip6("2001:db8::1", "2001:db8:5::9", 58, icmp6("2001:db8::1", "2001:db8:5::9", 2, 0, 1400, quote), 64)));
  CHECK(icmp6_ok(f));

  // Time exceeded from the link-local of lan (no global IPv6 there) to a link-local source.
  const Bytes ll = ip6("fe80::7", "2001:db8:6::5", 17, udp(1, 2, 8), 1);
  push1(h, "ttl", ether(kLanMac, kPeerMac, 0x86dd, ll), p1);
  got = take(h, "out");
  REQUIRE(got.size() == 1);
  CHECK(got[0] == ether("00:00:00:00:00:00", "00:00:00:00:00:00", 0x86dd,
                        ip6("fe80::ff:fe00:2", "fe80::7", 58, icmp6("fe80::ff:fe00:2", "fe80::7", 3, 0, 0, ll), 64)));
  CHECK(icmp6_ok(got[0]));
  CHECK(h.read_handler("ttl", "time_exceeded") == "0 1");

  // Unreachable (port) with metadata-free fixed code: ICMPv6 1/4.
  const Bytes small = ip6("2001:db8::9", "2001:db8:6::5", 17, udp(1, 2, 8));
  push1(h, "unr", ether(kWanMac, kPeerMac, 0x86dd, small), p0);
  got = take(h, "out");
  REQUIRE(got.size() == 1);
  CHECK(got[0] == ether("00:00:00:00:00:00", "00:00:00:00:00:00", 0x86dd,
                        ip6("2001:db8::1", "2001:db8::9", 58, icmp6("2001:db8::1", "2001:db8::9", 1, 4, 0, small), 64)));
}

TEST_CASE("IcmpError never answers errors, fragments, multicast, broadcast or bad sources, and names every drop",
          "[icmp]") {
  GraphHarness h(kServices + R"(
elements:
  ttl: {class: IcmpError, interfaces: ifaces, type: time_exceeded, rate: 0}
  big: {class: IcmpError, interfaces: ifaces, type: too_big, mtu: 1280, rate: 0}
  bare: {class: IcmpError, interfaces: ifaces}
  out: Capture
connections:
  - ttl -> out
  - big -> out
  - bare -> out
)",
                 loader(), pool());
  const uint16_t p0 = port_of("net_null0");
  auto f4 = [](const char* s, const char* d, uint8_t proto, const Bytes& l4, Ip4Opts o = {}) {
    return ether(kWanMac, kPeerMac, 0x0800, ip4(s, d, proto, l4, o));
  };
  auto f6 = [](const char* s, const char* d, uint8_t next, const Bytes& l4) {
    return ether(kWanMac, kPeerMac, 0x86dd, ip6(s, d, next, l4));
  };
  Ip4Opts later;
  later.frag = 0x2000 | 185;  // MF, offset 1480
  Ip4Opts first;
  first.frag = 0x2000;  // MF, offset 0: eligible
  Bytes frag6 = {17, 0, 0x05, 0xc8, 0, 0, 0, 1};  // next UDP, offset 185 (x8), id 1
  Bytes frag6_first = {17, 0, 0x00, 0x01, 0, 0, 0, 1};  // offset 0, M
  const Bytes u = udp(1, 2, 8);
  frag6.insert(frag6.end(), u.begin(), u.end());
  frag6_first.insert(frag6_first.end(), u.begin(), u.end());
  Bytes dst_opts_err = {58, 0, 1, 4, 0, 0, 0, 0};  // destination options, then an ICMPv6 error
  const Bytes err6 = icmp6("2001:db8::9", "2001:db8:6::5", 1, 0, 0, data(8));
  dst_opts_err.insert(dst_opts_err.end(), err6.begin(), err6.end());
  const Bytes bcast_l2 = ether("ff:ff:ff:ff:ff:ff", kPeerMac, 0x0800, ip4("192.0.2.9", "198.51.100.1", 17, u));

  const std::vector<Bytes> not_eligible = {
      f4("192.0.2.9", "198.51.100.1", 1, icmp4(3, 1, 0, data(28))),   // an ICMP error
      f4("192.0.2.9", "198.51.100.1", 1, icmp4(11, 0, 0, data(28))),  // an ICMP error
      f4("192.0.2.9", "198.51.100.1", 17, u, later),                  // a non-first fragment
      f4("192.0.2.9", "224.1.1.1", 17, u),                            // multicast
      f4("192.0.2.9", "255.255.255.255", 17, u),                      // broadcast
      f4("192.0.2.9", "192.0.2.255", 17, u),                          // our subnet's broadcast
      bcast_l2,                                                       // link-layer broadcast
      f4("0.0.0.0", "198.51.100.1", 17, u),                           // not one host
      f4("127.0.0.1", "198.51.100.1", 17, u),
      f4("224.0.0.9", "198.51.100.1", 17, u),
      f4("240.0.0.9", "198.51.100.1", 17, u),
      f6("2001:db8::9", "2001:db8:6::5", 58, err6),       // an ICMPv6 error
      f6("2001:db8::9", "2001:db8:6::5", 60, dst_opts_err),  // behind an extension header
      f6("2001:db8::9", "2001:db8:6::5", 44, frag6),      // a non-first fragment
      f6("2001:db8::9", "ff05::1", 17, u),                // multicast
      f6("::", "2001:db8:6::5", 17, u),
      f6("::1", "2001:db8:6::5", 17, u),
      f6("ff02::1", "2001:db8:6::5", 17, u),
  };
  for (size_t i = 0; i < not_eligible.size(); i++) {
    INFO("not eligible #" << i);
    const uint64_t before = h.drops("ttl", "not_eligible");
    push1(h, "ttl", not_eligible[i], p0);
    CHECK(h.drops("ttl", "not_eligible") == before + 1);
  }
  CHECK(take(h, "out").empty());

  // Eligible all the same: informational ICMP, a first fragment, and packet too big to multicast (RFC 4443 2.4(e.3)).
  push1(h, "ttl", f4("192.0.2.9", "198.51.100.1", 1, icmp4(8, 0, 1, data(8))), p0);
  push1(h, "ttl", f4("192.0.2.9", "198.51.100.1", 17, u, first), p0);
  push1(h, "ttl", f6("2001:db8::9", "2001:db8:6::5", 44, frag6_first), p0);
  push1(h, "ttl", f6("2001:db8::9", "2001:db8:6::5", 58, icmp6("2001:db8::9", "2001:db8:6::5", 128, 0, 1, {})), p0);
  push1(h, "big", f6("2001:db8::9", "ff05::1", 17, u), p0);
  CHECK(take(h, "out").size() == 5);

  // The other reasons.
  const uint16_t p2 = port_of("net_null2");  // no interface there
  push1(h, "ttl", f4("192.0.2.9", "198.51.100.1", 17, u), p2);
  CHECK(h.drops("ttl", "no_source_address") == 1);
  rte_mbuf* m = on_port(f4("192.0.2.9", "198.51.100.1", 17, u), p0);
  route::icmp_error_slot().set(m, route::IcmpErrorMeta{11, 0, 200, 0});  // no interface 200
  Batch b = batch({m});
  h.push("bare", b);
  CHECK(h.drops("bare", "no_source_address") == 1);
  push1(h, "bare", f4("192.0.2.9", "198.51.100.1", 17, u), p0);
  CHECK(h.drops("bare", "no_metadata") == 1);
  push1(h, "ttl", ether(kWanMac, kPeerMac, 0x0806, Bytes(28, 0)), p0);
  Bytes v5 = f4("192.0.2.9", "198.51.100.1", 17, u);
  v5[14] = 0x55;
  push1(h, "ttl", v5, p0);
  CHECK(h.drops("ttl", "not_ip") == 2);
  push1(h, "ttl", Bytes(12, 0), p0);
  push1(h, "ttl", ether(kWanMac, kPeerMac, 0x0800, Bytes(19, 0x45)), p0);
  push1(h, "ttl", ether(kWanMac, kPeerMac, 0x86dd, Bytes(39, 0x60)), p0);
  CHECK(h.drops("ttl", "truncated") == 3);
  CHECK(take(h, "out").empty());

  // The pool empty: alloc_failed, and the original is still accounted for.
  rte_mbuf* in = on_port(f4("192.0.2.9", "198.51.100.1", 17, u), p0);
  std::vector<rte_mbuf*> hoard;
  while (rte_mbuf* x = rte_pktmbuf_alloc(pool())) hoard.push_back(x);
  Batch b3 = batch({in});
  h.push("ttl", b3);
  free_all(hoard);
  CHECK(h.drops("ttl", "alloc_failed") == 1);
  CHECK(take(h, "out").empty());
}

TEST_CASE("IcmpError is rate-limited by rate and burst, and refuses bad parameters", "[icmp]") {
  GraphHarness h(kServices + R"(
elements:
  ttl: {class: IcmpError, interfaces: ifaces, type: time_exceeded, rate: 10, burst: 4}
  out: Capture
connections:
  - ttl -> out
)",
                 loader(), pool());
  const uint16_t p0 = port_of("net_null0");
  const Bytes f = ether(kWanMac, kPeerMac, 0x0800, ip4("192.0.2.9", "198.51.100.1", 17, udp(1, 2, 8)));
  Batch b;
  for (int i = 0; i < 20; i++) b.add(on_port(f, p0));
  h.push("ttl", b);
  CHECK(take(h, "out").size() == 4);
  CHECK(h.drops("ttl", "rate_limited") == 16);
  CHECK(h.drops("ttl", "answered") == 4);
  CHECK(h.read_handler("ttl", "time_exceeded") == "4 0");

  for (const char* bad : {"type: bogus", "code: net", "type: unreachable, code: ttl", "type: too_big",
                          "type: too_big, mtu: 20", "type: time_exceeded, mtu: 1400", "rate: -1", "burst: 0"}) {
    INFO(bad);
    CHECK_THROWS_AS(GraphHarness(kServices + "elements:\n  e: {class: IcmpError, interfaces: ifaces, " + bad +
                                     "}\n  out: Capture\nconnections: [e -> out]\n",
                                 loader(), pool()),
                    std::runtime_error);
  }
}

// ---------------------------------------------------------------------------
// Interop: tshark, an independent decoder, checks what the elements produce.
// ---------------------------------------------------------------------------

TEST_CASE("tshark decodes the echo replies and errors with every checksum Good", "[icmp][interop]") {
  GraphHarness h(kServices + R"(
elements:
  echo: {class: IcmpEcho, interfaces: ifaces}
  ttl: {class: IcmpError, interfaces: ifaces, type: time_exceeded}
  unr: {class: IcmpError, interfaces: ifaces, type: unreachable, code: port}
  big: {class: IcmpError, interfaces: ifaces, type: too_big, mtu: 1400}
  other: Capture
  replies: Capture
  out: Capture
connections:
  - echo[out] -> replies
  - echo[other] -> other
  - ttl -> out
  - unr -> out
  - big -> out
)",
                 loader(), pool());
  const uint16_t p0 = port_of("net_null0");
  push1(h, "echo", ether(kWanMac, kPeerMac, 0x0800, ip4("192.0.2.7", "192.0.2.1", 1, icmp4(8, 0, 0x10001, data(56)))), p0);
  push1(h, "echo",
        ether(kWanMac, kPeerMac, 0x86dd,
              ip6("2001:db8::7", "2001:db8::1", 58, icmp6("2001:db8::7", "2001:db8::1", 128, 0, 0x10002, data(40)))),
        p0);
  push1(h, "ttl", ether(kWanMac, kPeerMac, 0x0800, ip4("198.51.100.9", "203.0.113.5", 17, udp(1, 2, 1400))), p0);
  push1(h, "big", ether(kWanMac, kPeerMac, 0x86dd, ip6("2001:db8:5::9", "2001:db8:6::5", 17, udp(1, 2, 1400))), p0);
  push1(h, "unr", ether(kWanMac, kPeerMac, 0x0800, ip4("192.0.2.9", "203.0.113.5", 6, data(20))), p0);
  std::vector<Bytes> frames = take(h, "replies");
  for (auto& f : take(h, "out")) frames.push_back(f);
  REQUIRE(frames.size() == 5);
  const std::string path = "/tmp/weft-icmp-" + std::to_string(getpid()) + ".pcap";
  weft::testing::write_pcap(path, frames);
  const std::string cmd = "tshark -r " + path +
                          " -o ip.check_checksum:TRUE -T fields -E separator='|' -e ip.checksum.status"
                          " -e icmp.checksum.status -e icmpv6.checksum.status -e icmp.type -e icmp.code"
                          " -e icmpv6.type -e icmp.mtu -e icmpv6.mtu 2>/dev/null";
  std::string out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[512];
    while (fgets(buf, sizeof buf, p)) out += buf;
    CHECK(pclose(p) == 0);
  }
  std::remove(path.c_str());
  INFO(out);
  // Echo reply v4, echo reply v6, time exceeded v4, packet too big v6 (MTU 1400), port unreachable v4.
  CHECK(out ==
        "1|1||0|0|||\n"
        "||1|||129||\n"
        "1,1|1||11|0|||\n"
        "||1|||2||1400\n"
        "1,1|1||3|3|||\n");
}

// ---------------------------------------------------------------------------
// An interface without a port (an overlay, such as a VPC inside a VNI)
// ---------------------------------------------------------------------------

namespace {

const std::string kOverlay = R"(
ports:
  p0: net_null0
services:
  ifaces:
    class: Interfaces
    interfaces:
      - {name: fabric, port: p0, mac: "02:00:00:00:00:01", addresses: [192.0.2.1/24]}
      - {name: vpc, mac: "02:00:00:64:00:01", mtu: 1450, addresses: [10.100.0.1/24]}
elements:
  nd: {class: ArpNd, interfaces: ifaces, interface: vpc}
  echo: {class: IcmpEcho, interfaces: ifaces}
  err: {class: IcmpError, interfaces: ifaces, type: unreachable, code: port, rate: 0}
  nd_out: Capture
  echo_out: Capture
  err_out: Capture
connections:
  - nd[out] -> nd_out
  - nd[other] -> echo
  - echo[out] -> echo_out
  - echo[other] -> err -> err_out
)";
const char* kVpcMac = "02:00:00:64:00:01";
const char* kVmMac = "52:54:00:64:00:02";

std::string refusal(const std::string& interfaces) {
  try {
    GraphHarness h("ports:\n  p0: net_null0\nservices:\n  ifaces:\n    class: Interfaces\n    interfaces:\n" + interfaces +
                       "elements:\n  x: {class: IcmpError, interfaces: ifaces, type: time_exceeded}\n  c: Capture\n"
                       "connections:\n  - x -> c\n",
                   loader(), pool());
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(accepted)";
}

}  // namespace

TEST_CASE("An interface without a port needs a MAC, takes no VLAN, and several may exist", "[icmp][interfaces]") {
  using Catch::Contains;
  CHECK_THAT(refusal("      - {name: vpc, addresses: [10.100.0.1/24]}\n"),
             Contains(":7:") && Contains("interface vpc: without port: it needs mac:"));
  CHECK_THAT(refusal("      - {name: vpc, mac: \"02:00:00:64:00:01\", vlan: 5, addresses: [10.100.0.1/24]}\n"),
             Contains(":7:") && Contains("interface vpc: vlan: needs port:"));
  CHECK(refusal("      - {name: a, mac: \"02:00:00:64:00:01\", addresses: [10.100.0.1/24]}\n"
                "      - {name: b, mac: \"02:00:00:c8:00:01\", addresses: [10.200.0.1/24]}\n"
                "      - {name: c, port: p0, addresses: [192.0.2.1/24]}\n") == "(accepted)");
}

TEST_CASE("An interface without a port: ArpNd answers for it and marks its packets, IcmpEcho and IcmpError answer as it",
          "[icmp][interfaces]") {
  GraphHarness h(kOverlay, loader(), pool());
  // Decapsulated frames keep the underlay's port: the port alone says `fabric`.
  const uint16_t p0 = port_of("net_null0");

  // The VM's ARP request for its gateway, inside the VNI: answered with the VPC interface's MAC.
  Bytes arp(42, 0);
  {
    const Bytes bc = mac("ff:ff:ff:ff:ff:ff"), vm = mac(kVmMac);
    std::copy(bc.begin(), bc.end(), arp.begin());
    std::copy(vm.begin(), vm.end(), arp.begin() + 6);
    arp[12] = 0x08, arp[13] = 0x06;
    const Bytes hdr = {0, 1, 8, 0, 6, 4, 0, 1};
    std::copy(hdr.begin(), hdr.end(), arp.begin() + 14);
    std::copy(vm.begin(), vm.end(), arp.begin() + 22);
    const Bytes sip = a4("10.100.0.2"), tip = a4("10.100.0.1");
    std::copy(sip.begin(), sip.end(), arp.begin() + 28);
    std::copy(tip.begin(), tip.end(), arp.begin() + 38);
  }
  push1(h, "nd", arp, p0);
  auto got = take(h, "nd_out");
  REQUIRE(got.size() == 1);
  CHECK(Bytes(got[0].begin(), got[0].begin() + 6) == mac(kVmMac));
  CHECK(Bytes(got[0].begin() + 6, got[0].begin() + 12) == mac(kVpcMac));
  CHECK(got[0][21] == 2);  // a reply
  CHECK(Bytes(got[0].begin() + 22, got[0].begin() + 28) == mac(kVpcMac));
  CHECK(Bytes(got[0].begin() + 28, got[0].begin() + 32) == a4("10.100.0.1"));

  // A ping to the gateway: the reply's source MAC is the VPC interface's, not the port's.
  const Bytes payload = data(32);
  push1(h, "nd", ether(kVpcMac, kVmMac, 0x0800, ip4("10.100.0.2", "10.100.0.1", 1, icmp4(8, 0, 0x10001, payload))), p0);
  got = take(h, "echo_out");
  REQUIRE(got.size() == 1);
  CHECK(got[0] == ether(kVmMac, kVpcMac, 0x0800, ip4("10.100.0.1", "10.100.0.2", 1, icmp4(0, 0, 0x10001, payload))));

  // An error about a VM's packet comes from the VPC's address, not the underlay's,
  // even when the ICMP metadata (IpLookup's, by port) names the port's interface.
  const Bytes orig = ip4("10.100.0.2", "10.100.0.1", 17, udp(4000, 53, 8));
  push1(h, "nd", ether(kVpcMac, kVmMac, 0x0800, orig), p0);
  rte_mbuf* m = on_port(ether(kVpcMac, kVmMac, 0x0800, ip4("10.100.0.2", "203.0.113.5", 17, udp(1, 2, 8), {.ttl = 1})), p0);
  route::icmp_error_slot().set(m, route::IcmpErrorMeta{11, 0, 0 /* fabric's id */, 0});
  Batch b = batch({m});
  h.push("nd", b);
  got = take(h, "err_out");
  REQUIRE(got.size() == 2);
  Error4 port_unreachable{got[0]}, ttl{got[1]};
  CHECK(port_unreachable.icmp()[0] == 3);
  CHECK(port_unreachable.icmp()[1] == 3);
  CHECK(Bytes((const uint8_t*)&port_unreachable.ip()->src_addr, (const uint8_t*)&port_unreachable.ip()->src_addr + 4) ==
        a4("10.100.0.1"));
  CHECK(ttl.icmp()[0] == 11);
  CHECK(Bytes((const uint8_t*)&ttl.ip()->src_addr, (const uint8_t*)&ttl.ip()->src_addr + 4) == a4("10.100.0.1"));
  CHECK(ipv4_header_ok(ttl.frame));
  CHECK(icmp4_ok(ttl.frame));

  // Without the ingress mark (not through ArpNd), the port decides: the underlay's address.
  push1(h, "echo", ether(kVpcMac, kVmMac, 0x0800, ip4("10.100.0.2", "203.0.113.5", 17, udp(1, 2, 8))), p0);
  got = take(h, "err_out");
  REQUIRE(got.size() == 1);
  Error4 by_port{got[0]};
  CHECK(Bytes((const uint8_t*)&by_port.ip()->src_addr, (const uint8_t*)&by_port.ip()->src_addr + 4) == a4("192.0.2.1"));
}

// ---------------------------------------------------------------------------
// IpLookup and the router's own packets (RFC 1812 4.2.2.9, 5.3.1)
// ---------------------------------------------------------------------------

namespace {

// Two interfaces with static neighbours, the Fib routing their subnets, an
// IpLookup for transit traffic whose errors (IcmpError) and echo replies
// (IcmpEcho) a second IpLookup routes out, as graphs/vpc-gateway.yaml does.
const std::string kOwnGraph = R"(
ports:
  p0: net_null0
  p1: net_null1
services:
  ifaces:
    class: Interfaces
    interfaces:
      - {name: wan, port: p0, mac: "02:00:00:00:00:01", addresses: [192.0.2.1/24, "2001:db8::1/64"]}
      - {name: lan, port: p1, mac: "02:00:00:00:00:02", addresses: [10.0.0.1/24, "2001:db8:1::1/64"]}
    neighbors:
      - {interface: wan, ip: 192.0.2.2, mac: "02:00:00:00:99:99"}
      - {interface: wan, ip: "2001:db8::2", mac: "02:00:00:00:99:99"}
      - {interface: lan, ip: 10.0.0.9, mac: "02:00:00:00:88:88"}
  fib: {class: Fib, listen: none, interfaces_from: ifaces, max_routes: 64, tbl8: 16, max_routes6: 64, tbl8_6: 16}
elements:
  lookup: {class: IpLookup, fib: fib, interfaces: ifaces, outputs: [wan, lan], icmp: true}
  probe: {class: IpLookup, fib: fib, interfaces: ifaces, outputs: [wan, lan], icmp: true}
  err: {class: IcmpError, interfaces: ifaces, rate: 0}
  echo: {class: IcmpEcho, interfaces: ifaces, rate: 0}
  originate: {class: IpLookup, fib: fib, interfaces: ifaces, outputs: [wan, lan]}
  fwd_wan: Capture
  fwd_lan: Capture
  own_wan: Capture
  own_lan: Capture
  probe_wan: Capture
  probe_lan: Capture
  probe_icmp: Capture
  echo_other: Capture
connections:
  - lookup[wan] -> fwd_wan
  - lookup[lan] -> fwd_lan
  - lookup[icmp] -> err -> originate
  - echo[out] -> originate
  - echo[other] -> echo_other
  - originate[wan] -> own_wan
  - originate[lan] -> own_lan
  - probe[wan] -> probe_wan
  - probe[lan] -> probe_lan
  - probe[icmp] -> probe_icmp
)";

}  // namespace

TEST_CASE("IpLookup keeps the TTL of the router's own packets, decrements the others'", "[icmp][fib]") {
  boost::asio::io_context io;  // outlives the harness: its services' timers are stopped on it
  GraphHarness h(kOwnGraph, loader(), pool());
  h.start_services(io);
  io.poll();
  const uint16_t p1 = port_of("net_null1");
  const fields::LocalOrigin own = fields::local_origin();
  const Bytes payload = data(16);
  auto one = [&](const std::string& capture) {
    auto v = h.take(capture);
    REQUIRE(v.size() == 1);
    const bool marked = own.test(v[0]);
    Bytes b = bytes_of(v[0]);
    free_all(v);
    return std::make_pair(b, marked);
  };
  auto push_to = [&](const std::string& id, const Bytes& f, bool mark, uint16_t port) {
    rte_mbuf* m = on_port(f, port);
    if (mark) own.set(m);
    Batch b = batch({m});
    h.push(id, b);
  };

  // Transit: TTL 64 leaves with 63; the router's own: with 64, the header checksum right, the mark spent.
  const Bytes to_peer = ip4("10.0.0.9", "192.0.2.2", 17, udp(1, 2, 8));
  push_to("lookup", ether(kLanMac, "02:00:00:00:88:88", 0x0800, to_peer), false, p1);
  auto [transit, transit_marked] = one("fwd_wan");
  CHECK(transit[14 + 8] == 63);
  CHECK(ipv4_header_ok(transit));
  CHECK_FALSE(transit_marked);
  push_to("lookup", ether(kLanMac, "02:00:00:00:88:88", 0x0800, to_peer), true, p1);
  auto [ours, ours_marked] = one("fwd_wan");
  CHECK(ours[14 + 8] == 64);
  CHECK(ipv4_header_ok(ours));
  CHECK(Bytes(ours.begin(), ours.begin() + 6) == mac("02:00:00:00:99:99"));
  CHECK(Bytes(ours.begin() + 6, ours.begin() + 12) == mac(kWanMac));
  CHECK_FALSE(ours_marked);
  // The router's own packet with TTL 1 is routed, not time-exceeded.
  push_to("lookup", ether(kLanMac, "02:00:00:00:88:88", 0x0800, ip4("10.0.0.9", "192.0.2.2", 17, udp(1, 2, 8), {.ttl = 1})),
          true, p1);
  auto [ttl1, ttl1_marked] = one("fwd_wan");
  CHECK(ttl1[14 + 8] == 1);
  CHECK(ipv4_header_ok(ttl1));
  CHECK(h.drops("lookup", "ttl_exceeded") == 0);
  CHECK(h.output_packets("lookup", "icmp") == 0);
  // IPv6: hop limit 64 leaves with 63, or 64 for our own; hop limit 1 of ours is routed.
  const Bytes to_peer6 = ip6("2001:db8:1::9", "2001:db8::2", 17, udp(1, 2, 8));
  push_to("lookup", ether(kLanMac, "02:00:00:00:88:88", 0x86dd, to_peer6), false, p1);
  CHECK(one("fwd_wan").first[14 + 7] == 63);
  push_to("lookup", ether(kLanMac, "02:00:00:00:88:88", 0x86dd, to_peer6), true, p1);
  CHECK(one("fwd_wan").first[14 + 7] == 64);
  push_to("lookup", ether(kLanMac, "02:00:00:00:88:88", 0x86dd, ip6("2001:db8:1::9", "2001:db8::2", 17, udp(1, 2, 8), 1)),
          true, p1);
  CHECK(one("fwd_wan").first[14 + 7] == 1);

  // Transit with TTL 1: a time exceeded, built by IcmpError and routed by
  // `originate`, reaches the sender with TTL 64 (traceroute's hop).
  push_to("lookup", ether(kLanMac, "02:00:00:00:88:88", 0x0800, ip4("10.0.0.9", "192.0.2.2", 17, udp(1, 2, 8), {.ttl = 1})),
          false, p1);
  auto [te, te_marked] = one("own_lan");
  const Error4 e{te};
  CHECK(e.icmp()[0] == 11);
  CHECK(e.ip()->time_to_live == 64);
  CHECK(ipv4_header_ok(te));
  CHECK(icmp4_ok(te));
  CHECK(Bytes((const uint8_t*)&e.ip()->src_addr, (const uint8_t*)&e.ip()->src_addr + 4) == a4("10.0.0.1"));
  CHECK(Bytes(te.begin(), te.begin() + 6) == mac("02:00:00:00:88:88"));
  CHECK_FALSE(te_marked);
  CHECK(h.drops("lookup", "ttl_exceeded") == 0);  // it left on `icmp`
  // An echo reply routed out the same way: TTL 64.
  push_to("echo", ether(kLanMac, "02:00:00:00:88:88", 0x0800, ip4("10.0.0.9", "10.0.0.1", 1, icmp4(8, 0, 0x10001, payload))),
          false, p1);
  auto [reply, reply_marked] = one("own_lan");
  CHECK(reply == ether("02:00:00:00:88:88", kLanMac, 0x0800, ip4("10.0.0.1", "10.0.0.9", 1, icmp4(0, 0, 0x10001, payload))));
  CHECK(reply[14 + 8] == 64);
  CHECK_FALSE(reply_marked);
}

TEST_CASE("IpLookup names the ingress interface in its ICMP errors and never routes link-local destinations",
          "[icmp][fib]") {
  boost::asio::io_context io;  // outlives the harness: its services' timers are stopped on it
  GraphHarness h(kOwnGraph, loader(), pool());
  h.start_services(io);
  io.poll();
  const uint16_t p0 = port_of("net_null0");
  const auto ingress = route::ingress_slot();
  const auto meta = route::icmp_error_slot();

  // Arrived by wan's port, but ArpNd said lan (a VLAN or an overlay would):
  // the error names lan, so IcmpError sources it from 10.0.0.1.
  rte_mbuf* m = on_port(ether(kWanMac, "02:00:00:00:88:88", 0x0800,
                              ip4("10.0.0.9", "192.0.2.2", 17, udp(1, 2, 8), {.ttl = 1})),
                        p0);
  ingress.set(m, 1);  // lan: the second interface
  Batch b = batch({m});
  h.push("probe", b);
  auto v = h.take("probe_icmp");
  REQUIRE(v.size() == 1);
  REQUIRE(meta.has(v[0]));
  CHECK(meta.get(v[0]).type == 11);
  CHECK(meta.get(v[0]).iface == 1);
  ingress.clear(v[0]);  // the metadata alone decides the source now
  Batch e = batch({v[0]});
  h.push("err", e);
  auto got = take(h, "own_lan");
  REQUIRE(got.size() == 1);
  const Error4 err{got[0]};
  CHECK(Bytes((const uint8_t*)&err.ip()->src_addr, (const uint8_t*)&err.ip()->src_addr + 4) == a4("10.0.0.1"));
  // Untagged, the port names the interface: wan.
  push1(h, "probe", ether(kWanMac, "02:00:00:00:99:99", 0x0800, ip4("192.0.2.2", "10.0.0.9", 17, udp(1, 2, 8), {.ttl = 1})),
        p0);
  v = h.take("probe_icmp");
  REQUIRE(v.size() == 1);
  CHECK(meta.get(v[0]).iface == 0);
  free_all(v);

  // Link-local destinations: dropped by name, never routed, no error.
  push1(h, "probe", ether(kWanMac, "02:00:00:00:99:99", 0x0800, ip4("192.0.2.2", "169.254.1.1", 17, udp(1, 2, 8))), p0);
  push1(h, "probe", ether(kWanMac, "02:00:00:00:99:99", 0x86dd, ip6("2001:db8::2", "fe80::1", 17, udp(1, 2, 8))), p0);
  CHECK(h.drops("probe", "link_local") == 2);
  CHECK(h.take("probe_wan").empty());
  CHECK(h.take("probe_lan").empty());
  CHECK(h.take("probe_icmp").empty());
}

// ---------------------------------------------------------------------------
// IpLookup: what each route type gives; RX checksum flags (IpLookup, IpLocal)
// ---------------------------------------------------------------------------

namespace {

// wan's MTU is 1400, below its port's, so that a 1428-byte packet is too
// big for it; packets come in on lan. The Fib takes routes from a zebra
// stand-in over FPM (blackhole, unreachable and prohibit routes only come
// from zebra's route types) and routes the interfaces' subnets itself.
// `lookup` has the `icmp` output, `plain` has not; IpLocal's `forward`
// goes to `plain`.
const std::string kRouteTypesGraph = R"(
ports:
  p0: net_null0
  p1: net_null1
services:
  ifaces:
    class: Interfaces
    interfaces:
      - {name: wan, port: p0, mac: "02:00:00:00:00:01", addresses: [192.0.2.1/24, "2001:db8::1/64"], mtu: 1400}
      - {name: lan, port: p1, mac: "02:00:00:00:00:02", addresses: [10.0.0.1/24, "2001:db8:1::1/64"]}
    neighbors:
      - {interface: wan, ip: 192.0.2.2, mac: "02:00:00:00:99:99"}
      - {interface: wan, ip: "2001:db8::2", mac: "02:00:00:00:99:99"}
  fib: {class: Fib, listen: "127.0.0.1:0", interfaces_from: ifaces, max_routes: 64, tbl8: 16, max_routes6: 64, tbl8_6: 16}
elements:
  lookup: {class: IpLookup, fib: fib, interfaces: ifaces, outputs: [wan, lan], icmp: true}
  plain: {class: IpLookup, fib: fib, interfaces: ifaces, outputs: [wan, lan]}
  err: {class: IcmpError, interfaces: ifaces, rate: 0}
  local: {class: IpLocal, interfaces: ifaces}
  to_wan: Capture
  to_lan: Capture
  to_icmp: Capture
  errors: Capture
  plain_wan: Capture
  plain_lan: Capture
  loc: Capture
  ctl: Capture
connections:
  - lookup[wan] -> to_wan
  - lookup[lan] -> to_lan
  - lookup[icmp] -> to_icmp
  - err -> errors
  - plain[wan] -> plain_wan
  - plain[lan] -> plain_lan
  - local[forward] -> plain
  - local[local] -> loc
  - local[control] -> ctl
)";

bool route_for(const route::FibControl& fib, const char* address) {
  return !fib.lookup({{"address", address}})["route"].is_null();
}

// An ICMPv6 error's fields, read back from the frame.
struct Error6 {
  Bytes frame;
  Bytes src() const { return Bytes(frame.begin() + 22, frame.begin() + 38); }
  Bytes dst() const { return Bytes(frame.begin() + 38, frame.begin() + 54); }
  const uint8_t* icmp() const { return frame.data() + 54; }
  Bytes quote() const { return Bytes(frame.begin() + 62, frame.end()); }
};

uint32_t be32_at(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }

}  // namespace

TEST_CASE("IpLookup turns each route type into its ICMP error", "[icmp][fib]") {
  boost::asio::io_context io;  // outlives the harness: its services' timers are stopped on it
  GraphHarness h(kRouteTypesGraph, loader(), pool());
  h.start_services(io);
  io.poll();
  const auto& fib = *static_cast<route::FibService&>(h.service("fib")).control();
  REQUIRE(fib.port() != 0);
  test::Zebra zebra(fib.port());  // routes of these types come only from zebra
  Bytes routes;
  for (const auto& [prefix, type] : std::vector<std::pair<const char*, uint8_t>>{
           {"198.51.100.0/24", RTN_UNREACHABLE}, {"2001:db8:a::/48", RTN_UNREACHABLE},
           {"198.51.101.0/24", RTN_PROHIBIT},    {"2001:db8:b::/48", RTN_PROHIBIT},
           {"203.0.113.0/24", RTN_BLACKHOLE},    {"2001:db8:c::/48", RTN_BLACKHOLE}}) {
    const Bytes f = test::frame({test::zroute(true, prefix, {}, 254, type)});  // no next hops
    routes.insert(routes.end(), f.begin(), f.end());
  }
  zebra.send(routes);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  auto installed = [&] {
    for (const char* a : {"198.51.100.5", "2001:db8:a::5", "198.51.101.5", "2001:db8:b::5", "203.0.113.5", "2001:db8:c::5"})
      if (!route_for(fib, a)) return false;
    return true;
  };
  while (!installed() && std::chrono::steady_clock::now() < deadline) {
    if (io.stopped()) io.restart();
    io.run_for(std::chrono::milliseconds(2));
  }
  REQUIRE(installed());
  CHECK_FALSE(route_for(fib, "100.64.0.5"));
  CHECK_FALSE(route_for(fib, "2001:db8:ffff::5"));

  const uint16_t p1 = port_of("net_null1");
  const auto meta = route::icmp_error_slot();
  const char* kHost = "02:00:00:00:88:88";
  Ip4Opts df;
  df.frag = 0x4000;
  struct Case {
    const char* what;
    Bytes ip;     // the IP packet, from a host on lan
    bool v6;
    int type;     // -1: no error, dropped silently
    uint8_t code;
    uint32_t mtu;
    const char* reason;  // the drop reason without `icmp`
  };
  const std::vector<Case> cases = {
      {"unreachable route", ip4("10.0.0.9", "198.51.100.5", 17, udp(1, 2, 8)), false, 3, 1, 0, "unreachable"},
      {"unreachable route", ip6("2001:db8:1::9", "2001:db8:a::5", 17, udp(1, 2, 8)), true, 1, 0, 0, "unreachable"},
      {"prohibit route", ip4("10.0.0.9", "198.51.101.5", 17, udp(1, 2, 8)), false, 3, 13, 0, "prohibit"},
      {"prohibit route", ip6("2001:db8:1::9", "2001:db8:b::5", 17, udp(1, 2, 8)), true, 1, 1, 0, "prohibit"},
      {"blackhole route", ip4("10.0.0.9", "203.0.113.5", 17, udp(1, 2, 8)), false, -1, 0, 0, "blackhole"},
      {"blackhole route", ip6("2001:db8:1::9", "2001:db8:c::5", 17, udp(1, 2, 8)), true, -1, 0, 0, "blackhole"},
      {"no route", ip4("10.0.0.9", "100.64.0.5", 17, udp(1, 2, 8)), false, 3, 0, 0, "no_route"},
      {"no route", ip6("2001:db8:1::9", "2001:db8:ffff::5", 17, udp(1, 2, 8)), true, 1, 0, 0, "no_route"},
      {"TTL 1", ip4("10.0.0.9", "192.0.2.2", 17, udp(1, 2, 8), {.ttl = 1}), false, 11, 0, 0, "ttl_exceeded"},
      {"hop limit 1", ip6("2001:db8:1::9", "2001:db8::2", 17, udp(1, 2, 8), 1), true, 3, 0, 0, "ttl_exceeded"},
      {"1428 bytes with DF, MTU 1400", ip4("10.0.0.9", "192.0.2.2", 17, udp(1, 2, 1400), df), false, 3, 4, 1400,
       "too_big"},
      {"1448 bytes, MTU 1400", ip6("2001:db8:1::9", "2001:db8::2", 17, udp(1, 2, 1400)), true, 2, 0, 1400, "too_big"},
  };
  for (const Case& c : cases) {
    INFO(c.what << (c.v6 ? " (IPv6)" : " (IPv4)"));
    const Bytes frame = ether(kLanMac, kHost, c.v6 ? 0x86dd : 0x0800, c.ip);

    // With `icmp: true`: the metadata says what the error is, and where the packet came in.
    const uint64_t silent = h.drops("lookup", "blackhole");
    push1(h, "lookup", frame, p1);
    auto v = h.take("to_icmp");
    if (c.type < 0) {
      CHECK(v.empty());
      CHECK(h.drops("lookup", "blackhole") == silent + 1);
      free_all(v);
    } else {
      REQUIRE(v.size() == 1);
      REQUIRE(meta.has(v[0]));
      const route::IcmpErrorMeta e = meta.get(v[0]);
      CHECK(int(e.type) == c.type);
      CHECK(e.code == c.code);
      CHECK(e.iface == 1);  // lan
      CHECK(e.info == c.mtu);
      // IcmpError behind `icmp`, as the shipped graphs place it.
      Batch b = batch({v[0]});
      h.push("err", b);
      auto got = take(h, "errors");
      REQUIRE(got.size() == 1);
      if (!c.v6) {
        const Error4 err{got[0]};
        CHECK(err.icmp()[0] == c.type);
        CHECK(err.icmp()[1] == c.code);
        CHECK(be32_at(err.icmp() + 4) == c.mtu);  // unused (zero) but for fragmentation needed
        CHECK(Bytes((const uint8_t*)&err.ip()->src_addr, (const uint8_t*)&err.ip()->src_addr + 4) == a4("10.0.0.1"));
        CHECK(Bytes((const uint8_t*)&err.ip()->dst_addr, (const uint8_t*)&err.ip()->dst_addr + 4) == a4("10.0.0.9"));
        const size_t quoted = std::min<size_t>(c.ip.size(), 576 - 28);
        CHECK(err.quote() == Bytes(c.ip.begin(), c.ip.begin() + static_cast<long>(quoted)));
        CHECK(ipv4_header_ok(err.frame));
        CHECK(icmp4_ok(err.frame));
      } else {
        const Error6 err{got[0]};
        CHECK(err.icmp()[0] == c.type);
        CHECK(err.icmp()[1] == c.code);
        CHECK(be32_at(err.icmp() + 4) == c.mtu);
        CHECK(err.src() == a6("2001:db8:1::1"));
        CHECK(err.dst() == a6("2001:db8:1::9"));
        const size_t quoted = std::min<size_t>(c.ip.size(), 1280 - 48);
        CHECK(err.quote() == Bytes(c.ip.begin(), c.ip.begin() + static_cast<long>(quoted)));
        CHECK(icmp6_ok(err.frame));
      }
    }
    CHECK(take(h, "to_wan").empty());
    CHECK(take(h, "to_lan").empty());

    // Without `icmp`: dropped under the reason's name.
    const uint64_t before = h.drops("plain", c.reason);
    push1(h, "plain", frame, p1);
    CHECK(h.drops("plain", c.reason) == before + 1);
    CHECK(take(h, "plain_wan").empty());
    CHECK(take(h, "plain_lan").empty());
  }
  // With `icmp`, only the blackhole routes' packets were dropped.
  for (const char* r : {"unreachable", "prohibit", "no_route", "ttl_exceeded", "too_big"}) {
    INFO(r);
    CHECK(h.drops("lookup", r) == 0);
  }
  CHECK(h.drops("lookup", "blackhole") == 2);
  CHECK(h.drops("err", "answered") == 10);
  CHECK(h.read_handler("err", "unreachable") == "3 3");
  CHECK(h.read_handler("err", "time_exceeded") == "1 1");
  CHECK(h.read_handler("err", "too_big") == "1 1");
}

TEST_CASE("RX checksum offload flags are honoured, with a software check otherwise", "[icmp][fib]") {
  boost::asio::io_context io;  // outlives the harness: its services' timers are stopped on it
  GraphHarness h(kRouteTypesGraph, loader(), pool());
  h.start_services(io);
  io.poll();
  const uint16_t p1 = port_of("net_null1");
  const char* kHost = "02:00:00:00:88:88";
  auto frame = [&](const char* dst, bool right) {
    Bytes f = ether(kLanMac, kHost, 0x0800, ip4("10.0.0.9", dst, 17, udp(1, 2, 8)));
    if (!right) f[14 + 10] ^= 0x5a;
    return f;
  };
  auto push_flagged = [&](const std::string& id, const Bytes& f, uint64_t flag) {
    rte_mbuf* m = on_port(f, p1);
    m->ol_flags = (m->ol_flags & ~RTE_MBUF_F_RX_IP_CKSUM_MASK) | flag;
    Batch b = batch({m});
    h.push(id, b);
  };
  const uint64_t kGood = RTE_MBUF_F_RX_IP_CKSUM_GOOD, kBad = RTE_MBUF_F_RX_IP_CKSUM_BAD,
                 kUnknown = RTE_MBUF_F_RX_IP_CKSUM_UNKNOWN;

  SECTION("IpLookup") {
    // The NIC vouched for it: forwarded despite a wrong checksum.
    push_flagged("plain", frame("192.0.2.2", false), kGood);
    auto out = take(h, "plain_wan");
    REQUIRE(out.size() == 1);
    CHECK(out[0][14 + 8] == 63);
    // The NIC found it bad: dropped though the checksum is right.
    push_flagged("plain", frame("192.0.2.2", true), kBad);
    CHECK(take(h, "plain_wan").empty());
    CHECK(h.drops("plain", "bad_ip") == 1);
    // No verdict: checked in software.
    push_flagged("plain", frame("192.0.2.2", false), kUnknown);
    CHECK(take(h, "plain_wan").empty());
    CHECK(h.drops("plain", "bad_ip") == 2);
    push_flagged("plain", frame("192.0.2.2", true), kUnknown);
    out = take(h, "plain_wan");
    REQUIRE(out.size() == 1);
    CHECK(out[0][14 + 8] == 63);
    CHECK(ipv4_header_ok(out[0]));
    CHECK(h.drops("plain", "bad_ip") == 2);

    // A right checksum stays right through the TTL decrement (RFC 1624), for
    // every TTL and a spread of other header words.
    for (unsigned ttl = 2; ttl <= 255; ttl++) {
      INFO("TTL " << ttl);
      Ip4Opts o;
      o.ttl = static_cast<uint8_t>(ttl);
      o.id = static_cast<uint16_t>(ttl * 2654435761u >> 16);
      o.tos = static_cast<uint8_t>(ttl * 37);
      const Bytes ip = ip4("10.0.0.9", "192.0.2.2", static_cast<uint8_t>(ttl & 1 ? 17 : 6), udp(1, 2, 8), o);
      push_flagged("plain", ether(kLanMac, kHost, 0x0800, ip), ttl % 3 ? kUnknown : kGood);
      out = take(h, "plain_wan");
      REQUIRE(out.size() == 1);
      CHECK(out[0][14 + 8] == ttl - 1);
      CHECK(rte_raw_cksum(out[0].data() + 14, 20) == 0xffff);
    }
    CHECK(h.drops("plain", "bad_ip") == 2);
  }

  SECTION("IpLocal, for what it delivers; the forwarded are IpLookup's to check") {
    // Ours (local) and the link's (control): the flags decide, else software.
    for (const auto& [dst, capture] : std::vector<std::pair<const char*, const char*>>{{"10.0.0.1", "loc"},
                                                                                        {"224.0.0.5", "ctl"}}) {
      INFO(dst);
      const uint64_t bad = h.drops("local", "bad_ip");
      push_flagged("local", frame(dst, false), kGood);
      CHECK(take(h, capture).size() == 1);
      push_flagged("local", frame(dst, true), kBad);
      CHECK(take(h, capture).empty());
      CHECK(h.drops("local", "bad_ip") == bad + 1);
      push_flagged("local", frame(dst, false), kUnknown);
      CHECK(take(h, capture).empty());
      CHECK(h.drops("local", "bad_ip") == bad + 2);
      push_flagged("local", frame(dst, true), kUnknown);
      CHECK(take(h, capture).size() == 1);
      CHECK(h.drops("local", "bad_ip") == bad + 2);
    }
    // To forward: IpLocal passes them on whatever their checksum; IpLookup
    // behind it applies the same rules.
    push_flagged("local", frame("192.0.2.2", true), kBad);
    push_flagged("local", frame("192.0.2.2", false), kUnknown);
    CHECK(h.drops("plain", "bad_ip") == 2);
    push_flagged("local", frame("192.0.2.2", false), kGood);
    push_flagged("local", frame("192.0.2.2", true), kUnknown);
    CHECK(take(h, "plain_wan").size() == 2);
    CHECK(h.drops("local", "bad_ip") == 4);
    CHECK(h.output_packets("local", "forward") == 4);
  }
}

// VxlanEncap, VxlanDecap and the Classifier's `vni` and `inner` rules, driven
// through the harness with real mbufs. Expected packets are built byte by
// byte here (with this file's own checksum code), never by the elements.
#include <arpa/inet.h>
#include <rte_ip.h>
#include <rte_mbuf_ptype.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <map>
#include <set>

#include "test_env.hpp"
#include "testing/graph_harness.hpp"
#include "weft/fields.hpp"

using namespace weft;
using namespace weft::test;

namespace {

using Bytes = std::vector<uint8_t>;

// --- independent packet construction ---------------------------------------

void put16(Bytes& v, uint16_t x) {
  v.push_back(static_cast<uint8_t>(x >> 8));
  v.push_back(static_cast<uint8_t>(x));
}
void put_mac(Bytes& v, const std::string& s) {
  unsigned a[6];
  REQUIRE(sscanf(s.c_str(), "%x:%x:%x:%x:%x:%x", &a[0], &a[1], &a[2], &a[3], &a[4], &a[5]) == 6);
  for (unsigned x : a) v.push_back(static_cast<uint8_t>(x));
}
Bytes addr(const std::string& s) {
  Bytes v(16);
  if (inet_pton(AF_INET, s.c_str(), v.data()) == 1) v.resize(4);
  else REQUIRE(inet_pton(AF_INET6, s.c_str(), v.data()) == 1);
  return v;
}
// RFC 1071 one's-complement sum, folded, not complemented.
uint32_t sum16(const uint8_t* p, size_t n, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  if (n & 1) sum += static_cast<uint32_t>(p[n - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return sum;
}

// How a test VXLAN packet's outer headers look.
struct Outer {
  std::string src = "192.0.2.2", dst = "192.0.2.1";  // IPv4 or IPv6 (both the same family)
  std::string smac = "02:00:00:00:00:22", dmac = "02:00:00:00:00:11";
  int vlan = -1;
  uint16_t sport = 50000, dport = 4789;
  uint32_t vni = 100;
  uint8_t flags = 0x08;
  uint8_t ttl = 64;
  uint16_t frag = 0x4000;  // IPv4 flags + offset: DF
  uint16_t id = 0;
  Bytes ip_options{};  // IPv4 only
  bool udp_cksum_v6 = true;
};

Bytes vxlan_packet(const Bytes& inner, const Outer& o = {}) {
  const Bytes s = addr(o.src), d = addr(o.dst);
  const bool v6 = s.size() == 16;
  Bytes vx{o.flags, 0, 0, 0, static_cast<uint8_t>(o.vni >> 16), static_cast<uint8_t>(o.vni >> 8),
           static_cast<uint8_t>(o.vni), 0};
  Bytes udp;
  put16(udp, o.sport);
  put16(udp, o.dport);
  put16(udp, static_cast<uint16_t>(8 + vx.size() + inner.size()));
  put16(udp, 0);
  udp.insert(udp.end(), vx.begin(), vx.end());
  udp.insert(udp.end(), inner.begin(), inner.end());
  Bytes ip;
  if (!v6) {
    const size_t hl = 20 + o.ip_options.size();
    ip = {static_cast<uint8_t>(0x40 | hl / 4), 0};
    put16(ip, static_cast<uint16_t>(hl + udp.size()));
    put16(ip, o.id);
    put16(ip, o.frag);
    ip.push_back(o.ttl);
    ip.push_back(17);
    put16(ip, 0);
    ip.insert(ip.end(), s.begin(), s.end());
    ip.insert(ip.end(), d.begin(), d.end());
    ip.insert(ip.end(), o.ip_options.begin(), o.ip_options.end());
    const uint16_t c = static_cast<uint16_t>(~sum16(ip.data(), ip.size()));
    ip[10] = static_cast<uint8_t>(c >> 8);
    ip[11] = static_cast<uint8_t>(c);
  } else {
    ip = {0x60, 0, 0, 0};
    put16(ip, static_cast<uint16_t>(udp.size()));
    ip.push_back(17);
    ip.push_back(o.ttl);
    ip.insert(ip.end(), s.begin(), s.end());
    ip.insert(ip.end(), d.begin(), d.end());
    if (o.udp_cksum_v6) {
      // Pseudo-header: addresses, upper-layer length, next header.
      Bytes ph(s.begin(), s.end());
      ph.insert(ph.end(), d.begin(), d.end());
      ph.insert(ph.end(), {0, 0, static_cast<uint8_t>(udp.size() >> 8), static_cast<uint8_t>(udp.size()), 0, 0, 0, 17});
      uint16_t c = static_cast<uint16_t>(~sum16(udp.data(), udp.size(), sum16(ph.data(), ph.size())));
      if (c == 0) c = 0xffff;
      udp[6] = static_cast<uint8_t>(c >> 8);
      udp[7] = static_cast<uint8_t>(c);
    }
  }
  Bytes f;
  put_mac(f, o.dmac);
  put_mac(f, o.smac);
  if (o.vlan >= 0) {
    put16(f, 0x8100);
    put16(f, static_cast<uint16_t>(o.vlan));
  }
  put16(f, v6 ? 0x86dd : 0x0800);
  f.insert(f.end(), ip.begin(), ip.end());
  f.insert(f.end(), udp.begin(), udp.end());
  return f;
}

Bytes inner_udp4(const std::string& src = "10.0.0.1", const std::string& dst = "10.0.0.2", uint16_t sport = 1000,
                 uint16_t dport = 2000, size_t pad = 16) {
  return eth(0x0800, ipv4(src, dst, 17, ports(sport, dport, pad)), "52:54:00:00:00:02", "52:54:00:00:00:01");
}

// Hex with a space every 2 bytes, so a failed comparison shows the bytes.
std::string hex(const Bytes& b) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < b.size(); i++) {
    if (i && i % 2 == 0) s += i % 32 == 0 ? '\n' : ' ';
    s += digits[b[i] >> 4];
    s += digits[b[i] & 15];
  }
  return s;
}

// --- harness helpers ---------------------------------------------------------

uint64_t drops(GraphHarness& h, const std::string& id, const std::string& reason) { return h.drops(id, reason); }
// Every non-zero drop counter of an element.
std::map<std::string, uint64_t> all_drops(GraphHarness& h, const std::string& id) {
  Element& e = h.element(id);
  std::map<std::string, uint64_t> out;
  for (size_t i = 0; i < e.drop_reason_count(); i++)
    if (e.drops(i)) out[e.element_class().drops[i].name] = e.drops(i);
  return out;
}
std::vector<Bytes> take_bytes(GraphHarness& h, const std::string& id) {
  auto v = h.take(id);
  std::vector<Bytes> out;
  for (auto* m : v) out.push_back(bytes_of(m));
  free_all(v);
  return out;
}
void push_one(GraphHarness& h, const std::string& id, rte_mbuf* m) {
  Batch b;
  b.add(m);
  h.push(id, b);
}
void push_all(GraphHarness& h, const std::string& id, const std::vector<Bytes>& frames) {
  Batch b;
  for (const auto& f : frames) b.add(packet(f));
  h.push(id, b);
}
uint16_t src_port_of(const Bytes& p, size_t ip_len) { return static_cast<uint16_t>(p[14 + ip_len] << 8 | p[15 + ip_len]); }

rte_mbuf* chained(const Bytes& bytes, std::vector<size_t> cuts) {
  cuts.push_back(bytes.size());
  rte_mbuf* head = nullptr;
  size_t from = 0;
  for (size_t cut : cuts) {
    rte_mbuf* seg = packet(Bytes(bytes.begin() + static_cast<long>(from), bytes.begin() + static_cast<long>(cut)));
    if (!head) head = seg;
    else REQUIRE(rte_pktmbuf_chain(head, seg) == 0);
    from = cut;
  }
  return head;
}

const char* kEncap4 = R"(
elements:
  enc: {class: VxlanEncap, vni: 100, local_ip: 192.0.2.1, remote_ip: 192.0.2.2, ttl: 33,
        local_mac: "02:00:00:00:00:01", remote_mac: "02:00:00:00:00:02"}
  cap: Capture
connections:
  - enc -> cap
)";

}  // namespace

// ---------------------------------------------------------------------------
// VxlanEncap
// ---------------------------------------------------------------------------

TEST_CASE("VxlanEncap over IPv4: byte layout, checksum, DF, UDP checksum 0", "[vxlan]") {
  GraphHarness h(kEncap4, loader(), pool());
  const Bytes inner = inner_udp4();
  push_all(h, "enc", {inner});
  auto out = take_bytes(h, "cap");
  REQUIRE(out.size() == 1);
  const Bytes& got = out[0];
  REQUIRE(got.size() == 50 + inner.size());
  const uint16_t sport = src_port_of(got, 20);
  CHECK(sport >= 49152);
  Outer o{.src = "192.0.2.1", .dst = "192.0.2.2", .smac = "02:00:00:00:00:01", .dmac = "02:00:00:00:00:02"};
  o.sport = sport;
  o.ttl = 33;
  CHECK(hex(got) == hex(vxlan_packet(inner, o)));
  // DPDK agrees on the header checksum.
  rte_ipv4_hdr ip;
  std::memcpy(&ip, got.data() + 14, sizeof ip);
  const uint16_t stored = ip.hdr_checksum;
  ip.hdr_checksum = 0;
  CHECK(rte_ipv4_cksum(&ip) == stored);
  CHECK((got[14 + 6] & 0x40) != 0);              // DF
  CHECK((got[14 + 20 + 6] | got[14 + 20 + 7]) == 0);  // UDP checksum 0
}

TEST_CASE("VxlanEncap without DF numbers its IPv4 packets", "[vxlan]") {
  GraphHarness h(R"(
elements:
  enc: {class: VxlanEncap, vni: 7, local_ip: 192.0.2.1, remote_ip: 192.0.2.2, dont_fragment: false,
        local_mac: "02:00:00:00:00:01", remote_mac: "02:00:00:00:00:02"}
  cap: Capture
connections:
  - enc -> cap
)",
                 loader(), pool());
  const Bytes inner = inner_udp4();
  push_all(h, "enc", {inner, inner, inner});
  auto out = take_bytes(h, "cap");
  REQUIRE(out.size() == 3);
  for (uint16_t i = 0; i < 3; i++) {
    Outer o{.src = "192.0.2.1", .dst = "192.0.2.2", .smac = "02:00:00:00:00:01", .dmac = "02:00:00:00:00:02"};
    o.vni = 7;
    o.frag = 0;
    o.id = i;
    o.sport = src_port_of(out[i], 20);
    CHECK(hex(out[i]) == hex(vxlan_packet(inner, o)));
  }
}

TEST_CASE("VxlanEncap without MACs leaves the outer ones zero for an IpLookup, whatever the underlay metadata says",
          "[vxlan]") {
  GraphHarness h(R"(
elements:
  enc: {class: VxlanEncap, vni: 100, local_ip: 192.0.2.1, remote_ip: 192.0.2.2, ttl: 33}
  cap: Capture
connections:
  - enc -> cap
)",
                 loader(), pool());
  const Bytes inner = inner_udp4();
  // A decapsulated packet carries the underlay metadata of where it came
  // from, its MAC too: a routed encapsulation must not send it there.
  fields::Underlay u{};
  u.family = 4;
  u.has_mac = 1;
  std::memcpy(u.addr, addr("198.51.100.7").data(), 4);
  const uint8_t mac[6] = {0x02, 0, 0, 0, 0, 0x77};
  std::memcpy(u.mac, mac, 6);
  rte_mbuf* m = packet(inner);
  fields::underlay().set(m, u);
  push_one(h, "enc", m);
  push_all(h, "enc", {inner});
  auto out = take_bytes(h, "cap");
  REQUIRE(out.size() == 2);
  for (const Bytes& got : out) {
    Outer o{.src = "192.0.2.1", .dst = "192.0.2.2", .smac = "00:00:00:00:00:00", .dmac = "00:00:00:00:00:00"};
    o.sport = src_port_of(got, 20);
    o.ttl = 33;
    CHECK(hex(got) == hex(vxlan_packet(inner, o)));
  }
  CHECK(all_drops(h, "enc").empty());
}

TEST_CASE("VxlanEncap over IPv6: byte layout and UDP checksum, single and multi-segment", "[vxlan]") {
  GraphHarness h(R"(
elements:
  enc: {class: VxlanEncap, vni: 0xabcdef, local_ip: "2001:db8::1", remote_ip: "2001:db8::2", ttl: 5,
        local_mac: "02:00:00:00:00:01", remote_mac: "02:00:00:00:00:02"}
  cap: Capture
connections:
  - enc -> cap
)",
                 loader(), pool());
  // Odd lengths and an odd cut: the checksum must handle bytes straddling segments.
  const Bytes inner = eth(0x86dd, ipv6("fd00::1", "fd00::2", 6, ports(1234, 80, 301)));
  push_all(h, "enc", {inner});
  push_one(h, "enc", chained(inner, {17, 101}));
  push_one(h, "enc", chained(inner, {14, 15}));
  auto out = h.take("cap");
  REQUIRE(out.size() == 3);
  CHECK(out[1]->nb_segs == 3);
  const Bytes got = bytes_of(out[0]);
  Outer o{.src = "2001:db8::1", .dst = "2001:db8::2", .smac = "02:00:00:00:00:01", .dmac = "02:00:00:00:00:02"};
  o.vni = 0xabcdef;
  o.ttl = 5;
  o.sport = src_port_of(got, 40);
  CHECK(hex(got) == hex(vxlan_packet(inner, o)));
  CHECK(hex(bytes_of(out[1])) == hex(got));
  CHECK(hex(bytes_of(out[2])) == hex(got));
  // DPDK agrees on the UDP checksum.
  rte_ipv6_hdr ip;
  std::memcpy(&ip, got.data() + 14, sizeof ip);
  Bytes udp(got.begin() + 54, got.end());
  const uint16_t stored = static_cast<uint16_t>(udp[6] | udp[7] << 8);  // as stored (network order)
  udp[6] = udp[7] = 0;
  CHECK(rte_ipv6_udptcp_cksum(&ip, udp.data()) == stored);
  free_all(out);
}

TEST_CASE("VxlanEncap source port: within range, stable per flow, spread across flows", "[vxlan]") {
  GraphHarness h(R"(
elements:
  enc: {class: VxlanEncap, vni: 1, local_ip: 192.0.2.1, remote_ip: 192.0.2.2,
        local_mac: "02:00:00:00:00:01", remote_mac: "02:00:00:00:00:02"}
  narrow: {class: VxlanEncap, vni: 1, local_ip: 192.0.2.1, remote_ip: 192.0.2.2, src_port_min: 1000,
           src_port_max: 1007, local_mac: "02:00:00:00:00:01", remote_mac: "02:00:00:00:00:02"}
  fixed: {class: VxlanEncap, vni: 1, local_ip: 192.0.2.1, remote_ip: 192.0.2.2, src_port_min: 4242,
          src_port_max: 4242, local_mac: "02:00:00:00:00:01", remote_mac: "02:00:00:00:00:02"}
  cap: Capture
  cap_narrow: Capture
  cap_fixed: Capture
connections:
  - enc -> cap
  - narrow -> cap_narrow
  - fixed -> cap_fixed
)",
                 loader(), pool());
  auto port_of = [&](const char* el, const char* cap, const Bytes& f) {
    push_all(h, el, {f});
    auto out = take_bytes(h, cap);
    REQUIRE(out.size() == 1);
    return src_port_of(out[0], 20);
  };
  std::set<uint16_t> by_addr, by_l4, by_v6;
  for (int i = 0; i < 100; i++) {
    const std::string src = "10.0.0." + std::to_string(i);
    const uint16_t p = port_of("enc", "cap", inner_udp4(src));
    CHECK(p >= 49152);
    by_addr.insert(p);
    // Same flow, other payload: same port.
    CHECK(port_of("enc", "cap", inner_udp4(src, "10.0.0.2", 1000, 2000, 200)) == p);
    by_l4.insert(port_of("enc", "cap", inner_udp4("10.0.0.1", "10.0.0.2", static_cast<uint16_t>(3000 + i))));
    by_v6.insert(port_of("enc", "cap", eth(0x86dd, ipv6("fd00::" + std::to_string(i + 1), "fd00::ffff", 6, ports(1, 2)))));
    const uint16_t n = port_of("narrow", "cap_narrow", inner_udp4(src));
    CHECK(n >= 1000);
    CHECK(n <= 1007);
    CHECK(port_of("fixed", "cap_fixed", inner_udp4(src)) == 4242);
  }
  // 100 flows into 16384 ports: a few collisions at most.
  CHECK(by_addr.size() >= 95);
  CHECK(by_l4.size() >= 95);
  CHECK(by_v6.size() >= 95);
  // Inner MAC addresses and ethertype are part of the flow too.
  CHECK(port_of("enc", "cap", eth(0x88b5, Bytes(50), "52:54:00:00:00:02", "52:54:00:00:00:01")) !=
        port_of("enc", "cap", eth(0x88b5, Bytes(50), "52:54:00:00:00:03", "52:54:00:00:00:01")));
}

TEST_CASE("VxlanEncap drops what would exceed the MTU, runts, shared buffers and packets without headroom",
          "[vxlan]") {
  GraphHarness h(kEncap4, loader(), pool());
  // 20 + 8 + 8 + 1464 = 1500: fits; one byte more does not.
  Bytes fits = eth(0x0800, Bytes(1464 - 14));
  Bytes big = eth(0x0800, Bytes(1465 - 14));
  rte_mbuf* cramped = rte_pktmbuf_alloc(pool());
  cramped->data_off = 49;  // one byte short of the 50 needed
  std::memcpy(rte_pktmbuf_append(cramped, 64), eth(0x0800, Bytes(50)).data(), 64);
  rte_mbuf* original = packet(inner_udp4());
  rte_mbuf* clone = rte_pktmbuf_clone(original, pool());
  REQUIRE(clone);
  Batch b;
  b.add(packet(fits));
  b.add(packet(big));
  b.add(packet(Bytes(13)));
  b.add(cramped);
  b.add(clone);
  h.push("enc", b);
  CHECK(rte_mbuf_refcnt_read(original) == 1);  // the clone was freed
  push_one(h, "enc", original);                 // no longer shared: encapsulated
  auto out = take_bytes(h, "cap");
  REQUIRE(out.size() == 2);
  CHECK(out[0].size() == 14 + 1500);
  CHECK(all_drops(h, "enc") ==
        std::map<std::string, uint64_t>{{"too_big", 1}, {"runt", 1}, {"no_headroom", 1}, {"shared_buffer", 1}});
}

TEST_CASE("VxlanEncap takes VNI and destination from metadata, or drops by reason", "[vxlan]") {
  GraphHarness h(R"(
elements:
  enc: {class: VxlanEncap, local_ip: 192.0.2.1, local_mac: "02:00:00:00:00:01"}
  enc6: {class: VxlanEncap, local_ip: "2001:db8::1", local_mac: "02:00:00:00:00:01"}
  fixed_ip: {class: VxlanEncap, vni: 9, local_ip: 192.0.2.1, remote_ip: 192.0.2.9, local_mac: "02:00:00:00:00:01"}
  cap: Capture
  cap6: Capture
  cap_fixed: Capture
connections:
  - enc -> cap
  - enc6 -> cap6
  - fixed_ip -> cap_fixed
)",
                 loader(), pool());
  const fields::Vni vni = fields::vni();
  const fields::UnderlaySlot underlay = fields::underlay();
  const Bytes inner = inner_udp4();
  auto with = [&](std::optional<uint32_t> v, std::optional<fields::Underlay> u) {
    rte_mbuf* m = packet(inner);
    if (v) vni.set(m, *v);
    if (u) underlay.set(m, *u);
    return m;
  };
  fields::Underlay u4{};
  u4.family = 4;
  u4.has_mac = 1;
  u4.udp_port = 0;
  std::memcpy(u4.addr, addr("198.51.100.7").data(), 4);
  const uint8_t mac[6] = {0x02, 0, 0, 0, 0, 0x77};
  std::memcpy(u4.mac, mac, 6);
  fields::Underlay u4_port = u4;
  u4_port.udp_port = 8472;
  fields::Underlay u4_nomac = u4;
  u4_nomac.has_mac = 0;
  fields::Underlay u6 = u4;
  u6.family = 6;
  std::memcpy(u6.addr, addr("2001:db8::7").data(), 16);

  Batch b;
  b.add(with(5000, u4));        // encapsulated: VNI 5000 to 198.51.100.7 port 4789
  b.add(with(5001, u4_port));   // encapsulated to port 8472
  b.add(with(std::nullopt, u4));      // no_vni
  b.add(with(1u << 24, u4));         // bad_vni
  b.add(with(5000, std::nullopt));   // no_destination
  b.add(with(5000, u6));             // family_mismatch
  b.add(with(5000, u4_nomac));       // no_destination_mac
  h.push("enc", b);
  auto out = take_bytes(h, "cap");
  REQUIRE(out.size() == 2);
  Outer o{.src = "192.0.2.1", .dst = "198.51.100.7", .smac = "02:00:00:00:00:01", .dmac = "02:00:00:00:00:77"};
  o.vni = 5000;
  o.sport = src_port_of(out[0], 20);
  CHECK(hex(out[0]) == hex(vxlan_packet(inner, o)));
  o.vni = 5001;
  o.dport = 8472;
  CHECK(hex(out[1]) == hex(vxlan_packet(inner, o)));
  CHECK(all_drops(h, "enc") == std::map<std::string, uint64_t>{{"no_vni", 1},
                                                               {"bad_vni", 1},
                                                               {"no_destination", 1},
                                                               {"family_mismatch", 1},
                                                               {"no_destination_mac", 1}});

  // IPv6 underlay from metadata.
  push_one(h, "enc6", with(6, u6));
  auto out6 = take_bytes(h, "cap6");
  REQUIRE(out6.size() == 1);
  Outer o6{.src = "2001:db8::1", .dst = "2001:db8::7", .smac = "02:00:00:00:00:01", .dmac = "02:00:00:00:00:77"};
  o6.vni = 6;
  o6.sport = src_port_of(out6[0], 40);
  CHECK(hex(out6[0]) == hex(vxlan_packet(inner, o6)));

  // remote_ip given but no remote_mac: the MAC still comes from metadata
  // (any family), and its absence is a drop.
  push_one(h, "fixed_ip", with(std::nullopt, u6));
  push_one(h, "fixed_ip", with(std::nullopt, std::nullopt));
  auto outf = take_bytes(h, "cap_fixed");
  REQUIRE(outf.size() == 1);
  Outer of{.src = "192.0.2.1", .dst = "192.0.2.9", .smac = "02:00:00:00:00:01", .dmac = "02:00:00:00:00:77"};
  of.vni = 9;
  of.sport = src_port_of(outf[0], 20);
  CHECK(hex(outf[0]) == hex(vxlan_packet(inner, of)));
  CHECK(all_drops(h, "fixed_ip") == std::map<std::string, uint64_t>{{"no_destination_mac", 1}});
}

TEST_CASE("VxlanEncap describes the tunnel to a NIC asked for inner checksum offload", "[vxlan]") {
  GraphHarness h(kEncap4, loader(), pool());
  rte_mbuf* m = packet(inner_udp4());
  m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_UDP_CKSUM;
  m->l2_len = 14;
  m->l3_len = 20;
  push_one(h, "enc", m);
  auto out = h.take("cap");
  REQUIRE(out.size() == 1);
  CHECK(out[0]->outer_l2_len == 14);
  CHECK(out[0]->outer_l3_len == 20);
  CHECK(out[0]->l2_len == 14 + 16);
  CHECK(out[0]->l3_len == 20);
  CHECK((out[0]->ol_flags & RTE_MBUF_F_TX_TUNNEL_MASK) == RTE_MBUF_F_TX_TUNNEL_VXLAN);
  CHECK((out[0]->ol_flags & RTE_MBUF_F_TX_OUTER_IPV4) != 0);
  free_all(out);
}

// ---------------------------------------------------------------------------
// VxlanDecap
// ---------------------------------------------------------------------------

TEST_CASE("VxlanDecap strips outer headers, sorts by VNI and records the underlay source", "[vxlan]") {
  GraphHarness h(R"(
elements:
  dec: {class: VxlanDecap, vnis: {tenant_a: 100, tenant_b: 200}}
  a: Capture
  b: Capture
  other: Capture
connections:
  - dec[tenant_a] -> a
  - dec[tenant_b] -> b
  - dec[default] -> other
)",
                 loader(), pool());
  const Bytes i1 = inner_udp4("10.0.0.1"), i2 = inner_udp4("10.0.0.2"), i3 = eth(0x0806, Bytes(28));
  Outer tagged;
  tagged.vlan = 7;
  tagged.vni = 200;
  Outer v6{.src = "2001:db8::2", .dst = "2001:db8::1"};
  v6.vni = 200;
  v6.sport = 61000;
  Outer other;
  other.vni = 300;
  other.flags = 0xff;  // reserved bits set: ignored
  Outer options;
  options.ip_options = {0x01, 0x01, 0x01, 0x00};  // NOP NOP NOP EOL
  Bytes padded = vxlan_packet(i1);
  padded.insert(padded.end(), 6, 0xee);  // trailing bytes after the IP packet
  Bytes reserved_vni = vxlan_packet(i2);
  reserved_vni[14 + 20 + 8 + 7] = 0x5a;  // reserved byte after the VNI
  push_all(h, "dec", {vxlan_packet(i1), vxlan_packet(i2, tagged), vxlan_packet(i3, v6), vxlan_packet(i1, other),
                      vxlan_packet(i2, options), padded, reserved_vni});
  auto a = h.take("a"), b = h.take("b"), oth = h.take("other");
  REQUIRE(a.size() == 4);
  REQUIRE(b.size() == 2);
  REQUIRE(oth.size() == 1);
  CHECK(hex(bytes_of(a[0])) == hex(i1));
  CHECK(hex(bytes_of(a[1])) == hex(i2));
  CHECK(hex(bytes_of(a[2])) == hex(i1));
  CHECK(hex(bytes_of(a[3])) == hex(i2));
  CHECK(hex(bytes_of(b[0])) == hex(i2));
  CHECK(hex(bytes_of(b[1])) == hex(i3));
  CHECK(hex(bytes_of(oth[0])) == hex(i1));
  const fields::Vni vni = fields::vni();
  const fields::UnderlaySlot underlay = fields::underlay();
  REQUIRE(vni.has(a[0]));
  CHECK(vni.get(a[0]) == 100);
  CHECK(vni.get(b[1]) == 200);
  CHECK(vni.get(oth[0]) == 300);
  REQUIRE(underlay.has(a[0]));
  const fields::Underlay& u = underlay.get(a[0]);
  CHECK(u.family == 4);
  CHECK(std::memcmp(u.addr, addr("192.0.2.2").data(), 4) == 0);
  CHECK(u.udp_port == 0);  // the peer's source port is a flow hash: not recorded
  CHECK(u.has_mac == 1);
  const uint8_t smac[6] = {0x02, 0, 0, 0, 0, 0x22};
  CHECK(std::memcmp(u.mac, smac, 6) == 0);
  const fields::Underlay& u6 = underlay.get(b[1]);
  CHECK(u6.family == 6);
  CHECK(std::memcmp(u6.addr, addr("2001:db8::2").data(), 16) == 0);
  CHECK(u6.udp_port == 0);
  CHECK(all_drops(h, "dec").empty());
  free_all(a);
  free_all(b);
  free_all(oth);
}

TEST_CASE("VxlanDecap without vnis has one output, out", "[vxlan]") {
  GraphHarness h(R"(
elements:
  dec: {class: VxlanDecap, port: 8472}
  cap: Capture
connections:
  - dec -> cap
)",
                 loader(), pool());
  Outer o;
  o.dport = 8472;
  o.vni = 0xffffff;
  rte_mbuf* m = packet(vxlan_packet(inner_udp4(), o));
  m->packet_type = RTE_PTYPE_L2_ETHER | RTE_PTYPE_L3_IPV4 | RTE_PTYPE_L4_UDP;
  m->ol_flags |= RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD | RTE_MBUF_F_RX_RSS_HASH;
  push_one(h, "dec", m);
  push_all(h, "dec", {vxlan_packet(inner_udp4())});
  auto out = h.take("cap");
  REQUIRE(out.size() == 1);
  CHECK(fields::vni().get(out[0]) == 0xffffff);
  // The NIC's verdicts on the outer headers are gone; the RSS hash stays.
  CHECK(out[0]->packet_type == 0);
  CHECK((out[0]->ol_flags & (RTE_MBUF_F_RX_IP_CKSUM_MASK | RTE_MBUF_F_RX_L4_CKSUM_MASK)) == 0);
  CHECK((out[0]->ol_flags & RTE_MBUF_F_RX_RSS_HASH) != 0);
  CHECK(drops(h, "dec", "wrong_port") == 1);
  free_all(out);
}

TEST_CASE("VxlanEncap and VxlanDecap refuse bad addresses and VNIs at their position", "[vxlan]") {
  auto error = [](const std::string& element) {
    try {
      GraphHarness h("elements:\n  x: " + element + "\n  cap: Capture\nconnections:\n  - x -> cap\n", loader(),
                     pool());
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  using Catch::Contains;
  const std::string mac = "local_mac: \"02:00:00:00:00:01\"";
  CHECK_THAT(error("{class: VxlanEncap, local_ip: 192.0.2.1, local_mac: \"02:00:00:00:00\"}"),
             Contains("<harness>:2:") && Contains("local_mac") && Contains("a MAC address such as"));
  CHECK_THAT(error("{class: VxlanEncap, local_ip: 192.0.2.300, " + mac + "}"),
             Contains("<harness>:2:") && Contains("local_ip") && Contains("an IPv4 or IPv6 address"));
  CHECK_THAT(error("{class: VxlanEncap, local_ip: 192.0.2.1, remote_ip: \"2001:db8::1\", " + mac + "}"),
             Contains("<harness>:2:") && Contains("remote_ip is IPv6 but local_ip is IPv4"));
  CHECK_THAT(error("{class: VxlanEncap, local_ip: 192.0.2.1, remote_mac: \"02:00:00:00:00:02\"}"),
             Contains("<harness>:2:") && Contains("remote_mac without local_mac"));
  CHECK_THAT(error("{class: VxlanDecap, local_ip: \"2001:db8::zz\"}"),
             Contains("<harness>:2:") && Contains("local_ip") && Contains("an IPv4 or IPv6 address"));
  CHECK_THAT(error("{class: VxlanDecap, vnis: {a: 16777216}}"),
             Contains("<harness>:2:") && Contains("vnis: a: expected a VNI 0-16777215"));
  CHECK_THAT(error("{class: VxlanDecap, vnis: {a: ten}}"), Contains("<harness>:2:") && Contains("vnis: a: expected"));
  CHECK_THAT(error("{class: VxlanDecap, vnis: {a: 1, b: 1}}"), Contains("VNI 1 already goes to output 'a'"));
  CHECK_THAT(error("{class: VxlanDecap, vnis: {out: 1}}"), Contains("'out' cannot name a VNI's output"));
}

TEST_CASE("VxlanDecap drops every malformed packet under its reason", "[vxlan]") {
  GraphHarness h(R"(
elements:
  dec: {class: VxlanDecap, local_ip: 192.0.2.1}
  cap: Capture
connections:
  - dec -> cap
)",
                 loader(), pool());
  const Bytes inner = inner_udp4();
  const Bytes good = vxlan_packet(inner);
  // Rewrites the IPv4 header checksum after an edit.
  auto fix_cksum = [](Bytes p) {
    p[24] = p[25] = 0;
    const uint16_t c = static_cast<uint16_t>(~sum16(p.data() + 14, 20));
    p[24] = static_cast<uint8_t>(c >> 8);
    p[25] = static_cast<uint8_t>(c);
    return p;
  };
  auto edit = [&](size_t at, uint8_t v, bool cksum = true) {
    Bytes p = good;
    p[at] = v;
    return cksum ? fix_cksum(p) : p;
  };
  auto cut = [&](const Bytes& p, size_t n) { return Bytes(p.begin(), p.begin() + static_cast<long>(n)); };
  const size_t ip = 14, udp = 34, vx = 42;
  Outer mf;
  mf.frag = 0x2000;  // MF
  Outer offset;
  offset.frag = 0x0010;
  Outer remote;
  remote.dst = "192.0.2.99";
  Outer v6{.src = "2001:db8::2", .dst = "2001:db8::1"};
  Bytes udp_short = good;  // UDP length one less than the IP payload
  udp_short[udp + 5] = static_cast<uint8_t>(udp_short[udp + 5] - 1);
  Bytes udp_long = good;
  udp_long[udp + 5] = static_cast<uint8_t>(udp_long[udp + 5] + 1);
  Bytes total_long = edit(ip + 3, static_cast<uint8_t>(good[ip + 3] + 1));
  Bytes total_short = fix_cksum([&] {
    Bytes p = good;
    p[ip + 2] = 0;
    p[ip + 3] = 19;
    return p;
  }());
  // A UDP datagram of 12 bytes: IP payload 12, UDP length 12.
  Bytes vx_short = fix_cksum([&] {
    Bytes p = cut(good, vx + 4);
    p[ip + 2] = 0;
    p[ip + 3] = 32;
    p[udp + 4] = 0;
    p[udp + 5] = 12;
    return p;
  }());
  // IP payload of 4 bytes: not even a UDP header.
  Bytes udp_trunc = fix_cksum([&] {
    Bytes p = cut(good, udp + 4);
    p[ip + 2] = 0;
    p[ip + 3] = 24;
    return p;
  }());
  Bytes v6_frag = vxlan_packet(inner, v6);
  v6_frag[14 + 6] = 44;
  Bytes v6_bad_len = vxlan_packet(inner, v6);
  v6_bad_len[14 + 5] = static_cast<uint8_t>(v6_bad_len[14 + 5] + 1);

  const std::vector<std::pair<std::string, Bytes>> cases = {
      {"runt", cut(good, 13)},
      {"runt", cut(vxlan_packet(inner, Outer{.vlan = 5}), 16)},
      {"not_ip", eth(0x0806, Bytes(60))},
      {"not_ip", [&] {  // a second tag (QinQ) is not followed
         Bytes p = vxlan_packet(inner, Outer{.vlan = 5});
         p[16] = 0x81;
         p[17] = 0x00;
         return p;
       }()},
      {"truncated_ip", cut(good, ip + 19)},
      {"truncated_ip", cut(vxlan_packet(inner, v6), ip + 39)},
      {"truncated_ip", cut(vxlan_packet(inner, Outer{.ip_options = Bytes(8, 1)}), ip + 24)},
      {"bad_ip_header", edit(ip, 0x55)},
      {"bad_ip_header", edit(ip, 0x44)},
      {"bad_ip_header", [&] {
         Bytes p = vxlan_packet(inner, v6);
         p[ip] = 0x40;
         return p;
       }()},
      {"bad_ip_length", total_long},
      {"bad_ip_length", total_short},
      {"bad_ip_length", v6_bad_len},
      {"bad_ip_checksum", edit(ip + 8, 63, false)},
      {"ip_fragment", vxlan_packet(inner, mf)},
      {"ip_fragment", vxlan_packet(inner, offset)},
      {"ip_fragment", v6_frag},
      {"not_local", vxlan_packet(inner, remote)},
      {"not_local", vxlan_packet(inner, v6)},
      {"not_udp", edit(ip + 9, 6)},
      {"truncated_udp", udp_trunc},
      {"wrong_port", vxlan_packet(inner, Outer{.dport = 4790})},
      {"bad_udp_length", udp_short},
      {"bad_udp_length", udp_long},
      {"truncated_vxlan", vx_short},
      {"bad_flags", vxlan_packet(inner, Outer{.flags = 0x00})},
      {"bad_flags", vxlan_packet(inner, Outer{.flags = 0xf7})},
      {"truncated_inner", vxlan_packet(Bytes(13, 0xab))},
      {"truncated_inner", vxlan_packet(Bytes())},
  };
  std::map<std::string, uint64_t> want;
  for (const auto& [reason, bytes] : cases) {
    INFO("case " << reason << ", " << bytes.size() << " bytes");
    push_all(h, "dec", {bytes});
    want[reason]++;
    auto now = all_drops(h, "dec");
    CHECK(now == want);
    if (now != want) want = now;  // report each case once
    CHECK(h.take("cap").empty());
  }
  // The unedited packet passes.
  push_all(h, "dec", {good});
  auto out = take_bytes(h, "cap");
  REQUIRE(out.size() == 1);
  CHECK(hex(out[0]) == hex(inner));
}

TEST_CASE("VxlanDecap handles outer headers and padding spread over segments, without leaks", "[vxlan]") {
  GraphHarness h(R"(
elements:
  dec: {class: VxlanDecap}
  cap: Capture
connections:
  - dec -> cap
)",
                 loader(), pool());
  const unsigned avail = rte_mempool_avail_count(pool());
  const Bytes inner = inner_udp4("10.9.9.9", "10.8.8.8", 7, 8, 100);
  Bytes padded = vxlan_packet(inner);
  const size_t end = padded.size();
  padded.insert(padded.end(), 12, 0);
  const std::vector<std::vector<size_t>> cuts = {
      {20},          // headers straddle two segments
      {20, 40},      // the first segment holds only outer headers
      {50},          // the inner frame starts exactly on a segment boundary
      {10, 20, 30},  // three segments of outer headers
      {60, end},     // the padding is a segment of its own (freed)
      {60, end + 5}, // the padding straddles the last two segments
      {49, 51},
  };
  for (const auto& c : cuts) {
    rte_mbuf* m = chained(padded, c);
    push_one(h, "dec", m);
    auto out = h.take("cap");
    REQUIRE(out.size() == 1);
    rte_mbuf* got = out[0];
    CHECK(hex(bytes_of(got)) == hex(inner));
    CHECK(got->pkt_len == inner.size());
    // nb_segs matches the chain.
    unsigned segs = 0;
    uint32_t bytes = 0;
    for (rte_mbuf* s = got; s; s = s->next) {
      segs++;
      bytes += s->data_len;
      CHECK(s->data_len > 0);
    }
    CHECK(segs == got->nb_segs);
    CHECK(bytes == got->pkt_len);
    CHECK(fields::vni().has(got));
    CHECK(fields::vni().get(got) == 100);
    CHECK(fields::underlay().get(got).udp_port == 0);
    free_all(out);
  }
  CHECK(rte_mempool_avail_count(pool()) == avail);
}

TEST_CASE("VxlanEncap then VxlanDecap gives back the inner frame, byte for byte", "[vxlan]") {
  GraphHarness h(R"(
elements:
  enc4: {class: VxlanEncap, vni: 4242, local_ip: 192.0.2.1, remote_ip: 192.0.2.2,
         local_mac: "02:00:00:00:00:01", remote_mac: "02:00:00:00:00:02"}
  dec4: {class: VxlanDecap, local_ip: 192.0.2.2}
  enc6: {class: VxlanEncap, local_ip: "2001:db8::1", remote_ip: "2001:db8::2",
         local_mac: "02:00:00:00:00:01", remote_mac: "02:00:00:00:00:02"}
  dec6: {class: VxlanDecap, local_ip: "2001:db8::2", vnis: {x: 77}}
  cap4: Capture
  cap6: Capture
  other6: Capture
connections:
  - enc4 -> dec4 -> cap4
  - enc6 -> dec6
  - dec6[x] -> cap6
  - dec6[default] -> other6
)",
                 loader(), pool());
  const std::vector<Bytes> frames = {
      inner_udp4(),
      eth(0x86dd, ipv6("fd00::1", "fd00::2", 6, ports(1, 80, 999))),
      eth(0x0806, Bytes(28)),
      vlan_eth(10, 0x0800, ipv4("10.0.0.1", "10.0.0.2", 1, Bytes(64, 0x33))),
  };
  push_all(h, "enc4", frames);
  push_one(h, "enc4", chained(frames[1], {30}));
  auto out4 = take_bytes(h, "cap4");
  REQUIRE(out4.size() == 5);
  for (size_t i = 0; i < frames.size(); i++) CHECK(hex(out4[i]) == hex(frames[i]));
  CHECK(hex(out4[4]) == hex(frames[1]));
  // IPv6, VNI from metadata that decap set on an earlier trip.
  const fields::Vni vni = fields::vni();
  Batch b;
  for (const auto& f : frames) {
    rte_mbuf* m = packet(f);
    vni.set(m, 77);
    b.add(m);
  }
  h.push("enc6", b);
  auto out6 = take_bytes(h, "cap6");
  REQUIRE(out6.size() == frames.size());
  for (size_t i = 0; i < frames.size(); i++) CHECK(hex(out6[i]) == hex(frames[i]));
  CHECK(all_drops(h, "dec4").empty());
  CHECK(all_drops(h, "dec6").empty());
}

// ---------------------------------------------------------------------------
// Classifier: vni and inner rules
// ---------------------------------------------------------------------------

TEST_CASE("Classifier matches the VNI metadata, packets without it do not match", "[vxlan][classifier]") {
  GraphHarness h(R"(
elements:
  cls:
    class: Classifier
    rules:
      - {output: t100, vni: 100}
      - {output: t200udp, vni: 200, ip_proto: udp}
  t100: Capture
  t200udp: Capture
  other: Capture
connections:
  - cls[t100] -> t100
  - cls[t200udp] -> t200udp
  - cls[default] -> other
)",
                 loader(), pool());
  const fields::Vni vni = fields::vni();
  auto with = [&](const Bytes& f, std::optional<uint32_t> v) {
    rte_mbuf* m = packet(f);
    if (v) vni.set(m, *v);
    return m;
  };
  Batch b;
  b.add(with(inner_udp4(), 100));
  b.add(with(inner_udp4(), 200));
  b.add(with(eth(0x0806, Bytes(28)), 200));  // not udp
  b.add(with(inner_udp4(), std::nullopt));
  b.add(with(inner_udp4(), 300));
  h.push("cls", b);
  CHECK(take_bytes(h, "t100").size() == 1);
  CHECK(take_bytes(h, "t200udp").size() == 1);
  CHECK(take_bytes(h, "other").size() == 3);
}

TEST_CASE("Classifier inner rules match the frame inside VXLAN", "[vxlan][classifier]") {
  GraphHarness h(R"(
elements:
  cls:
    class: Classifier
    rules:
      - {output: web, inner: {ip_proto: tcp, dst_port: 80}}
      - {output: t200, inner: {vni: 200}}
      - {output: lan6, ip_src: "2001:db8::/32", inner: {ip_src: "fd00::/8"}}
      - {output: vx, inner: {}}
  web: Capture
  t200: Capture
  lan6: Capture
  vx: Capture
  other: Capture
connections:
  - cls[web] -> web
  - cls[t200] -> t200
  - cls[lan6] -> lan6
  - cls[vx] -> vx
  - cls[default] -> other
)",
                 loader(), pool());
  const Bytes web4 = eth(0x0800, ipv4("10.0.0.1", "10.0.0.2", 6, ports(40000, 80)));
  const Bytes web6 = eth(0x86dd, ipv6("fd00::1", "fd00::2", 6, ports(40000, 80)));
  const Bytes udp6 = eth(0x86dd, ipv6("fd00::1", "fd00::2", 17, ports(1, 2)));
  const Bytes arp = eth(0x0806, Bytes(28));
  Outer v6{.src = "2001:db8::2", .dst = "2001:db8::1"};
  Outer t200;
  t200.vni = 200;
  Outer tagged;
  tagged.vlan = 3;
  Outer mf;
  mf.frag = 0x2000;
  Outer noflag;
  noflag.flags = 0;
  Outer wrong_port;
  wrong_port.dport = 4790;
  push_all(h, "cls", {
                         vxlan_packet(web4),              // web
                         vxlan_packet(web6, v6),          // web (outer IPv6)
                         vxlan_packet(web4, tagged),      // web (outer VLAN)
                         vxlan_packet(arp, t200),         // t200
                         vxlan_packet(udp6, v6),          // lan6
                         vxlan_packet(arp),               // vx
                         vxlan_packet(web4, mf),          // other: a fragment is not VXLAN
                         vxlan_packet(web4, noflag),      // other: no I flag
                         vxlan_packet(web4, wrong_port),  // other
                         web4,                            // other: not VXLAN at all
                         arp,                             // other
                     });
  CHECK(take_bytes(h, "web").size() == 3);
  CHECK(take_bytes(h, "t200").size() == 1);
  CHECK(take_bytes(h, "lan6").size() == 1);
  CHECK(take_bytes(h, "vx").size() == 1);
  auto other = take_bytes(h, "other");
  CHECK(other.size() == 5);
  CHECK(all_drops(h, "cls").empty());
}

TEST_CASE("Classifier inner rules: truncated inner headers drop, vxlan_port, and no inner parse without them",
          "[vxlan][classifier]") {
  GraphHarness h(R"(
elements:
  cls:
    class: Classifier
    vxlan_port: 8472
    rules:
      - {output: web, inner: {dst_port: 80}}
  plain:
    class: Classifier
    rules:
      - {output: udp, ip_proto: udp}
  web: Capture
  other: Capture
  udp: Capture
  other2: Capture
connections:
  - cls[web] -> web
  - cls[default] -> other
  - plain[udp] -> udp
  - plain[default] -> other2
)",
                 loader(), pool());
  const Bytes web4 = eth(0x0800, ipv4("10.0.0.1", "10.0.0.2", 6, ports(40000, 80)));
  Outer o;
  o.dport = 8472;
  auto cut_inner = [&](size_t n) {
    Bytes p = vxlan_packet(Bytes(web4.begin(), web4.begin() + static_cast<long>(n)), o);
    return p;
  };
  Bytes bad_version = web4;
  bad_version[14] = 0x65;
  const Bytes full = vxlan_packet(web4, o);
  const std::vector<Bytes> frames = {
      full,                                                  // web
      vxlan_packet(web4),                                    // other: port 4789 is not VXLAN here
      Bytes(full.begin(), full.begin() + 14 + 20 + 8 + 4),  // truncated_inner: VXLAN header cut
      cut_inner(10),                                         // truncated_inner: inner Ethernet
      cut_inner(14 + 12),                                    // truncated_inner: inner IP
      cut_inner(14 + 20 + 2),                                // truncated_inner: inner ports
      vxlan_packet(bad_version, o),                          // bad_inner_ip
  };
  push_all(h, "cls", frames);
  CHECK(take_bytes(h, "web").size() == 1);
  CHECK(take_bytes(h, "other").size() == 1);
  CHECK(all_drops(h, "cls") == std::map<std::string, uint64_t>{{"truncated_inner", 4}, {"bad_inner_ip", 1}});
  // A classifier without inner rules never looks inside.
  push_all(h, "plain", frames);
  CHECK(take_bytes(h, "udp").size() == frames.size());
  CHECK(all_drops(h, "plain").empty());
}

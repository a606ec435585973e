// ARP and Neighbour Discovery (tables/arp_nd.hpp) and the Interfaces
// service's neighbour state machine (control/interfaces_core.hpp), on DPDK.
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <rte_hash.h>

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "control/interfaces_core.hpp"
#include "tables/arp_nd.hpp"
#include "test_env.hpp"
#include "weft/fields.hpp"

using namespace weft;
using namespace weft::route;

// GCC 12 sees short-string assignments below as reading uninitialized bytes
// (a known false positive of -Wmaybe-uninitialized at -O3; clang has no such warning).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace {

const Mac kOurs{{0x02, 0, 0, 0, 0, 0x01}};
const Mac kPeer{{0x02, 0, 0, 0, 0, 0x02}};

uint32_t ip4(const char* s) {
  uint32_t v;
  std::memcpy(&v, Ip4::parse(s)->data(), 4);
  return v;
}

InterfacesConfig config() {
  InterfacesConfig c;
  InterfacesConfig::Iface i;
  i.name = "a";
  i.port = "p0";
  i.mac = kOurs;
  i.addresses = {*Prefix::parse("192.0.2.1/24"), *Prefix::parse("2001:db8::1/64")};
  c.interfaces.push_back(i);
  InterfacesConfig::Iface b;
  b.name = "b";
  b.port = "p1";
  b.mac = Mac{{0x02, 0, 0, 0, 0, 0x11}};
  b.addresses = {*Prefix::parse("198.51.100.1/24")};
  c.interfaces.push_back(b);
  c.retrans_time = 0.02;
  c.mcast_probes = 2;
  c.queue = 2;
  return c;
}

std::vector<rte_mbuf*> drain(rte_ring* r) {
  std::vector<rte_mbuf*> out;
  void* m;
  while (rte_ring_dequeue(r, &m) == 0) out.push_back(static_cast<rte_mbuf*>(m));
  return out;
}

void free_all(std::vector<rte_mbuf*>& v) {
  for (auto* m : v) rte_pktmbuf_free(m);
  v.clear();
}


using Clk = std::chrono::steady_clock;
double since(Clk::time_point t) { return std::chrono::duration<double>(Clk::now() - t).count(); }

const Mac kBcast{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};

// A frame the service or ArpNd sent, parsed by the project's own parsers.
struct Frame {
  bool arp = false;
  Mac dst, src;
  nd::Arp a;
  nd::Nd n;
};

std::vector<Frame> parsed(std::vector<rte_mbuf*> v) {
  std::vector<Frame> out;
  for (rte_mbuf* m : v) {
    Frame f;
    const auto* p = rte_pktmbuf_mtod(m, const uint8_t*);
    const auto* eth = reinterpret_cast<const rte_ether_hdr*>(p);
    f.dst = Mac::of(eth->dst_addr.addr_bytes);
    f.src = Mac::of(eth->src_addr.addr_bytes);
    f.arp = nd::parse_arp(p, m->data_len, f.a) == nd::Verdict::Ok;
    if (!f.arp) REQUIRE(nd::parse_nd(p, m->data_len, f.n) == nd::Verdict::Ok);
    out.push_back(f);
  }
  free_all(v);
  return out;
}

std::vector<Frame> sent(rte_ring* r) { return parsed(drain(r)); }

std::string str4(uint32_t a) { return Ip4::of(reinterpret_cast<const uint8_t*>(&a)).str(); }

std::vector<uint8_t> arp_frame(uint16_t op, const Mac& from, const char* sender, const Mac& to, const char* target) {
  std::vector<uint8_t> f(nd::kArpFrame);
  nd::build_arp(f.data(), op, from, op == RTE_ARP_OP_REQUEST ? kBcast : to, from, ip4(sender),
                op == RTE_ARP_OP_REQUEST ? Mac{} : to, ip4(target));
  return f;
}

// A duplicate address probe for `target` (RFC 4862 5.4.2): an NS from ::
// to the target's solicited-node group, without a source link-layer option.
std::vector<uint8_t> dad_probe(const Mac& from, const Ip6& target) {
  std::vector<uint8_t> f(nd::kNdFrame);
  nd::build_ns(f.data(), from, Ip6{}, target, nullptr);
  f.resize(nd::kNdFrame - 8);
  auto* ip = reinterpret_cast<rte_ipv6_hdr*>(f.data() + sizeof(rte_ether_hdr));
  ip->payload_len = rte_cpu_to_be_16(24);
  uint8_t* msg = f.data() + sizeof(rte_ether_hdr) + sizeof(rte_ipv6_hdr);
  msg[2] = msg[3] = 0;
  const auto ck = static_cast<uint16_t>(~nd::icmp6_sum(ip, msg, 24));
  std::memcpy(msg + 2, &ck, 2);
  return f;
}

// Hands a frame to the service as ArpNd does, as arrived on interface `iface`.
void give(InterfacesCore& core, uint16_t iface, const std::vector<uint8_t>& f) {
  rte_mbuf* m = rte_pktmbuf_alloc(test::pool());
  REQUIRE(m);
  std::memcpy(rte_pktmbuf_append(m, uint16_t(f.size())), f.data(), f.size());
  PendingNeighbor pn{};
  pn.iface = iface;
  pending_slot().set(m, pn);
  REQUIRE(core.punt(m));
}

NeighborKey key_of(uint16_t iface, const IpAddr& a) {
  NeighborKey k{};
  k.iface = iface;
  k.family = a.v4() ? AF_INET : AF_INET6;
  std::memcpy(k.addr, a.data(), a.v4() ? 4 : 16);
  return k;
}

// The usable bit workers see, read without marking the entry used.
bool usable(const InterfacesCore& core, const NeighborKey& k) {
  const int32_t pos = rte_hash_lookup(core.neighbors().hash(), &k);
  return pos >= 0 && (core.neighbors().entries()[pos].mac.load() & NeighborEntry::kUsable) != 0;
}

std::string state_of(const InterfacesCore& core, const std::string& addr) {
  for (const auto& n : core.neighbors_json({}))
    if (n["address"] == addr) return n["state"];
  return "gone";
}

// Polls until `addr` is in state `s` (or 3 s passed); the time it was seen.
Clk::time_point wait_for(InterfacesCore& core, const std::string& addr, const std::string& s) {
  const auto t0 = Clk::now();
  while (state_of(core, addr) != s && Clk::now() - t0 < std::chrono::seconds(3)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    core.poll();
  }
  return Clk::now();
}

}  // namespace

TEST_CASE("ARP frames round-trip and malformed ones are refused", "[neighbors]") {
  uint8_t f[64] = {};
  const Mac bcast{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
  nd::build_arp(f, RTE_ARP_OP_REQUEST, kPeer, bcast, kPeer, ip4("192.0.2.2"), Mac{}, ip4("192.0.2.1"));
  nd::Arp a;
  REQUIRE(nd::parse_arp(f, nd::kArpFrame, a) == nd::Verdict::Ok);
  CHECK(a.op == RTE_ARP_OP_REQUEST);
  CHECK(a.sender_mac == kPeer);
  CHECK(a.sender_ip == ip4("192.0.2.2"));
  CHECK(a.target_ip == ip4("192.0.2.1"));
  CHECK(nd::parse_arp(f, nd::kArpFrame - 1, a) == nd::Verdict::Truncated);
  f[sizeof(rte_ether_hdr) + 4] = 7;  // hardware length
  CHECK(nd::parse_arp(f, nd::kArpFrame, a) == nd::Verdict::BadArp);
  nd::build_arp(f, 9, kPeer, bcast, kPeer, ip4("192.0.2.2"), Mac{}, ip4("192.0.2.1"));
  CHECK(nd::parse_arp(f, nd::kArpFrame, a) == nd::Verdict::BadArp);  // unknown operation
  nd::build_arp(f, RTE_ARP_OP_REPLY, kPeer, bcast, bcast, ip4("192.0.2.2"), Mac{}, ip4("192.0.2.1"));
  CHECK(nd::parse_arp(f, nd::kArpFrame, a) == nd::Verdict::BadArp);  // broadcast sender
  f[12] = 0x08;
  f[13] = 0x00;
  CHECK(nd::parse_arp(f, nd::kArpFrame, a) == nd::Verdict::NotArpNd);
}

TEST_CASE("Neighbour discovery messages: checksums, hop limit, options", "[neighbors]") {
  const Ip6 ll = nd::link_local_of(kPeer);
  CHECK(ll.str() == "fe80::ff:fe00:2");
  CHECK(nd::solicited_node(*Ip6::parse("2001:db8::1:2:3")).str() == "ff02::1:ff02:3");
  CHECK(nd::multicast_mac(*Ip6::parse("ff02::1:ff02:3")).str() == "33:33:ff:02:00:03");

  uint8_t f[nd::kNdFrame];
  const Ip6 target = *Ip6::parse("2001:db8::1");
  nd::build_ns(f, kPeer, ll, target, nullptr);
  nd::Nd n;
  REQUIRE(nd::parse_nd(f, sizeof f, n) == nd::Verdict::Ok);
  CHECK(n.type == icmp6::kNeighborSolicit);
  CHECK(n.target == target);
  CHECK(n.dst.str() == "ff02::1:ff00:1");
  CHECK(n.has_lladdr);
  CHECK(n.lladdr == kPeer);

  nd::build_na(f, kOurs, target, ll, kPeer, target, true, true, true);
  REQUIRE(nd::parse_nd(f, sizeof f, n) == nd::Verdict::Ok);
  CHECK(n.type == icmp6::kNeighborAdvert);
  CHECK((n.solicited && n.override_flag && n.router));
  CHECK(n.lladdr == kOurs);
  CHECK(nd::parse_nd(f, sizeof f - 1, n) == nd::Verdict::Truncated);

  uint8_t g[nd::kNdFrame];
  std::memcpy(g, f, sizeof f);
  g[sizeof(rte_ether_hdr) + 7] = 64;  // hop limit
  CHECK(nd::parse_nd(g, sizeof g, n) == nd::Verdict::BadNd);
  std::memcpy(g, f, sizeof f);
  g[sizeof(rte_ether_hdr) + 40 + 20] ^= 1;  // a bit of the target: the checksum no longer holds
  CHECK(nd::parse_nd(g, sizeof g, n) == nd::Verdict::BadNd);
  std::memcpy(g, f, sizeof f);
  g[sizeof(rte_ether_hdr) + 40 + 1] = 1;  // code 1
  CHECK(nd::parse_nd(g, sizeof g, n) == nd::Verdict::BadNd);
  // A solicited advertisement to a multicast address (RFC 4861 7.1.2).
  nd::build_na(f, kOurs, target, nd::all_nodes(), nd::multicast_mac(nd::all_nodes()), target, true, true, false);
  CHECK(nd::parse_nd(f, sizeof f, n) == nd::Verdict::BadNd);
  // An option of length 0.
  nd::build_ns(f, kPeer, ll, target, nullptr);
  f[sizeof f - 7] = 0;
  CHECK(nd::parse_nd(f, sizeof f, n) == nd::Verdict::BadNd);
}

TEST_CASE("Neighbours: a held packet is released when the neighbour answers, nobody answering ends in failed", "[neighbors]") {
  test::eal();
  InterfacesCore core("t", nullptr, 0);
  core.configure(config());
  auto table = core.interfaces();
  const Interface* a = table->by_name("a");
  REQUIRE(a);
  CHECK(a->link_local == nd::link_local_of(kOurs));
  rte_ring* tx = core.tx_ring(a->id);
  REQUIRE(tx);
  rte_mempool* pool = test::pool();
  const PendingSlot pending = pending_slot();

  // A packet for 192.0.2.2 (from the previous hop 02:..:09) waits.
  auto packet = [&](const char* dst) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    auto* p = rte_pktmbuf_mtod(m, uint8_t*);
    std::memset(p, 0, 60);
    rte_pktmbuf_append(m, 60);
    const uint8_t prev[6] = {2, 0, 0, 0, 0, 9};
    std::memcpy(p + 6, prev, 6);
    p[12] = 0x08;
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(p + 14);
    ip->version_ihl = 0x45;
    ip->time_to_live = 63;
    ip->next_proto_id = IPPROTO_UDP;
    ip->total_length = rte_cpu_to_be_16(46);
    ip->src_addr = ip4("198.51.100.7");
    ip->dst_addr = ip4(dst);
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    m->port = 0xfff0;  // no port: no interface to send an ICMP error by
    PendingNeighbor pn{};
    std::memcpy(pn.addr, &ip->dst_addr, 4);
    pn.iface = a->id;
    pn.family = AF_INET;
    pending.set(m, pn);
    return m;
  };
  REQUIRE(core.hold(packet("192.0.2.2")));
  core.poll();
  auto out = drain(tx);
  REQUIRE(out.size() == 1);  // the ARP request
  CHECK(fields::local_origin().test(out[0]));  // ours: an IpLookup would keep its TTL
  nd::Arp arp;
  REQUIRE(nd::parse_arp(rte_pktmbuf_mtod(out[0], uint8_t*), out[0]->data_len, arp) == nd::Verdict::Ok);
  CHECK(arp.op == RTE_ARP_OP_REQUEST);
  CHECK(arp.target_ip == ip4("192.0.2.2"));
  CHECK(arp.sender_ip == ip4("192.0.2.1"));
  CHECK(arp.sender_mac == kOurs);
  free_all(out);
  uint8_t mac[6];
  CHECK_FALSE(core.neighbors().lookup(a->id, AF_INET, Ip4::parse("192.0.2.2")->data(), mac, 0));

  // The answer: the packet leaves with the neighbour's MAC.
  rte_mbuf* reply = rte_pktmbuf_alloc(pool);
  rte_pktmbuf_append(reply, nd::kArpFrame);
  nd::build_arp(rte_pktmbuf_mtod(reply, uint8_t*), RTE_ARP_OP_REPLY, kPeer, kOurs, kPeer, ip4("192.0.2.2"), kOurs,
                ip4("192.0.2.1"));
  PendingNeighbor pn{};
  pn.iface = a->id;
  pending.set(reply, pn);
  REQUIRE(core.punt(reply));
  core.poll();
  out = drain(tx);
  REQUIRE(out.size() == 1);
  const auto* eth = rte_pktmbuf_mtod(out[0], const rte_ether_hdr*);
  CHECK(Mac::of(eth->dst_addr.addr_bytes) == kPeer);
  CHECK(Mac::of(eth->src_addr.addr_bytes) == kOurs);
  CHECK_FALSE(fields::local_origin().test(out[0]));  // a forwarded packet, not ours
  free_all(out);
  REQUIRE(core.neighbors().lookup(a->id, AF_INET, Ip4::parse("192.0.2.2")->data(), mac, 1));
  CHECK(Mac::of(mac) == kPeer);
  CHECK(core.neighbors_json({})[0]["state"] == "reachable");

  // An advertisement nobody asked for creates nothing.
  rte_mbuf* na = rte_pktmbuf_alloc(pool);
  rte_pktmbuf_append(na, nd::kNdFrame);
  const Ip6 stranger = *Ip6::parse("2001:db8::77");
  nd::build_na(rte_pktmbuf_mtod(na, uint8_t*), kPeer, stranger, nd::all_nodes(), nd::multicast_mac(nd::all_nodes()),
               stranger, false, true, false);
  pending.set(na, pn);
  REQUIRE(core.punt(na));
  core.poll();
  CHECK(core.neighbor_count() == 1);
  CHECK(core.counters().ignored == 1);

  // Someone else claims 192.0.2.1: a conflict.
  rte_mbuf* g = rte_pktmbuf_alloc(pool);
  rte_pktmbuf_append(g, nd::kArpFrame);
  const Mac bcast{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
  nd::build_arp(rte_pktmbuf_mtod(g, uint8_t*), RTE_ARP_OP_REQUEST, kPeer, bcast, kPeer, ip4("192.0.2.1"), Mac{},
                ip4("192.0.2.1"));
  pending.set(g, pn);
  REQUIRE(core.punt(g));
  core.poll();
  CHECK(core.counters().conflicts == 1);
  CHECK(core.last_conflict().find("192.0.2.1") != std::string::npos);

  // Nobody answers for 192.0.2.3: two requests, then failed; the oldest of
  // three held packets went when the queue (2) was full.
  for (int i = 0; i < 3; i++) REQUIRE(core.hold(packet("192.0.2.3")));
  core.poll();
  CHECK(core.counters().queue_full == 1);
  for (int i = 0; i < 50 && core.counters().failed == 0; i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    core.poll();
  }
  CHECK(core.counters().failed == 1);
  CHECK(core.counters().failed_drops == 2);
  out = drain(tx);
  CHECK(out.size() == 2);  // the two requests (no interface to send ICMP errors by)
  free_all(out);
  bool failed = false;
  for (const auto& n : core.neighbors_json({}))
    if (n["address"] == "192.0.2.3") failed = n["state"] == "failed";
  CHECK(failed);

  // A reload without interface b keeps a's neighbour; removing a static one works.
  InterfacesConfig c = config();
  c.interfaces.pop_back();
  c.neighbors.push_back({"a", IpAddr(*Ip4::parse("192.0.2.9")), kPeer});
  core.configure(c);
  CHECK(core.interfaces()->by_name("b") == nullptr);
  CHECK(core.interfaces()->by_name("a")->id == a->id);
  REQUIRE(core.neighbors().lookup(a->id, AF_INET, Ip4::parse("192.0.2.2")->data(), mac, 2));
  REQUIRE(core.neighbors().lookup(a->id, AF_INET, Ip4::parse("192.0.2.9")->data(), mac, 2));
  core.configure(config());
  CHECK_FALSE(core.neighbors().lookup(a->id, AF_INET, Ip4::parse("192.0.2.9")->data(), mac, 3));
  // max_neighbors is fixed while the service runs.
  c = config();
  c.max_neighbors = 128;
  CHECK_THROWS_WITH(core.configure(c), Catch::Contains("max_neighbors"));
}

TEST_CASE("A worker's NeighborFront follows the shared table: changed MACs, removed neighbours, reused positions", "[neighbors]") {
  test::eal();
  InterfacesCore core("t", nullptr, 0);  // no RCU: a removed neighbour's position is free at once
  InterfacesConfig c = config();
  const Mac other{{0x02, 0, 0, 0, 0, 0x42}};
  c.neighbors.push_back({"a", IpAddr(*Ip4::parse("192.0.2.9")), kPeer});
  core.configure(c);
  const uint16_t a = core.interfaces()->by_name("a")->id;
  auto key = [&](const char* ip) {
    NeighborKey k{};
    k.iface = a;
    k.family = AF_INET;
    std::memcpy(k.addr, Ip4::parse(ip)->data(), 4);
    return k;
  };
  NeighborFront front;
  front.init(&core.neighbors(), 64);
  front.sync();
  uint8_t mac[6];
  const NeighborKey k9 = key("192.0.2.9"), k10 = key("192.0.2.10");
  CHECK_FALSE(front.find(k9, mac, 1));  // not looked up yet
  uint8_t macs[1][6];
  bool found[1];
  core.neighbors().lookup_bulk(&k9, 1, macs, found, 1, &front);
  REQUIRE(found[0]);
  REQUIRE(front.find(k9, mac, 1));
  CHECK(Mac::of(mac) == kPeer);

  // The MAC changes: at the next batch (sync) the front has forgotten the
  // old one; looked up again, the line reads the new one.
  const uint64_t inv = core.neighbors().invalidations();
  c.neighbors.back().mac = other;
  core.configure(c);
  CHECK(core.neighbors().invalidations() > inv);
  front.sync();
  CHECK_FALSE(front.find(k9, mac, 2));
  core.neighbors().lookup_bulk(&k9, 1, macs, found, 2, &front);
  REQUIRE(found[0]);
  REQUIRE(front.find(k9, mac, 2));
  CHECK(Mac::of(mac) == other);
  // Nothing changed: the next batch keeps the line.
  front.sync();
  REQUIRE(front.find(k9, mac, 2));

  // The neighbour goes: the line no longer matches.
  c.neighbors.clear();
  core.configure(c);
  front.sync();
  CHECK_FALSE(front.find(k9, mac, 3));
  // Another takes its position (freed at once here): the old key's line
  // still does not match, the new neighbour is found once looked up.
  c.neighbors.push_back({"a", IpAddr(*Ip4::parse("192.0.2.10")), kPeer});
  core.configure(c);
  front.sync();
  CHECK_FALSE(front.find(k9, mac, 4));
  core.neighbors().lookup_bulk(&k10, 1, macs, found, 4, &front);
  REQUIRE(found[0]);
  REQUIRE(front.find(k10, mac, 4));
  CHECK(Mac::of(mac) == kPeer);
  CHECK_FALSE(front.find(k9, mac, 4));
}

TEST_CASE("A NeighborFront is set-associative: 1024 IPv4 and 512 IPv6 next hops stay in the worker's front", "[neighbors]") {
  test::eal();
  InterfacesCore core("t", nullptr, 0);
  InterfacesConfig c = config();
  c.max_neighbors = 4096;
  auto mac_of = [](unsigned i, uint8_t family) { return Mac{{0x02, family, 0, 0, uint8_t(i >> 8), uint8_t(i)}}; };
  std::vector<NeighborKey> keys;
  c.interfaces[0].addresses.push_back(*Prefix::parse("10.0.0.1/16"));
  c.interfaces[0].addresses.push_back(*Prefix::parse("2001:db8:5::1/64"));
  core.configure(c);
  const uint16_t a = core.interfaces()->by_name("a")->id;
  for (unsigned i = 0; i < 1536; i++) {
    NeighborKey k{};
    k.iface = a;
    if (i < 1024) {
      const Ip4 ip = *Ip4::parse("10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 2));
      k.family = AF_INET;
      std::memcpy(k.addr, ip.bytes.data(), 4);
      c.neighbors.push_back({"a", IpAddr(ip), mac_of(i, AF_INET)});
    } else {
      const Ip6 ip = *Ip6::parse("2001:db8:5::" + std::to_string(i));
      k.family = AF_INET6;
      std::memcpy(k.addr, ip.bytes.data(), 16);
      c.neighbors.push_back({"a", IpAddr(ip), mac_of(i, AF_INET6)});
    }
    keys.push_back(k);
  }
  core.configure(c);

  NeighborFront front;
  front.init(&core.neighbors(), 4096);  // as IpLookup's: 4096 IPv4 ways, 2048 IPv6 ways
  front.sync();
  uint8_t mac[6];
  // An empty way matches nothing, not even 0.0.0.0 or :: on the first interface.
  const uint8_t zero[16] = {};
  CHECK_FALSE(front.find4(a, zero, mac, 1));
  CHECK_FALSE(front.find6(a, zero, mac, 1));

  std::vector<uint8_t[6]> macs(keys.size());
  std::unique_ptr<bool[]> found(new bool[keys.size()]);
  core.neighbors().lookup_bulk(keys.data(), unsigned(keys.size()), macs.data(), found.get(), 1, &front);
  unsigned kept4 = 0, kept6 = 0, wrong = 0;
  for (unsigned i = 0; i < keys.size(); i++) {
    REQUIRE(found[i]);
    if (!front.find(keys[i], mac, 1)) continue;
    (i < 1024 ? kept4 : kept6)++;
    if (Mac::of(mac) != mac_of(i, keys[i].family)) wrong++;
  }
  // Direct-mapped, 4096 lines would keep about 88 % of 1024 keys: four
  // ways per set keep all but the few of sets that drew more than four.
  INFO("IPv4 kept " << kept4 << " of 1024, IPv6 kept " << kept6 << " of 512");
  CHECK(kept4 >= 1014);
  CHECK(kept6 >= 490);
  CHECK(wrong == 0);
  // The same address on another interface is another neighbour.
  CHECK_FALSE(front.find4(uint16_t(a + 1), keys[0].addr, mac, 1));
}

TEST_CASE("Gratuitous ARP and unsolicited NAs announce an interface's addresses: at start, for a new address, for a new MAC",
          "[neighbors]") {
  test::eal();
  boost::asio::io_context io;  // outlives the core: its timer is cancelled on it
  InterfacesCore core("t", nullptr, 0);
  InterfacesConfig c = config();
  core.configure(c);
  const uint16_t a = core.interfaces()->by_name("a")->id, b = core.interfaces()->by_name("b")->id;
  const Mac bmac = *c.interfaces[1].mac;
  // What interface `id` sent, checked as announcements of `mac`: the addresses.
  auto announced = [&](uint16_t id, const Mac& mac) {
    std::set<std::string> out;
    for (const Frame& f : sent(core.tx_ring(id))) {
      CHECK(f.src == mac);
      if (f.arp) {
        // Gratuitous: a broadcast request with our address as sender and target.
        CHECK(f.dst == kBcast);
        CHECK(f.a.op == RTE_ARP_OP_REQUEST);
        CHECK(f.a.sender_mac == mac);
        CHECK(f.a.target_mac.zero());
        CHECK(f.a.sender_ip == f.a.target_ip);
        out.insert(str4(f.a.sender_ip));
      } else {
        // Unsolicited, override, from the address itself to all nodes (RFC 4861 7.2.6).
        CHECK(f.n.type == icmp6::kNeighborAdvert);
        CHECK(f.n.dst == nd::all_nodes());
        CHECK(f.dst == nd::multicast_mac(nd::all_nodes()));
        CHECK(f.n.src == f.n.target);
        CHECK_FALSE(f.n.solicited);
        CHECK(f.n.override_flag);
        CHECK(f.n.router);
        CHECK(f.n.has_lladdr);
        CHECK(f.n.lladdr == mac);
        out.insert(f.n.target.str());
      }
    }
    return out;
  };
  using Set = std::set<std::string>;
  // Configured, not started: nothing yet.
  CHECK(announced(a, kOurs).empty());
  CHECK(core.counters().gratuitous_sent == 0);

  // At start, every interface: each IPv4 address, each IPv6 one and the link-local.
  core.start(io);
  CHECK(announced(a, kOurs) == Set{"192.0.2.1", "2001:db8::1", "fe80::ff:fe00:1"});
  CHECK(announced(b, bmac) == Set{"198.51.100.1", "fe80::ff:fe00:11"});
  CHECK(core.counters().gratuitous_sent == 5);

  // A reload that changes nothing announces nothing.
  core.configure(c);
  CHECK(announced(a, kOurs).empty());
  CHECK(announced(b, bmac).empty());

  // New addresses on a: a announces all its addresses again; b nothing.
  c.interfaces[0].addresses.push_back(*Prefix::parse("2001:db8:1::1/64"));
  c.interfaces[0].addresses.push_back(*Prefix::parse("203.0.113.1/24"));
  core.configure(c);
  CHECK(announced(a, kOurs) == Set{"192.0.2.1", "203.0.113.1", "2001:db8::1", "2001:db8:1::1", "fe80::ff:fe00:1"});
  CHECK(announced(b, bmac).empty());
  CHECK(core.counters().gratuitous_sent == 10);

  // An address removed: nothing to announce.
  c.interfaces[0].addresses.pop_back();
  core.configure(c);
  CHECK(announced(a, kOurs).empty());

  // b's MAC changes: b announces its address and its new link-local with the new MAC.
  const Mac moved{{0x02, 0, 0, 0, 0, 0x12}};
  c.interfaces[1].mac = moved;
  core.configure(c);
  CHECK(announced(b, moved) == Set{"198.51.100.1", "fe80::ff:fe00:12"});
  CHECK(announced(a, kOurs).empty());
  CHECK(core.counters().gratuitous_sent == 12);
  CHECK(core.status()["counters"]["gratuitous_sent"] == 12);
}

TEST_CASE("Neighbour timers: reachable, stale, delay, unicast probes, then reachable again or failed, and unused stale ones go",
          "[neighbors]") {
  test::eal();
  InterfacesCore core("t", nullptr, 0);
  InterfacesConfig c = config();
  c.reachable_time = 0.05;  // reachable for 0.025..0.075 s
  c.delay_first_probe = 0.05;
  c.retrans_time = 0.1;  // probe lasts 0.2 s: time to answer on a loaded machine
  c.ucast_probes = 2;
  c.gc_stale_time = 0.3;
  c.failed_time = 30;
  core.configure(c);
  const uint16_t a = core.interfaces()->by_name("a")->id;
  rte_ring* tx = core.tx_ring(a);
  const Ip6 ours6 = *Ip6::parse("2001:db8::1"), peer6 = *Ip6::parse("2001:db8::2");
  const NeighborKey k4 = key_of(a, IpAddr(*Ip4::parse("192.0.2.2"))), k6 = key_of(a, IpAddr(peer6));
  const std::string v4 = "192.0.2.2", v6 = "2001:db8::2";
  uint64_t tsc = 0;
  auto use = [&](const NeighborKey& k) {  // as a worker forwarding through it
    uint8_t mac[6];
    tsc += 1ull << 24;
    return core.neighbors().lookup(k.iface, k.family, k.addr, mac, tsc);
  };
  auto answer = [&] {
    give(core, a, arp_frame(RTE_ARP_OP_REPLY, kPeer, "192.0.2.2", kOurs, "192.0.2.1"));
    std::vector<uint8_t> na(nd::kNdFrame);
    nd::build_na(na.data(), kPeer, peer6, ours6, kOurs, peer6, true, true, false);
    give(core, a, na);
  };

  // Learned from their requests for our addresses: stale, usable.
  give(core, a, arp_frame(RTE_ARP_OP_REQUEST, kPeer, "192.0.2.2", Mac{}, "192.0.2.1"));
  std::vector<uint8_t> ns(nd::kNdFrame);
  nd::build_ns(ns.data(), kPeer, peer6, ours6, nullptr);
  give(core, a, ns);
  core.poll();
  CHECK(core.counters().learned == 2);
  CHECK(state_of(core, v4) == "stale");
  CHECK(state_of(core, v6) == "stale");
  CHECK((usable(core, k4) && usable(core, k6)));

  // Their answers: reachable; stale after 0.5..1.5 x reachable_time, still usable.
  auto mark = Clk::now();
  answer();
  core.poll();
  CHECK(state_of(core, v4) == "reachable");
  CHECK(state_of(core, v6) == "reachable");
  CHECK((usable(core, k4) && usable(core, k6)));
  CHECK(std::chrono::duration<double>(wait_for(core, v4, "stale") - mark).count() >= 0.025);
  wait_for(core, v6, "stale");
  CHECK(state_of(core, v4) == "stale");
  CHECK(state_of(core, v6) == "stale");
  CHECK((usable(core, k4) && usable(core, k6)));
  CHECK(rte_ring_count(tx) == 0);  // nothing asked so far

  // Used: delay, still usable, nothing sent yet.
  mark = Clk::now();
  REQUIRE(use(k4));
  REQUIRE(use(k6));
  core.poll();
  CHECK(state_of(core, v4) == "delay");
  CHECK(state_of(core, v6) == "delay");
  CHECK((usable(core, k4) && usable(core, k6)));
  CHECK(rte_ring_count(tx) == 0);
  // After delay_first_probe: probe, by unicast to the MAC it has; still usable.
  CHECK(std::chrono::duration<double>(wait_for(core, v4, "probe") - mark).count() >= 0.05);
  wait_for(core, v6, "probe");
  CHECK(state_of(core, v4) == "probe");
  CHECK(state_of(core, v6) == "probe");
  CHECK((usable(core, k4) && usable(core, k6)));
  unsigned arps = 0, nss = 0;
  for (const Frame& f : sent(tx)) {
    CHECK(f.dst == kPeer);
    CHECK(f.src == kOurs);
    if (f.arp) {
      arps++;
      CHECK(f.a.op == RTE_ARP_OP_REQUEST);
      CHECK(f.a.sender_ip == ip4("192.0.2.1"));
      CHECK(f.a.target_ip == ip4("192.0.2.2"));
    } else {
      nss++;
      CHECK(f.n.type == icmp6::kNeighborSolicit);
      CHECK(f.n.dst == peer6);  // the neighbour's address, not its solicited-node group
      CHECK(f.n.src == ours6);
      CHECK(f.n.target == peer6);
      CHECK(f.n.lladdr == kOurs);
    }
  }
  CHECK(arps >= 1);
  CHECK(nss >= 1);
  // The answers: reachable again.
  answer();
  core.poll();
  CHECK(state_of(core, v4) == "reachable");
  CHECK(state_of(core, v6) == "reachable");
  CHECK((usable(core, k4) && usable(core, k6)));
  auto late = drain(tx);  // a second probe, if it went before the answer
  free_all(late);

  // Stale, used, probed, and no answer: failed after ucast_probes unicast
  // probes, and no longer usable.
  wait_for(core, v4, "stale");
  REQUIRE(use(k4));
  core.poll();
  CHECK(state_of(core, v4) == "delay");
  const uint64_t failed = core.counters().failed;
  wait_for(core, v4, "failed");
  CHECK(state_of(core, v4) == "failed");
  CHECK_FALSE(usable(core, k4));
  uint8_t mac[6];
  CHECK_FALSE(core.neighbors().lookup(a, AF_INET, k4.addr, mac, 0));
  CHECK(core.counters().failed == failed + 1);
  unsigned probes = 0;
  for (const Frame& f : sent(tx)) {
    REQUIRE(f.arp);
    CHECK(f.dst == kPeer);
    CHECK(f.a.target_ip == ip4("192.0.2.2"));
    probes++;
  }
  CHECK(probes == 2);

  // A stale neighbour nobody uses goes after gc_stale_time; the failed one stays (failed_time).
  mark = Clk::now();
  const NeighborKey k3 = key_of(a, IpAddr(*Ip4::parse("192.0.2.3")));
  give(core, a, arp_frame(RTE_ARP_OP_REQUEST, kPeer, "192.0.2.3", Mac{}, "192.0.2.1"));
  core.poll();
  CHECK(state_of(core, "192.0.2.3") == "stale");
  CHECK(usable(core, k3));
  CHECK(std::chrono::duration<double>(wait_for(core, "192.0.2.3", "gone") - mark).count() >= 0.3);
  CHECK(state_of(core, "192.0.2.3") == "gone");
  CHECK(rte_hash_lookup(core.neighbors().hash(), &k3) < 0);
  CHECK(state_of(core, v6) == "gone");  // stale since its answer, never used again
  CHECK(state_of(core, v4) == "failed");
  CHECK(rte_ring_count(tx) == 0);
}

TEST_CASE("Requests are limited to max_requests per second: a second's worth at once, the rest later, none fails unasked",
          "[neighbors]") {
  test::eal();
  InterfacesCore core("t", nullptr, 0);
  InterfacesConfig c = config();
  c.max_requests_per_s = 20;
  c.mcast_probes = 1;
  c.retrans_time = 0.05;
  c.failed_time = 30;
  core.configure(c);
  const Interface* a = core.interfaces()->by_name("a");
  rte_ring* tx = core.tx_ring(a->id);
  const PendingSlot pending = pending_slot();
  // 30 packets for 30 unknown neighbours, all at once.
  for (int i = 10; i < 40; i++) {
    rte_mbuf* m = rte_pktmbuf_alloc(test::pool());
    REQUIRE(m);
    std::memset(rte_pktmbuf_append(m, 60), 0, 60);
    m->port = 0xfff0;  // no port: no ICMP errors (they would take tokens too)
    PendingNeighbor pn{};
    const uint32_t dst = ip4(("192.0.2." + std::to_string(i)).c_str());
    std::memcpy(pn.addr, &dst, 4);
    pn.iface = a->id;
    pn.family = AF_INET;
    pending.set(m, pn);
    REQUIRE(core.hold(m));
  }
  const auto t0 = Clk::now();
  core.poll();
  std::set<uint32_t> asked;
  unsigned requests = 0;
  bool within = true, none_unasked = true;
  auto collect = [&] {
    for (const Frame& f : sent(tx)) {
      REQUIRE(f.arp);
      CHECK(f.a.op == RTE_ARP_OP_REQUEST);
      asked.insert(f.a.target_ip);
      requests++;
    }
    // The bucket starts full with a second's worth (20); 20 a second after.
    if (requests > 20 + 20 * since(t0) + 1) within = false;
    if (core.counters().failed > asked.size()) none_unasked = false;
  };
  collect();
  CHECK(requests >= 20);  // the burst, at once
  CHECK(requests <= 21);
  CHECK(core.neighbor_count() == 30);
  while (asked.size() < 30 && since(t0) < 4) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    core.poll();
    collect();
  }
  const double took = since(t0);
  CHECK(within);
  CHECK(none_unasked);
  CHECK(asked.size() == 30);  // everyone asked, in turn
  CHECK(took >= 0.45);        // ten more tokens take half a second
  CHECK(requests == 30);      // once each (mcast_probes 1)
  CHECK(core.counters().requests_sent == 30);
  // Each fails retrans_time after its request.
  for (int i = 0; i < 300 && core.counters().failed < 30; i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    core.poll();
    collect();
  }
  CHECK(none_unasked);
  CHECK(core.counters().failed == 30);
  CHECK(core.counters().failed_drops == 30);
  CHECK(requests == 30);
}

TEST_CASE("A duplicate address probe for one of our addresses is a conflict and teaches nothing, and one for another address nothing",
          "[neighbors]") {
  test::eal();
  InterfacesCore core("t", nullptr, 0);
  core.configure(config());
  const uint16_t a = core.interfaces()->by_name("a")->id;
  const Ip6 ours6 = *Ip6::parse("2001:db8::1");
  const std::vector<uint8_t> probe = dad_probe(kPeer, ours6);
  nd::Nd n;
  REQUIRE(nd::parse_nd(probe.data(), probe.size(), n) == nd::Verdict::Ok);
  CHECK(n.src == Ip6{});
  CHECK(n.dst == nd::solicited_node(ours6));
  CHECK_FALSE(n.has_lladdr);

  give(core, a, probe);
  core.poll();
  CHECK(core.counters().nd_in == 1);
  CHECK(core.counters().conflicts == 1);
  CHECK(core.last_conflict().find("2001:db8::1 on a") == 0);
  CHECK(core.status()["counters"]["conflicts"] == 1);
  CHECK(core.neighbor_count() == 0);
  CHECK(core.counters().learned == 0);
  // Its link-local address is the interface's too.
  give(core, a, dad_probe(kPeer, nd::link_local_of(kOurs)));
  core.poll();
  CHECK(core.counters().conflicts == 2);
  CHECK(core.last_conflict().find("fe80::ff:fe00:1 on a") == 0);
  // Someone else's address: nothing learned, nothing counted but the message.
  give(core, a, dad_probe(kPeer, *Ip6::parse("2001:db8::99")));
  core.poll();
  CHECK(core.counters().nd_in == 3);
  CHECK(core.counters().conflicts == 2);
  CHECK(core.counters().ignored == 0);
  CHECK(core.neighbor_count() == 0);
  // ArpNd answers on the worker: the service sends nothing.
  CHECK(rte_ring_count(core.tx_ring(a)) == 0);
}

namespace {

const std::string kNdGraph = R"(
ports:
  p0: net_null0
services:
  ifaces:
    class: Interfaces
    interfaces:
      - {name: a, port: p0, mac: "02:00:00:00:00:01", addresses: [192.0.2.1/24, "2001:db8::1/64"]}
elements:
  nd: {class: ArpNd, interfaces: ifaces, interface: a}
  sent: Capture
  other: Capture
connections:
  - nd[out] -> sent
  - nd[other] -> other
)";

}  // namespace

TEST_CASE("ArpNd defends our addresses against duplicate address probes (NA to all nodes, S=0, O=1) and answers a solicitation (S=1)",
          "[neighbors]") {
  test::eal();
  boost::asio::io_context io;  // outlives the harness: its services' timers are stopped on it
  GraphHarness h(kNdGraph, test::loader(), test::pool());
  const Ip6 ours6 = *Ip6::parse("2001:db8::1"), peer6 = *Ip6::parse("2001:db8::2");
  auto push = [&](const std::vector<uint8_t>& f) {
    Batch b;
    b.add(test::packet(f));
    h.push("nd", b);
  };

  // A probe for our address: defended (RFC 4862 5.4.3, RFC 4861 7.2.4).
  push(dad_probe(kPeer, ours6));
  auto got = parsed(h.take("sent"));
  REQUIRE(got.size() == 1);
  REQUIRE_FALSE(got[0].arp);
  const nd::Nd& d = got[0].n;
  CHECK(d.type == icmp6::kNeighborAdvert);
  CHECK(got[0].dst == nd::multicast_mac(nd::all_nodes()));
  CHECK(got[0].src == kOurs);
  CHECK(d.dst == nd::all_nodes());
  CHECK(d.src == ours6);
  CHECK(d.target == ours6);
  CHECK_FALSE(d.solicited);
  CHECK(d.override_flag);
  CHECK(d.has_lladdr);
  CHECK(d.lladdr == kOurs);

  // A probe for an address not ours: not answered.
  push(dad_probe(kPeer, *Ip6::parse("2001:db8::99")));
  CHECK(h.take("sent").empty());
  CHECK(h.drops("nd", "not_ours") == 1);

  // A solicitation: a solicited advertisement, to the asker.
  std::vector<uint8_t> ns(nd::kNdFrame);
  nd::build_ns(ns.data(), kPeer, peer6, ours6, nullptr);
  push(ns);
  got = parsed(h.take("sent"));
  REQUIRE(got.size() == 1);
  REQUIRE_FALSE(got[0].arp);
  const nd::Nd& s = got[0].n;
  CHECK(s.type == icmp6::kNeighborAdvert);
  CHECK(got[0].dst == kPeer);
  CHECK(s.dst == peer6);
  CHECK(s.target == ours6);
  CHECK(s.solicited);
  CHECK(s.override_flag);
  CHECK(s.lladdr == kOurs);

  // The service, running, counts the probe for our address as a conflict
  // and learns the solicitor only.
  h.start_services(io);
  Service& svc = h.service("ifaces");
  for (int i = 0; i < 300 && svc.status()["counters"]["nd_in"] != 2; i++) io.run_for(std::chrono::milliseconds(10));
  const auto st = svc.status();
  CHECK(st["counters"]["nd_in"] == 2);
  CHECK(st["counters"]["conflicts"] == 1);
  CHECK(st["last_conflict"].get<std::string>().find("2001:db8::1 on a") == 0);
  CHECK(st["neighbors"] == 1);
  CHECK(st["counters"]["learned"] == 1);
}

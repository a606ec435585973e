// ARP and Neighbour Discovery (tables/arp_nd.hpp) and the Interfaces
// service's neighbour state machine (control/interfaces_core.hpp), on DPDK.
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <catch2/catch.hpp>
#include <chrono>
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

// The Interfaces service's control thread wakes when a worker holds or
// punts a packet, instead of waiting for its timer: with the timer set to
// 10 s, a held packet's ARP request, and its release once the reply is
// punted, come out at once.
#include <rte_arp.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "control/interfaces_core.hpp"
#include "tables/arp_nd.hpp"
#include "test_env.hpp"

using namespace weft;
using namespace weft::route;
using Steady = std::chrono::steady_clock;

// GCC 12 sees short-string assignments below as reading uninitialized bytes
// (a known false positive of -Wmaybe-uninitialized at -O3; clang has no such warning).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace {

const Mac kOurs{{0x02, 0, 0, 0, 0, 0x31}};
const Mac kPeer{{0x02, 0, 0, 0, 0, 0x32}};

// The next frame on `r`, or null after `wait`.
rte_mbuf* next_on(rte_ring* r, std::chrono::milliseconds wait) {
  const auto until = Steady::now() + wait;
  void* m = nullptr;
  while (rte_ring_dequeue(r, &m) != 0) {
    if (Steady::now() > until) return nullptr;
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  return static_cast<rte_mbuf*>(m);
}

}  // namespace

TEST_CASE("The Interfaces control thread wakes when a worker holds or punts a packet, not at its timer", "[neighbors]") {
  test::eal();
  InterfacesCore core("wake", nullptr, 0);
  InterfacesConfig c;
  InterfacesConfig::Iface i;
  i.name = "a";
  i.port = "p0";
  i.mac = kOurs;
  i.addresses = {*Prefix::parse("192.0.2.1/24")};
  c.interfaces.push_back(i);
  c.poll_period = 10;  // the timer never fires during the test
  core.configure(c);
  const uint16_t a = core.interfaces()->by_name("a")->id;
  rte_ring* tx = core.tx_ring(a);
  rte_mempool* pool = test::pool();

  boost::asio::io_context io;
  auto guard = boost::asio::make_work_guard(io);
  core.start(io);  // announces a (gratuitous ARP) from this thread
  std::thread control([&] { io.run(); });
  while (rte_mbuf* m = next_on(tx, std::chrono::milliseconds(100))) rte_pktmbuf_free(m);

  const Ip4 peer = *Ip4::parse("192.0.2.9");
  uint32_t peer_be;  // network order, as nd::Arp holds addresses
  std::memcpy(&peer_be, peer.data(), 4);
  const auto t0 = Steady::now();
  // A worker holds the first packet to an unknown next hop (as IpLookup does).
  rte_mbuf* held = rte_pktmbuf_alloc(pool);
  REQUIRE(held);
  REQUIRE(rte_pktmbuf_append(held, 64));
  std::memset(rte_pktmbuf_mtod(held, uint8_t*), 0, 64);
  rte_pktmbuf_mtod(held, rte_ether_hdr*)->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
  auto* ip = rte_pktmbuf_mtod_offset(held, rte_ipv4_hdr*, sizeof(rte_ether_hdr));
  ip->version_ihl = 0x45;
  ip->total_length = rte_cpu_to_be_16(50);
  ip->time_to_live = 63;
  ip->next_proto_id = IPPROTO_UDP;
  ip->src_addr = rte_cpu_to_be_32(0xc6336402);  // 198.51.100.2, behind another interface
  std::memcpy(&ip->dst_addr, peer.data(), 4);
  ip->hdr_checksum = rte_ipv4_cksum(ip);
  held->port = 0xfff0;
  PendingNeighbor p{};
  std::memcpy(p.addr, peer.data(), 4);
  p.iface = a;
  p.family = AF_INET;
  pending_slot().set(held, p);
  REQUIRE(core.hold(held));
  // Its ARP request, well before the timer's 10 s.
  rte_mbuf* req = next_on(tx, std::chrono::milliseconds(2000));
  REQUIRE(req);
  nd::Arp arp;
  REQUIRE(nd::parse_arp(rte_pktmbuf_mtod(req, uint8_t*), req->data_len, arp) == nd::Verdict::Ok);
  CHECK(arp.op == RTE_ARP_OP_REQUEST);
  CHECK(arp.target_ip == peer_be);
  rte_pktmbuf_free(req);

  // The peer answers; ArpNd punts the reply: the held packet is released.
  rte_mbuf* reply = rte_pktmbuf_alloc(pool);
  REQUIRE(reply);
  REQUIRE(rte_pktmbuf_append(reply, nd::kArpFrame));
  nd::build_arp(rte_pktmbuf_mtod(reply, uint8_t*), RTE_ARP_OP_REPLY, kPeer, kOurs, kPeer, peer_be, kOurs,
                arp.sender_ip);
  PendingNeighbor r{};
  r.iface = a;
  pending_slot().set(reply, r);
  REQUIRE(core.punt(reply));
  rte_mbuf* out = next_on(tx, std::chrono::milliseconds(2000));
  const double ms = std::chrono::duration<double, std::milli>(Steady::now() - t0).count();
  CHECK(out == held);
  if (out) {
    CHECK(Mac::of(rte_pktmbuf_mtod(out, rte_ether_hdr*)->dst_addr.addr_bytes) == kPeer);
    rte_pktmbuf_free(out);
  }
  boost::asio::post(io, [&] { core.stop(); });
  guard.reset();
  control.join();
  INFO("hold -> request -> reply -> release in " << ms << " ms, the timer at 10 s");
  CHECK(ms < 5000);
  CHECK(core.counters().released == 1);
  CHECK(core.ring_counters().wakeups.load() >= 2);  // the hold, the punt
}

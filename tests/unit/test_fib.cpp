// The FIB: Lpm4 (rte_lpm tables written by our own rule index) against a
// brute-force reference and against rte_lpm_add; Lpm6Pair; FibControl fed
// FPM frames over a real TCP connection on loopback (an io_context run by the
// test); a reload through weft::Runtime keeping the service and its
// connection while packets are routed.
//
// FPM frames are built with libmnl's message builder, independent of the
// decoder under test.
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/nexthop.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <rte_eth_ring.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_lpm.h>
#include <rte_lpm6.h>
#include <rte_ring.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <thread>

#include "control/fib_control.hpp"
#include "control/control_api.hpp"
#include "tables/fib_lookup.hpp"
#include "tables/lpm4.hpp"
#include "tables/lpm6.hpp"
#include "runtime/runtime.hpp"
#include "fpm_zebra.hpp"
#include "test_env.hpp"

using namespace weft;
using namespace weft::route;
using namespace std::chrono_literals;
using namespace weft::test;

namespace {

// Runs the io_context until `cond` holds; false after `limit`.
bool pump(boost::asio::io_context& io, const std::function<bool()>& cond, std::chrono::milliseconds limit = 5000ms) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    if (io.stopped()) io.restart();
    io.run_for(2ms);
  }
  return true;
}

FibSizes small_sizes() {
  FibSizes s;
  s.max_routes = 4096;
  s.tbl8 = 256;
  s.max_routes6 = 1024;
  s.tbl8_6 = 256;
  s.max_nexthops = 256;
  s.max_tables = 4;
  return s;
}

Mac mac(const char* text) {
  const auto m = Mac::parse(text);
  REQUIRE(m);
  return *m;
}

std::string mac_str(const uint8_t* m) { return Mac::of(m).str(); }

FibConfig test_config() {
  FibConfig c;
  c.listen = "127.0.0.1:0";
  c.grace_s = 2;
  c.quiet_s = 0.25;
  c.sizes = small_sizes();
  c.interfaces = {{7, "", "p1", mac("02:00:00:00:01:07")}, {8, "", "p2", mac("02:00:00:00:01:08")}};
  auto nb = [](const char* ip, const char* m) { return FibConfig::Neighbor{*IpAddr::parse(ip), mac(m)}; };
  c.neighbors = {nb("192.0.2.1", "02:00:00:00:00:01"), nb("192.0.2.2", "02:00:00:00:00:02"),
                 nb("192.0.2.3", "02:00:00:00:00:03"), nb("2001:db8::1", "02:00:00:00:06:01")};
  return c;
}

// What the FIB forwards `addr` with in `table` (nullptr: no route), read the
// way workers read it: DPDK's own lookup on the published tables.
const Entry* lookup(FibControl& s, uint32_t table, const char* addr) {
  const FibTable* t = s.fib().table(table);
  if (std::strchr(addr, ':')) {
    uint8_t a[16];
    inet_pton(AF_INET6, addr, a);
    const rte_lpm6* l = t->v6.load();
    uint32_t nh;
    if (l && rte_lpm6_lookup(l, a, &nh) == 0) return &s.fib().entries()[nh];
    uint32_t d = t->v6_default.load();
    return d == Lpm6Pair::kNone ? nullptr : &s.fib().entries()[d];
  }
  uint32_t a;
  inet_pton(AF_INET, addr, &a);
  const rte_lpm* l = t->v4.load();
  uint32_t nh;
  if (!l || rte_lpm_lookup(l, ntohl(a), &nh) != 0) return nullptr;
  return &s.fib().entries()[nh];
}

// "p1 02:00:00:00:00:01" for each member of a forwarding entry.
std::vector<std::string> members(FibControl& s, const Entry* e) {
  std::vector<std::string> v;
  if (!e) return v;
  for (unsigned i = 0; i < e->n_members; i++) {
    const Member& m = e->members[i];
    std::string out = m.iface == kNoIface ? "-" : s.fib().iface_names()[m.iface];
    v.push_back(out + " " + (m.has_mac ? mac_str(m.dst_mac) : m.direct ? "direct" : "?"));
  }
  return v;
}

std::vector<std::string> route_list(FibControl& s) {
  std::vector<std::string> v;
  const nlohmann::json all = s.routes(nlohmann::json::object());
  for (const auto& r : all["routes"])
    v.push_back(std::to_string(r["table"].get<unsigned>()) + " " + r["prefix"].get<std::string>() + " " +
                r["type"].get<std::string>());
  return v;
}

struct Server {
  boost::asio::io_context io;
  std::shared_ptr<FibControl> svc = std::make_shared<FibControl>();
  explicit Server(FibConfig c = test_config()) {
    test::eal();
    svc->configure(c);
    svc->start(io);
    REQUIRE(svc->port() != 0);
  }
  bool wait(const std::function<bool()>& cond, std::chrono::milliseconds limit = 5000ms) {
    return pump(io, cond, limit);
  }
  bool has(uint32_t table, const char* addr) { return lookup(*svc, table, addr) != nullptr; }
};

// --- a reference LPM ---------------------------------------------------------

struct RefLpm {
  std::map<std::pair<uint32_t, uint8_t>, uint32_t> rules;
  static uint32_t mask(uint8_t d) { return d ? ~0u << (32 - d) : 0; }
  bool lookup(uint32_t ip, uint32_t& nh) const {
    for (int d = 32; d >= 0; d--) {
      auto it = rules.find({ip & mask(static_cast<uint8_t>(d)), static_cast<uint8_t>(d)});
      if (it != rules.end()) {
        nh = it->second;
        return true;
      }
    }
    return false;
  }
};

}  // namespace

// ---------------------------------------------------------------------------

TEST_CASE("Lpm4: random adds, replaces and deletes match a reference LPM, through DPDK's lookups", "[fib][lpm]") {
  test::eal();
  Lpm4 lpm("wtest4a", SOCKET_ID_ANY, 20000, 4096, nullptr);
  RefLpm ref;
  std::mt19937 rng(424242);
  // Prefixes clustered in a few /16s so that they nest and share tbl8 groups.
  auto random_prefix = [&] {
    static const uint32_t bases[] = {0x0a000000, 0x0a010000, 0xc0a80000, 0xc6336400};
    uint32_t ip = bases[rng() % 4] | (rng() & 0xffff);
    uint8_t depth = static_cast<uint8_t>(rng() % 4 == 0 ? 8 + rng() % 17 : 20 + rng() % 13);
    if (rng() % 500 == 0) depth = 0;
    return std::make_pair(ip & RefLpm::mask(depth), depth);
  };
  auto check = [&](int round) {
    std::vector<uint32_t> probes;
    for (const auto& [k, nh] : ref.rules) {
      probes.push_back(k.first);
      probes.push_back(k.first | (~RefLpm::mask(k.second) & rng()));
    }
    for (int i = 0; i < 2000; i++) probes.push_back(rng());
    std::vector<uint32_t> bulk(probes.size());
    rte_lpm_lookup_bulk(lpm.lpm(), probes.data(), bulk.data(), static_cast<unsigned>(probes.size()));
    size_t bad = 0;
    for (size_t i = 0; i < probes.size(); i++) {
      uint32_t want, got = 0;
      bool w = ref.lookup(probes[i], want);
      bool g = rte_lpm_lookup(lpm.lpm(), probes[i], &got) == 0;
      bool gb = bulk[i] & RTE_LPM_LOOKUP_SUCCESS;
      if (w != g || (w && want != got) || gb != g || (gb && (bulk[i] & 0xffffff) != got)) bad++;
    }
    INFO("round " << round << ": " << ref.rules.size() << " rules");
    REQUIRE(bad == 0);
  };
  for (int round = 0; round < 12; round++) {
    for (int i = 0; i < 1500; i++) {
      auto [ip, d] = random_prefix();
      uint32_t nh = rng() % 1000;
      if (rng() % 3 == 0 && !ref.rules.empty()) {
        auto it = ref.rules.begin();
        std::advance(it, static_cast<long>(rng() % ref.rules.size()));
        REQUIRE(lpm.remove(it->first.first, it->first.second) == 0);
        ref.rules.erase(it);
      } else {
        REQUIRE(lpm.add(ip, d, nh) == 0);
        ref.rules[{ip, d}] = nh;
      }
    }
    check(round);
  }
  CHECK(lpm.rules() == ref.rules.size());
  // Everything gone: every tbl8 group back, every lookup a miss.
  for (const auto& [k, nh] : ref.rules) REQUIRE(lpm.remove(k.first, k.second) == 0);
  ref.rules.clear();
  check(99);
  CHECK(lpm.tbl8_used() == 0);
  CHECK(lpm.remove(0x0a000000, 8) == -ENOENT);
}

TEST_CASE("Lpm4: the same tables as rte_lpm_add for the same rules", "[fib][lpm]") {
  test::eal();
  Lpm4 ours("wtest4b", SOCKET_ID_ANY, 5000, 4096, nullptr);
  rte_lpm_config cfg{5000, 4096, 0};
  rte_lpm* theirs = rte_lpm_create("wtest4c", SOCKET_ID_ANY, &cfg);
  REQUIRE(theirs);
  std::mt19937 rng(7);
  for (int i = 0; i < 3000; i++) {
    uint32_t ip = 0x0a000000 | (rng() & 0x00ffffff);
    uint8_t d = static_cast<uint8_t>(1 + rng() % 32);
    uint32_t nh = rng() % 50;
    REQUIRE(ours.add(ip, d, nh) == 0);
    REQUIRE(rte_lpm_add(theirs, ip, d, nh) == 0);
    if (i % 4 == 3) {
      REQUIRE(ours.remove(ip, d) == 0);
      REQUIRE(rte_lpm_delete(theirs, ip, d) == 0);
    }
  }
  // Same answer for every /32 in 10.0.0.0/16 and random addresses.
  size_t diff = 0;
  for (uint32_t a = 0x0a000000; a < 0x0a010000; a++) {
    uint32_t x = 0, y = 0;
    int rx = rte_lpm_lookup(ours.lpm(), a, &x), ry = rte_lpm_lookup(theirs, a, &y);
    if (rx != ry || x != y) diff++;
  }
  for (int i = 0; i < 100000; i++) {
    uint32_t a = 0x0a000000 | (rng() & 0x00ffffff), x = 0, y = 0;
    if (rte_lpm_lookup(ours.lpm(), a, &x) != rte_lpm_lookup(theirs, a, &y) || x != y) diff++;
  }
  CHECK(diff == 0);
  rte_lpm_free(theirs);
}

TEST_CASE("Lpm6Pair: changes appear on commit, the default route at once, both copies stay equal", "[fib][lpm]") {
  test::eal();
  std::atomic<const rte_lpm6*> published{nullptr};
  std::atomic<uint32_t> dflt{Lpm6Pair::kNone};
  Lpm6Pair pair("wtest6a", SOCKET_ID_ANY, 1000, 256, nullptr, &published, &dflt);
  uint8_t a[16], b[16], zero[16] = {};
  inet_pton(AF_INET6, "2001:db8:1::", a);
  inet_pton(AF_INET6, "2001:db8:1:2::5", b);
  REQUIRE(pair.add(a, 48, 10) == 0);
  CHECK(published.load() == nullptr);  // not before the first commit
  pair.commit();
  const rte_lpm6* first = published.load();
  REQUIRE(first);
  uint32_t nh = 0;
  REQUIRE(rte_lpm6_lookup(first, b, &nh) == 0);
  CHECK(nh == 10);
  REQUIRE(pair.add(b, 64, 11) == 0);
  REQUIRE(pair.add(zero, 0, 99) == 0);
  CHECK(dflt.load() == 99);
  pair.commit();
  CHECK(published.load() != first);  // the other copy
  REQUIRE(rte_lpm6_lookup(published.load(), b, &nh) == 0);
  CHECK(nh == 11);
  REQUIRE(pair.remove(b, 64) == 0);
  pair.commit();
  CHECK(published.load() == first);
  REQUIRE(rte_lpm6_lookup(first, b, &nh) == 0);
  CHECK(nh == 10);  // back to the /48 in this copy too
  CHECK(pair.remove(b, 64) == -ENOENT);
  CHECK(pair.commits() == 3);
}

TEST_CASE("FibControl: routes over FPM on TCP, visible in `routes` and in the LPM lookups", "[fib]") {
  Server s;
  Zebra z(s.svc->port());
  z.send(frame({zroute(true, "10.1.0.0/16", {{"192.0.2.1", 7}}), zroute(true, "10.2.0.0/16", {{"192.0.2.2", 8}}),
                zroute(true, "10.3.0.0/24", {{"192.0.2.1", 7}, {"192.0.2.2", 8}, {"192.0.2.3", 7}}),
                zroute(true, "203.0.113.0/24", {}, 254, RTN_BLACKHOLE),
                zroute(true, "198.51.100.0/24", {}, 254, RTN_UNREACHABLE),
                zroute(true, "198.51.101.0/24", {}, 254, RTN_PROHIBIT),
                zroute(true, "10.9.0.0/16", {{"192.0.2.99", 7}}),   // no MAC for this gateway
                zroute(true, "10.8.0.0/16", {{"192.0.2.1", 42}}),   // interface not configured
                zroute(true, "10.7.0.0/16", {{nullptr, 8}}),        // directly connected
                zroute(true, "2001:db8:1::/48", {{"2001:db8::1", 7}})}));
  REQUIRE(s.wait([&] { return s.svc->rib().resolved().size() == 10; }));
  CHECK(s.svc->connected());

  // routerctl's view.
  auto rs = s.svc->routes({{"prefix", "10.0.0.0/8"}})["routes"];
  REQUIRE(rs.size() == 6);
  CHECK(rs[0]["prefix"] == "10.1.0.0/16");
  CHECK(rs[0]["table"] == 254);
  CHECK(rs[0]["type"] == "unicast");
  CHECK(rs[0]["nexthops"] == nlohmann::json::array({"via 192.0.2.1 if 7"}));
  CHECK(rs[0]["installed"] == true);
  CHECK(rs[0]["forwarding"][0]["output"] == "p1");
  CHECK(rs[0]["forwarding"][0]["dst_mac"] == "02:00:00:00:00:01");
  CHECK(rs[0]["forwarding"][0]["src_mac"] == "02:00:00:00:01:07");
  CHECK(route_list(*s.svc).size() == 10);
  CHECK(s.svc->routes({{"prefix", "2001:db8::/32"}})["routes"].size() == 1);
  CHECK_THROWS_AS(s.svc->routes({{"prefix", "nonsense"}}), std::invalid_argument);
  // `lookup`: the route an address takes.
  CHECK(s.svc->lookup({{"address", "10.3.0.200"}})["route"]["prefix"] == "10.3.0.0/24");
  CHECK(s.svc->lookup({{"address", "10.1.255.1"}})["route"]["forwarding"][0]["output"] == "p1");
  CHECK(s.svc->lookup({{"address", "2001:db8:1:2::3"}})["route"]["prefix"] == "2001:db8:1::/48");
  CHECK(s.svc->lookup({{"address", "11.0.0.1"}})["route"].is_null());
  CHECK(s.svc->lookup({{"address", "10.3.0.1"}, {"table", 1001}})["route"].is_null());
  CHECK_THROWS_AS(s.svc->lookup({{"address", "10.0.0.0/8"}}), std::invalid_argument);

  // The data path's view.
  CHECK(members(*s.svc, lookup(*s.svc, 254, "10.1.2.3")) == std::vector<std::string>{"p1 02:00:00:00:00:01"});
  CHECK(members(*s.svc, lookup(*s.svc, 254, "10.2.255.255")) == std::vector<std::string>{"p2 02:00:00:00:00:02"});
  const Entry* ecmp = lookup(*s.svc, 254, "10.3.0.77");
  REQUIRE(ecmp);
  CHECK(members(*s.svc, ecmp) ==
        std::vector<std::string>{"p1 02:00:00:00:00:01", "p2 02:00:00:00:00:02", "p1 02:00:00:00:00:03"});
  CHECK(ecmp->n_buckets == 3);
  // Flows spread over the three members, each flow always on one.
  std::set<const Member*> used;
  for (uint32_t port = 0; port < 64; port++) {
    uint8_t src[4] = {10, 0, 0, 1}, dst[4] = {10, 3, 0, 77};
    uint32_t h = flow_hash4(src, dst, htonl(port << 16 | 80), IPPROTO_TCP);
    used.insert(&pick_member(*ecmp, h));
    CHECK(&pick_member(*ecmp, h) == &pick_member(*ecmp, flow_hash4(src, dst, htonl(port << 16 | 80), IPPROTO_TCP)));
  }
  CHECK(used.size() == 3);
  CHECK(lookup(*s.svc, 254, "203.0.113.9")->action == Action::Blackhole);
  CHECK(lookup(*s.svc, 254, "198.51.100.1")->action == Action::Unreachable);
  CHECK(lookup(*s.svc, 254, "198.51.101.1")->action == Action::Prohibit);
  CHECK(members(*s.svc, lookup(*s.svc, 254, "10.9.0.1")) == std::vector<std::string>{"p1 ?"});
  CHECK(members(*s.svc, lookup(*s.svc, 254, "10.8.0.1")) == std::vector<std::string>{"- 02:00:00:00:00:01"});
  CHECK(members(*s.svc, lookup(*s.svc, 254, "10.7.0.1")) == std::vector<std::string>{"p2 direct"});
  CHECK(members(*s.svc, lookup(*s.svc, 254, "2001:db8:1:ffff::1")) == std::vector<std::string>{"p1 02:00:00:00:06:01"});
  CHECK(lookup(*s.svc, 254, "11.0.0.1") == nullptr);
  CHECK(lookup(*s.svc, 254, "2001:db8:2::1") == nullptr);
  // Routes sharing next hops share entries.
  CHECK(lookup(*s.svc, 254, "10.1.0.1") != lookup(*s.svc, 254, "10.2.0.1"));
  z.send(frame({zroute(true, "10.4.0.0/16", {{"192.0.2.1", 7}})}));
  REQUIRE(s.wait([&] { return s.has(254, "10.4.0.1"); }));
  CHECK(lookup(*s.svc, 254, "10.4.0.1") == lookup(*s.svc, 254, "10.1.0.1"));

  auto st = s.svc->status();
  CHECK(st["state"] == "connected");
  CHECK(st["fpm"]["messages_by_type"]["new_route"] == 11);
  CHECK(st["fib"]["routes_ipv4"] == 10);
  CHECK(st["fib"]["routes_ipv6"] == 1);
  CHECK(st["resyncs"] == 1);
}

TEST_CASE("FibControl: link-local routes from zebra (fe80::/64 per interface, 169.254.0.0/16) are ignored and counted",
          "[fib]") {
  Server s;
  Zebra z(s.svc->port());
  // zebra's connected fe80::/64 of two interfaces, a route inside fe80::/10,
  // IPv4 link-local, and routes next to them that are not link-local.
  z.send(frame({zroute(true, "fe80::/64", {{nullptr, 7}}, 254, RTN_UNICAST, 0, RTPROT_KERNEL),
                zroute(true, "fe80::/64", {{nullptr, 8}}, 254, RTN_UNICAST, 0, RTPROT_KERNEL),
                zroute(true, "febf:1::/32", {{nullptr, 8}}),
                zroute(true, "169.254.0.0/16", {{nullptr, 7}}),
                zroute(true, "169.254.7.0/24", {{"192.0.2.1", 7}}),
                zroute(true, "fec0::/10", {{nullptr, 8}}),             // just past fe80::/10
                zroute(true, "169.255.0.0/16", {{"192.0.2.1", 7}}),     // just past 169.254.0.0/16
                zroute(true, "2001:db8:1::/48", {{"2001:db8::1", 7}})}));
  REQUIRE(s.wait([&] { return s.svc->rib().resolved().size() == 3; }));
  std::vector<std::string> listed = route_list(*s.svc);
  std::sort(listed.begin(), listed.end());
  CHECK(listed == std::vector<std::string>{"254 169.255.0.0/16 unicast", "254 2001:db8:1::/48 unicast",
                                           "254 fec0::/10 unicast"});
  CHECK(lookup(*s.svc, 254, "fe80::1") == nullptr);
  CHECK(lookup(*s.svc, 254, "169.254.7.1") == nullptr);
  CHECK(lookup(*s.svc, 254, "fec0::1") != nullptr);
  auto st = s.svc->status();
  CHECK(st["fib"]["ignored"]["link_local"] == 5);
  CHECK(st["fib"]["refused"]["total"] == 0);
  CHECK(s.svc->ignored_link_local() == 5);
  // Their deletes are ignored too; the other routes stay.
  z.send(frame({zroute(false, "fe80::/64", {{nullptr, 7}}), zroute(true, "10.1.0.0/16", {{"192.0.2.1", 7}})}));
  REQUIRE(s.wait([&] { return s.has(254, "10.1.0.1"); }));
  CHECK(s.svc->ignored_link_local() == 6);
  CHECK(s.svc->rib().resolved().size() == 4);
}

TEST_CASE("FibControl: delete, DEL+NEW in one frame, nexthop groups, tables kept apart", "[fib]") {
  Server s;
  Zebra z(s.svc->port());
  z.send(frame({zroute(true, "10.1.0.0/16", {{"192.0.2.1", 7}}), zroute(true, "10.1.0.0/16", {{"192.0.2.2", 8}}, 1001),
                zroute(true, "10.5.0.0/16", {{"192.0.2.1", 7}}, 1001),
                zroute(true, "2001:db8:7::/48", {{"2001:db8::1", 7}}, 1001)}));
  REQUIRE(s.wait([&] { return s.svc->rib().resolved().size() == 4; }));
  // Same prefix, two tables, two answers; a table only has its own routes.
  CHECK(members(*s.svc, lookup(*s.svc, 254, "10.1.0.1")) == std::vector<std::string>{"p1 02:00:00:00:00:01"});
  CHECK(members(*s.svc, lookup(*s.svc, 1001, "10.1.0.1")) == std::vector<std::string>{"p2 02:00:00:00:00:02"});
  CHECK(lookup(*s.svc, 254, "10.5.0.1") == nullptr);
  CHECK(lookup(*s.svc, 254, "2001:db8:7::1") == nullptr);
  CHECK(lookup(*s.svc, 1001, "2001:db8:7::1") != nullptr);
  CHECK(s.svc->routes({{"table", 1001}})["routes"].size() == 3);

  // zebra's replace: DEL and NEW in one frame; the new one wins.
  z.send(frame({zroute(false, "10.1.0.0/16"), zroute(true, "10.1.0.0/16", {{"192.0.2.3", 8}})}));
  REQUIRE(s.wait([&] {
    return members(*s.svc, lookup(*s.svc, 254, "10.1.0.1")) == std::vector<std::string>{"p2 02:00:00:00:00:03"};
  }));
  CHECK(s.svc->status()["fpm"]["messages_by_type"]["del_route"] == 1);

  // Delete.
  z.send(frame({zroute(false, "10.1.0.0/16", {}, 1001), zroute(false, "2001:db8:7::/48", {}, 1001)}));
  REQUIRE(s.wait([&] { return !s.has(1001, "10.1.0.1") && !s.has(1001, "2001:db8:7::1"); }));
  CHECK(s.has(254, "10.1.0.1"));
  CHECK(s.has(1001, "10.5.0.1"));

  // Nexthop objects (zebra's default): a group, then a member moves.
  z.send(frame({nexthop(10, "192.0.2.1", 7), nexthop(11, "192.0.2.2", 8)}));
  Nl grp(RTM_NEWNEXTHOP);
  auto* nhm = static_cast<nhmsg*>(mnl_nlmsg_put_extra_header(grp.nlh, sizeof(nhmsg)));
  nhm->nh_family = AF_UNSPEC;
  mnl_attr_put_u32(grp.nlh, NHA_ID, 20);
  nexthop_grp g[2] = {{10, 0, 0, 0}, {11, 0, 0, 0}};
  mnl_attr_put(grp.nlh, NHA_GROUP, sizeof g, g);
  z.send(frame({grp.bytes(), zroute(true, "10.20.0.0/16", {}, 254, RTN_UNICAST, 20)}));
  REQUIRE(s.wait([&] { return s.has(254, "10.20.0.1"); }));
  CHECK(members(*s.svc, lookup(*s.svc, 254, "10.20.0.1")) ==
        std::vector<std::string>{"p1 02:00:00:00:00:01", "p2 02:00:00:00:00:02"});
  z.send(frame({nexthop(11, "192.0.2.3", 8)}));
  REQUIRE(s.wait([&] {
    return members(*s.svc, lookup(*s.svc, 254, "10.20.0.1")) ==
           std::vector<std::string>{"p1 02:00:00:00:00:01", "p2 02:00:00:00:00:03"};
  }));
}

TEST_CASE("FibControl: a reconnect replays, stale routes go after `quiet`, the rest never disappear", "[fib][resync]") {
  Server s;
  auto replay = std::vector<std::vector<uint8_t>>{zroute(true, "10.1.0.0/16", {{"192.0.2.1", 7}}),
                                                  zroute(true, "10.2.0.0/16", {{"192.0.2.1", 7}}),
                                                  zroute(true, "10.3.0.0/16", {{"192.0.2.1", 7}}),
                                                  zroute(true, "2001:db8:1::/48", {{"2001:db8::1", 7}}),
                                                  zroute(true, "2001:db8:2::/48", {{"2001:db8::1", 7}})};
  {
    Zebra z(s.svc->port());
    z.send(frame(replay));
    REQUIRE(s.wait([&] { return s.svc->rib().resolved().size() == 5; }));
  }  // zebra goes away: nothing changes
  REQUIRE(s.wait([&] { return !s.svc->connected(); }));
  s.io.run_for(300ms);
  CHECK(route_list(*s.svc).size() == 5);

  // zebra is back and replays part of its table, one route changed.
  Zebra z(s.svc->port());
  REQUIRE(s.wait([&] { return s.svc->connected() && s.svc->resyncing(); }));
  z.send(frame({zroute(true, "10.1.0.0/16", {{"192.0.2.1", 7}}), zroute(true, "10.2.0.0/16", {{"192.0.2.2", 8}}),
                zroute(true, "2001:db8:1::/48", {{"2001:db8::1", 7}})}));
  auto t0 = std::chrono::steady_clock::now();
  // Until the replay ends, everything stays routable, and the changed route
  // changes at once.
  bool always = true;
  REQUIRE(s.wait([&] {
    always &= s.has(254, "10.1.0.1") && s.has(254, "10.2.0.1") && s.has(254, "2001:db8:1::1");
    if (s.svc->resyncing()) always &= s.has(254, "10.3.0.1") && s.has(254, "2001:db8:2::1");
    return !s.svc->resyncing();
  }));
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(always);
  CHECK(took >= 0.2);   // quiet is 0.25 s
  CHECK(took < 1.5);    // well before grace (2 s)
  CHECK_FALSE(s.has(254, "10.3.0.1"));
  CHECK_FALSE(s.has(254, "2001:db8:2::1"));
  CHECK(members(*s.svc, lookup(*s.svc, 254, "10.2.0.1")) == std::vector<std::string>{"p2 02:00:00:00:00:02"});
  auto st = s.svc->status();
  CHECK(st["last_resync"]["ended_by"] == "quiet");
  CHECK(st["last_resync"]["withdrawn"] == 2);
  CHECK(st["resyncs"] == 2);
  CHECK(route_list(*s.svc) ==
        std::vector<std::string>{"254 10.1.0.0/16 unicast", "254 10.2.0.0/16 unicast", "254 2001:db8:1::/48 unicast"});

  // A connection that sends nothing: the replay ends with `grace`, and an
  // empty table means every route goes.
  Zebra empty(s.svc->port());
  REQUIRE(s.wait([&] { return z.closed(); }));  // the new connection replaced the old
  CHECK(s.svc->status()["connections_replaced"] == 1);
  t0 = std::chrono::steady_clock::now();
  REQUIRE(s.wait([&] { return s.svc->status()["resyncs"] == 3 && !s.svc->resyncing(); }, 4000ms));
  took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(took >= 1.5);
  CHECK(s.svc->status()["last_resync"]["ended_by"] == "grace");
  CHECK(s.svc->rib().resolved().empty());
  CHECK_FALSE(s.has(254, "10.1.0.1"));
}

TEST_CASE("FibControl: a restarted zebra — its deletes of leftovers wait, each protocol's replay ends on its own",
          "[fib][resync]") {
  Server s;
  constexpr uint8_t kConnected = RTPROT_KERNEL, kStatic = 196;  // zebra's numbers
  auto statics = [](std::vector<const char*> ps) {
    std::vector<std::vector<uint8_t>> v;
    for (const char* p : ps) v.push_back(zroute(true, p, {{"192.0.2.1", 7}}, 254, RTN_UNICAST, 0, kStatic));
    return v;
  };
  auto connected = zroute(true, "192.0.2.0/24", {{nullptr, 7}}, 254, RTN_UNICAST, 0, kConnected);
  {
    Zebra z(s.svc->port());
    auto all = statics({"10.1.0.0/16", "10.2.0.0/16", "10.3.0.0/16"});
    all.push_back(connected);
    z.send(frame(all));
    REQUIRE(s.wait([&] { return s.svc->rib().resolved().size() == 4 && !s.svc->resyncing(); }));
  }
  REQUIRE(s.wait([&] { return !s.svc->connected(); }));
  // The new zebra: its connected route at once, and deletes of what its
  // previous run left behind (before staticd is back).
  Zebra z(s.svc->port());
  REQUIRE(s.wait([&] { return s.svc->connected(); }));
  z.send(frame({connected, zroute(false, "10.1.0.0/16"), zroute(false, "10.2.0.0/16"), zroute(false, "10.3.0.0/16")}));
  bool all_there = true;
  auto t0 = std::chrono::steady_clock::now();
  s.wait([&] {
    all_there &= s.has(254, "10.1.0.1") && s.has(254, "10.2.0.1") && s.has(254, "10.3.0.1") && s.has(254, "192.0.2.9");
    return std::chrono::steady_clock::now() - t0 > 700ms;
  });
  CHECK(all_there);
  CHECK(s.svc->resyncing());  // connected is done, static is not
  auto st = s.svc->status();
  CHECK(st["replay"]["done"] == nlohmann::json::array({"connected"}));
  CHECK(st["replay"]["waiting_for"] == nlohmann::json::array({"static"}));
  // staticd is back: two of its three routes.
  z.send(frame(statics({"10.1.0.0/16", "10.2.0.0/16"})));
  REQUIRE(s.wait([&] {
    all_there &= s.has(254, "10.1.0.1") && s.has(254, "10.2.0.1");
    return !s.svc->resyncing();
  }));
  CHECK(all_there);
  CHECK_FALSE(s.has(254, "10.3.0.1"));
  CHECK(s.has(254, "192.0.2.9"));
  CHECK(s.svc->status()["last_resync"]["ended_by"] == "quiet");
  CHECK(s.svc->status()["last_resync"]["withdrawn"] == 1);
}

TEST_CASE("FibControl: a framing error closes the connection and keeps the FIB, zebra reconnects", "[fib]") {
  Server s;
  {
    Zebra z(s.svc->port());
    z.send(frame({zroute(true, "10.1.0.0/16", {{"192.0.2.1", 7}})}));
    REQUIRE(s.wait([&] { return s.has(254, "10.1.0.1"); }));
    REQUIRE(s.wait([&] { return !s.svc->resyncing(); }));
    z.send(frame({zroute(true, "10.2.0.0/16", {{"192.0.2.1", 7}})}, 2));  // FPM version 2: not ours
    REQUIRE(s.wait([&] { return z.closed(); }));
  }
  auto st = s.svc->status();
  CHECK(st["fpm"]["errors"]["framing"] == 1);
  CHECK(st["state"] == "listening");
  CHECK(st["disconnects"] == 1);
  CHECK(s.has(254, "10.1.0.1"));
  CHECK_FALSE(s.has(254, "10.2.0.1"));
  // A bad message inside a good frame is dropped alone, the connection stays.
  Zebra z(s.svc->port());
  auto bad = zroute(true, "10.3.0.0/16", {{"192.0.2.1", 7}});
  reinterpret_cast<nlmsghdr*>(bad.data())->nlmsg_len += 40;  // runs past the frame
  z.send(frame({zroute(true, "10.1.0.0/16", {{"192.0.2.1", 7}})}));
  z.send(frame({bad}));
  z.send(frame({zroute(true, "10.4.0.0/16", {{"192.0.2.1", 7}})}));
  REQUIRE(s.wait([&] { return s.has(254, "10.4.0.1"); }));
  CHECK_FALSE(z.closed());
  CHECK(s.svc->status()["fpm"]["errors"]["message"] == 1);
  CHECK(s.has(254, "10.1.0.1"));
}

TEST_CASE("FibControl: listen addresses, IPv4 and IPv6", "[fib]") {
  std::string host;
  uint16_t port = 0;
  CHECK(FibConfig::parse_listen("127.0.0.1:2620", host, port));
  CHECK((host == "127.0.0.1" && port == 2620));
  CHECK(FibConfig::parse_listen("[::1]:2621", host, port));
  CHECK((host == "::1" && port == 2621));
  CHECK_FALSE(FibConfig::parse_listen("::1:2620", host, port));
  CHECK_FALSE(FibConfig::parse_listen("localhost:2620", host, port));
  CHECK_FALSE(FibConfig::parse_listen("127.0.0.1:65536", host, port));
  CHECK_FALSE(FibConfig::parse_listen("127.0.0.1", host, port));
  // A server on [::1] takes a zebra connecting over IPv6.
  FibConfig c = test_config();
  c.listen = "[::1]:0";
  Server s(c);
  int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(s.svc->port());
  a.sin6_addr = in6addr_loopback;
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  auto f = frame({zroute(true, "10.1.0.0/16", {{"192.0.2.1", 7}})});
  REQUIRE(::send(fd, f.data(), f.size(), 0) == static_cast<ssize_t>(f.size()));
  CHECK(s.wait([&] { return s.has(254, "10.1.0.1"); }));
  CHECK(s.svc->status()["peer"].get<std::string>().rfind("[::1]:", 0) == 0);
  ::close(fd);
}

TEST_CASE("FibControl: listen none serves no FPM, routes the connected subnets and is healthy", "[fib]") {
  test::eal();
  FibConfig c = test_config();
  c.listen = FibConfig::kNoListen;
  c.connected = {{*Prefix::parse("10.9.1.0/24"), "p1", mac("02:00:00:00:01:07")}};
  boost::asio::io_context io;
  auto svc = std::make_shared<FibControl>();
  svc->configure(c);
  svc->start(io);
  io.poll();
  CHECK(svc->port() == 0);
  CHECK(svc->status()["state"] == "no fpm");
  CHECK(!svc->status().contains("error"));
  const ServiceHealth h = svc->health();
  CHECK(h.state == ServiceHealth::State::Ok);
  CHECK_THAT(h.detail, Catch::Contains("no FPM server"));
  CHECK(lookup(*svc, 254, "10.9.1.7") != nullptr);
  // Given a listen address again (a reload), it listens.
  c.listen = "127.0.0.1:0";
  svc->configure(c);
  io.poll();
  CHECK(svc->port() != 0);
  CHECK(svc->status()["state"] == "listening");
  svc->stop();
}

TEST_CASE("FibControl: interface and neighbour changes re-resolve every route, limits refuse and count", "[fib]") {
  FibConfig c = test_config();
  c.sizes.max_routes = 3;
  Server s(c);
  Zebra z(s.svc->port());
  z.send(frame({zroute(true, "10.1.0.0/16", {{"192.0.2.9", 7}}), zroute(true, "10.2.0.0/16", {{"192.0.2.9", 7}}),
                zroute(true, "10.3.0.0/16", {{"192.0.2.9", 7}}), zroute(true, "10.4.0.0/16", {{"192.0.2.9", 7}})}));
  REQUIRE(s.wait([&] { return s.svc->rib().resolved().size() == 4; }));
  CHECK(members(*s.svc, lookup(*s.svc, 254, "10.1.0.1")) == std::vector<std::string>{"p1 ?"});
  CHECK_FALSE(s.has(254, "10.4.0.1"));  // max_routes 3
  CHECK(s.svc->status()["fib"]["refused"]["table_full"] == 1);
  auto rs = s.svc->routes({{"prefix", "10.4.0.0/16"}})["routes"];
  CHECK(rs[0]["installed"] == false);
  // The neighbour becomes known and p1 moves to another interface: a reload.
  c.sizes.max_routes = 10;
  c.neighbors.push_back({*IpAddr::parse("192.0.2.9"), mac("02:00:00:00:00:09")});
  c.interfaces[0].output = "p9";
  s.svc->configure(c);
  CHECK(members(*s.svc, lookup(*s.svc, 254, "10.1.0.1")) == std::vector<std::string>{"p9 02:00:00:00:00:09"});
  CHECK(members(*s.svc, lookup(*s.svc, 254, "10.4.0.1")) == std::vector<std::string>{"p9 02:00:00:00:00:09"});
  CHECK(s.svc->status()["fib"]["nexthop_entries"] == 1);
}

// ---------------------------------------------------------------------------
// Through the runtime: IpLookup on a worker, the service on the control loop.
// ---------------------------------------------------------------------------

namespace {

struct RingPort {
  std::vector<rte_ring*> rx, tx;
  std::string device;
  explicit RingPort(const std::string& n, unsigned queues = 1) {
    for (unsigned q = 0; q < queues; q++) {
      rx.push_back(rte_ring_create((n + "r" + std::to_string(q)).c_str(), 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ));
      tx.push_back(rte_ring_create((n + "t" + std::to_string(q)).c_str(), 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ));
    }
    int id = rte_eth_from_rings(n.c_str(), rx.data(), queues, tx.data(), queues, 0);
    REQUIRE(id >= 0);
    char dev[RTE_ETH_NAME_MAX_LEN];
    rte_eth_dev_get_name_by_port(static_cast<uint16_t>(id), dev);
    device = dev;
  }
};

GraphPlan plan_of(const std::string& yaml) {
  Diagnostics d("fib.yaml");
  auto spec = std::make_shared<GraphSpec>(parse_graph(yaml, "fib.yaml", d));
  GraphPlan p = validate_graph(spec, test::loader(), d);
  INFO(d.format());
  REQUIRE_FALSE(d.has_errors());
  return p;
}

std::vector<uint8_t> ipv4_packet(const char* dst, uint8_t ttl) {
  auto ip = test::ipv4("10.0.0.1", dst, IPPROTO_UDP, test::ports(1234, 80));
  ip[8] = ttl;
  auto* h = reinterpret_cast<rte_ipv4_hdr*>(ip.data());
  h->hdr_checksum = 0;
  h->hdr_checksum = rte_ipv4_cksum(h);
  return test::eth(RTE_ETHER_TYPE_IPV4, ip, "02:aa:00:00:00:01", "02:bb:00:00:00:01");
}

}  // namespace

TEST_CASE("Fib + IpLookup in the runtime: packets routed, TTL, checksum, MACs, metadata, drops",
          "[fib][reload]") {
  test::eal();
  static int n = 0;
  RingPort in("fibin" + std::to_string(n)), out("fibout" + std::to_string(n));
  n++;
  auto graph = [&](bool extra, const char* nb_mac) {
    return std::string("workers: {lcores: [1], idle_sleep_us: 20}\nports:\n  in: {device: ") + in.device +
           "}\n  out: {device: " + out.device +
           "}\nservices:\n"
           "  fib:\n    class: Fib\n    listen: \"127.0.0.1:0\"\n    quiet: 0.2\n    tbl8: 256\n"
           "    max_routes6: 1024\n    tbl8_6: 256\n    max_nexthops: 64\n"
           "    interfaces: [{ifindex: 7, output: p1, mac: \"02:00:00:00:01:07\"}, {ifindex: 8, output: p2, mac: "
           "\"02:00:00:00:01:08\"}]\n"
           "    neighbors: [{ip: 192.0.2.1, mac: \"" +
           nb_mac + "\"}]\n"
           "elements:\n  rx: {class: PortRx, port: in}\n"
           "  lookup: {class: IpLookup, fib: fib, outputs: [p1, p2], nexthop_metadata: true}\n" +
           (extra ? "  c: Counter\n" : "") +
           "  tx: {class: PortTx, port: out}\n  d: Discard\nconnections:\n" +
           (extra ? "  - rx -> lookup\n  - lookup[p1] -> c -> tx\n" : "  - rx -> lookup\n  - lookup[p1] -> tx\n") +
           "  - lookup[p2] -> d\n";
  };
  boost::asio::io_context io;
  Runtime rt(plan_of(graph(false, "02:00:00:00:00:01")));
  rt.set_control_loop(&io);
  rt.start();
  io.poll();
  PluginLoader loader;
  ControlApi api(rt, loader, "g.yaml", {});
  auto status = [&] {
    json r = api.handle({{"cmd", "service"}, {"args", {{"name", "fib"}, {"cmd", "status"}}}});
    REQUIRE(r["ok"].get<bool>());
    return r["data"][0]["result"];
  };
  uint16_t port = status()["port"].get<uint16_t>();
  REQUIRE(port != 0);
  Zebra z(port);
  z.send(frame({zroute(true, "10.1.0.0/16", {{"192.0.2.1", 7}}), zroute(true, "10.2.0.0/16", {{"192.0.2.1", 8}})}));
  auto routes = [&] {
    json r = api.handle({{"cmd", "service"}, {"args", {{"class", "Fib"}, {"cmd", "routes"}, {"args", json::object()}}}});
    return r["data"][0]["result"]["routes"].size();
  };
  REQUIRE(pump(io, [&] { return routes() == 2; }));

  // A packet to 10.1.2.3: out of p1 with TTL 63, a good checksum, new MACs,
  // the next hop in the metadata.
  auto nexthop_meta = weft::route::nexthop_slot();
  std::optional<weft::route::Nexthop> meta;
  auto send_and_take = [&](const std::vector<uint8_t>& pkt, std::chrono::milliseconds wait = 2000ms) {
    rte_mbuf* m = test::packet(pkt);
    nexthop_meta.clear(m);
    REQUIRE(rte_ring_enqueue(in.rx[0], m) == 0);
    rte_mbuf* got = nullptr;
    pump(io, [&] { return rte_ring_dequeue(out.tx[0], reinterpret_cast<void**>(&got)) == 0; }, wait);
    std::vector<uint8_t> b;
    meta.reset();
    if (got) {
      b = test::bytes_of(got);
      if (nexthop_meta.has(got)) meta = nexthop_meta.get(got);
      rte_pktmbuf_free(got);
    }
    return b;
  };
  auto check_routed = [&](const std::vector<uint8_t>& b, const char* dst_mac) {
    REQUIRE(b.size() == ipv4_packet("10.1.2.3", 64).size());
    CHECK(mac_str(b.data()) == dst_mac);
    CHECK(mac_str(b.data() + 6) == "02:00:00:00:01:07");
    auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(b.data() + 14);
    CHECK(ip->time_to_live == 63);
    CHECK(rte_raw_cksum(ip, 20) == 0xffff);
  };
  check_routed(send_and_take(ipv4_packet("10.1.2.3", 64)), "02:00:00:00:00:01");
  REQUIRE(meta);
  CHECK(meta->family == AF_INET);
  CHECK(meta->output == 0);
  CHECK(meta->direct == 0);
  CHECK(std::vector<uint8_t>(meta->addr, meta->addr + 16) ==
        std::vector<uint8_t>{192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  CHECK(send_and_take(ipv4_packet("10.1.2.3", 1), 300ms).empty());  // ttl_exceeded
  CHECK(send_and_take(ipv4_packet("10.2.0.1", 64), 300ms).empty());  // p2: discarded
  CHECK(send_and_take(ipv4_packet("11.0.0.1", 64), 300ms).empty());  // no_route
  rt.halt();
  json st = stats_json(rt);
  for (const auto& e : st["elements"])
    if (e["id"] == "lookup") {
      CHECK(e["workers"][0]["drops"]["ttl_exceeded"] == 1);
      CHECK(e["workers"][0]["drops"]["no_route"] == 1);
    }
  rt.stop();
}

TEST_CASE("A reload keeping the Fib service keeps, its routes and zebra's TCP connection",
          "[fib][reload]") {
  test::eal();
  static int n = 0;
  RingPort in("fibrin" + std::to_string(n)), out("fibrout" + std::to_string(n));
  n++;
  auto graph = [&](bool extra, const char* nb_mac) {
    return std::string("workers: {lcores: [1], idle_sleep_us: 20}\nports:\n  in: {device: ") + in.device +
           "}\n  out: {device: " + out.device +
           "}\nservices:\n"
           "  fib:\n    class: Fib\n    listen: \"127.0.0.1:0\"\n    quiet: 0.2\n    tbl8: 256\n"
           "    max_routes6: 1024\n    tbl8_6: 256\n    max_nexthops: 64\n"
           "    interfaces: [{ifindex: 7, output: p1, mac: \"02:00:00:00:01:07\"}]\n"
           "    neighbors: [{ip: 192.0.2.1, mac: \"" +
           nb_mac + "\"}, {ip: \"2001:db8::1\", mac: \"02:00:00:00:06:01\"}]\n" +
           "elements:\n  rx: {class: PortRx, port: in}\n"
           "  lookup: {class: IpLookup, fib: fib, outputs: [p1]}\n" + (extra ? "  c: Counter\n" : "") +
           "  tx: {class: PortTx, port: out}\nconnections:\n" +
           (extra ? "  - rx -> lookup\n  - lookup[p1] -> c -> tx\n" : "  - rx -> lookup\n  - lookup[p1] -> tx\n");
  };
  boost::asio::io_context io;
  Runtime rt(plan_of(graph(false, "02:00:00:00:00:01")));
  rt.set_control_loop(&io);
  rt.start();
  io.poll();
  PluginLoader loader;
  ControlApi api(rt, loader, "g.yaml", {});
  auto status = [&] {
    json r = api.handle({{"cmd", "service"}, {"args", {{"name", "fib"}, {"cmd", "status"}}}});
    REQUIRE(r["ok"].get<bool>());
    return r["data"][0]["result"];
  };
  auto routes = [&] {
    json r = api.handle({{"cmd", "service"}, {"args", {{"class", "Fib"}, {"cmd", "routes"}, {"args", json::object()}}}});
    return r["data"][0]["result"]["routes"];
  };
  Zebra z(status()["port"].get<uint16_t>());
  z.send(frame({zroute(true, "10.1.0.0/16", {{"192.0.2.1", 7}}), zroute(true, "2001:db8:5::/48", {{"2001:db8::1", 7}})}));
  REQUIRE(pump(io, [&] { return routes().size() == 2 && !status()["resyncing"].get<bool>(); }));
  json before = status();

  // Keep the Fib, add an element, change a neighbour's MAC: the same service
  // (same connection, counters going on), the new MAC applied to the route.
  ReloadReport r = rt.reload(plan_of(graph(true, "02:00:00:00:00:99")), 2s);
  INFO(r.error);
  REQUIRE(r.ok);
  io.poll();
  json after = status();
  CHECK(after["connections"] == 1);
  CHECK(after["state"] == "connected");
  CHECK(after["peer"] == before["peer"]);
  CHECK(after["resyncs"] == 1);
  CHECK(after["fpm"]["frames"] == before["fpm"]["frames"]);
  CHECK_FALSE(z.closed());
  auto rs = routes();
  REQUIRE(rs.size() == 2);
  CHECK(rs[0]["forwarding"][0]["dst_mac"] == "02:00:00:00:00:99");
  REQUIRE(r.services_kept.size() == 1);
  CHECK(r.services_kept[0].id == "fib");
  CHECK(r.services_kept[0].state == "carried");
  // The connection still works: a new route arrives over it.
  z.send(frame({zroute(true, "10.2.0.0/16", {{"192.0.2.1", 7}})}));
  REQUIRE(pump(io, [&] { return routes().size() == 3; }));
  CHECK(status()["connections"] == 1);
  // IPv6 changes go through the RCU-synchronized copy swap with a live worker.
  for (int i = 0; i < 20; i++) {
    std::string p = "2001:db8:" + std::to_string(100 + i) + "::/48";
    z.send(frame({zroute(true, p.c_str(), {{"2001:db8::1", 7}})}));
  }
  REQUIRE(pump(io, [&] { return routes().size() == 23; }));
  // Without the Fib service (and IpLookup), the service stops: the connection closes.
  std::string bare = std::string("workers: {lcores: [1], idle_sleep_us: 20}\nports:\n  in: {device: ") + in.device +
                     "}\n  out: {device: " + out.device +
                     "}\nelements:\n  rx: {class: PortRx, port: in}\n  tx: {class: PortTx, port: out}\n"
                     "connections:\n  - rx -> tx\n";
  REQUIRE(rt.reload(plan_of(bare), 2s).ok);
  io.poll();
  CHECK(api.handle({{"cmd", "services"}})["data"].empty());
  REQUIRE(pump(io, [&] { return z.closed(); }));
  rt.stop();
}

TEST_CASE("Two workers route while the control thread churns IPv4 and IPv6 routes: every packet is right",
          "[fib][rcu]") {
  test::eal();
  RingPort in("fibcin", 2), out("fibcout", 2);
  const std::string yaml =
      std::string("workers: {lcores: [1, 2], idle_sleep_us: 0}\nports:\n  in: {device: ") + in.device +
      ", rx_queues: 2}\n  out: {device: " + out.device +
      ", tx_queues: 2}\nservices:\n"
      "  fib:\n    class: Fib\n    listen: \"127.0.0.1:0\"\n    quiet: 0.2\n    tbl8: 1024\n"
      "    max_routes6: 4096\n    tbl8_6: 1024\n    max_nexthops: 256\n"
      "    interfaces: [{ifindex: 7, output: p1, mac: \"02:00:00:00:01:07\"}]\n"
      "    neighbors: [{ip: 192.0.2.1, mac: \"02:00:00:00:00:01\"}, {ip: 192.0.2.2, mac: \"02:00:00:00:00:02\"},"
      " {ip: \"2001:db8::1\", mac: \"02:00:00:00:06:01\"}, {ip: \"2001:db8::2\", mac: \"02:00:00:00:06:02\"}]\n"
      "elements:\n  rx: {class: PortRx, port: in}\n"
      "  lookup: {class: IpLookup, fib: fib, outputs: [p1]}\n"
      "  tx: {class: PortTx, port: out, retries: 100000}\nconnections:\n  - rx -> lookup -> tx\n";
  boost::asio::io_context io;
  Runtime rt(plan_of(yaml));
  rt.set_control_loop(&io);
  rt.start();
  io.poll();
  PluginLoader loader;
  ControlApi api(rt, loader, "g.yaml", {});
  json st = api.handle({{"cmd", "service"}, {"args", {{"name", "fib"}, {"cmd", "status"}}}})["data"][0]["result"];
  Zebra z(st["port"].get<uint16_t>());
  constexpr int kNets = 40;
  auto v4 = [](int i) { return "10." + std::to_string(i) + ".0.0/16"; };
  auto v6 = [](int i) { return "2001:db8:" + std::to_string(100 + i) + "::/48"; };
  {
    std::vector<std::vector<uint8_t>> all;
    for (int i = 0; i < kNets; i++) {
      all.push_back(zroute(true, v4(i).c_str(), {{"192.0.2.1", 7}}));
      all.push_back(zroute(true, v6(i).c_str(), {{"2001:db8::1", 7}}));
    }
    z.send(frame(all));
  }
  REQUIRE(pump(io, [&] {
    json r = api.handle({{"cmd", "service"}, {"args", {{"class", "Fib"}, {"cmd", "routes"}, {"args", json::object()}}}});
    return r["data"][0]["result"]["routes"].size() == 2 * kNets;
  }));

  // Packets to every network, both families, on both RX queues; the checker
  // verifies each routed packet against what any version of the FIB allows.
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> sent{0}, received{0}, bad{0};
  auto make = [&](int i, bool six) {
    std::vector<uint8_t> b;
    if (!six) {
      b = ipv4_packet(("10." + std::to_string(i) + ".1.1").c_str(), 64);
    } else {
      auto ip = test::ipv6("2001:db8:ffff::1", "2001:db8:" + std::to_string(100 + i) + "::1", IPPROTO_UDP,
                           test::ports(1000 + static_cast<uint16_t>(i), 53));
      b = test::eth(RTE_ETHER_TYPE_IPV6, ip, "02:aa:00:00:00:01", "02:bb:00:00:00:01");
    }
    return b;
  };
  std::thread traffic([&] {
    unsigned n = 0;
    while (!stop.load()) {
      for (unsigned q = 0; q < 2; q++) {
        if (rte_ring_free_count(in.rx[q]) < 64 || rte_mempool_avail_count(test::pool()) < 512) continue;
        for (int k = 0; k < 32; k++, n++) {
          rte_mbuf* m = test::packet(make(static_cast<int>(n % kNets), n % 2));
          if (rte_ring_enqueue(in.rx[q], m) != 0) rte_pktmbuf_free(m);
          else sent++;
        }
      }
      std::this_thread::sleep_for(50us);
    }
  });
  std::thread checker([&] {
    const std::set<std::string> v4_macs = {"02:00:00:00:00:01", "02:00:00:00:00:02"},
                                v6_macs = {"02:00:00:00:06:01", "02:00:00:00:06:02"};
    while (!stop.load() || rte_ring_count(out.tx[0]) || rte_ring_count(out.tx[1])) {
      for (unsigned q = 0; q < 2; q++) {
        rte_mbuf* m[32];
        unsigned n = rte_ring_sc_dequeue_burst(out.tx[q], reinterpret_cast<void**>(m), 32, nullptr);
        for (unsigned i = 0; i < n; i++) {
          auto b = test::bytes_of(m[i]);
          bool six = b[12] == 0x86;
          bool ok = mac_str(b.data() + 6) == "02:00:00:00:01:07" &&
                    (six ? v6_macs : v4_macs).count(mac_str(b.data()));
          if (!six) {
            auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(b.data() + 14);
            ok &= ip->time_to_live == 63 && rte_raw_cksum(ip, 20) == 0xffff;
          } else {
            ok &= b[14 + 7] == 63;
          }
          bad += !ok;
          received++;
          rte_pktmbuf_free(m[i]);
        }
      }
      std::this_thread::sleep_for(20us);
    }
  });
  // Churn for a while: gateways flip, routes go and come back, in both
  // families (IPv6 changes go through the copy swap and an RCU wait).
  std::mt19937 rng(5);
  auto t0 = std::chrono::steady_clock::now();
  int rounds = 0;
  while (rounds < 150 && std::chrono::steady_clock::now() - t0 < 30s) {
    std::vector<std::vector<uint8_t>> burst;
    for (int k = 0; k < 8; k++) {
      int i = static_cast<int>(rng() % kNets);
      const char* gw4 = rng() % 2 ? "192.0.2.1" : "192.0.2.2";
      const char* gw6 = rng() % 2 ? "2001:db8::1" : "2001:db8::2";
      switch (rng() % 4) {
        case 0: burst.push_back(zroute(false, v4(i).c_str())); break;
        case 1: burst.push_back(zroute(false, v6(i).c_str())); break;
        default:
          burst.push_back(zroute(true, v4(i).c_str(), {{gw4, 7}}));
          burst.push_back(zroute(true, v6(i).c_str(), {{gw6, 7}}));
      }
    }
    z.send(frame(burst));
    io.run_for(2ms);
    rounds++;
  }
  stop = true;
  traffic.join();
  checker.join();
  CHECK(rounds == 150);
  CHECK(received > 1000);
  CHECK(bad == 0);
  st = api.handle({{"cmd", "service"}, {"args", {{"name", "fib"}, {"cmd", "status"}}}})["data"][0]["result"];
  CHECK(st["fib"]["commits"].get<uint64_t>() > 100);
  INFO("sent " << sent << " received " << received << " rounds " << rounds);
  rt.halt();
  json stats = stats_json(rt);
  for (const auto& e : stats["elements"])
    if (e["id"] == "lookup")
      for (const auto& w : e["workers"])
        for (const auto& [reason, n] : w["drops"].items())
          if (reason != "no_route") CHECK(n == 0);  // deleted routes give no_route, nothing else
  rt.stop();
}

// The switch family: MacTable (shared rte_hash MAC table) and L2Switch
// (learning, forwarding, flooding per VNI) through the harness.
#include <rte_launch.h>
#include <rte_lcore.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <optional>

#include "testing/graph_harness.hpp"
#include "tables/mac_table.hpp"
#include "weft/fields.hpp"
#include "test_env.hpp"

using namespace weft;
using namespace weft::test;
using weft::sw::MacEntry;
using weft::sw::MacKey;
using weft::sw::MacTable;

namespace {

MacKey key(const char* mac, uint32_t vni) {
  const std::optional<Mac> m = Mac::parse(mac);
  REQUIRE(m);
  return sw::mac_key(m->data(), vni);
}

MacTable::Learned learn(MacTable& t, const MacKey& k, uint16_t port, uint32_t now) {
  const MacKey* keys[1] = {&k};
  uint64_t data[1] = {0};
  uint64_t hits = t.lookup_bulk(keys, 1, data);
  return t.learn(k, port, now, hits & 1, data[0]);
}

uint64_t drops(GraphHarness& h, const std::string& id, const std::string& reason) {
  Element& e = h.element(id);
  for (size_t i = 0; i < e.drop_reason_count(); i++)
    if (e.element_class().drops[i].name == reason) return e.drops(i);
  FAIL("no drop reason " << reason);
  return 0;
}

size_t take(GraphHarness& h, const char* id) {
  auto v = h.take(id);
  size_t n = v.size();
  free_all(v);
  return n;
}

Batch one(const std::string& dst, const std::string& src) {
  Batch b;
  b.add(packet(eth(0x0800, ipv4("10.0.0.1", "10.0.0.2", 17, ports(1, 2)), dst, src)));
  return b;
}

}  // namespace

TEST_CASE("MacTable learns, moves, refreshes and keeps static entries per VNI", "[switch][mac_table]") {
  eal();
  MacTable t({1024, 300, SOCKET_ID_ANY}, nullptr);
  const MacKey a100 = key("02:00:00:00:00:0a", 100), a200 = key("02:00:00:00:00:0a", 200);
  CHECK(learn(t, a100, 1, 10) == MacTable::Learned::kNew);
  CHECK(learn(t, a100, 1, 11) == MacTable::Learned::kNothing);   // same port, within aging/8
  CHECK(learn(t, a100, 1, 60) == MacTable::Learned::kRefreshed);  // aging/8 = 37 s later
  CHECK(learn(t, a100, 2, 61) == MacTable::Learned::kMoved);
  CHECK(learn(t, a200, 3, 61) == MacTable::Learned::kNew);  // same MAC, another VNI: another entry
  MacEntry e;
  REQUIRE(t.lookup(a100, e));
  CHECK(e.port == 2);
  CHECK_FALSE(e.is_static);
  REQUIRE(t.lookup(a200, e));
  CHECK(e.port == 3);
  CHECK(t.count() == 2);

  const MacKey r = key("02:00:00:00:00:fe", 100);
  REQUIRE(t.add_static(r, 4));
  CHECK(learn(t, r, 1, 70) == MacTable::Learned::kStaticKept);  // learning never moves a static entry
  REQUIRE(t.lookup(r, e));
  CHECK(e.port == 4);
  CHECK(e.is_static);
  CHECK(t.stats().learned == 2);
  CHECK(t.stats().moved == 1);
  CHECK(t.stats().refreshed == 1);
  CHECK(t.stats().static_kept == 1);
}

TEST_CASE("MacTable ages learned entries out, never static ones, flush by VNI", "[switch][mac_table]") {
  eal();
  MacTable t({1024, 10, SOCKET_ID_ANY}, nullptr);
  const MacKey a = key("02:00:00:00:00:01", 7), b = key("02:00:00:00:00:02", 7), c = key("02:00:00:00:00:03", 8);
  learn(t, a, 0, 100);
  learn(t, b, 0, 105);
  learn(t, c, 1, 105);
  REQUIRE(t.add_static(key("02:00:00:00:00:04", 7), 2));
  MacEntry e;
  REQUIRE(t.lookup(a, e));
  CHECK(t.live(e, 110));
  CHECK_FALSE(t.live(e, 111));  // dead for lookups before the sweep deletes it
  CHECK(t.age(111, 1000) == 1);
  CHECK_FALSE(t.lookup(a, e));
  CHECK(t.count() == 3);
  CHECK(t.age(1000000, 1000) == 2);  // b and c
  CHECK(t.count() == 1);             // the static entry stays
  CHECK(t.stats().aged == 3);

  learn(t, a, 0, 5);
  learn(t, c, 0, 5);
  CHECK(t.flush(8) == 1);
  CHECK(t.lookup(a, e));
  CHECK_FALSE(t.lookup(c, e));
  CHECK(t.flush() == 1);
  CHECK(t.count() == 1);

  // set_statics: keeps exactly the listed static entries.
  REQUIRE(t.set_statics({{key("02:00:00:00:00:05", 7), 1}}));
  CHECK_FALSE(t.lookup(key("02:00:00:00:00:04", 7), e));
  REQUIRE(t.lookup(key("02:00:00:00:00:05", 7), e));
  CHECK(e.is_static);
}

TEST_CASE("MacTable reports a full table and keeps working", "[switch][mac_table]") {
  eal();
  MacTable t({64, 300, SOCKET_ID_ANY}, nullptr);
  unsigned full = 0, added = 0;
  for (uint32_t i = 0; i < 4096; i++) {
    MacKey k{};
    k.mac[0] = 2;
    k.mac[4] = static_cast<uint8_t>(i >> 8);
    k.mac[5] = static_cast<uint8_t>(i);
    auto r = learn(t, k, 0, 1);
    full += r == MacTable::Learned::kFull;
    added += r == MacTable::Learned::kNew;
  }
  CHECK(full > 0);
  CHECK(added == t.count());
  CHECK(t.stats().full == full);
  CHECK(t.flush() == added);
  CHECK(learn(t, key("02:00:00:00:00:01", 1), 0, 2) == MacTable::Learned::kNew);
}

namespace {
struct Shared {
  MacTable* table;
  std::atomic<unsigned> bad{0};
  std::atomic<unsigned> ready{0};
};

int hammer(void* arg) {
  auto* s = static_cast<Shared*>(arg);
  const uint16_t port = static_cast<uint16_t>(rte_lcore_id());
  s->ready++;
  while (s->ready.load() < 2) {
  }
  // Each lcore learns 0..2999 offset by its id * 1000: keys 1000..2999 are
  // learned by both (moves), and every lookup must see a whole entry.
  for (int round = 0; round < 3; round++)
    for (uint32_t i = 0; i < 3000; i++) {
      MacKey k{};
      k.mac[0] = 2;
      uint32_t v = i + (port - 1) * 1000;
      k.mac[4] = static_cast<uint8_t>(v >> 8);
      k.mac[5] = static_cast<uint8_t>(v);
      k.vni = 42;
      const MacKey* keys[1] = {&k};
      uint64_t data[1] = {0};
      uint64_t hits = s->table->lookup_bulk(keys, 1, data);
      if (hits) {
        MacEntry e = MacTable::decode(data[0]);
        if (e.port != 1 && e.port != 2) s->bad++;
      }
      s->table->learn(k, port, static_cast<uint32_t>(round * 100), hits & 1, data[0]);
    }
  return 0;
}
}  // namespace

TEST_CASE("MacTable: two workers learn and look up the same table at once", "[switch][mac_table]") {
  eal();
  REQUIRE(rte_lcore_is_enabled(1));
  REQUIRE(rte_lcore_is_enabled(2));
  MacTable t({65536, 300, SOCKET_ID_ANY}, nullptr);
  Shared s{&t};
  REQUIRE(rte_eal_remote_launch(hammer, &s, 1) == 0);
  REQUIRE(rte_eal_remote_launch(hammer, &s, 2) == 0);
  CHECK(rte_eal_wait_lcore(1) == 0);
  CHECK(rte_eal_wait_lcore(2) == 0);
  CHECK(s.bad == 0);
  CHECK(t.count() == 4000);  // 0..3999
  for (const auto& r : t.rows()) CHECK((r.entry.port == 1 || r.entry.port == 2));
  CHECK(t.stats().full == 0);
}

TEST_CASE("L2Switch learns, forwards known MACs, floods broadcast per VNI, sends unknown unicast out",
          "[switch][l2switch]") {
  GraphHarness h(R"(
elements:
  sw:
    class: L2Switch
    vni: 100
    ports: [{name: vm1}, {name: vm2}, {name: other, vni: 200}, {name: uplink, flood: false}, {name: router}]
    static: [{mac: "02:00:00:00:00:fe", port: router}]
  vm1: Capture
  vm2: Capture
  other: Capture
  uplink: Capture
  router: Capture
  unknown: Capture
connections:
  - sw[vm1] -> vm1
  - sw[vm2] -> vm2
  - sw[other] -> other
  - sw[uplink] -> uplink
  - sw[router] -> router
  - sw[unknown] -> unknown
)",
                 loader(), pool());
  const char* A = "02:00:00:00:00:0a";
  const char* B = "02:00:00:00:00:0b";
  // vm1 (A) -> B: B unknown -> `unknown`; A learned on vm1.
  Batch b = one(B, A);
  h.push("sw", b, 0);
  auto u = h.take("unknown");
  REQUIRE(u.size() == 1);
  CHECK(fields::vni().has(u[0]));
  CHECK(fields::vni().get(u[0]) == 100);
  free_all(u);
  // vm2 (B) broadcasts: copies to vm1 and router (not uplink: flood false;
  // not `other`: VNI 200; not vm2 itself); B learned on vm2.
  b = one("ff:ff:ff:ff:ff:ff", B);
  h.push("sw", b, 1);
  CHECK(take(h, "vm1") == 1);
  CHECK(take(h, "router") == 1);
  CHECK(take(h, "uplink") == 0);
  CHECK(take(h, "other") == 0);
  CHECK(take(h, "vm2") == 0);
  // vm1 -> B and vm2 -> A now go straight to their ports; to the router by its static entry.
  b = one(B, A);
  h.push("sw", b, 0);
  CHECK(take(h, "vm2") == 1);
  b = one(A, B);
  h.push("sw", b, 1);
  CHECK(take(h, "vm1") == 1);
  b = one("02:00:00:00:00:fe", A);
  h.push("sw", b, 0);
  CHECK(take(h, "router") == 1);
  // A frame to a MAC on its own ingress port is a hairpin.
  b = one(A, "02:00:00:00:00:0c");
  h.push("sw", b, 0);
  CHECK(drops(h, "sw", "hairpin") == 1);
  // Domains are separate: A in VNI 200 is unknown.
  b = one(A, "02:00:00:00:00:0d");
  h.push("sw", b, 2);
  CHECK(take(h, "unknown") == 1);
  CHECK(take(h, "vm1") == 0);
  // Bad frames.
  b = one(B, "01:00:5e:00:00:01");
  h.push("sw", b, 0);
  CHECK(drops(h, "sw", "bad_source") == 1);
  Batch runt;
  runt.add(packet(std::vector<uint8_t>(10, 0)));
  h.push("sw", runt, 0);
  CHECK(drops(h, "sw", "runt") == 1);
  b = one(B, A);
  h.push("sw", b, 7);
  CHECK(drops(h, "sw", "no_such_port") == 1);

  std::string table = h.read_handler("sw", "table");
  CHECK(table.find("02:00:00:00:00:0a      100  vm1            learned") != std::string::npos);
  CHECK(table.find("02:00:00:00:00:0b      100  vm2            learned") != std::string::npos);
  CHECK(table.find("02:00:00:00:00:fe      100  router         static") != std::string::npos);
  CHECK(h.read_handler("sw", "count") == "5");  // A, B, C (vm1), D (VNI 200), the router
  // Handlers: a static entry added live, then a flush of VNI 100's learned MACs.
  h.write_handler("sw", "add", "02:00:00:00:00:99 uplink");
  b = one("02:00:00:00:00:99", A);
  h.push("sw", b, 0);
  CHECK(take(h, "uplink") == 1);
  CHECK_THROWS_AS(h.write_handler("sw", "add", "02:00:00:00:00:98 nowhere"), std::invalid_argument);
  CHECK_THROWS_AS(h.write_handler("sw", "add", "02:00:00:00:98 uplink"), std::invalid_argument);
  CHECK_THROWS_AS(h.write_handler("sw", "remove", "02-00-00-00-00-99"), std::invalid_argument);
  h.write_handler("sw", "flush", "100");
  CHECK(h.read_handler("sw", "count") == "3");  // the two static entries and D (VNI 200)
}

TEST_CASE("L2Switch trunk ports take the VNI metadata, unknown unicast flooded", "[switch][l2switch]") {
  GraphHarness h(R"(
elements:
  sw:
    class: L2Switch
    unknown: flood
    ports: [{name: a, vni: 1}, {name: b, vni: 2}, {name: trunk}]
  a: Capture
  b: Capture
  trunk: Capture
  unknown: Capture
connections:
  - sw[a] -> a
  - sw[b] -> b
  - sw[trunk] -> trunk
  - sw[unknown] -> unknown
)",
                 loader(), pool());
  // From the trunk without metadata and without `vni`: no domain.
  Batch b = one("02:00:00:00:00:01", "02:00:00:00:00:02");
  h.push("sw", b, 2);
  CHECK(drops(h, "sw", "no_vni") == 1);
  // With VNI 2 metadata: unknown unicast flooded to b only.
  b = one("02:00:00:00:00:01", "02:00:00:00:00:02");
  fields::vni().set(b.pkts[0], 2);
  h.push("sw", b, 2);
  CHECK(take(h, "b") == 1);
  CHECK(take(h, "a") == 0);
  CHECK(take(h, "unknown") == 0);
  // b answers: its frame to the trunk-learned MAC goes to the trunk, tagged VNI 2.
  b = one("02:00:00:00:00:02", "02:00:00:00:00:01");
  h.push("sw", b, 1);
  auto t = h.take("trunk");
  REQUIRE(t.size() == 1);
  CHECK(fields::vni().get(t[0]) == 2);
  free_all(t);
  // a floods in VNI 1 where only the trunk is: one packet, no copy.
  b = one("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:03");
  h.push("sw", b, 0);
  CHECK(take(h, "trunk") == 1);
}

TEST_CASE("L2Switch configuration errors name the value", "[switch][l2switch]") {
  auto bad = [](const std::string& yaml) {
    try {
      GraphHarness h(yaml, loader(), pool());
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK(bad("elements:\n  sw: {class: L2Switch, ports: [{name: a}, {name: a}]}\n")
            .find("port 'a' is listed twice") != std::string::npos);
  CHECK(bad("elements:\n  sw: {class: L2Switch, ports: [{name: a, colour: red}]}\n")
            .find("ports: unknown key 'colour'") != std::string::npos);
  CHECK(bad("elements:\n  sw: {class: L2Switch, ports: [{name: a}], static: [{mac: \"02:00:00:00:00:01\", port: b}]}\n")
            .find("no switch port 'b'") != std::string::npos);
  CHECK(bad("elements:\n  sw: {class: L2Switch, ports: [{name: a}], static: [{mac: \"02:00:00:00:00:01\", port: a}]}\n")
            .find("give its vni") != std::string::npos);
  CHECK(bad("elements:\n  sw: {class: L2Switch, ports: [{name: a}], unknown: drop}\n").find("unknown must be") !=
        std::string::npos);
  CHECK(bad("elements:\n  sw: {class: L2Switch, ports: [{name: a}], static: [{mac: \"02:00:00:00:01\", port: a}]}\n")
            .find("mac: expected a MAC address") != std::string::npos);
  CHECK(bad("elements:\n  sw: {class: L2Switch, ports: [{name: a}], static: [{mac: \"01:00:5e:00:00:01\", port: a}]}\n")
            .find("must be unicast") != std::string::npos);
}

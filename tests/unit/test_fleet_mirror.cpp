// FleetMirror: the fleet agent's copy of its etcd keys, in revision order,
// and graphs composed with included fragments (diagnostics name each key).
#include <catch2/catch.hpp>

#include "fleet/fleet_agent.hpp"

using weft::Diagnostics;
using weft::FleetKeys;
using weft::FleetMirror;
using weft::KeyValue;
using weft::WatchEvent;

namespace {

const char* kGraph =
    "name: g\n"
    "include: [mon]\n"
    "ports:\n"
    "  p0: net_ring0\n"
    "elements:\n"
    "  rx: {class: PortRx, port: p0}\n"
    "  tx: {class: PortTx, port: p0}\n"
    "connections:\n"
    "  - rx -> m -> tx\n";

KeyValue kv(const std::string& key, const std::string& value, int64_t rev) { return {key, value, rev, rev, 0}; }
WatchEvent put(const std::string& key, const std::string& value, int64_t rev) { return {false, kv(key, value, rev)}; }
WatchEvent del(const std::string& key, int64_t rev) { return {true, kv(key, "", rev)}; }

}  // namespace

TEST_CASE("fleet mirror: a graph with a fragment is composed, errors name the fragment's key", "[fleet]") {
  FleetKeys k;
  FleetMirror m(k, "r1");
  m.load_snapshot(10, {kv(k.node_graph("r1"), kGraph, 7), kv(k.fragment("mon"), "elements:\n  m: Pas\n", 9),
                       kv(k.node_graph("r2"), "other: node\n", 10)});
  Diagnostics diag(k.node_graph("r1"));
  auto d = m.compose(diag);
  REQUIRE(d.present);
  CHECK(d.revision == 9);  // the fragment changed last
  REQUIRE(d.spec->parsed);
  CHECK(d.spec->from_etcd);  // its plugin directories must lie under the plugin roots
  REQUIRE(d.spec->find_element("m"));
  CHECK(d.spec->find_element("m")->class_name == "Pas");
  CHECK(d.spec->elements.size() == 3);
  // Later checks (the validator) report into the same Diagnostics: the
  // fragment's element is at line 2, column 3 of the fragment's key.
  CHECK_FALSE(diag.has_errors());
  diag.error(d.spec->find_element("m")->mark, "x");
  diag.error(d.spec->find_element("rx")->mark, "y");
  CHECK(diag.format() == "/weft/desired/nodes/r1:6:3: error: y\n/weft/desired/fragments/mon:2:3: error: x\n");
}

TEST_CASE("fleet mirror: a missing fragment and a duplicate id are errors at their positions", "[fleet]") {
  FleetKeys k;
  FleetMirror m(k, "r1");
  m.load_snapshot(5, {kv(k.node_graph("r1"), kGraph, 5)});
  Diagnostics diag(k.node_graph("r1"));
  auto d = m.compose(diag);
  CHECK(diag.format().find("/weft/desired/nodes/r1:2:11: error: include: no fragment 'mon'") != std::string::npos);
  m.apply_events(6, {put(k.fragment("mon"), "elements:\n  rx: Pass\n  m: Pass\n", 6)});
  Diagnostics diag2(k.node_graph("r1"));
  d = m.compose(diag2);
  CHECK(d.revision == 6);
  CHECK(diag2.format().find("/weft/desired/fragments/mon:2:3: error: duplicate element id 'rx' (first defined at "
                            "/weft/desired/nodes/r1:6)") != std::string::npos);
}

TEST_CASE("fleet mirror: an old update never overwrites a newer one", "[fleet]") {
  FleetKeys k;
  FleetMirror m(k, "r1");
  const std::string key = k.node_graph("r1");
  m.apply_events(20, {put(key, "name: new\nelements: {}\n", 20)});
  // A full read that is older than what the watch delivered is ignored.
  CHECK_FALSE(m.load_snapshot(15, {kv(key, "name: old\nelements: {}\n", 12)}));
  // An event for the key older than the one held is ignored.
  m.apply_events(21, {put(key, "name: older\nelements: {}\n", 18)});
  Diagnostics diag(key);
  auto d = m.compose(diag);
  CHECK(d.spec->name == "new");
  CHECK(d.revision == 20);
  CHECK(m.revision() == 21);
  // Another node's key is not ours.
  m.apply_events(22, {put(k.node_graph("r10"), "name: theirs\nelements: {}\n", 22)});
  Diagnostics diag2(key);
  CHECK(m.compose(diag2).spec->name == "new");
}

TEST_CASE("fleet mirror: deletes, in events and in full reads, move the desired revision forward", "[fleet]") {
  FleetKeys k;
  FleetMirror m(k, "r1");
  const std::string key = k.node_graph("r1");
  m.load_snapshot(3, {kv(key, "name: a\nelements: {}\n", 3)});
  m.apply_events(4, {del(key, 4)});
  Diagnostics d1(key);
  auto d = m.compose(d1);
  CHECK_FALSE(d.present);
  CHECK(d.revision == 4);
  // Put back, then gone again while we did not watch: the full read notices.
  m.apply_events(5, {put(key, "name: b\nelements: {}\n", 5)});
  m.load_snapshot(9, {});
  Diagnostics d2(key);
  d = m.compose(d2);
  CHECK_FALSE(d.present);
  CHECK(d.revision == 9);
}

TEST_CASE("etcd client helpers: base64 and prefix ends", "[fleet]") {
  CHECK(weft::base64_encode("foo") == "Zm9v");
  CHECK(weft::base64_encode("") == "");
  CHECK(weft::base64_decode("Zm9vYg==") == "foob");
  CHECK(weft::base64_decode(weft::base64_encode(std::string("a\0b\xff", 4))) == std::string("a\0b\xff", 4));
  CHECK_THROWS_AS(weft::base64_decode("Zm9"), weft::EtcdError);
  CHECK(weft::prefix_end("/weft/") == "/weft0");
  CHECK(weft::prefix_end(std::string("a\xff", 2)) == "b");
}

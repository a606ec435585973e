// VlanPush and VlanPop, driven through the harness with real mbufs. Expected
// frames are written out byte by byte here, not built by the elements' code.
#include <catch2/catch.hpp>

#include "test_env.hpp"
#include "testing/graph_harness.hpp"
#include "weft/fields.hpp"

using namespace weft;
using namespace weft::test;

namespace {

using Bytes = std::vector<uint8_t>;

const Bytes kDst = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
const Bytes kSrc = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
const Bytes kPayload = {0x45, 0x00, 0x00, 0x1c, 0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04,
                        0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10};

// dst, src, then the given bytes (tags, ethertype, payload).
Bytes frame(std::initializer_list<Bytes> parts) {
  Bytes f = kDst;
  f.insert(f.end(), kSrc.begin(), kSrc.end());
  for (const auto& p : parts) f.insert(f.end(), p.begin(), p.end());
  return f;
}

const Bytes kIpv4Type = {0x08, 0x00};

uint64_t drops(GraphHarness& h, const std::string& id, const std::string& reason) { return h.drops(id, reason); }

std::vector<Bytes> take_bytes(GraphHarness& h, const std::string& id) {
  auto v = h.take(id);
  std::vector<Bytes> out;
  for (auto* m : v) out.push_back(bytes_of(m));
  free_all(v);
  return out;
}

Batch batch_of(const std::vector<Bytes>& frames) {
  Batch b;
  for (const auto& f : frames) b.add(packet(f));
  return b;
}

// A packet whose bytes are split over segments of the given sizes.
rte_mbuf* chained(const Bytes& f, std::initializer_list<size_t> sizes) {
  rte_mbuf* head = nullptr;
  size_t at = 0;
  for (size_t n : sizes) {
    rte_mbuf* seg = packet(Bytes(f.begin() + at, f.begin() + at + n));
    at += n;
    if (!head) head = seg;
    else REQUIRE(rte_pktmbuf_chain(head, seg) == 0);
  }
  if (at < f.size()) REQUIRE(rte_pktmbuf_chain(head, packet(Bytes(f.begin() + at, f.end()))) == 0);
  return head;
}

}  // namespace

TEST_CASE("VlanPush inserts an 802.1Q tag with VID, PCP and DEI after the MAC addresses", "[vlan]") {
  GraphHarness h(R"(
elements:
  push: {class: VlanPush, vid: 100, pcp: 5, dei: true}
  out: Capture
connections:
  - push -> out
)",
                 loader(), pool());
  Batch b = batch_of({frame({kIpv4Type, kPayload})});
  h.push("push", b);
  auto out = take_bytes(h, "out");
  REQUIRE(out.size() == 1);
  // TCI: PCP 5 (101), DEI 1, VID 100 (0x064) -> 1011 0000 0110 0100 = 0xb064.
  CHECK(out[0] == frame({{0x81, 0x00, 0xb0, 0x64}, kIpv4Type, kPayload}));
}

TEST_CASE("VlanPush onto a tagged frame makes QinQ with any TPID", "[vlan]") {
  GraphHarness h(R"(
elements:
  s: {class: VlanPush, vid: 4095, tpid: 0x88a8}
  odd: {class: VlanPush, vid: 0, pcp: 7, tpid: 0x9100}
  a: Capture
  b: Capture
connections:
  - s -> a
  - odd -> b
)",
                 loader(), pool());
  const Bytes tagged = frame({{0x81, 0x00, 0x00, 0x0a}, kIpv4Type, kPayload});
  Batch in = batch_of({tagged});
  h.push("s", in);
  auto a = take_bytes(h, "a");
  REQUIRE(a.size() == 1);
  CHECK(a[0] == frame({{0x88, 0xa8, 0x0f, 0xff}, {0x81, 0x00, 0x00, 0x0a}, kIpv4Type, kPayload}));

  Batch in2 = batch_of({frame({kIpv4Type, kPayload})});
  h.push("odd", in2);
  auto b = take_bytes(h, "b");
  REQUIRE(b.size() == 1);
  CHECK(b[0] == frame({{0x91, 0x00, 0xe0, 0x00}, kIpv4Type, kPayload}));
  CHECK(h.read_handler("s", "tag") == "vid 4095 pcp 0 dei 0 tpid 0x88a8");
  CHECK(h.read_handler("odd", "tag") == "vid 0 pcp 7 dei 0 tpid 0x9100");
}

TEST_CASE("VlanPop removes the outermost tag, or both of QinQ, and records them outermost first", "[vlan]") {
  GraphHarness h(R"(
elements:
  pop1: VlanPop
  pop2: {class: VlanPop, count: 2}
  a: Capture
  b: Capture
connections:
  - pop1 -> a
  - pop2 -> b
)",
                 loader(), pool());
  fields::Vlan vlan = fields::vlan();
  const Bytes qinq = frame({{0x88, 0xa8, 0x20, 0x14}, {0x81, 0x00, 0xa0, 0x0a}, kIpv4Type, kPayload});
  const Bytes single = frame({{0x81, 0x00, 0x70, 0x05}, kIpv4Type, kPayload});

  Batch b1 = batch_of({qinq, single});
  h.push("pop1", b1);
  auto a = h.take("a");
  REQUIRE(a.size() == 2);
  CHECK(bytes_of(a[0]) == frame({{0x81, 0x00, 0xa0, 0x0a}, kIpv4Type, kPayload}));
  REQUIRE(vlan.has(a[0]));
  CHECK(vlan.get(a[0]).count == 1);
  CHECK(vlan.get(a[0]).tpid[0] == 0x88a8);
  CHECK(vlan.get(a[0]).tci[0] == 0x2014);  // PCP 1, DEI 0, VID 20
  CHECK(bytes_of(a[1]) == frame({kIpv4Type, kPayload}));
  CHECK(vlan.get(a[1]).tpid[0] == 0x8100);
  CHECK(vlan.get(a[1]).tci[0] == 0x7005);  // PCP 3, DEI 1, VID 5
  free_all(a);

  Batch b2 = batch_of({qinq, single});
  h.push("pop2", b2);
  auto b = h.take("b");
  REQUIRE(b.size() == 2);
  CHECK(bytes_of(b[0]) == frame({kIpv4Type, kPayload}));
  REQUIRE(vlan.has(b[0]));
  const fields::VlanTags t = vlan.get(b[0]);
  CHECK(t.count == 2);
  CHECK(t.tpid[0] == 0x88a8);
  CHECK(t.tci[0] == 0x2014);
  CHECK(t.tpid[1] == 0x8100);
  CHECK(t.tci[1] == 0xa00a);
  // count: 2 on a frame with one tag removes that one.
  CHECK(bytes_of(b[1]) == frame({kIpv4Type, kPayload}));
  CHECK(vlan.get(b[1]).count == 1);
  free_all(b);
}

TEST_CASE("VlanPop then VlanPush without vid restores the frame and pcp or tpid override it", "[vlan]") {
  GraphHarness h(R"(
elements:
  pop: VlanPop
  push: VlanPush
  pop2: VlanPop
  repcp: {class: VlanPush, pcp: 0, tpid: 0x8100}
  a: Capture
  b: Capture
connections:
  - pop -> push -> a
  - pop2 -> repcp -> b
)",
                 loader(), pool());
  const Bytes qinq = frame({{0x88, 0xa8, 0xb0, 0x14}, {0x81, 0x00, 0x00, 0x0a}, kIpv4Type, kPayload});
  const Bytes single = frame({{0x81, 0x00, 0x30, 0x05}, kIpv4Type, kPayload});
  Batch in = batch_of({qinq, single});
  h.push("pop", in);
  auto a = take_bytes(h, "a");
  REQUIRE(a.size() == 2);
  CHECK(a[0] == qinq);
  CHECK(a[1] == single);

  Batch in2 = batch_of({qinq});
  h.push("pop2", in2);
  auto b = take_bytes(h, "b");
  REQUIRE(b.size() == 1);
  // VID 20 and DEI 1 from metadata; PCP 0 and TPID 0x8100 from the parameters.
  CHECK(b[0] == frame({{0x81, 0x00, 0x10, 0x14}, {0x81, 0x00, 0x00, 0x0a}, kIpv4Type, kPayload}));
  CHECK(h.read_handler("push", "tag") == "vid from metadata");
  CHECK(h.read_handler("repcp", "tag") == "vid from metadata pcp 0 tpid 0x8100");
}

TEST_CASE("VlanPop: untagged frames pass with metadata cleared, or are dropped", "[vlan]") {
  GraphHarness h(R"(
elements:
  pass: VlanPop
  strict: {class: VlanPop, untagged: drop}
  a: Capture
  b: Capture
connections:
  - pass -> a
  - strict -> b
)",
                 loader(), pool());
  fields::Vlan vlan = fields::vlan();
  const Bytes plain = frame({kIpv4Type, kPayload});
  Batch in = batch_of({plain});
  vlan.set(in.pkts[0], fields::VlanTags{{0x8100, 0}, {7, 0}, 1});
  h.push("pass", in);
  auto a = h.take("a");
  REQUIRE(a.size() == 1);
  CHECK(bytes_of(a[0]) == plain);
  CHECK_FALSE(vlan.has(a[0]));
  free_all(a);

  Batch in2 = batch_of({plain, frame({{0x81, 0x00, 0x00, 0x01}, kIpv4Type})});
  h.push("strict", in2);
  auto b = take_bytes(h, "b");
  CHECK(b.size() == 1);
  CHECK(drops(h, "strict", "untagged") == 1);
}

TEST_CASE("VLAN elements drop malformed frames with named reasons", "[vlan]") {
  GraphHarness h(R"(
elements:
  pop: {class: VlanPop, count: 2}
  push: {class: VlanPush, vid: 7}
  meta: VlanPush
  a: Capture
  b: Capture
  c: Capture
connections:
  - pop -> a
  - push -> b
  - meta -> c
)",
                 loader(), pool());
  const Bytes full = frame({{0x88, 0xa8, 0x00, 0x14}, {0x81, 0x00, 0x00, 0x0a}, kIpv4Type, kPayload});
  Batch in = batch_of({
      Bytes(full.begin(), full.begin() + 13),  // runt
      Bytes(full.begin(), full.begin() + 14),  // outer TPID, no TCI
      Bytes(full.begin(), full.begin() + 17),  // outer tag one byte short
      Bytes(full.begin(), full.begin() + 20),  // inner tag two bytes short
      Bytes(full.begin(), full.begin() + 22),  // both tags complete, nothing after: fine
  });
  h.push("pop", in);
  auto a = take_bytes(h, "a");
  REQUIRE(a.size() == 1);
  CHECK(a[0] == frame({kIpv4Type}));
  CHECK(drops(h, "pop", "runt") == 1);
  CHECK(drops(h, "pop", "truncated_vlan") == 3);

  // No headroom: the frame starts at the very beginning of its buffer.
  rte_mbuf* tight = rte_pktmbuf_alloc(pool());
  REQUIRE(tight);
  tight->data_off = 0;
  const Bytes plain = frame({kIpv4Type, kPayload});
  std::memcpy(rte_pktmbuf_append(tight, static_cast<uint16_t>(plain.size())), plain.data(), plain.size());
  REQUIRE(rte_pktmbuf_headroom(tight) == 0);
  Batch in2 = batch_of({Bytes(plain.begin(), plain.begin() + 13)});
  in2.add(tight);
  in2.add(packet(plain));
  h.push("push", in2);
  auto b = take_bytes(h, "b");
  REQUIRE(b.size() == 1);
  CHECK(b[0] == frame({{0x81, 0x00, 0x00, 0x07}, kIpv4Type, kPayload}));
  CHECK(drops(h, "push", "runt") == 1);
  CHECK(drops(h, "push", "no_headroom") == 1);

  // No vid and no VLAN metadata.
  Batch in3 = batch_of({plain});
  h.push("meta", in3);
  CHECK(h.take("c").empty());
  CHECK(drops(h, "meta", "no_vid") == 1);
}

TEST_CASE("VlanPop and VlanPush work when the headers straddle segments", "[vlan]") {
  GraphHarness h(R"(
elements:
  pop: {class: VlanPop, count: 2}
  push: {class: VlanPush, vid: 300, tpid: 0x88a8}
  a: Capture
  b: Capture
connections:
  - pop -> a
  - push -> b
)",
                 loader(), pool());
  const Bytes qinq = frame({{0x88, 0xa8, 0x00, 0x14}, {0x81, 0x00, 0x00, 0x0a}, kIpv4Type, kPayload});
  const Bytes plain = frame({kIpv4Type, kPayload});
  Batch in;
  in.add(chained(qinq, {5, 10, 3}));  // addresses and tags over four segments
  in.add(chained(qinq, {2}));         // a tiny first segment
  in.add(chained(qinq, {21}));
  h.push("pop", in);
  auto a = h.take("a");
  REQUIRE(a.size() == 3);
  for (auto* m : a) {
    CHECK(m->pkt_len == plain.size());
    CHECK(bytes_of(m) == plain);
  }
  free_all(a);

  Batch in2;
  in2.add(chained(plain, {7}));
  in2.add(chained(plain, {12, 1}));
  h.push("push", in2);
  auto b = take_bytes(h, "b");
  REQUIRE(b.size() == 2);
  for (const auto& f : b) CHECK(f == frame({{0x88, 0xa8, 0x01, 0x2c}, kIpv4Type, kPayload}));
}

TEST_CASE("VlanPush and VlanPop refuse bad parameters with their position", "[vlan]") {
  auto refuse = [](const std::string& params, const std::string& message) {
    std::string yaml = "elements:\n  e: {" + params + "}\n  out: Capture\nconnections:\n  - e -> out\n";
    try {
      GraphHarness h(yaml, loader(), pool());
      FAIL("accepted: " << params);
    } catch (const std::runtime_error& e) {
      INFO(e.what());
      CHECK(std::string(e.what()).find(message) != std::string::npos);
      CHECK(std::string(e.what()).find("<harness>:2:") != std::string::npos);
    }
  };
  refuse("class: VlanPush, vid: 4096", "vid must be 0-4095");
  refuse("class: VlanPush, vid: 1, pcp: 8", "pcp must be 0-7");
  refuse("class: VlanPush, tpid: 0x10000", "tpid must be a 16-bit value");
  refuse("class: VlanPop, count: 3", "count must be 1 or 2");
  refuse("class: VlanPop, untagged: keep", "untagged: expected pass or drop");
}

// RateLimiter, driven through the harness with real mbufs. The limiters run
// with `clock: manual`: time moves only when the test writes the time_us
// handler, so every color is exact whatever the machine's load.
#include <catch2/catch.hpp>

#include "test_env.hpp"
#include "testing/graph_harness.hpp"
#include "weft/fields.hpp"

using namespace weft;
using namespace weft::test;

namespace {

using Bytes = std::vector<uint8_t>;

uint64_t drops(GraphHarness& h, const std::string& id, const std::string& reason) { return h.drops(id, reason); }

// One of an element's handlers, as its class declares it.
struct Handler {
  Element& e;
  const HandlerSpec& spec;
  std::string read() const { return spec.read(e); }
  void write(const std::string& v) const { spec.write(e, v); }
};

Handler handler(Element& e, const std::string& name) {
  const HandlerSpec* h = e.element_class().find_handler(name);
  REQUIRE(h);
  return {e, *h};
}

std::string read_handler(Element& e, const std::string& name) { return handler(e, name).read(); }

uint64_t read_count(Element& e, const std::string& name) { return std::stoull(read_handler(e, name)); }

size_t take_count(GraphHarness& h, const std::string& id) {
  auto v = h.take(id);
  size_t n = v.size();
  free_all(v);
  return n;
}

// Sets a `clock: manual` limiter's time, in milliseconds since it started.
void at_ms(GraphHarness& h, const std::string& id, double ms) {
  handler(h.element(id), "time_us").write(std::to_string(static_cast<uint64_t>(ms * 1000)));
}

Bytes udp4(const std::string& src, const std::string& dst, uint16_t sport, uint16_t dport, uint8_t tos = 0) {
  Bytes ip = ipv4(src, dst, 17, ports(sport, dport));
  ip[1] = tos;
  // Header checksum, computed here independently of the element.
  uint32_t sum = 0;
  for (size_t i = 0; i < 20; i += 2) sum += uint32_t(ip[i] << 8 | ip[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  uint16_t cks = static_cast<uint16_t>(~sum);
  ip[10] = static_cast<uint8_t>(cks >> 8);
  ip[11] = static_cast<uint8_t>(cks);
  return eth(0x0800, ip);
}

// The ones-complement sum over the IPv4 header at `off` is 0xffff when its checksum is right.
bool ipv4_checksum_ok(const Bytes& f, size_t off = 14) {
  uint32_t sum = 0;
  size_t ihl = (f[off] & 0xf) * 4u;
  for (size_t i = 0; i < ihl; i += 2) sum += uint32_t(f[off + i] << 8 | f[off + i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return sum == 0xffff;
}

Batch copies(const Bytes& f, unsigned n) {
  Batch b;
  for (unsigned i = 0; i < n; i++) b.add(packet(f));
  return b;
}

const std::string kSplit = R"(
  g: Capture
  y: Capture
  r: Capture
connections:
  - rl[green] -> g
  - rl[yellow] -> y
  - rl[red] -> r
)";

}  // namespace

TEST_CASE("RateLimiter srTCM: a burst gets CBS green and EBS yellow, then the rate refills", "[ratelimiter]") {
  GraphHarness h(
      "elements:\n  rl: {class: RateLimiter, clock: manual, unit: pps, rate: 1k, burst: 10, excess_burst: 5}\n" +
          kSplit,
      loader(), pool());
  const Bytes f = udp4("10.0.0.1", "10.0.0.2", 1, 2);
  Batch b = copies(f, 30);
  h.push("rl", b);
  CHECK(take_count(h, "g") == 10);
  CHECK(take_count(h, "y") == 5);
  CHECK(take_count(h, "r") == 15);

  // 3.5 ms at 1000 packets/s: 3 tokens, all in the committed bucket.
  at_ms(h, "rl", 3.5);
  Batch b2 = copies(f, 10);
  h.push("rl", b2);
  CHECK(take_count(h, "g") == 3);
  CHECK(take_count(h, "y") == 0);
  CHECK(take_count(h, "r") == 7);

  // A second later both buckets are full again (the excess fills from the overflow).
  at_ms(h, "rl", 1003.5);
  Batch b3 = copies(f, 20);
  h.push("rl", b3);
  CHECK(take_count(h, "g") == 10);
  CHECK(take_count(h, "y") == 5);
  CHECK(take_count(h, "r") == 5);

  Element& rl = h.element("rl");
  CHECK(read_count(rl, "green") == 23);
  CHECK(read_count(rl, "yellow") == 10);
  CHECK(read_count(rl, "red") == 27);
  CHECK(read_handler(rl, "profile") == "srtcm: CIR 1000 packets/s, CBS 10 packets, EBS 5 packets; key none");
  // The framework counts the outputs too.
  CHECK(rl.output_port(0).packets.get() == 23);
}

TEST_CASE("RateLimiter bps: packets weigh their length and rates take suffixes", "[ratelimiter]") {
  GraphHarness h(R"(
elements:
  rl: {class: RateLimiter, clock: manual, rate: 8k, burst: 300, excess_burst: 0}
  big: {class: RateLimiter, clock: manual, rate: 1.5G, peak_rate: 2G, mode: trtcm}
  g: Capture
  y: Capture
  r: Capture
  g2: Capture
  y2: Capture
  r2: Capture
connections:
  - rl[green] -> g
  - rl[yellow] -> y
  - rl[red] -> r
  - big[green] -> g2
  - big[yellow] -> y2
  - big[red] -> r2
)",
                 loader(), pool());
  Bytes f = udp4("10.0.0.1", "10.0.0.2", 1, 2);
  f.resize(100);
  Batch b = copies(f, 5);
  h.push("rl", b);
  CHECK(take_count(h, "g") == 3);  // 300 bytes of 100-byte frames
  CHECK(take_count(h, "y") == 0);
  CHECK(take_count(h, "r") == 2);
  // 8 kbit/s = 1000 bytes/s: 100 ms later, 100 bytes: one more frame.
  at_ms(h, "rl", 100.5);
  Batch b2 = copies(f, 3);
  h.push("rl", b2);
  CHECK(take_count(h, "g") == 1);
  CHECK(take_count(h, "r") == 2);
  CHECK(read_handler(h.element("rl"), "profile") == "srtcm: CIR 1000 bytes/s, CBS 300 bytes, EBS 0 bytes; key none");
  // 1.5 Gbit/s = 187500000 bytes/s; default bursts are 10 ms of each rate.
  CHECK(read_handler(h.element("big"), "profile") ==
        "trtcm: CIR 187500000 bytes/s, CBS 1875000 bytes, PIR 250000000 bytes/s, PBS 2500000 bytes; key none");
}

TEST_CASE("RateLimiter trTCM: peak bucket decides red, committed bucket green", "[ratelimiter]") {
  GraphHarness h(
      "elements:\n  rl: {class: RateLimiter, clock: manual, mode: trtcm, unit: pps, rate: 1000, burst: 5, "
      "peak_rate: 2000, peak_burst: 8}\n" +
          kSplit,
      loader(), pool());
  const Bytes f = udp4("10.0.0.1", "10.0.0.2", 1, 2);
  Batch b = copies(f, 20);
  h.push("rl", b);
  CHECK(take_count(h, "g") == 5);
  CHECK(take_count(h, "y") == 3);
  CHECK(take_count(h, "r") == 12);
  // 2.5 ms: 2 committed tokens, 5 peak tokens.
  at_ms(h, "rl", 2.5);
  Batch b2 = copies(f, 10);
  h.push("rl", b2);
  CHECK(take_count(h, "g") == 2);
  CHECK(take_count(h, "y") == 3);
  CHECK(take_count(h, "r") == 5);
}

TEST_CASE("RateLimiter color-aware: the input color caps the output color", "[ratelimiter]") {
  GraphHarness h(
      "elements:\n  rl: {class: RateLimiter, clock: manual, unit: pps, rate: 1k, burst: 10, color_aware: true}\n" +
          kSplit,
      loader(), pool());
  fields::Color color = fields::color();
  const Bytes f = udp4("10.0.0.1", "10.0.0.2", 1, 2);
  Batch b = copies(f, 6);
  color.set(b.pkts[0], 1);  // yellow in: yellow out (excess tokens left)
  color.set(b.pkts[1], 2);  // red in: red out
  color.set(b.pkts[2], 0);  // green in, and 3..5 without metadata (green)
  h.push("rl", b);
  auto g = h.take("g"), y = h.take("y"), r = h.take("r");
  CHECK(g.size() == 4);
  CHECK(y.size() == 1);
  CHECK(r.size() == 1);
  for (auto* m : g) CHECK(color.get(m) == 0);
  for (auto* m : y) CHECK(color.get(m) == 1);
  for (auto* m : r) CHECK(color.get(m) == 2);
  free_all(g);
  free_all(y);
  free_all(r);
}

TEST_CASE("RateLimiter key flow: each flow has its own bucket and a full table shares one", "[ratelimiter]") {
  GraphHarness h(R"(
elements:
  rl: {class: RateLimiter, clock: manual, unit: pps, rate: 1k, burst: 2, excess_burst: 0, key: flow, max_keys: 8}
  g: Capture
  y: Capture
  r: Capture
connections:
  - rl[green] -> g
  - rl[yellow] -> y
  - rl[red] -> r
)",
                 loader(), pool());
  Element& rl = h.element("rl");
  const Bytes a = udp4("10.0.0.1", "10.0.0.2", 1000, 53);
  const Bytes b = udp4("10.0.0.1", "10.0.0.2", 1001, 53);  // another source port: another flow
  const Bytes v6 = eth(0x86dd, ipv6("2001:db8::1", "2001:db8::2", 6, ports(5, 80)));
  Batch in;
  for (int i = 0; i < 5; i++) {
    in.add(packet(a));
    in.add(packet(b));
    in.add(packet(v6));
  }
  h.push("rl", in);
  CHECK(take_count(h, "g") == 6);  // 2 per flow
  CHECK(take_count(h, "r") == 9);
  CHECK(read_count(rl, "keys") == 3);

  // Non-IP packets share one meter (burst 2) and are counted as unkeyed.
  Batch arp = copies(eth(0x0806, Bytes(28)), 3);
  h.push("rl", arp);
  CHECK(take_count(h, "g") == 2);
  CHECK(take_count(h, "r") == 1);
  CHECK(read_count(rl, "unkeyed") == 3);

  // Seven more flows: five fit (8 keys), two go to the shared meter, which
  // has no token left.
  Batch more;
  for (uint16_t port = 2000; port < 2007; port++) more.add(packet(udp4("10.0.0.1", "10.0.0.2", port, 53)));
  h.push("rl", more);
  CHECK(take_count(h, "g") == 5);
  CHECK(take_count(h, "r") == 2);
  CHECK(read_count(rl, "keys") == 8);
  CHECK(read_count(rl, "table_full") == 2);

  // reset_keys forgets them: fresh buckets for the first flow.
  handler(rl, "reset_keys").write("");
  CHECK(read_count(rl, "keys") == 0);
  Batch again = copies(a, 3);
  h.push("rl", again);
  CHECK(take_count(h, "g") == 2);
  CHECK(take_count(h, "r") == 1);
}

TEST_CASE("RateLimiter keys src_prefix and vni", "[ratelimiter]") {
  GraphHarness h(R"(
elements:
  pfx:
    class: RateLimiter
    clock: manual
    unit: pps
    rate: 1k
    burst: 1
    excess_burst: 0
    key: src_prefix
    prefix_len: 24
  vni: {class: RateLimiter, clock: manual, unit: pps, rate: 1k, burst: 1, excess_burst: 0, key: vni}
  g: Capture
  r: Capture
  y: Capture
  g2: Capture
  r2: Capture
  y2: Capture
connections:
  - pfx[green] -> g
  - pfx[red] -> r
  - pfx[yellow] -> y
  - vni[green] -> g2
  - vni[red] -> r2
  - vni[yellow] -> y2
)",
                 loader(), pool());
  Batch in;
  in.add(packet(udp4("10.0.0.1", "10.9.9.9", 1, 2)));
  in.add(packet(udp4("10.0.0.200", "10.8.8.8", 3, 4)));  // same /24: no token left
  in.add(packet(udp4("10.0.1.1", "10.9.9.9", 1, 2)));    // another /24
  in.add(packet(eth(0x86dd, ipv6("2001:db8:0:1::1", "2001:db8::2", 17, ports(1, 2)))));
  in.add(packet(eth(0x86dd, ipv6("2001:db8:0:1:ffff::1", "2001:db8::2", 17, ports(1, 2)))));  // same /64
  h.push("pfx", in);
  CHECK(take_count(h, "g") == 3);
  CHECK(take_count(h, "r") == 2);
  CHECK(read_count(h.element("pfx"), "keys") == 3);

  fields::Vni vni = fields::vni();
  const Bytes f = udp4("10.0.0.1", "10.0.0.2", 1, 2);
  Batch in2 = copies(f, 5);
  vni.set(in2.pkts[0], 100);
  vni.set(in2.pkts[1], 100);
  vni.set(in2.pkts[2], 200);
  vni.clear(in2.pkts[3]);  // 3 and 4: no VNI, the shared meter
  h.push("vni", in2);
  CHECK(take_count(h, "g2") == 3);
  CHECK(take_count(h, "r2") == 2);
  CHECK(read_count(h.element("vni"), "keys") == 2);
  CHECK(read_count(h.element("vni"), "unkeyed") == 2);
}

TEST_CASE("RateLimiter mark: DSCP per color, ECN kept, IPv4 checksum valid, IPv6 traffic class", "[ratelimiter]") {
  GraphHarness h(R"(
elements:
  rl: {class: RateLimiter, clock: manual, unit: pps, rate: 1k, burst: 1, excess_burst: 1, action: mark}
  ef:
    class: RateLimiter
    clock: manual
    unit: pps
    rate: 1k
    burst: 1
    excess_burst: 0
    action: mark
    dscp_green: ef
    dscp_red: 0
  out: Capture
  out2: Capture
connections:
  - rl -> out
  - ef -> out2
)",
                 loader(), pool());
  fields::Color color = fields::color();
  const Bytes v4 = udp4("192.0.2.1", "198.51.100.7", 4000, 53, 0x01);  // DSCP 0, ECN 01
  Batch in = copies(v4, 3);
  h.push("rl", in);
  auto out = h.take("out");
  REQUIRE(out.size() == 3);
  const uint8_t want_tos[3] = {0x01, 12 << 2 | 1, 14 << 2 | 1};  // keep, AF12, AF13
  for (int i = 0; i < 3; i++) {
    Bytes got = bytes_of(out[i]);
    CHECK(color.get(out[i]) == i);
    CHECK(int(got[15]) == int(want_tos[i]));
    CHECK(ipv4_checksum_ok(got));
    Bytes rest = got;
    rest[15] = v4[15];
    rest[24] = v4[24];
    rest[25] = v4[25];
    CHECK(rest == v4);  // only TOS and checksum changed
  }
  free_all(out);

  // IPv6, in a VLAN tag: traffic class 0xb6 (DSCP 45, ECN 2), flow label 0xabcde.
  Bytes v6 = vlan_eth(7, 0x86dd, ipv6("2001:db8::1", "2001:db8::2", 17, ports(1, 2)));
  v6[18] = 0x6b;
  v6[19] = 0x6a;
  v6[20] = 0xbc;
  v6[21] = 0xde;
  Batch in2 = copies(v6, 2);
  in2.add(packet(v4));
  h.push("ef", in2);
  auto out2 = h.take("out2");
  REQUIRE(out2.size() == 3);
  Bytes green6 = v6, red6 = v6;
  green6[18] = 0x6b;  // DSCP 46 (EF), ECN 2: traffic class 0xba
  green6[19] = 0xaa;
  red6[18] = 0x60;  // DSCP 0, ECN 2: traffic class 0x02
  red6[19] = 0x2a;
  CHECK(bytes_of(out2[0]) == green6);
  CHECK(bytes_of(out2[1]) == red6);
  CHECK(bytes_of(out2[2]) == v4);  // red, DSCP 0: as it was
  free_all(out2);
}

TEST_CASE("RateLimiter mark rewrites an IPv4 header split across segments", "[ratelimiter]") {
  GraphHarness h(R"(
elements:
  rl: {class: RateLimiter, clock: manual, unit: pps, rate: 1k, burst: 1, excess_burst: 0, action: mark,
       dscp_red: cs1}
  out: Capture
connections:
  - rl -> out
)",
                 loader(), pool());
  const Bytes v4 = udp4("192.0.2.1", "198.51.100.7", 4000, 53);
  Batch in;
  in.add(packet(v4));  // green, unchanged
  rte_mbuf* a = packet({v4.begin(), v4.begin() + 15});  // the TOS byte starts the second segment
  rte_mbuf* b = packet({v4.begin() + 15, v4.begin() + 25});  // the checksum straddles segments 2 and 3
  rte_mbuf* c = packet({v4.begin() + 25, v4.end()});
  REQUIRE(rte_pktmbuf_chain(a, b) == 0);
  REQUIRE(rte_pktmbuf_chain(a, c) == 0);
  in.add(a);
  h.push("rl", in);
  auto out = h.take("out");
  REQUIRE(out.size() == 2);
  Bytes got = bytes_of(out[1]);
  CHECK(int(got[15]) == 8 << 2);  // CS1
  CHECK(ipv4_checksum_ok(got));
  free_all(out);
}

TEST_CASE("RateLimiter red: drop drops red packets, with no red output", "[ratelimiter]") {
  GraphHarness h(R"(
elements:
  rl: {class: RateLimiter, clock: manual, unit: pps, rate: 1k, burst: 2, excess_burst: 1, red: drop}
  g: Capture
  y: Capture
connections:
  - rl[green] -> g
  - rl[yellow] -> y
)",
                 loader(), pool());
  CHECK(h.element("rl").output_count() == 2);
  Batch b = copies(udp4("10.0.0.1", "10.0.0.2", 1, 2), 10);
  h.push("rl", b);
  CHECK(take_count(h, "g") == 2);
  CHECK(take_count(h, "y") == 1);
  CHECK(drops(h, "rl", "red") == 7);
  CHECK(read_count(h.element("rl"), "red") == 7);
}

TEST_CASE("RateLimiter take_state carries buckets and keys, resets when the rate changes", "[ratelimiter]") {
  const std::string tail = R"(
  g: Capture
  y: Capture
  r: Capture
connections:
  - rl[green] -> g
  - rl[yellow] -> y
  - rl[red] -> r
)";
  const std::string same =
      "elements:\n  rl: {class: RateLimiter, clock: manual, unit: pps, rate: 1k, burst: 4, excess_burst: 0, "
      "key: flow}\n";
  GraphHarness old_graph(same + tail, loader(), pool());
  const Bytes a = udp4("10.0.0.1", "10.0.0.2", 1, 2), b = udp4("10.0.0.3", "10.0.0.2", 1, 2);
  Batch in = copies(a, 3);
  in.add(packet(b));
  old_graph.push("rl", in);
  CHECK(take_count(old_graph, "g") == 4);
  Element& old_rl = old_graph.element("rl");

  // Same buckets and keys (color_aware does not change them): carried.
  const std::string aware =
      "elements:\n  rl: {class: RateLimiter, clock: manual, unit: pps, rate: 1k, burst: 4, excess_burst: 0, "
      "key: flow, color_aware: true}\n";
  GraphHarness new_graph(aware + tail, loader(), pool());
  Element& new_rl = new_graph.element("rl");
  StateCarry carry = new_rl.take_state(old_rl);
  CHECK(carry.carried);
  INFO(carry.why);
  CHECK(carry.why.find("2 key(s)") != std::string::npos);
  CHECK(read_count(new_rl, "keys") == 2);
  CHECK(read_count(new_rl, "green") == 4);
  CHECK(read_handler(new_rl, "time_us") == "0");  // the old limiter's clock, still at 0
  Batch in2 = copies(a, 2);
  in2.add(packet(b));
  in2.add(packet(b));
  in2.add(packet(b));
  new_graph.push("rl", in2);
  CHECK(take_count(new_graph, "g") == 1 + 3);  // flow a had 1 token left, flow b 3
  CHECK(take_count(new_graph, "r") == 1);
  old_graph.element("rl").cleanup();  // what the framework does with the old instance: nothing left to free twice

  // A different rate: reset, saying why; the buckets start full.
  GraphHarness changed(
      "elements:\n  rl: {class: RateLimiter, clock: manual, unit: pps, rate: 2k, burst: 4, excess_burst: 0, "
      "key: flow}\n" +
          tail,
                       loader(), pool());
  Element& ch = changed.element("rl");
  StateCarry reset = ch.take_state(new_rl);
  CHECK_FALSE(reset.carried);
  CHECK(reset.why == "rate changed: buckets start full, keys start afresh (color counts carried)");
  CHECK(read_count(ch, "keys") == 0);
  CHECK(read_count(ch, "green") == 8);
  Batch in3 = copies(a, 5);
  changed.push("rl", in3);
  CHECK(take_count(changed, "g") == 4);
  CHECK(take_count(changed, "r") == 1);
}

TEST_CASE("RateLimiter refuses bad parameters with their position", "[ratelimiter]") {
  auto refuse = [](const std::string& params, const std::string& message) {
    std::string yaml = "elements:\n  rl: {class: RateLimiter, " + params +
                       "}\n  out: Capture\nconnections:\n  - rl -> out\n";
    try {
      GraphHarness h(yaml, loader(), pool());
      FAIL("accepted: " << params);
    } catch (const std::runtime_error& e) {
      INFO(e.what());
      CHECK(std::string(e.what()).find(message) != std::string::npos);
      CHECK(std::string(e.what()).find("<harness>:2:") != std::string::npos);
    }
  };
  refuse("rate: 10X, action: mark", "rate: expected a number with an optional k, M or G suffix");
  refuse("rate: -5, action: mark", "rate: expected a number");
  refuse("rate: 4, action: mark", "rate: at least 8 bits/s");
  refuse("rate: 10M, mode: trtcm, action: mark", "mode: trtcm needs peak_rate");
  refuse("rate: 10M, mode: trtcm, peak_rate: 5M, action: mark", "peak_rate must be at least rate");
  refuse("rate: 10M, peak_rate: 20M, action: mark", "peak_rate applies to mode: trtcm");
  refuse("rate: 10M, mode: trtcm, peak_rate: 20M, excess_burst: 1k, action: mark",
         "excess_burst applies to mode: srtcm");
  refuse("rate: 10M, key: port, action: mark", "key: expected none, flow, vni or src_prefix");
  refuse("rate: 10M, prefix_len: 16, key: flow, action: mark", "prefix_len applies to key: src_prefix");
  refuse("rate: 10M, key: src_prefix, prefix_len: 33, action: mark", "prefix_len must be 0-32");
  refuse("rate: 10M, key: flow, max_keys: 4, action: mark", "max_keys must be 8 to 16777216");
  refuse("rate: 10M, max_keys: 100, action: mark", "max_keys applies to key");
  refuse("rate: 10M, action: mark, dscp_red: 64", "dscp_red: expected 0-63");
  refuse("rate: 10M, dscp_red: 8", "dscp_red applies to action: mark");
  refuse("rate: 10M, unit: Bps, action: mark", "unit: expected bps or pps");
  refuse("rate: 10M, red: discard, action: mark", "red: expected pass or drop");
  refuse("rate: 10M, burst: 0, action: mark", "burst: must be at least 1");
}

TEST_CASE("RateLimiter time_us moves only a manual clock, and only forward", "[ratelimiter]") {
  GraphHarness h(R"(
elements:
  manual: {class: RateLimiter, clock: manual, rate: 1M, action: mark}
  real: {class: RateLimiter, rate: 1M, action: mark}
  a: Capture
  b: Capture
connections:
  - manual -> a
  - real -> b
)",
                 loader(), pool());
  const Handler manual = handler(h.element("manual"), "time_us");
  const Handler real = handler(h.element("real"), "time_us");
  CHECK(manual.read() == "0");
  manual.write("2500");
  CHECK(manual.read() == "2500");
  CHECK_THROWS_WITH(manual.write("1000"), Catch::Contains("only moves forward"));
  CHECK_THROWS_WITH(manual.write("1.5"), Catch::Contains("non-negative integer"));
  CHECK_THROWS_WITH(real.write("1000"), Catch::Contains("clock: manual"));
  CHECK(std::stoull(real.read()) < 600000000);  // microseconds since start: a real clock

  // A limiter moving from the manual clock to the TSC starts afresh.
  GraphHarness tsc("elements:\n  manual: {class: RateLimiter, rate: 1M, action: mark}\n  a: Capture\n"
                   "connections:\n  - manual -> a\n",
                   loader(), pool());
  StateCarry c = tsc.element("manual").take_state(h.element("manual"));
  CHECK_FALSE(c.carried);
  CHECK(c.why.find("clock changed") == 0);
}

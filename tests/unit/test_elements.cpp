// Each built-in element, driven through the harness with real mbufs.
#include <catch2/catch.hpp>

#include <algorithm>

#include "testing/graph_harness.hpp"
#include "test_env.hpp"
#include "testing/graph_harness.hpp"

using namespace weft;
using namespace weft::test;

namespace {

Batch batch_of(const std::vector<std::vector<uint8_t>>& frames) {
  Batch b;
  for (const auto& f : frames) b.add(packet(f));
  return b;
}

uint64_t drops(GraphHarness& h, const std::string& id, const std::string& reason) { return h.drops(id, reason); }

}  // namespace

TEST_CASE("Classifier sorts by L2, L3 and L4 fields, first match wins", "[elements][classifier]") {
  GraphHarness h(R"(
elements:
  cls:
    class: Classifier
    rules:
      - {output: arp, ethertype: arp}
      - {output: web, ip_proto: tcp, dst_port: 80-81}
      - {output: v10, vlan: 10}
      - {output: lan6, ip_src: 2001:db8::/32}
      - {output: lan, ip_src: 10.0.0.0/8}
      - {output: mac, dst_mac: "52:54:00:00:00:09"}
  arp: Capture
  web: Capture
  v10: Capture
  lan6: Capture
  lan: Capture
  mac: Capture
  other: Capture
connections:
  - cls[arp] -> arp
  - cls[web] -> web
  - cls[v10] -> v10
  - cls[lan6] -> lan6
  - cls[lan] -> lan
  - cls[mac] -> mac
  - cls[default] -> other
)",
                 loader(), pool());
  Batch b = batch_of({
      eth(0x0806, std::vector<uint8_t>(28)),                                 // arp
      eth(0x0800, ipv4("10.1.1.1", "192.0.2.1", 6, ports(1234, 80))),        // web (before lan)
      eth(0x0800, ipv4("10.1.1.1", "192.0.2.1", 6, ports(1234, 82))),        // lan
      eth(0x0800, ipv4("192.0.2.9", "192.0.2.1", 17, ports(1234, 80))),      // other (udp)
      vlan_eth(10, 0x0800, ipv4("192.0.2.9", "192.0.2.1", 17, ports(1, 2))),  // v10
      eth(0x86dd, ipv6("2001:db8::1", "2001:db8::2", 17, ports(1, 2))),      // lan6
      eth(0x86dd, ipv6("2001:db9::1", "2001:db8::2", 6, ports(5, 81))),      // web (v6)
      eth(0x88b5, {}, "52:54:00:00:00:09"),                                  // mac
  });
  h.push("cls", b);
  auto take = [&](const char* id) {
    auto v = h.take(id);
    size_t n = v.size();
    free_all(v);
    return n;
  };
  CHECK(take("arp") == 1);
  CHECK(take("web") == 2);
  CHECK(take("lan") == 1);
  CHECK(take("other") == 1);
  CHECK(take("v10") == 1);
  CHECK(take("lan6") == 1);
  CHECK(take("mac") == 1);
  Element& cls = h.element("cls");
  CHECK(cls.output_port(1).packets.get() == 2);  // framework counts per output
  const std::string rules = h.read_handler("cls", "rules");
  CHECK(rules.rfind("{output: arp, ethertype: arp}\n", 0) == 0);
  CHECK(std::count(rules.begin(), rules.end(), '\n') == 6);
}

TEST_CASE("Classifier drops truncated headers with named reasons, never reading past the end",
          "[elements][classifier]") {
  GraphHarness h(R"(
elements:
  cls: {class: Classifier, rules: [{output: web, dst_port: 80}], default: drop}
  web: Capture
connections:
  - cls[web] -> web
)",
                 loader(), pool());
  auto full = eth(0x0800, ipv4("10.0.0.1", "10.0.0.2", 6, ports(1, 80)));
  std::vector<uint8_t> runt(full.begin(), full.begin() + 10);
  std::vector<uint8_t> trunc_ip(full.begin(), full.begin() + 14 + 12);
  std::vector<uint8_t> trunc_l4(full.begin(), full.begin() + 14 + 20 + 2);
  auto bad_ihl = full;
  bad_ihl[14] = 0x43;
  auto trunc_vlan = eth(0x8100, {0x00});
  Batch b = batch_of({runt, trunc_ip, trunc_l4, bad_ihl, trunc_vlan, full,
                      eth(0x0800, ipv4("10.0.0.1", "10.0.0.2", 17, ports(1, 81)))});
  h.push("cls", b);
  auto web = h.take("web");
  CHECK(web.size() == 1);
  free_all(web);
  CHECK(drops(h, "cls", "runt") == 1);
  CHECK(drops(h, "cls", "truncated_ip") == 1);
  CHECK(drops(h, "cls", "truncated_l4") == 1);
  CHECK(drops(h, "cls", "bad_ip") == 1);
  CHECK(drops(h, "cls", "truncated_vlan") == 1);
  CHECK(drops(h, "cls", "no_match") == 1);
}

TEST_CASE("Classifier reads headers split across segments", "[elements][classifier]") {
  GraphHarness h(R"(
elements:
  cls: {class: Classifier, rules: [{output: web, dst_port: 80}]}
  web: Capture
  other: Capture
connections:
  - cls[web] -> web
  - cls[default] -> other
)",
                 loader(), pool());
  auto frame = eth(0x0800, ipv4("10.0.0.1", "10.0.0.2", 6, ports(1, 80)));
  // Split after 20 bytes: the IP header straddles two segments.
  rte_mbuf* a = packet({frame.begin(), frame.begin() + 20});
  rte_mbuf* c = packet({frame.begin() + 20, frame.end()});
  REQUIRE(rte_pktmbuf_chain(a, c) == 0);
  Batch b;
  b.add(a);
  h.push("cls", b);
  auto web = h.take("web");
  CHECK(web.size() == 1);
  free_all(web);
}

TEST_CASE("Tee copies to every output, originals on out0", "[elements][tee]") {
  GraphHarness h(R"(
elements:
  t: {class: Tee, outputs: 3}
  a: Capture
  b: Capture
  c: Capture
connections:
  - t[out0] -> a
  - t[1] -> b
  - t[out2] -> c
)",
                 loader(), pool());
  auto f = eth(0x0800, ipv4("10.0.0.1", "10.0.0.2", 17, ports(1, 2)));
  Batch in = batch_of({f, f});
  rte_mbuf* original = in.pkts[0];
  h.push("t", in);
  auto a = h.take("a"), b = h.take("b"), c = h.take("c");
  REQUIRE(a.size() == 2);
  REQUIRE(b.size() == 2);
  REQUIRE(c.size() == 2);
  CHECK(a[0] == original);
  CHECK(b[0] != original);
  CHECK(bytes_of(b[1]) == f);
  CHECK(bytes_of(c[0]) == f);
  free_all(a);
  free_all(b);
  free_all(c);
}

TEST_CASE("Merge, Pass and Counter pass batches, Discard counts", "[elements]") {
  GraphHarness h(R"(
elements:
  m: Merge
  n: Pass
  c: Counter
  d: Discard
connections:
  - m -> n -> c -> d
)",
                 loader(), pool());
  auto f = eth(0x0800, ipv4("10.0.0.1", "10.0.0.2", 17, ports(1, 2)));
  Batch b1 = batch_of({f, f, f});
  Batch b2 = batch_of({f});
  h.push("m", b1, 0);
  h.push("m", b2, 1);
  CHECK(h.read_handler("c", "count") == "4");
  CHECK(h.read_handler("c", "byte_count") == std::to_string(4 * f.size()));
  CHECK(drops(h, "d", "discarded") == 4);
  CHECK(h.element("n").output_port(0).bytes.get() == 4 * f.size());
  h.write_handler("c", "reset", "");
  CHECK(h.read_handler("c", "count") == "0");
  CHECK(pool()->size - rte_mempool_avail_count(pool()) < 256 + 8);  // nothing leaked beyond caches
}

TEST_CASE("Queue holds packets until its next run, and reports length and highwater", "[elements][queue]") {
  GraphHarness h(R"(
elements:
  q: {class: Queue, capacity: 4, burst: 2}
  out: Capture
connections:
  - q -> out
)",
                 loader(), pool());
  auto f = eth(0x0800, ipv4("10.0.0.1", "10.0.0.2", 17, ports(1, 2)));
  Batch b = batch_of({f, f, f, f, f});
  h.push("q", b);
  CHECK(h.take("out").empty());
  CHECK(h.read_handler("q", "length") == "4");
  CHECK(h.read_handler("q", "highwater") == "4");
  CHECK(drops(h, "q", "queue_full") == 1);
  CHECK(h.run("q"));
  auto got = h.take("out");
  CHECK(got.size() == 2);
  free_all(got);
  CHECK(h.read_handler("q", "length") == "2");
  CHECK(h.read_handler("q", "highwater") == "4");
  while (h.run("q")) {
  }
  got = h.take("out");
  CHECK(got.size() == 2);
  free_all(got);
}

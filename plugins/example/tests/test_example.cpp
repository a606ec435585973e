// The example's elements in the SDK's harness: the real example.so, loaded
// and checked as routerd loads it, in small graphs fed with packets.
#include <catch2/catch.hpp>
#include <weft/testing.hpp>

namespace wt = weft::testing;

namespace {

// The built-in plugins (Classifier, Counter, ...) and ours.
const wt::Plugins& plugins() {
  static wt::Plugins p;
  static bool loaded = false;
  if (!loaded) {
    p.load_builtin().load(EXAMPLE_PLUGIN);
    loaded = true;
  }
  return p;
}

std::string pcap(const std::string& name) { return std::string(EXAMPLE_PCAPS) + "/" + name; }

// An ICMP echo request from 02:..:01 / 192.0.2.7 to 02:..:02 / 192.0.2.1
// (id 0x1234, seq 1, payload "ping"), with correct checksums.
wt::Frame echo_request(uint8_t type = 8) {
  wt::Frame f = {0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00,  // Ethernet
                 0x45, 0x00, 0x00, 0x20, 0x00, 0x01, 0x00, 0x00, 0x40, 0x01,  // IPv4, 32 bytes, TTL 64
                 0x00, 0x00, 192,  0,    2,    7,    192,  0,    2,    1,     // checksum (below)
                 type, 0x00, 0x00, 0x00, 0x12, 0x34, 0x00, 0x01, 'p',  'i',  'n', 'g'};
  auto fold = [&](size_t from, size_t to) {
    uint32_t s = 0;
    for (size_t i = from; i < to; i += 2) s += static_cast<uint32_t>(f[i] << 8 | f[i + 1]);
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return static_cast<uint16_t>(~s);
  };
  uint16_t ip = fold(14, 34), icmp = fold(34, f.size());
  f[24] = static_cast<uint8_t>(ip >> 8), f[25] = static_cast<uint8_t>(ip);
  f[36] = static_cast<uint8_t>(icmp >> 8), f[37] = static_cast<uint8_t>(icmp);
  return f;
}

}  // namespace

TEST_CASE("DscpMark marks what the classifier selects, like scapy says", "[dscp]") {
  wt::Graph g(R"(
elements:
  cls: {class: Classifier, rules: [{output: media, ethertype: ipv4}, {output: media, ethertype: ipv6},
                                   {output: media, vlan: 7}]}
  ef: {class: DscpMark, dscp: ef}
  out: Capture
  rest: Capture
connections:
  - cls[media] -> ef -> out
  - cls[default] -> rest
)",
              plugins());
  g.push_pcap("cls", pcap("dscp_in.pcap"));
  CHECK(wt::compare_frames(g.take("out"), wt::read_pcap(pcap("dscp_ef.pcap"))) == "");
  CHECK(g.take("rest").empty());
  CHECK(g.read_handler("ef", "marked") == "5");
}

TEST_CASE("DscpMark drops what it cannot mark, by reason, and takes a new DSCP live", "[dscp]") {
  wt::Graph g("elements: {m: {class: DscpMark, dscp: 10}, out: Capture}\nconnections: [m -> out]\n", plugins());
  wt::Frame arp = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06, 0, 1};
  wt::Frame short_ip = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00, 0x45, 0x00};
  g.push("m", {arp, short_ip});
  CHECK(g.take("out").empty());
  CHECK(g.drops("m", "not_ip") == 1);
  CHECK(g.drops("m", "truncated") == 1);

  g.write_handler("m", "dscp", "cs1");
  CHECK(g.read_handler("m", "dscp") == "8");
  auto in = wt::read_pcap(pcap("dscp_in.pcap"));
  g.push("m", {in[3]});  // IPv6, traffic class 0x02
  auto out = g.take("out");
  REQUIRE(out.size() == 1);
  CHECK(out[0][14] == 0x62);  // version 6, upper 4 bits of DSCP 8 (0b001000)
  CHECK(out[0][15] == 0x20);  // lower 2 bits of the DSCP, ECN 0b10 kept
  CHECK_THROWS_WITH(g.write_handler("m", "dscp", "64"), Catch::Contains("expected 0-63"));
}

TEST_CASE("DscpMark refuses a DSCP it does not know, with the position", "[dscp]") {
  CHECK_THROWS_WITH(wt::Graph("elements:\n  m: {class: DscpMark, dscp: af44}\n", plugins()),
                    Catch::Contains("<harness>:2:30") && Catch::Contains("dscp: expected 0-63"));
}

TEST_CASE("IcmpEchoResponder answers echo requests to its service's addresses", "[icmp]") {
  wt::Graph g(R"(
services:
  local: {class: LocalAddresses, addresses: [192.0.2.1, 198.51.100.1]}
elements:
  echo: {class: IcmpEchoResponder, addresses: local, ttl: 60}
  reply: Capture
  other: Capture
connections:
  - echo[reply] -> reply
  - echo[other] -> other
)",
              plugins());
  wt::Frame req = echo_request();
  wt::Frame to_other = req;
  to_other[33] = 9;  // 192.0.2.9: not ours (checksums do not matter, it is not answered)
  g.push("echo", {req, to_other, echo_request(0)});

  // The expected reply, written out by hand.
  wt::Frame want = {0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02, 0x08, 0x00,
                    0x45, 0x00, 0x00, 0x20, 0x00, 0x01, 0x00, 0x00, 60,   0x01,
                    0,    0,    192,  0,    2,    1,    192,  0,    2,    7,
                    0x00, 0x00, 0,    0,    0x12, 0x34, 0x00, 0x01, 'p',  'i', 'n', 'g'};
  // Checksums: the request's, adjusted. IP: TTL 64 -> 60 (word 0x4001 -> 0x3c01);
  // ICMP: type 8 -> 0 (word 0x0800 -> 0x0000).
  auto adjust = [](uint16_t sum, uint16_t from, uint16_t to) {
    uint32_t s = static_cast<uint16_t>(~sum) + static_cast<uint16_t>(~from) + uint32_t{to};
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return static_cast<uint16_t>(~s);
  };
  uint16_t ip = adjust(static_cast<uint16_t>(req[24] << 8 | req[25]), 0x4001, 0x3c01);
  uint16_t icmp = adjust(static_cast<uint16_t>(req[36] << 8 | req[37]), 0x0800, 0x0000);
  want[24] = static_cast<uint8_t>(ip >> 8), want[25] = static_cast<uint8_t>(ip);
  want[36] = static_cast<uint8_t>(icmp >> 8), want[37] = static_cast<uint8_t>(icmp);

  CHECK(wt::compare_frames(g.take("reply"), {want}) == "");
  CHECK(g.take("other").size() == 2);  // another address; an echo reply
  CHECK(g.read_handler("echo", "answered") == "1");
  CHECK(g.output_packets("echo", "reply") == 1);
}

TEST_CASE("IcmpEchoResponder answers only requests from `from`", "[icmp]") {
  wt::Graph g(R"(
services:
  local: {class: LocalAddresses, addresses: [192.0.2.1]}
elements:
  echo: {class: IcmpEchoResponder, addresses: local, from: 192.0.2.0/29}
  reply: Capture
  other: Capture
connections:
  - echo[reply] -> reply
  - echo[other] -> other
)",
              plugins());
  wt::Frame outside = echo_request();
  outside[29] = 8;  // from 192.0.2.8, outside 192.0.2.0/29 (not answered: checksums do not matter)
  g.push("echo", {echo_request(), outside});  // the first is from 192.0.2.7
  CHECK(g.take("reply").size() == 1);
  CHECK(g.take("other").size() == 1);
}

TEST_CASE("IcmpEchoResponder drops requests with a bad checksum or cut short", "[icmp]") {
  wt::Graph g(R"(
services:
  local: {class: LocalAddresses, addresses: [192.0.2.1]}
elements:
  echo: {class: IcmpEchoResponder, addresses: local}
  reply: Capture
  other: Capture
connections:
  - echo[reply] -> reply
  - echo[other] -> other
)",
              plugins());
  wt::Frame bad = echo_request();
  bad.back() ^= 0x01;  // payload changed, checksum not
  wt::Frame cut = echo_request();
  cut.resize(cut.size() - 2);  // shorter than the IP total length
  g.push("echo", {bad, cut});
  CHECK(g.take("reply").empty());
  CHECK(g.take("other").empty());
  CHECK(g.drops("echo", "bad_checksum") == 1);
  CHECK(g.drops("echo", "truncated") == 1);
}

TEST_CASE("Mistakes in addresses are refused with their position", "[icmp]") {
  // The service's own checks (weft::Ip4's parser, duplicates), at the item.
  const std::string echo = "elements:\n  echo: {class: IcmpEchoResponder, addresses: local}\n";
  const std::string bad = "services:\n  local: {class: LocalAddresses, addresses: [192.0.2.1, 192.0.2.300]}\n";
  const std::string twice = "services:\n  local: {class: LocalAddresses, addresses: [192.0.2.1, 192.0.2.1]}\n";
  CHECK_THROWS_WITH(wt::Graph(bad + echo, plugins()),
                    Catch::Contains("<harness>:2:57") && Catch::Contains("addresses: expected an IPv4 address"));
  CHECK_THROWS_WITH(wt::Graph(twice + echo, plugins()),
                    Catch::Contains("<harness>:2:57") && Catch::Contains("192.0.2.1 is listed twice"));
  // The framework's: the service an element names must exist and provide its handle.
  CHECK_THROWS_WITH(wt::Graph(echo, plugins()), Catch::Contains("<harness>:2:") && Catch::Contains("no service 'local'"));
  // `from` is typed: the validator refuses what is not a prefix, the element
  // what is not IPv4.
  const std::string local = "services: {local: {class: LocalAddresses}}\n";
  CHECK_THROWS_WITH(
      wt::Graph(local + "elements:\n  echo: {class: IcmpEchoResponder, addresses: local, from: 10.0.0.300/8}\n",
                plugins()),
      Catch::Contains("<harness>:3:60") && Catch::Contains("parameter 'from' expects an address or prefix"));
  CHECK_THROWS_WITH(
      wt::Graph(local + "elements:\n  echo: {class: IcmpEchoResponder, addresses: local, from: 2001:db8::/32}\n",
                plugins()),
      Catch::Contains("<harness>:3:") && Catch::Contains("from: expected an IPv4 prefix"));
}

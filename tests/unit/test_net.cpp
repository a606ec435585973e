// The shared network value types (weft/net.hpp): the one parser of each,
// against the C library's own inet_pton/inet_ntop as the oracle, and the
// typed parameters built on them (ParamValue, Params::get).
#include <arpa/inet.h>

#include <catch2/catch.hpp>
#include <random>

#include "core/param_node.hpp"
#include "weft/net.hpp"
#include "weft/params.hpp"

using namespace weft;

TEST_CASE("Mac: six two-digit hex bytes separated by colons, either case", "[net]") {
  auto m = Mac::parse("02:00:5E:10:aB:ff");
  REQUIRE(m);
  CHECK(m->bytes == std::array<uint8_t, 6>{0x02, 0x00, 0x5e, 0x10, 0xab, 0xff});
  CHECK(m->str() == "02:00:5e:10:ab:ff");
  CHECK_FALSE(m->multicast());
  CHECK(Mac::parse("ff:ff:ff:ff:ff:ff")->broadcast());
  CHECK(Mac::parse("01:00:5e:00:00:01")->multicast());
  CHECK(Mac::parse("00:00:00:00:00:00")->zero());
  for (const char* bad : {"", "02:00:00:00:00", "02:00:00:00:00:0", "02:00:00:00:00:001", "2:0:0:0:0:1",
                          "02-00-00-00-00-01", "0200.0000.0001", "02:00:00:00:00:0g", "02:00:00:00:00:01 ",
                          " 02:00:00:00:00:01", "02:00:00:00:00:01:02"})
    CHECK_FALSE(Mac::parse(bad));
}

TEST_CASE("Ip4, Ip6, IpAddr: the same answers as inet_pton, printed as inet_ntop prints", "[net]") {
  for (const char* ok : {"0.0.0.0", "192.0.2.1", "255.255.255.255", "10.1.2.3"}) {
    uint8_t want[4];
    REQUIRE(inet_pton(AF_INET, ok, want) == 1);
    auto a = Ip4::parse(ok);
    REQUIRE(a);
    CHECK(std::memcmp(a->data(), want, 4) == 0);
    CHECK(a->str() == ok);
    auto any = IpAddr::parse(ok);
    REQUIRE(any);
    CHECK(any->v4());
    CHECK(any->family() == AF_INET);
    CHECK(any->ip4() == *a);
  }
  CHECK(Ip4::parse("192.0.2.1")->host() == 0xc0000201u);
  CHECK(Ip4::from_host(0xc0000201u).str() == "192.0.2.1");
  for (const char* ok : {"::", "::1", "2001:db8::1", "fe80::1:2:3:4", "::ffff:192.0.2.1", "2001:db8:0:0:1:0:0:1"}) {
    uint8_t want[16];
    REQUIRE(inet_pton(AF_INET6, ok, want) == 1);
    auto a = Ip6::parse(ok);
    REQUIRE(a);
    CHECK(std::memcmp(a->data(), want, 16) == 0);
    char text[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, want, text, sizeof text);
    CHECK(a->str() == text);
    CHECK(IpAddr::parse(ok)->v6());
  }
  for (const char* bad : {"", "1.2.3", "1.2.3.256", "1.2.3.4.5", "01.2.3.4x", "2001:db8::1::2", "gggg::1", "1.2.3.4/24",
                          " 1.2.3.4", "localhost"}) {
    CHECK_FALSE(IpAddr::parse(bad));
  }
  CHECK_FALSE(Ip4::parse("2001:db8::1"));
  CHECK_FALSE(Ip6::parse("192.0.2.1"));
  // Random addresses round-trip through the printer and the parser.
  std::mt19937 rng(7);
  for (int i = 0; i < 1000; i++) {
    Ip6 a;
    for (auto& b : a.bytes) b = static_cast<uint8_t>(rng() & (i % 3 ? 0xff : 0x01));  // runs of zeros too
    CHECK(Ip6::parse(a.str()) == a);
    Ip4 b = Ip4::from_host(static_cast<uint32_t>(rng()));
    CHECK(Ip4::parse(b.str()) == b);
  }
}

TEST_CASE("Prefix: address/length, a bare address is a host prefix, host bits kept until network()", "[net]") {
  auto p = Prefix::parse("192.0.2.77/24");
  REQUIRE(p);
  CHECK(p->v4());
  CHECK(p->len == 24);
  CHECK(p->str() == "192.0.2.77/24");
  CHECK(p->network().str() == "192.0.2.0/24");
  CHECK(p->contains(*IpAddr::parse("192.0.2.1")));
  CHECK_FALSE(p->contains(*IpAddr::parse("192.0.3.1")));
  CHECK_FALSE(p->contains(*IpAddr::parse("2001:db8::1")));
  CHECK(p->contains(*Prefix::parse("192.0.2.128/25")));
  CHECK_FALSE(p->contains(*Prefix::parse("192.0.0.0/16")));
  CHECK(Prefix::parse("192.0.0.0/16")->overlaps(*p));
  CHECK(Prefix::parse("10.0.0.1")->len == 32);
  CHECK(Prefix::parse("2001:db8::/32")->len == 32);
  CHECK(Prefix::parse("2001:db8::1")->len == 128);
  CHECK(Prefix::parse("2001:db8:ffff::/33")->network().str() == "2001:db8:8000::/33");
  CHECK(Prefix::parse("0.0.0.0/0")->contains(*IpAddr::parse("203.0.113.9")));
  CHECK(Prefix::parse("::/0")->contains(*IpAddr::parse("2001:db8::9")));
  for (const char* bad : {"10.0.0.0/33", "2001:db8::/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8x", "/8", "10.0.0/8",
                          "10.0.0.0/08/8", "10.0.0.0 /8"})
    CHECK_FALSE(Prefix::parse(bad));
}

TEST_CASE("PortRange: a port or LO-HI within 0-65535", "[net]") {
  CHECK(PortRange::parse("80") == PortRange{80, 80});
  CHECK(PortRange::parse("1024-65535") == PortRange{1024, 65535});
  CHECK(PortRange::parse("1024-65535")->size() == 64512);
  CHECK(PortRange::parse("0-0")->contains(0));
  CHECK(PortRange::parse("1000-2000")->str() == "1000-2000");
  CHECK(PortRange::parse("53")->str() == "53");
  for (const char* bad : {"", "-", "65536", "2000-1000", "1-2-3", "a-b", "80 ", "-80", "80-"})
    CHECK_FALSE(PortRange::parse(bad));
}

TEST_CASE("ParamValue: typed values and structure, each error at its position", "[net][params]") {
  std::vector<ParamSpec> schema = {{"mac", ParamType::Mac, false, "", "", ""},
                                   {"rules", ParamType::List, false, "[]", "", ""},
                                   {"ports", ParamType::PortRange, false, "\"1024-65535\"", "", ""}};
  YAML::Node n = YAML::Load("mac: 02:00:00:00:00:01\nrules:\n  - {dst: 10.0.0.0/8, via: 192.0.2.1}\n  - {dst: nope}\n");
  Params p = make_params(n, &schema, Mark{1, 1});
  CHECK(p.get<Mac>("mac").str() == "02:00:00:00:00:01");
  CHECK(p.get<PortRange>("ports") == PortRange{1024, 65535});  // the default, parsed by the same parser
  auto rules = p.value("rules").items();
  REQUIRE(rules.size() == 2);
  CHECK(rules[0]["dst"].as<Prefix>("dst").str() == "10.0.0.0/8");
  CHECK(rules[0]["via"].as<IpAddr>("via").str() == "192.0.2.1");
  CHECK_FALSE(rules[0]["none"].defined());
  try {
    rules[1]["dst"].as<Prefix>("dst");
    FAIL("no error");
  } catch (const ConfigError& e) {
    CHECK(std::string(e.what()) == "dst: 'nope' is not an IPv4 or IPv6 address or prefix (such as 10.0.0.0/8)");
    CHECK(e.mark().line == 4);
    CHECK(e.mark().column == 11);
  }
  try {
    rules[0].only_keys({"dst"}, "rules");
    FAIL("no error");
  } catch (const ConfigError& e) {
    CHECK(std::string(e.what()) == "rules: unknown key 'via' (keys: dst)");
    CHECK(e.mark().line == 3);
  }
  auto entries = rules[0].entries();
  REQUIRE(entries.size() == 2);
  CHECK(entries[1].key == "via");
  CHECK(p.effective_yaml() == "{mac: 02:00:00:00:00:01, rules: [{dst: 10.0.0.0/8, via: 192.0.2.1}, {dst: nope}], ports: "
                              "1024-65535}");
}

// Nat66 (NPTv6, RFC 6296) driven with real mbufs through the harness.
//
// Checksum neutrality is checked the strict way: every translated frame's
// TCP/UDP checksum is recomputed with rte_ipv6_udptcp_cksum and its ICMPv6
// checksum independently (rte_ipv6_phdr_cksum + rte_raw_cksum), and must
// equal the checksum the frame carries, which the element never touched.
#include <arpa/inet.h>
#include <rte_ip.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <random>

#include "test_env.hpp"
#include "testing/graph_harness.hpp"

using namespace weft;
using namespace weft::test;

namespace {

using Bytes = std::vector<uint8_t>;

constexpr uint8_t kTcp = 6, kUdp = 17, kIcmp6 = 58;

uint16_t get16(const Bytes& f, size_t off) { return static_cast<uint16_t>(f[off] << 8 | f[off + 1]); }
void put16(Bytes& f, size_t off, uint16_t v) {
  f[off] = static_cast<uint8_t>(v >> 8);
  f[off + 1] = static_cast<uint8_t>(v);
}
std::string addr_text(const uint8_t* a) {
  char b[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, a, b, sizeof b);
  return b;
}
// Canonical text of an address given in any form.
std::string canon(const std::string& s) {
  uint8_t a[16];
  REQUIRE(inet_pton(AF_INET6, s.c_str(), a) == 1);
  return addr_text(a);
}

// The L4 checksum of the IPv6 packet at `ip` as it should be (no extension
// headers), computed independently of the field's current value.
uint16_t l4_checksum(const uint8_t* ip_in, size_t len) {
  Bytes ip(ip_in, ip_in + len);
  auto* h = reinterpret_cast<rte_ipv6_hdr*>(ip.data());
  uint8_t* l4 = ip.data() + 40;
  const size_t l4_len = ntohs(h->payload_len);
  const size_t at = h->proto == kTcp ? 16 : h->proto == kUdp ? 6 : 2;
  l4[at] = l4[at + 1] = 0;
  if (h->proto == kIcmp6) {
    uint32_t s = rte_ipv6_phdr_cksum(h, 0);
    s += rte_raw_cksum(l4, l4_len);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    return static_cast<uint16_t>(~s);
  }
  return rte_ipv6_udptcp_cksum(h, l4);
}
void fix_checksum(Bytes& ip) {
  const size_t at = 40 + (ip[6] == kTcp ? 16 : ip[6] == kUdp ? 6 : 2);
  uint16_t c = l4_checksum(ip.data(), ip.size());
  std::memcpy(ip.data() + at, &c, 2);
}
void check_checksum(const uint8_t* ip, size_t len) {
  const size_t at = 40 + (ip[6] == kTcp ? 16 : ip[6] == kUdp ? 6 : 2);
  uint16_t c;
  std::memcpy(&c, ip + at, 2);
  CHECK(l4_checksum(ip, len) == c);
}

Bytes payload(uint16_t sport, uint16_t dport, size_t len) {
  Bytes v(len, 0);
  put16(v, 0, sport);
  put16(v, 2, dport);
  for (size_t i = 8; i < len; i++) v[i] = static_cast<uint8_t>(i * 7 + 1);
  return v;
}
Bytes ip_tcp(const std::string& s, uint16_t sp, const std::string& d, uint16_t dp) {
  Bytes l4 = payload(sp, dp, 20 + 11);
  l4[12] = 5 << 4;
  l4[13] = 0x02;
  Bytes ip = ipv6(s, d, kTcp, l4);
  fix_checksum(ip);
  return ip;
}
Bytes ip_udp(const std::string& s, uint16_t sp, const std::string& d, uint16_t dp) {
  Bytes l4 = payload(sp, dp, 8 + 23);
  put16(l4, 4, 8 + 23);
  Bytes ip = ipv6(s, d, kUdp, l4);
  fix_checksum(ip);
  return ip;
}
Bytes ip_echo(const std::string& s, const std::string& d, uint8_t type, uint16_t id) {
  Bytes l4(8 + 20, 0x3c);
  l4[0] = type;
  l4[1] = 0;
  put16(l4, 4, id);
  put16(l4, 6, 1);
  Bytes ip = ipv6(s, d, kIcmp6, l4);
  fix_checksum(ip);
  return ip;
}
Bytes ip_error(const std::string& s, const std::string& d, uint8_t type, const Bytes& quoted) {
  Bytes l4(8 + quoted.size(), 0);
  l4[0] = type;
  if (!quoted.empty()) std::memcpy(l4.data() + 8, quoted.data(), quoted.size());
  Bytes ip = ipv6(s, d, kIcmp6, l4);
  fix_checksum(ip);
  return ip;
}
Bytes frame(const Bytes& ip) { return eth(0x86dd, ip); }

struct Pkt {
  std::string src, dst;
  Bytes bytes;  // the frame
};

Pkt decode(const Bytes& f) {
  Pkt p;
  p.bytes = f;
  REQUIRE(f.size() >= 14 + 40);
  REQUIRE(get16(f, 12) == 0x86dd);
  p.src = addr_text(f.data() + 14 + 8);
  p.dst = addr_text(f.data() + 14 + 24);
  check_checksum(f.data() + 14, f.size() - 14);
  // An ICMPv6 error quoting a whole packet: the quoted checksum must hold too.
  if (f[14 + 6] == kIcmp6 && f[14 + 40] < 128 && f.size() >= 14 + 48 + 40 &&
      f.size() - 14 - 48 - 40 >= get16(f, 14 + 48 + 4))
    check_checksum(f.data() + 14 + 48, f.size() - 14 - 48);
  return p;
}

const char* kGraph = R"(
elements:
  npt: {class: Nat66, inside_prefix: "%IN%", outside_prefix: "%OUT%"}
  out: Capture
  in: Capture
connections:
  - npt[to_outside] -> out
  - npt[to_inside] -> in
)";

std::string graph(const std::string& in, const std::string& out) {
  std::string g = kGraph;
  g.replace(g.find("%IN%"), 4, in);
  g.replace(g.find("%OUT%"), 5, out);
  return g;
}

struct Box {
  GraphHarness h;
  Box(const std::string& in, const std::string& out) : h(graph(in, out), loader(), pool()) {}
  Element& npt() { return h.element("npt"); }
  void send(uint16_t input, const std::vector<Bytes>& frames) {
    Batch b;
    for (const auto& f : frames) b.add(packet(f));
    h.push("npt", b, input);
  }
  void inside(const std::vector<Bytes>& f) { send(0, f); }
  void outside(const std::vector<Bytes>& f) { send(1, f); }
  std::vector<Pkt> take(const char* id) {
    auto v = h.take(id);
    std::vector<Pkt> r;
    for (auto* m : v) r.push_back(decode(bytes_of(m)));
    free_all(v);
    return r;
  }
  std::vector<Pkt> out() { return take("out"); }
  std::vector<Pkt> in() { return take("in"); }
  uint64_t drops(const std::string& reason) {
    for (size_t i = 0; i < npt().drop_reason_count(); i++)
      if (npt().element_class().drops[i].name == reason) return npt().drops(i);
    FAIL("no drop reason " << reason);
    return 0;
  }
  std::string read(const std::string& name) {
    const HandlerSpec* spec = npt().element_class().find_handler(name);
    REQUIRE((spec && spec->readable()));
    return spec->read(npt());
  }
};

// The one's-complement sum of an address's eight words.
uint16_t addr_sum(const uint8_t* a) {
  uint32_t s = 0;
  for (int i = 0; i < 16; i += 2) s += static_cast<uint32_t>(a[i] << 8 | a[i + 1]);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return s == 0xffff ? 0 : static_cast<uint16_t>(s);
}

}  // namespace

TEST_CASE("Nat66 follows RFC 6296's worked example (appendix B)", "[nat66]") {
  // FD01:0203:0405:/48 <-> 2001:0DB8:0001:/48: FD01:203:405:1::1234 becomes
  // 2001:DB8:1:D550::1234.
  Box b("fd01:203:405::/48", "2001:db8:1::/48");
  CHECK(b.read("mapping") == "fd01:203:405::/48 <-> 2001:db8:1::/48 adjustment 0xd54f");
  b.inside({frame(ip_udp("fd01:203:405:1::1234", 5000, "2001:db8:99::1", 53))});
  auto out = b.out();
  REQUIRE(out.size() == 1);
  CHECK(out[0].src == canon("2001:db8:1:d550::1234"));
  CHECK(out[0].dst == canon("2001:db8:99::1"));
}

TEST_CASE("Nat66 translates TCP, UDP and ICMPv6 both ways, checksum-neutral, without touching L4", "[nat66]") {
  Box b("fd01:203:405::/48", "2001:db8:1::/48");
  const std::vector<Bytes> sent = {frame(ip_tcp("fd01:203:405:7:a:b:c:d", 40000, "2001:db8:99::80", 80)),
                                   frame(ip_udp("fd01:203:405:0::2", 5353, "2001:db8:99::53", 53)),
                                   frame(ip_echo("fd01:203:405:ffe::1", "2001:db8:99::1", 128, 0x4242))};
  b.inside(sent);
  auto out = b.out();
  REQUIRE(out.size() == 3);
  CHECK(b.in().empty());
  for (size_t i = 0; i < 3; i++) {
    // Only the source changed; everything after the IPv6 header is byte-identical.
    const Bytes& o = out[i].bytes;
    REQUIRE(o.size() == sent[i].size());
    CHECK(std::equal(o.begin(), o.begin() + 14 + 8, sent[i].begin()));
    CHECK(std::equal(o.begin() + 14 + 24, o.end(), sent[i].begin() + 14 + 24));
    CHECK(out[i].src.rfind("2001:db8:1:", 0) == 0);
    CHECK(addr_sum(o.data() + 14 + 8) == addr_sum(sent[i].data() + 14 + 8));
  }
  // Replies to the translated addresses come back to the original ones.
  b.outside({frame(ip_tcp("2001:db8:99::80", 80, out[0].src, 40000)),
             frame(ip_udp("2001:db8:99::53", 53, out[1].src, 5353)),
             frame(ip_echo("2001:db8:99::1", out[2].src, 129, 0x4242))});
  auto in = b.in();
  REQUIRE(in.size() == 3);
  CHECK(in[0].dst == canon("fd01:203:405:7:a:b:c:d"));
  CHECK(in[1].dst == canon("fd01:203:405::2"));
  CHECK(in[2].dst == canon("fd01:203:405:ffe::1"));
  CHECK(in[0].src == canon("2001:db8:99::80"));
}

TEST_CASE("Nat66 round-trips random addresses and keeps their sum, /48 and longer prefixes", "[nat66]") {
  struct Case {
    const char *in, *out;
  } cases[] = {{"fd01:203:405::/48", "2001:db8:1::/48"},
               {"fd00:aaaa:bbbb:cc00::/56", "2001:db8:77:4400::/56"},
               {"fd12:3456:789a:bcd0::/60", "2a00:1450:4001:810::/60"},
               {"fd00:1234:5678:9abc::/64", "2001:db8:4321:8765::/64"},
               {"fd9f::/16", "2001::/16"},
               {"fd00:1230::/29", "2001:db8::/29"}};
  std::mt19937 rng(6296);
  for (const auto& c : cases) {
    CAPTURE(c.in, c.out);
    Box b(c.in, c.out);
    uint8_t in_prefix[16], out_prefix[16];
    inet_pton(AF_INET6, std::string(c.in).substr(0, std::string(c.in).find('/')).c_str(), in_prefix);
    inet_pton(AF_INET6, std::string(c.out).substr(0, std::string(c.out).find('/')).c_str(), out_prefix);
    const unsigned len = static_cast<unsigned>(std::stoi(std::string(c.in).substr(std::string(c.in).find('/') + 1)));
    std::vector<Bytes> frames;
    std::vector<std::string> originals;
    for (int i = 0; i < 200; i++) {
      uint8_t a[16];
      for (auto& x : a) x = static_cast<uint8_t>(rng());
      if (i % 7 == 0) a[8] = a[9] = 0xff;  // an IID word of 0xFFFF: the next word carries the adjustment
      for (unsigned bit = 0; bit < len; bit++) {
        const uint8_t m = static_cast<uint8_t>(0x80 >> (bit % 8));
        a[bit / 8] = static_cast<uint8_t>((a[bit / 8] & ~m) | (in_prefix[bit / 8] & m));
      }
      if (len <= 48 && a[6] == 0xff && a[7] == 0xff) a[7] = 0;  // 0xFFFF subnet: unmappable (tested below)
      originals.push_back(addr_text(a));
      frames.push_back(frame(i % 2 ? ip_udp(originals.back(), 1000, "2001:db8:ffff::1", 2000)
                                   : ip_tcp(originals.back(), 1000, "2001:db8:ffff::1", 2000)));
    }
    b.inside(frames);
    auto out = b.out();
    REQUIRE(out.size() == frames.size());
    std::vector<Bytes> back;
    for (size_t i = 0; i < out.size(); i++) {
      const uint8_t* o = out[i].bytes.data() + 14 + 8;
      CHECK(addr_sum(o) == addr_sum(frames[i].data() + 14 + 8));
      for (unsigned bit = 0; bit < len; bit++) {
        const uint8_t m = static_cast<uint8_t>(0x80 >> (bit % 8));
        CHECK((o[bit / 8] & m) == (out_prefix[bit / 8] & m));
      }
      back.push_back(frame(i % 2 ? ip_udp("2001:db8:ffff::1", 2000, out[i].src, 1000)
                                 : ip_tcp("2001:db8:ffff::1", 2000, out[i].src, 1000)));
    }
    b.outside(back);
    auto in = b.in();
    REQUIRE(in.size() == back.size());
    for (size_t i = 0; i < in.size(); i++) CHECK(in[i].dst == originals[i]);
  }
}

TEST_CASE("Nat66 translates the quoted packet of ICMPv6 errors both ways", "[nat66]") {
  Box b("fd01:203:405::/48", "2001:db8:1::/48");
  // An inside host's datagram goes out, and a router outside reports it.
  Bytes dgram = ip_udp("fd01:203:405:1::1234", 5000, "2001:db8:99::53", 53);
  b.inside({frame(dgram)});
  auto out = b.out();
  REQUIRE(out.size() == 1);
  Bytes sent(out[0].bytes.begin() + 14, out[0].bytes.end());
  b.outside({frame(ip_error("2001:db8:99::fe", out[0].src, 1, sent)),                         // unreachable, all quoted
             frame(ip_error("2001:db8:99::fe", out[0].src, 3, Bytes(sent.begin(), sent.begin() + 44)))});  // time exceeded, part
  auto in = b.in();
  REQUIRE(in.size() == 2);  // decode() checked the ICMPv6 and (whole) quoted checksums
  CHECK(in[0].dst == canon("fd01:203:405:1::1234"));
  CHECK(Bytes(in[0].bytes.begin() + 14 + 48, in[0].bytes.end()) == dgram);  // exactly what the host sent
  CHECK(addr_text(in[1].bytes.data() + 14 + 48 + 8) == canon("fd01:203:405:1::1234"));

  // An inside host reports a packet it got from outside (its destination, in
  // the quote, goes back to the outside prefix).
  Bytes got = ip_tcp("2001:db8:99::80", 80, "fd01:203:405:1::1234", 40000);
  b.inside({frame(ip_error("fd01:203:405:1::1234", "2001:db8:99::80", 1, got))});
  out = b.out();
  REQUIRE(out.size() == 1);
  CHECK(out[0].src == canon("2001:db8:1:d550::1234"));
  CHECK(addr_text(out[0].bytes.data() + 14 + 48 + 24) == canon("2001:db8:1:d550::1234"));
}

TEST_CASE("Nat66 drops with named reasons, never reading past the end", "[nat66]") {
  Box b("fd01:203:405::/48", "2001:db8:1::/48");
  Bytes good = frame(ip_udp("fd01:203:405:1::1", 1, "2001:db8:99::1", 2));
  Bytes v4 = eth(0x0800, ipv4("10.0.0.1", "10.0.0.2", 17, ports(1, 2)));
  Bytes bad_version = good;
  bad_version[14] = 0x40;
  Bytes long_payload = good;
  put16(long_payload, 14 + 4, 500);
  Bytes subnet_ffff = frame(ip_udp("fd01:203:405:ffff::1", 1, "2001:db8:99::1", 2));
  Bytes short_error = frame(ip_error("fd01:203:405:1::1", "2001:db8:99::1", 1, Bytes(20, 0x60)));
  Bytes foreign_quote = frame(ip_error("fd01:203:405:1::1", "2001:db8:99::1", 1,
                                       ip_udp("2001:db8:99::1", 2, "fd99::1", 1)));  // quoted dst not ours
  b.inside({Bytes(8, 0), v4, bad_version, Bytes(good.begin(), good.begin() + 14 + 30), long_payload,
            frame(ip_udp("fd01:203:406::1", 1, "2001:db8:99::1", 2)), subnet_ffff, short_error, foreign_quote,
            good});
  b.outside({frame(ip_udp("2001:db8:99::1", 2, "2001:db8:2::1", 1)),   // destination not in outside_prefix
             frame(ip_udp("2001:db8:99::1", 2, "2001:db8:1:ffff::1", 1))});
  CHECK(b.out().size() == 1);
  CHECK(b.in().empty());
  CHECK(b.drops("not_ipv6") == 2);
  CHECK(b.drops("truncated") == 4);
  CHECK(b.drops("prefix_mismatch") == 3);
  CHECK(b.drops("unmappable") == 2);

  // /56: an interface identifier of all 0xFFFF words has no word to adjust.
  Box c("fd00:aaaa:bbbb:cc00::/56", "2001:db8:77:4400::/56");
  c.inside({frame(ip_udp("fd00:aaaa:bbbb:cc01:ffff:ffff:ffff:ffff", 1, "2001:db8:99::1", 2)),
            frame(ip_udp("fd00:aaaa:bbbb:cc01:ffff:ffff:ffff:fffe", 1, "2001:db8:99::1", 2))});
  CHECK(c.out().size() == 1);
  CHECK(c.drops("unmappable") == 1);
}

TEST_CASE("Nat66 rewrites headers split across segments", "[nat66]") {
  Box b("fd01:203:405::/48", "2001:db8:1::/48");
  Bytes f = frame(ip_tcp("fd01:203:405:1::1234", 1000, "2001:db8:99::1", 80));
  rte_mbuf* a = packet({f.begin(), f.begin() + 30});  // the source address straddles two segments
  rte_mbuf* c = packet({f.begin() + 30, f.end()});
  REQUIRE(rte_pktmbuf_chain(a, c) == 0);
  Batch batch;
  batch.add(a);
  b.h.push("npt", batch, 0);
  auto out = b.out();
  REQUIRE(out.size() == 1);
  CHECK(out[0].src == canon("2001:db8:1:d550::1234"));
}

TEST_CASE("Nat66 refuses prefixes of different or excessive lengths", "[nat66]") {
  CHECK_THROWS_WITH(GraphHarness(graph("fd01::/48", "2001:db8::/56"), loader(), pool()),
                    Catch::Contains("same length"));
  CHECK_THROWS_WITH(GraphHarness(graph("fd01::/80", "2001:db8::/80"), loader(), pool()), Catch::Contains("1-64"));
  CHECK_THROWS_WITH(GraphHarness(graph("fd01::zz/48", "2001:db8::/48"), loader(), pool()),
                    Catch::Contains("parameter 'inside_prefix' expects an address or prefix"));
  CHECK_THROWS_WITH(GraphHarness(graph("fd01::/48", "192.0.2.0/24"), loader(), pool()),
                    Catch::Contains("outside_prefix: expected an IPv6 address or prefix"));
}

// Nat64 (RFC 6146 with RFC 6052 addresses and RFC 7915 translation), driven
// with real mbufs through the harness, and on a weft::Runtime for two
// workers and reloads.
//
// Checksums are checked independently of the element: every frame that
// comes out has its IPv4 header checksum recomputed with rte_ipv4_cksum, its
// TCP/UDP checksum with rte_ipv4_udptcp_cksum / rte_ipv6_udptcp_cksum, its
// ICMP checksum with rte_raw_cksum (ICMPv6: plus rte_ipv6_phdr_cksum), and
// the same for the packet quoted in an ICMP error when it is quoted whole.
// Input frames get their checksums from the same DPDK functions.
#include <arpa/inet.h>
#include <rte_eth_ring.h>
#include <rte_ip.h>
#include <rte_ring.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <thread>

#include "runtime/runtime.hpp"
#include "test_env.hpp"
#include "testing/graph_harness.hpp"

using namespace weft;
using namespace weft::test;
using namespace std::chrono_literals;

namespace {

using Bytes = std::vector<uint8_t>;

constexpr uint8_t kTcp = 6, kUdp = 17, kIcmp = 1, kIcmp6 = 58;
constexpr uint8_t kSyn = 0x02, kAck = 0x10, kFin = 0x01;

const std::string kPool = "198.51.100.1";
const std::string kHost = "2001:db8:1::2";

uint16_t get16(const Bytes& f, size_t off) { return static_cast<uint16_t>(f[off] << 8 | f[off + 1]); }
uint32_t get32(const Bytes& f, size_t off) { return uint32_t{get16(f, off)} << 16 | get16(f, off + 2); }
void put16(Bytes& f, size_t off, uint16_t v) {
  f[off] = static_cast<uint8_t>(v >> 8);
  f[off + 1] = static_cast<uint8_t>(v);
}
void put32(Bytes& f, size_t off, uint32_t v) {
  put16(f, off, static_cast<uint16_t>(v >> 16));
  put16(f, off + 2, static_cast<uint16_t>(v));
}
std::string v4_text(const uint8_t* a) {
  char b[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, a, b, sizeof b);
  return b;
}
std::string v6_text(const uint8_t* a) {
  char b[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, a, b, sizeof b);
  return b;
}
std::string canon6(const std::string& s) {
  uint8_t a[16];
  REQUIRE(inet_pton(AF_INET6, s.c_str(), a) == 1);
  return v6_text(a);
}
// 64:ff9b::A.B.C.D
std::string wkp(const std::string& v4) { return canon6("64:ff9b::" + v4); }

uint16_t fold_not(uint32_t s) {
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(~s);
}

// --- IPv4 -------------------------------------------------------------------

// Sets the IPv4 header checksum and the L4 checksum (UDP: unless udp_zero).
void fix4(uint8_t* ip, bool udp_zero = false) {
  auto* h = reinterpret_cast<rte_ipv4_hdr*>(ip);
  uint8_t* l4 = ip + rte_ipv4_hdr_len(h);
  const size_t l4_len = ntohs(h->total_length) - rte_ipv4_hdr_len(h);
  if (h->next_proto_id == kTcp) {
    auto* t = reinterpret_cast<rte_tcp_hdr*>(l4);
    t->cksum = 0;
    t->cksum = rte_ipv4_udptcp_cksum(h, l4);
  } else if (h->next_proto_id == kUdp) {
    auto* u = reinterpret_cast<rte_udp_hdr*>(l4);
    u->dgram_cksum = 0;
    if (!udp_zero) u->dgram_cksum = rte_ipv4_udptcp_cksum(h, l4);
  } else if (h->next_proto_id == kIcmp) {
    l4[2] = l4[3] = 0;
    uint16_t c = static_cast<uint16_t>(~rte_raw_cksum(l4, l4_len));
    std::memcpy(l4 + 2, &c, 2);
  }
  h->hdr_checksum = 0;
  h->hdr_checksum = rte_ipv4_cksum(h);
}

Bytes l4_bytes(uint16_t sport, uint16_t dport, size_t len, uint8_t seed = 7) {
  Bytes v(len, 0);
  put16(v, 0, sport);
  put16(v, 2, dport);
  for (size_t i = 8; i < len; i++) v[i] = static_cast<uint8_t>(i * seed + 3);
  return v;
}
Bytes tcp_l4(uint16_t sp, uint16_t dp, uint8_t flags, size_t payload = 12) {
  Bytes l4 = l4_bytes(sp, dp, 20 + payload);
  put32(l4, 4, 0x01020304);
  put32(l4, 8, 0x0a0b0c0d);
  l4[12] = 5 << 4;
  l4[13] = flags;
  put16(l4, 14, 8192);
  put16(l4, 16, 0);
  put16(l4, 18, 0);
  return l4;
}
Bytes udp_l4(uint16_t sp, uint16_t dp, size_t payload = 21) {
  Bytes l4 = l4_bytes(sp, dp, 8 + payload, 11);
  put16(l4, 4, static_cast<uint16_t>(8 + payload));
  put16(l4, 6, 0);
  return l4;
}
Bytes echo_l4(uint8_t type, uint16_t id, uint16_t seq = 7, size_t payload = 16) {
  Bytes l4(8 + payload, 0x5a);
  l4[0] = type;
  l4[1] = 0;
  l4[2] = l4[3] = 0;
  put16(l4, 4, id);
  put16(l4, 6, seq);
  return l4;
}

Bytes ip4(const std::string& s, const std::string& d, uint8_t proto, const Bytes& l4, uint8_t ttl = 64,
          uint8_t tos = 0, bool udp_zero = false) {
  Bytes ip = ipv4(s, d, proto, l4);
  ip[1] = tos;
  ip[8] = ttl;
  fix4(ip.data(), udp_zero);
  return ip;
}
Bytes ip4_error(const std::string& s, const std::string& d, uint8_t type, uint8_t code, const Bytes& quoted,
                size_t quote_len = 0, uint32_t rest = 0) {
  const size_t n = quote_len ? std::min(quote_len, quoted.size()) : quoted.size();
  Bytes l4(8 + n, 0);
  l4[0] = type;
  l4[1] = code;
  put32(l4, 4, rest);
  std::memcpy(l4.data() + 8, quoted.data(), n);
  return ip4(s, d, kIcmp, l4);
}

// --- IPv6 -------------------------------------------------------------------

// The L4 checksum of the IPv6 packet at `ip` (no extension headers, or
// `l4_off` past them and `proto`), computed from scratch.
uint16_t l4_csum6(const uint8_t* ip_in, size_t len, size_t l4_off = 40, int proto = -1) {
  Bytes ip(ip_in, ip_in + len);
  auto* h = reinterpret_cast<rte_ipv6_hdr*>(ip.data());
  const uint8_t p = proto < 0 ? h->proto : static_cast<uint8_t>(proto);
  uint8_t* l4 = ip.data() + l4_off;
  const size_t l4_len = ntohs(h->payload_len) - (l4_off - 40);
  const size_t at = p == kTcp ? 16 : p == kUdp ? 6 : 2;
  l4[at] = l4[at + 1] = 0;
  // Pseudo-header with the upper-layer length and protocol (not the base
  // header's next header and payload length, which count extension headers).
  rte_ipv6_hdr ph = *h;
  ph.payload_len = htons(static_cast<uint16_t>(l4_len));
  ph.proto = p;
  uint32_t s = rte_ipv6_phdr_cksum(&ph, 0);
  s += rte_raw_cksum(l4, l4_len);
  uint16_t c = fold_not(s);
  if (p == kUdp && c == 0) c = 0xffff;
  return c;
}
void fix6(Bytes& ip, size_t l4_off = 40, int proto = -1) {
  const uint8_t p = proto < 0 ? ip[6] : static_cast<uint8_t>(proto);
  const size_t at = l4_off + (p == kTcp ? 16 : p == kUdp ? 6 : 2);
  uint16_t c = l4_csum6(ip.data(), ip.size(), l4_off, proto);
  std::memcpy(ip.data() + at, &c, 2);
}
Bytes ip6(const std::string& s, const std::string& d, uint8_t next, const Bytes& l4, uint8_t hop = 64,
          uint8_t tclass = 0) {
  Bytes ip = ipv6(s, d, next, l4);
  ip[0] = static_cast<uint8_t>(0x60 | (tclass >> 4));
  ip[1] = static_cast<uint8_t>(tclass << 4);
  ip[7] = hop;
  fix6(ip);
  return ip;
}
Bytes ip6_error(const std::string& s, const std::string& d, uint8_t type, uint8_t code, const Bytes& quoted,
                uint32_t rest = 0) {
  Bytes l4(8 + quoted.size(), 0);
  l4[0] = type;
  l4[1] = code;
  put32(l4, 4, rest);
  std::memcpy(l4.data() + 8, quoted.data(), quoted.size());
  return ip6(s, d, kIcmp6, l4);
}

Bytes frame4(const Bytes& ip) { return eth(0x0800, ip); }
Bytes frame6(const Bytes& ip) { return eth(0x86dd, ip); }
Bytes payload_of(const Bytes& ip, size_t l4_off) { return Bytes(ip.begin() + static_cast<long>(l4_off), ip.end()); }

// --- decoding, every checksum recomputed --------------------------------------

void check4(const uint8_t* ip_in, size_t len, bool inner = false) {
  Bytes ip(ip_in, ip_in + len);
  auto* h = reinterpret_cast<rte_ipv4_hdr*>(ip.data());
  const size_t ihl = rte_ipv4_hdr_len(h);
  const uint16_t got = h->hdr_checksum;
  h->hdr_checksum = 0;
  CHECK(rte_ipv4_cksum(h) == got);
  h->hdr_checksum = got;
  const size_t total = ntohs(h->total_length);
  if (inner && total > len) return;  // quoted in part
  REQUIRE(total == len);
  uint8_t* l4 = ip.data() + ihl;
  if (h->next_proto_id == kTcp) {
    auto* t = reinterpret_cast<rte_tcp_hdr*>(l4);
    const uint16_t c = t->cksum;
    t->cksum = 0;
    CHECK(rte_ipv4_udptcp_cksum(h, l4) == c);
  } else if (h->next_proto_id == kUdp) {
    auto* u = reinterpret_cast<rte_udp_hdr*>(l4);
    const uint16_t c = u->dgram_cksum;
    if (c == 0) return;
    u->dgram_cksum = 0;
    CHECK(rte_ipv4_udptcp_cksum(h, l4) == c);
  } else if (h->next_proto_id == kIcmp) {
    uint16_t c;
    std::memcpy(&c, l4 + 2, 2);
    l4[2] = l4[3] = 0;
    CHECK(static_cast<uint16_t>(~rte_raw_cksum(l4, total - ihl)) == c);
    std::memcpy(l4 + 2, &c, 2);
    if (!inner && (l4[0] == 3 || l4[0] == 11 || l4[0] == 12)) check4(l4 + 8, total - ihl - 8, true);
  }
}

void check6(const uint8_t* ip, size_t len, bool inner = false) {
  const size_t plen = static_cast<size_t>(ip[4] << 8 | ip[5]);
  if (inner && 40 + plen > len) return;  // quoted in part
  REQUIRE(40 + plen == len);
  const uint8_t p = ip[6];
  const size_t at = 40 + (p == kTcp ? 16 : p == kUdp ? 6 : 2);
  uint16_t c;
  std::memcpy(&c, ip + at, 2);
  CHECK(l4_csum6(ip, len) == c);
  if (!inner && p == kIcmp6 && ip[40] < 128) check6(ip + 48, len - 48, true);
}

struct Pkt {
  bool v6 = false;
  std::string src, dst;
  uint16_t sport = 0, dport = 0;  // ICMP echo: the identifier in sport
  uint8_t proto = 0, flags = 0, hop = 0, tclass = 0, type = 0, code = 0;
  Bytes bytes, ip;  // the frame, and its IP packet
};

Pkt decode(const Bytes& f) {
  Pkt p;
  p.bytes = f;
  REQUIRE(f.size() >= 14 + 20);
  p.ip.assign(f.begin() + 14, f.end());
  const uint8_t* ip = f.data() + 14;
  size_t l4;
  if (get16(f, 12) == 0x86dd) {
    REQUIRE(f.size() >= 14 + 40);
    p.v6 = true;
    p.src = v6_text(ip + 8);
    p.dst = v6_text(ip + 24);
    p.proto = ip[6];
    p.hop = ip[7];
    p.tclass = static_cast<uint8_t>(ip[0] << 4 | ip[1] >> 4);
    l4 = 14 + 40;
    check6(ip, f.size() - 14);
  } else {
    REQUIRE(get16(f, 12) == 0x0800);
    p.src = v4_text(ip + 12);
    p.dst = v4_text(ip + 16);
    p.proto = ip[9];
    p.hop = ip[8];
    p.tclass = ip[1];
    l4 = 14 + (ip[0] & 15u) * 4;
    check4(ip, f.size() - 14);
  }
  if (p.proto == kIcmp || p.proto == kIcmp6) {
    p.type = f[l4];
    p.code = f[l4 + 1];
    p.sport = get16(f, l4 + 4);
  } else {
    p.sport = get16(f, l4);
    p.dport = get16(f, l4 + 2);
    if (p.proto == kTcp) p.flags = f[l4 + 13];
  }
  return p;
}

// --- the element in a harness ------------------------------------------------

std::string graph(const std::string& params) {
  std::string g = "elements:\n  nat:\n    class: Nat64\n";
  size_t start = 0;
  while (start < params.size()) {
    size_t nl = params.find('\n', start);
    if (nl == std::string::npos) nl = params.size();
    g += "    " + params.substr(start, nl - start) + "\n";
    start = nl + 1;
  }
  return g + "  to4: Capture\n  to6: Capture\nconnections:\n  - nat[to_ipv4] -> to4\n  - nat[to_ipv6] -> to6\n";
}

std::string handler(Element& e, const std::string& name, const std::string* write = nullptr) {
  const HandlerSpec* h = e.element_class().find_handler(name);
  REQUIRE(h);
  if (write) {
    REQUIRE(h->writable());
    h->write(e, *write);
    return {};
  }
  REQUIRE(h->readable());
  return h->read(e);
}

uint64_t drops(Element& e, const std::string& reason) {
  for (size_t i = 0; i < e.drop_reason_count(); i++)
    if (e.element_class().drops[i].name == reason) return e.drops(i);
  FAIL("no drop reason " << reason);
  return 0;
}

struct Box {
  GraphHarness h;
  explicit Box(const std::string& params) : h(graph(params), loader(), pool()) {}
  Element& nat() { return h.element("nat"); }
  void send(uint16_t input, const std::vector<Bytes>& frames) {
    Batch b;
    for (const auto& f : frames) b.add(packet(f));
    h.push("nat", b, input);
  }
  void send_mbuf(uint16_t input, rte_mbuf* m) {
    Batch b;
    b.add(m);
    h.push("nat", b, input);
  }
  void from6(const std::vector<Bytes>& ips) {
    std::vector<Bytes> f;
    for (const auto& ip : ips) f.push_back(frame6(ip));
    send(0, f);
  }
  void from4(const std::vector<Bytes>& ips) {
    std::vector<Bytes> f;
    for (const auto& ip : ips) f.push_back(frame4(ip));
    send(1, f);
  }
  std::vector<Pkt> take(const char* id) {
    auto v = h.take(id);
    std::vector<Pkt> out;
    for (auto* m : v) out.push_back(decode(bytes_of(m)));
    free_all(v);
    return out;
  }
  std::vector<Pkt> to4() { return take("to4"); }
  std::vector<Pkt> to6() { return take("to6"); }
  uint64_t drops(const std::string& reason) { return ::drops(nat(), reason); }
  uint64_t all_drops() {
    uint64_t n = 0;
    for (size_t i = 0; i < nat().drop_reason_count(); i++) n += nat().drops(i);
    return n;
  }
  std::string read(const std::string& name) { return handler(nat(), name); }
  void write(const std::string& name, const std::string& v) { handler(nat(), name, &v); }
  void sweep() {
    for (int i = 0; i < 64; i++) h.run("nat");
  }
};

const char* kBase = "pool: [198.51.100.1]\nport_range: 2000-2999\nmax_sessions: 4096\nmax_hosts: 256";

}  // namespace

TEST_CASE("Nat64 translates TCP, UDP and ICMP echo both ways with correct checksums", "[nat64]") {
  Box b(kBase);
  const Bytes syn = ip6(kHost, wkp("192.0.2.80"), kTcp, tcp_l4(40000, 80, kSyn), 64, 0xb8);
  const Bytes udp = ip6(kHost, wkp("192.0.2.53"), kUdp, udp_l4(5353, 53));
  const Bytes echo = ip6(kHost, wkp("192.0.2.1"), kIcmp6, echo_l4(128, 0x4242));
  b.from6({syn, udp, echo});
  auto out = b.to4();
  REQUIRE(out.size() == 3);
  CHECK(b.to6().empty());
  for (const auto& p : out) {
    CHECK_FALSE(p.v6);
    CHECK(p.src == kPool);
    CHECK(p.sport >= 2000);
    CHECK(p.sport <= 2999);
    CHECK(p.hop == 63);  // hop limit 64, decremented
    CHECK(p.ip[6] == 0);  // small: no DF (RFC 7915 5.1), no fragment offset
  }
  CHECK(out[0].dst == "192.0.2.80");
  CHECK(out[0].proto == kTcp);
  CHECK(out[0].dport == 80);
  CHECK(out[0].flags == kSyn);
  CHECK(out[0].tclass == 0xb8);  // traffic class -> TOS
  CHECK(out[1].dst == "192.0.2.53");
  CHECK(out[1].proto == kUdp);
  CHECK(out[2].dst == "192.0.2.1");
  CHECK(out[2].proto == kIcmp);
  CHECK(out[2].type == 8);  // echo request
  // Payloads are carried unchanged (after the rewritten header words).
  CHECK(payload_of(out[0].ip, 20 + 20) == payload_of(syn, 40 + 20));
  CHECK(payload_of(out[1].ip, 20 + 8) == payload_of(udp, 40 + 8));
  CHECK(payload_of(out[2].ip, 20 + 6) == payload_of(echo, 40 + 6));  // sequence and data
  CHECK(b.read("count") == "3");
  CHECK(b.read("tcp_sessions") == "1");
  CHECK(b.read("udp_sessions") == "1");
  CHECK(b.read("icmp_sessions") == "1");
  CHECK(b.read("hosts") == "1");

  // Replies come back as IPv6 from PREFIX+server.
  b.from4({ip4("192.0.2.80", kPool, kTcp, tcp_l4(80, out[0].sport, kSyn | kAck), 50, 0x20),
           ip4("192.0.2.53", kPool, kUdp, udp_l4(53, out[1].sport)),
           ip4("192.0.2.1", kPool, kIcmp, echo_l4(0, out[2].sport))});
  auto in = b.to6();
  REQUIRE(in.size() == 3);
  for (const auto& p : in) {
    CHECK(p.v6);
    CHECK(p.dst == canon6(kHost));
  }
  CHECK(in[0].src == wkp("192.0.2.80"));
  CHECK(in[0].sport == 80);
  CHECK(in[0].dport == 40000);
  CHECK(in[0].hop == 49);  // TTL 50, decremented
  CHECK(in[0].tclass == 0x20);
  CHECK(in[1].src == wkp("192.0.2.53"));
  CHECK(in[1].dport == 5353);
  CHECK(in[2].src == wkp("192.0.2.1"));
  CHECK(in[2].proto == kIcmp6);
  CHECK(in[2].type == 129);  // echo reply
  CHECK(in[2].sport == 0x4242);  // the identifier is restored
  CHECK(b.read("count") == "3");
  CHECK(b.read("created") == "3");
  CHECK(b.all_drops() == 0);
}

TEST_CASE("Nat64 computes the UDP checksum an IPv4 sender left out, sets DF on large packets", "[nat64]") {
  Box b(kBase);
  b.from6({ip6(kHost, wkp("192.0.2.53"), kUdp, udp_l4(5353, 53)),
           ip6(kHost, wkp("192.0.2.80"), kTcp, tcp_l4(40001, 80, kAck, 1300))});
  auto out = b.to4();
  REQUIRE(out.size() == 2);
  CHECK(out[1].ip.size() == 20 + 20 + 1300);
  CHECK(get16(out[1].ip, 6) == 0x4000);  // over 1260 bytes: DF
  b.from4({ip4("192.0.2.53", kPool, kUdp, udp_l4(53, out[0].sport), 64, 0, /*udp_zero=*/true)});
  auto in = b.to6();
  REQUIRE(in.size() == 1);
  CHECK(get16(in[0].ip, 40 + 6) != 0);  // decode() checked its value
}

TEST_CASE("Nat64 embeds and extracts IPv4 addresses at every RFC 6052 prefix length", "[nat64]") {
  // RFC 6052 section 2.4's table: 192.0.2.33 under each prefix.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"2001:db8::/32", "2001:db8:c000:221::"},
      {"2001:db8:100::/40", "2001:db8:1c0:2:21::"},
      {"2001:db8:122::/48", "2001:db8:122:c000:2:2100::"},
      {"2001:db8:122:300::/56", "2001:db8:122:3c0:0:221::"},
      {"2001:db8:122:344::/64", "2001:db8:122:344:c0:2:2100:0"},
      {"2001:db8:122:344::/96", "2001:db8:122:344::c000:221"},
  };
  for (const auto& [prefix, addr] : cases) {
    INFO(prefix);
    Box b(std::string(kBase) + "\nprefix: \"" + prefix + "\"");
    CHECK(b.read("prefix") == prefix);
    b.from6({ip6(kHost, addr, kUdp, udp_l4(1000, 53))});
    auto out = b.to4();
    REQUIRE(out.size() == 1);
    CHECK(out[0].dst == "192.0.2.33");
    b.from4({ip4("192.0.2.33", kPool, kUdp, udp_l4(53, out[0].sport))});
    auto in = b.to6();
    REQUIRE(in.size() == 1);
    CHECK(in[0].src == canon6(addr));
    // The u octet (bits 64-71) and the suffix must be zero: another address
    // with the same embedded IPv4 address is not ours.
    if (prefix.find("/96") == std::string::npos) {
      uint8_t a[16];
      inet_pton(AF_INET6, addr.c_str(), a);
      a[8] = 1;
      b.from6({ip6(kHost, v6_text(a), kUdp, udp_l4(1000, 53))});
      CHECK(b.to4().empty());
      CHECK(b.drops("not_prefix") == 1);
    }
  }
  CHECK_THROWS_WITH(Box(std::string(kBase) + "\nprefix: \"2001:db8::/33\""),
                    Catch::Contains("the length must be 32, 40, 48, 56, 64 or 96"));
  CHECK_THROWS_WITH(
      Box(std::string(kBase) + "\nprefix: 192.0.2.0/24"),
      Catch::Contains("prefix: expected an IPv6 address or prefix such as fd00:1::/48, not '192.0.2.0/24'"));
  CHECK_THROWS_WITH(Box(std::string(kBase) + "\ninside: [10.0.0.0/8]"),
                    Catch::Contains("inside: expected an IPv6 address or prefix"));
}

TEST_CASE("Nat64 maps endpoint-independently, filters by address and port, one host id per address", "[nat64]") {
  Box b(kBase);
  const std::string a = "2001:db8:1::a", c = "2001:db8:1::c";
  b.from6({ip6(a, wkp("192.0.2.1"), kUdp, udp_l4(2500, 53)), ip6(a, wkp("192.0.2.2"), kUdp, udp_l4(2500, 53)),
           ip6(c, wkp("192.0.2.1"), kUdp, udp_l4(2500, 53)), ip6(a, wkp("192.0.2.1"), kTcp, tcp_l4(2500, 80, kSyn))});
  auto out = b.to4();
  REQUIRE(out.size() == 4);
  CHECK(out[0].sport == out[1].sport);  // same IPv6 address:port, same external port for every destination
  CHECK(out[0].sport == 2500);          // preserved where free (in port_range)
  CHECK(out[3].sport == 2500);          // TCP has its own ports
  CHECK(out[2].sport != out[0].sport);  // another host
  CHECK(b.read("hosts") == "2");
  CHECK(b.read("mappings") == "3");  // a udp 5000, c udp 5000, a tcp 5000
  // Only the remote endpoints a session was opened to may answer.
  b.from4({ip4("192.0.2.2", kPool, kUdp, udp_l4(53, out[0].sport)),      // in (session 2)
           ip4("192.0.2.2", kPool, kUdp, udp_l4(54, out[0].sport)),      // other port
           ip4("192.0.2.9", kPool, kUdp, udp_l4(53, out[0].sport)),      // other address
           ip4("192.0.2.1", kPool, kTcp, tcp_l4(53, out[0].sport, kSyn)),  // other protocol
           ip4("192.0.2.1", kPool, kIcmp, echo_l4(8, out[0].sport))});    // an echo request from IPv4
  auto in = b.to6();
  REQUIRE(in.size() == 1);
  CHECK(in[0].dst == canon6(a));
  CHECK(b.drops("no_session") == 4);
  b.write("session_filter", "inside=" + c);
  std::string list = b.read("sessions");
  CHECK(list.find("udp [2001:db8:1::c]:2500 -> 198.51.100.1:") != std::string::npos);
  CHECK(list.find("<-> 192.0.2.1:53 ([64:ff9b::c000:201]) active") != std::string::npos);
  CHECK(list.find("2001:db8:1::a") == std::string::npos);
  b.write("session_filter", "proto=tcp");
  CHECK(b.read("sessions").find("tcp [2001:db8:1::a]:2500 -> 198.51.100.1:2500") != std::string::npos);
  CHECK_THROWS(b.write("session_filter", "inside=10.0.0.1"));
}

TEST_CASE("Nat64 sessions time out per protocol and TCP state, and hosts and ports go back", "[nat64]") {
  Box b(std::string(kBase) + "\nudp: 30\nicmp: 10\ntcp_transitory: 100\ntcp_established: 1000");
  CHECK(b.read("timeouts") == "tcp_established 1000 tcp_transitory 100 udp 30 icmp 10");
  b.from6({ip6(kHost, wkp("192.0.2.1"), kUdp, udp_l4(5000, 53)), ip6(kHost, wkp("192.0.2.1"), kIcmp6, echo_l4(128, 9)),
           ip6(kHost, wkp("192.0.2.1"), kTcp, tcp_l4(6000, 80, kSyn)),
           ip6("2001:db8:1::3", wkp("192.0.2.1"), kTcp, tcp_l4(6001, 80, kSyn))});
  auto out = b.to4();
  REQUIRE(out.size() == 4);
  b.from4({ip4("192.0.2.1", kPool, kTcp, tcp_l4(80, out[2].sport, kSyn | kAck))});
  b.from6({ip6(kHost, wkp("192.0.2.1"), kTcp, tcp_l4(6000, 80, kAck))});
  CHECK(b.to6().size() == 1);
  CHECK(b.to4().size() == 1);
  b.write("session_filter", "port=6000");
  CHECK(b.read("sessions").find("established") != std::string::npos);
  CHECK(b.read("hosts") == "2");

  b.write("advance_clock", "11");
  b.sweep();
  CHECK(b.read("icmp_sessions") == "0");
  b.write("advance_clock", "20");
  b.sweep();
  CHECK(b.read("udp_sessions") == "0");
  b.from4({ip4("192.0.2.1", kPool, kUdp, udp_l4(53, out[0].sport))});
  CHECK(b.to6().empty());
  CHECK(b.drops("no_session") == 1);
  b.write("advance_clock", "80");  // t = 111: the half-open one from ::3 is gone, and its host
  b.sweep();
  CHECK(b.read("tcp_sessions") == "1");
  CHECK(b.read("hosts") == "1");
  CHECK(b.read("expired") == "3");
  b.from6({ip6(kHost, wkp("192.0.2.1"), kTcp, tcp_l4(6000, 80, kFin | kAck))});
  b.from4({ip4("192.0.2.1", kPool, kTcp, tcp_l4(80, out[2].sport, kFin | kAck))});
  CHECK(b.to4().size() == 1);
  CHECK(b.to6().size() == 1);
  CHECK(b.read("sessions").find("closing") != std::string::npos);
  b.write("advance_clock", "101");
  b.sweep();
  CHECK(b.read("count") == "0");
  CHECK(b.read("hosts") == "0");
  CHECK(b.read("mappings") == "0");
  CHECK(b.read("pool") == "198.51.100.1 tcp 1000 udp 1000 icmp 1000\n");
  // A host that comes back gets a new id and works as before.
  b.from6({ip6(kHost, wkp("192.0.2.1"), kUdp, udp_l4(5000, 53))});
  CHECK(b.to4().size() == 1);
  CHECK(b.read("hosts") == "1");
}

TEST_CASE("Nat64 translates ICMPv4 errors to ICMPv6 with the quoted packet translated back", "[nat64]") {
  Box b(kBase);
  const Bytes udp = ip6(kHost, wkp("192.0.2.53"), kUdp, udp_l4(5353, 53));
  const Bytes tcp = ip6(kHost, wkp("192.0.2.80"), kTcp, tcp_l4(40000, 80, kSyn));
  const Bytes echo = ip6(kHost, wkp("192.0.2.1"), kIcmp6, echo_l4(128, 77));
  const Bytes big = ip6(kHost, wkp("192.0.2.53"), kUdp, udp_l4(5353, 53, 1400));
  b.from6({udp, tcp, echo, big});
  auto out = b.to4();
  REQUIRE(out.size() == 4);
  const Bytes sent_udp = out[0].ip, sent_tcp = out[1].ip, sent_echo = out[2].ip, sent_big = out[3].ip;
  b.from4({
      ip4_error("192.0.2.53", kPool, 3, 3, sent_udp),                    // port unreachable, all quoted
      ip4_error("192.0.2.254", kPool, 11, 0, sent_tcp, 28),              // time exceeded, 8 bytes of TCP
      ip4_error("192.0.2.254", kPool, 3, 1, sent_echo),                  // host unreachable about an echo
      ip4_error("192.0.2.254", kPool, 3, 4, sent_big, 0, 1400),          // fragmentation needed, MTU 1400
      ip4_error("192.0.2.254", kPool, 3, 4, sent_big, 548, 0),           // MTU 0: a plateau
      ip4_error("192.0.2.254", kPool, 3, 2, sent_udp),                   // protocol unreachable
      ip4_error("192.0.2.254", kPool, 12, 0, sent_udp, 0, 9u << 24),     // parameter problem at protocol
      ip4_error("192.0.2.254", kPool, 3, 10, sent_udp),                  // administratively prohibited
  });
  auto in = b.to6();
  REQUIRE(in.size() == 8);
  for (const auto& p : in) {
    CHECK(p.proto == kIcmp6);
    CHECK(p.dst == canon6(kHost));
    // The quoted packet is what the host sent, but for the hop limit the
    // NAT decremented on the way out.
    const Bytes quoted(p.ip.begin() + 48, p.ip.end());
    REQUIRE(quoted.size() >= 48);
    CHECK(v6_text(quoted.data() + 8) == canon6(kHost));
  }
  auto same_but_hop = [](const Bytes& quoted, const Bytes& orig) {
    Bytes q = quoted, o(orig.begin(), orig.begin() + static_cast<long>(std::min(orig.size(), quoted.size())));
    REQUIRE(q.size() == o.size());
    CHECK(q[7] == o[7] - 1);
    q[7] = o[7];
    CHECK(q == o);
  };
  CHECK(in[0].src == wkp("192.0.2.53"));
  CHECK(in[0].type == 1);
  CHECK(in[0].code == 4);  // port unreachable
  same_but_hop(Bytes(in[0].ip.begin() + 48, in[0].ip.end()), udp);
  CHECK(in[1].src == wkp("192.0.2.254"));  // the router that said it
  CHECK(in[1].type == 3);
  CHECK(in[1].code == 0);
  same_but_hop(Bytes(in[1].ip.begin() + 48, in[1].ip.end()), tcp);  // 40 + 8 bytes
  CHECK(in[1].ip.size() == 48 + 48);
  CHECK(in[2].type == 1);
  CHECK(in[2].code == 0);  // host unreachable -> no route
  same_but_hop(Bytes(in[2].ip.begin() + 48, in[2].ip.end()), echo);
  CHECK(in[3].type == 2);  // packet too big
  CHECK(get32(in[3].ip, 44) == 1420);
  CHECK(in[3].ip.size() == 1280);  // cut to the IPv6 minimum MTU
  CHECK(in[4].type == 2);
  CHECK(get32(in[4].ip, 44) == 1280);  // plateau 1006 (+20) is below the minimum
  CHECK(in[5].type == 4);
  CHECK(in[5].code == 1);
  CHECK(get32(in[5].ip, 44) == 6);  // pointer at next header
  CHECK(in[6].type == 4);
  CHECK(in[6].code == 0);
  CHECK(get32(in[6].ip, 44) == 6);  // IPv4 protocol (9) -> IPv6 next header (6)
  CHECK(in[7].type == 1);
  CHECK(in[7].code == 1);

  // Dropped: a bad checksum, no counterpart, no session, too short a quote,
  // an error about an error, source quench.
  Bytes bad = ip4_error("192.0.2.53", kPool, 3, 3, sent_udp);
  bad[20 + 2] ^= 1;
  Bytes prec = ip4_error("192.0.2.53", kPool, 3, 14, sent_udp);
  Bytes ptr_na = ip4_error("192.0.2.53", kPool, 12, 0, sent_udp, 0, 4u << 24);  // identification: no IPv6 field
  Bytes stranger = ip4_error("192.0.2.53", kPool, 3, 3, ip4(kPool, "192.0.2.9", kUdp, udp_l4(2999, 1)));
  Bytes short_quote = ip4_error("192.0.2.53", kPool, 3, 3, sent_udp, 24);
  Bytes inner_error(8 + 28, 0);
  inner_error[0] = 3;  // the quoted packet is itself an error
  Bytes about_error = ip4_error("192.0.2.53", kPool, 3, 3, ip4(kPool, "192.0.2.53", kIcmp, inner_error));
  Bytes quench = ip4_error("192.0.2.53", kPool, 4, 0, sent_udp);
  b.from4({bad, prec, ptr_na, stranger, short_quote, about_error, quench});
  CHECK(b.to6().empty());
  CHECK(b.drops("bad_checksum") == 1);
  CHECK(b.drops("unsupported_icmp") == 4);
  CHECK(b.drops("no_session") == 1);
  CHECK(b.drops("truncated_icmp_inner") == 1);
}

TEST_CASE("Nat64 translates ICMPv6 errors to ICMPv4 with the quoted packet translated back", "[nat64]") {
  Box b(kBase);
  b.from6({ip6(kHost, wkp("192.0.2.53"), kUdp, udp_l4(5353, 53)), ip6(kHost, wkp("192.0.2.80"), kTcp, tcp_l4(40000, 80, kSyn))});
  auto out = b.to4();
  REQUIRE(out.size() == 2);
  // The servers send; the IPv6 host answers with errors about what it got.
  const Bytes from_server = ip4("192.0.2.53", kPool, kUdp, udp_l4(53, out[0].sport, 900));
  const Bytes tcp_server = ip4("192.0.2.80", kPool, kTcp, tcp_l4(80, out[1].sport, kSyn | kAck));
  b.from4({from_server, tcp_server});
  auto got = b.to6();
  REQUIRE(got.size() == 2);
  const Bytes at_host = got[0].ip, tcp_at_host = got[1].ip;
  b.from6({ip6_error(kHost, wkp("192.0.2.53"), 1, 4, at_host),                   // port unreachable
           ip6_error("2001:db8:1::1", wkp("192.0.2.80"), 2, 0, tcp_at_host, 1300),  // packet too big from a router
           ip6_error(kHost, wkp("192.0.2.80"), 4, 0, tcp_at_host, 7),            // parameter problem at hop limit
           ip6_error(kHost, wkp("192.0.2.80"), 3, 1, tcp_at_host),               // time exceeded, reassembly
           ip6_error(kHost, wkp("192.0.2.80"), 4, 1, tcp_at_host, 6)});          // unrecognized next header
  auto e = b.to4();
  REQUIRE(e.size() == 5);
  for (const auto& p : e) {
    CHECK(p.src == kPool);  // the host is behind the pool address
    CHECK(p.proto == kIcmp);
  }
  CHECK(e[0].dst == "192.0.2.53");
  CHECK(e[0].type == 3);
  CHECK(e[0].code == 3);
  CHECK(e[0].ip.size() == 576);  // cut to 576 bytes
  // The quoted packet is what the server sent: same addresses, ports, and
  // its own UDP checksum back (the TTL was decremented on the way in).
  const Bytes q(e[0].ip.begin() + 28, e[0].ip.end());
  CHECK(Bytes(q.begin() + 12, q.begin() + 20) == Bytes(from_server.begin() + 12, from_server.begin() + 20));
  CHECK(q[8] == from_server[8] - 1);
  CHECK(Bytes(q.begin() + 20, q.end()) == Bytes(from_server.begin() + 20, from_server.begin() + static_cast<long>(q.size())));
  CHECK(get16(q, 2) == get16(from_server, 2));  // total length as the server sent it
  CHECK(e[1].dst == "192.0.2.80");
  CHECK(e[1].type == 3);
  CHECK(e[1].code == 4);
  CHECK(get16(e[1].ip, 20 + 6) == 1280);  // 1300 - 20
  CHECK(Bytes(e[1].ip.begin() + 48, e[1].ip.end()) == Bytes(tcp_server.begin() + 20, tcp_server.end()));
  CHECK(e[2].type == 12);
  CHECK(e[2].ip[20 + 4] == 8);  // hop limit -> TTL
  CHECK(e[3].type == 11);
  CHECK(e[3].code == 1);
  CHECK(e[4].type == 3);
  CHECK(e[4].code == 2);  // protocol unreachable

  // Dropped: bad checksum, no counterpart, no session, an error quoting a
  // source outside the prefix.
  Bytes bad = ip6_error(kHost, wkp("192.0.2.53"), 1, 4, at_host);
  bad[40 + 2] ^= 1;
  Bytes unrec_opt = ip6_error(kHost, wkp("192.0.2.53"), 4, 2, at_host, 40);
  Bytes flow = ip6_error(kHost, wkp("192.0.2.53"), 4, 0, at_host, 2);
  Bytes other = at_host;
  put16(other, 40 + 2, 9);  // a destination port no session has
  fix6(other);
  Bytes nosess = ip6_error(kHost, wkp("192.0.2.53"), 1, 4, other);
  Bytes foreign = at_host;
  foreign[8] = 0x20;  // quoted source 2064:...: not the prefix
  Bytes notprefix = ip6_error(kHost, wkp("192.0.2.53"), 1, 4, foreign);
  b.from6({bad, unrec_opt, flow, nosess, notprefix});
  CHECK(b.to4().empty());
  CHECK(b.drops("bad_checksum") == 1);
  CHECK(b.drops("unsupported_icmp") == 2);
  CHECK(b.drops("no_session") == 1);
  CHECK(b.drops("not_prefix") == 1);
}

TEST_CASE("Nat64 limits sessions per source, ports, the table and hosts", "[nat64]") {
  SECTION("per source") {
    Box b(std::string(kBase) + "\nmax_sessions_per_source: 3");
    std::vector<Bytes> v;
    for (uint16_t i = 0; i < 5; i++) v.push_back(ip6(kHost, wkp("192.0.2.1"), kUdp, udp_l4(5000, static_cast<uint16_t>(i + 1))));
    v.push_back(ip6("2001:db8:1::3", wkp("192.0.2.1"), kUdp, udp_l4(5000, 1)));
    b.from6(v);
    CHECK(b.to4().size() == 4);
    CHECK(b.drops("source_limit") == 2);
  }
  SECTION("pool exhaustion") {
    Box b("pool: [198.51.100.1]\nport_range: 2000-2003\nmax_sessions: 4096");
    std::vector<Bytes> v;
    for (uint16_t i = 0; i < 6; i++) v.push_back(ip6(kHost, wkp("192.0.2.1"), kUdp, udp_l4(static_cast<uint16_t>(100 + i), 53)));
    b.from6(v);
    CHECK(b.to4().size() == 4);
    CHECK(b.drops("pool_exhausted") == 2);
    CHECK(b.read("allocation_failures") == "2");
  }
  SECTION("table full") {
    Box b("pool: [198.51.100.1]\nmax_sessions: 64");
    std::vector<Bytes> v;
    for (uint16_t i = 0; i < 70; i++)
      v.push_back(ip6("2001:db8:1::" + std::to_string(i % 7 + 2), wkp("192.0.2.1"), kUdp, udp_l4(5000, static_cast<uint16_t>(i + 1))));
    b.from6(v);
    CHECK(b.to4().size() == 64);
    CHECK(b.drops("table_full") == 6);
  }
  SECTION("hosts full") {
    Box b("pool: [198.51.100.1]\nmax_sessions: 4096\nmax_hosts: 3");
    std::vector<Bytes> v;
    for (int i = 0; i < 5; i++) v.push_back(ip6("2001:db8:1::" + std::to_string(i + 2), wkp("192.0.2.1"), kUdp, udp_l4(5000, 53)));
    v.push_back(ip6("2001:db8:1::2", wkp("192.0.2.1"), kUdp, udp_l4(5001, 53)));  // a known host still gets more
    b.from6(v);
    CHECK(b.to4().size() == 4);
    CHECK(b.drops("hosts_full") == 2);
    CHECK(b.read("hosts") == "3");
  }
  SECTION("inside prefixes") {
    Box b("pool: [198.51.100.1]\nmax_sessions: 4096\ninside: [\"2001:db8:1::/64\"]");
    b.from6({ip6(kHost, wkp("192.0.2.1"), kUdp, udp_l4(1, 53)), ip6("2001:db8:2::2", wkp("192.0.2.1"), kUdp, udp_l4(1, 53))});
    CHECK(b.to4().size() == 1);
    CHECK(b.drops("not_inside") == 1);
  }
}

TEST_CASE("Nat64 handles extension headers and IPv4 options as RFC 7915 says", "[nat64]") {
  Box b(kBase);
  const std::string dst = wkp("192.0.2.1");
  // hop-by-hop (8 bytes) + destination options (16) + routing with no segments left (8) + atomic fragment (8)
  Bytes l4 = udp_l4(7000, 53);
  Bytes ext;
  ext.insert(ext.end(), {60, 0, 1, 4, 0, 0, 0, 0});                               // HBH -> dest opts, PadN
  ext.insert(ext.end(), {43, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});      // dest opts -> routing
  ext.insert(ext.end(), {44, 0, 0, 0, 0, 0, 0, 0});                               // routing (type 0, 0 left) -> frag
  ext.insert(ext.end(), {17, 0, 0, 0, 0x12, 0x34, 0x56, 0x78});                   // atomic fragment -> UDP
  Bytes body = ext;
  body.insert(body.end(), l4.begin(), l4.end());
  Bytes with_ext = ipv6(kHost, dst, 0, body);
  fix6(with_ext, 40 + ext.size(), kUdp);
  Bytes seg_left = with_ext;
  seg_left[40 + 24 + 3] = 1;  // segments left
  Bytes frag = with_ext;
  put16(frag, 40 + 32 + 2, 0x0001);  // more fragments
  b.from6({with_ext, seg_left, frag});
  auto out = b.to4();
  REQUIRE(out.size() == 1);  // decode() checked the UDP checksum over the IPv4 pseudo-header
  CHECK(out[0].ip.size() == 20 + l4.size());
  CHECK(out[0].dport == 53);
  CHECK(b.drops("source_route") == 1);
  CHECK(b.drops("fragment") == 1);
  // IPv4 options are dropped; a source route is refused.
  Bytes rr = ipv4("192.0.2.1", kPool, kUdp, udp_l4(53, out[0].sport));
  rr.insert(rr.begin() + 20, {7, 7, 4, 0, 0, 0, 0, 1});  // record route, then end of options
  rr[0] = 0x47;
  put16(rr, 2, static_cast<uint16_t>(rr.size()));
  fix4(rr.data());
  Bytes lsrr = rr;
  lsrr[20] = 131;
  fix4(lsrr.data());
  b.from4({rr, lsrr});
  auto in = b.to6();
  REQUIRE(in.size() == 1);
  CHECK(in[0].ip.size() == 40 + l4.size());
  CHECK(b.drops("source_route") == 2);
}

TEST_CASE("Nat64 drops malformed and untranslatable packets with named reasons", "[nat64]") {
  Box b(kBase);
  const std::string dst = wkp("192.0.2.1");
  const Bytes good = ip6(kHost, dst, kTcp, tcp_l4(1000, 80, kSyn));
  Bytes hop1 = ip6(kHost, dst, kUdp, udp_l4(1, 2), 1);
  Bytes long_plen = good;
  put16(long_plen, 4, 400);
  Bytes short_tcp = ipv6(kHost, dst, kTcp, Bytes(10, 0));
  const Bytes good_frame = frame6(good);
  Bytes udp_zero = ip6(kHost, dst, kUdp, udp_l4(1, 2));
  put16(udp_zero, 40 + 6, 0);
  std::vector<Bytes> f6 = {
      Bytes(10, 0),                                                                // runt
      eth(0x0806, Bytes(28, 0)),                                                    // not_ipv6
      frame4(ip4("10.0.0.1", "192.0.2.1", kUdp, udp_l4(1, 2))),                    // not_ipv6
      Bytes(good_frame.begin(), good_frame.begin() + 14 + 30),                      // truncated
      frame6(long_plen),                                                            // truncated
      frame6(short_tcp),                                                            // truncated
      frame6(ip6(kHost, "2001:db8:9::1", kUdp, udp_l4(1, 2))),                      // not_prefix
      frame6(hop1),                                                                 // hop_limit
      frame6(ip6(kHost, wkp("127.0.0.1"), kUdp, udp_l4(1, 2))),                     // reserved_address
      frame6(ip6(kHost, wkp("224.0.0.9"), kUdp, udp_l4(1, 2))),                     // reserved_address
      frame6(ip6(kHost, wkp(kPool), kUdp, udp_l4(1, 2))),                           // hairpin
      frame6(ip6(kHost, dst, 50, Bytes(16, 0))),                                    // unsupported_protocol (ESP)
      frame6(ip6(kHost, dst, kIcmp6, echo_l4(135, 0))),                             // unsupported_icmp (NS)
      frame6(ip6(kHost, dst, kIcmp6, echo_l4(129, 5))),                             // no_session: a reply
      frame6(udp_zero),                                                             // bad_checksum
      frame6(good),
  };
  b.send(0, f6);
  Bytes bad_csum = ip4("192.0.2.1", kPool, kUdp, udp_l4(53, 2000));
  bad_csum[10] ^= 1;
  Bytes ttl1 = ip4("192.0.2.1", kPool, kUdp, udp_l4(53, 2000), 1);
  Bytes frag4 = ip4("192.0.2.1", kPool, kUdp, udp_l4(53, 2000));
  put16(frag4, 6, 0x2000);
  fix4(frag4.data());
  Bytes bad_ihl = ip4("192.0.2.1", kPool, kUdp, udp_l4(53, 2000));
  bad_ihl[0] = 0x44;
  std::vector<Bytes> f4 = {
      eth(0x86dd, good),
      frame4(bad_csum),
      frame4(ttl1),
      frame4(frag4),
      frame4(bad_ihl),
      frame4(ip4("127.0.0.1", kPool, kUdp, udp_l4(53, 2000))),
      frame4(ip4("192.0.2.1", kPool, 47, Bytes(8, 0))),
      frame4(ip4("192.0.2.1", kPool, kIcmp, echo_l4(13, 1))),
      frame4(ip4("192.0.2.1", kPool, kUdp, udp_l4(53, 2000))),  // no session
  };
  b.send(1, f4);
  CHECK(b.to4().size() == 1);
  CHECK(b.to6().empty());
  CHECK(b.drops("runt") == 1);
  CHECK(b.drops("not_ipv6") == 2);
  CHECK(b.drops("not_ipv4") == 1);
  CHECK(b.drops("truncated") == 3);
  CHECK(b.drops("not_prefix") == 1);
  CHECK(b.drops("hop_limit") == 2);
  CHECK(b.drops("reserved_address") == 3);
  CHECK(b.drops("hairpin") == 1);
  CHECK(b.drops("unsupported_protocol") == 2);
  CHECK(b.drops("unsupported_icmp") == 2);
  CHECK(b.drops("no_session") == 2);
  CHECK(b.drops("bad_checksum") == 2);
  CHECK(b.drops("fragment") == 1);
  CHECK(b.drops("bad_ip") == 1);
}

TEST_CASE("Nat64 rewrites headers split across segments, and refuses a packet with no headroom", "[nat64]") {
  Box b(kBase);
  const Bytes f = frame6(ip6(kHost, wkp("192.0.2.1"), kTcp, tcp_l4(1000, 80, kSyn, 40)));
  rte_mbuf* a = packet({f.begin(), f.begin() + 30});  // the IPv6 header straddles three segments
  rte_mbuf* c = packet({f.begin() + 30, f.begin() + 60});
  rte_mbuf* d = packet({f.begin() + 60, f.end()});  // so does TCP
  REQUIRE(rte_pktmbuf_chain(c, d) == 0);
  REQUIRE(rte_pktmbuf_chain(a, c) == 0);
  b.send_mbuf(0, a);
  auto out = b.to4();
  REQUIRE(out.size() == 1);  // decode() checked every checksum
  CHECK(out[0].src == kPool);
  CHECK(out[0].dst == "192.0.2.1");
  CHECK(out[0].ip.size() == 20 + 20 + 40);

  const Bytes r = frame4(ip4("192.0.2.1", kPool, kTcp, tcp_l4(80, out[0].sport, kSyn | kAck, 40)));
  rte_mbuf* r1 = packet({r.begin(), r.begin() + 20});
  rte_mbuf* r2 = packet({r.begin() + 20, r.begin() + 44});
  rte_mbuf* r3 = packet({r.begin() + 44, r.end()});
  REQUIRE(rte_pktmbuf_chain(r2, r3) == 0);
  REQUIRE(rte_pktmbuf_chain(r1, r2) == 0);
  b.send_mbuf(1, r1);
  auto in = b.to6();
  REQUIRE(in.size() == 1);
  CHECK(in[0].dst == canon6(kHost));
  CHECK(in[0].dport == 1000);

  rte_mbuf* m = rte_pktmbuf_alloc(pool());
  REQUIRE(m);
  m->data_off = 0;  // no headroom for the 20 bytes IPv6 needs more
  char* p = rte_pktmbuf_append(m, static_cast<uint16_t>(r.size()));
  REQUIRE(p);
  std::memcpy(p, r.data(), r.size());
  b.send_mbuf(1, m);
  CHECK(b.to6().empty());
  CHECK(b.drops("no_headroom") == 1);
}

TEST_CASE("Nat64 holds 1M concurrent sessions of 65536 IPv6 hosts", "[nat64][scale]") {
  Box b("pool: [198.51.100.0/28]\nmax_hosts: 65536");  // max_sessions: 1048576
  const uint32_t n = 1u << 20;
  Bytes ip = ip6("2001:db8:1::", wkp("192.0.2.0"), kUdp, udp_l4(4000, 53));
  Bytes f = frame6(ip);
  const size_t src = 14 + 8, dst = 14 + 24;
  uint32_t done = 0;
  auto t0 = std::chrono::steady_clock::now();
  while (done < n) {
    Batch batch;
    for (unsigned i = 0; i < 256 && done < n; i++, done++) {
      f[src + 14] = static_cast<uint8_t>(done >> 12);  // 65536 hosts, 16 destinations each
      f[src + 15] = static_cast<uint8_t>(done >> 4);
      f[dst + 15] = static_cast<uint8_t>(done & 15);
      batch.add(packet(f));  // checksums are not checked here: only the count matters
    }
    b.h.push("nat", batch, 0);
    auto v = b.h.take("to4");
    free_all(v);
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(b.read("count") == std::to_string(n));
  CHECK(b.read("hosts") == "65536");
  CHECK(b.drops("table_full") == 0);
  b.from6({ip6("2001:db8:9::1", wkp("192.0.2.1"), kUdp, udp_l4(1, 53))});
  CHECK(b.drops("table_full") + b.drops("hosts_full") == 1);
  const std::string mem = b.read("memory");
  WARN("1M sessions of 64k hosts created in " << secs << " s through the element; memory: " << mem);
  CHECK(std::stoull(mem.substr(mem.find("dpdk ") + 5)) < (400ull << 20));
  b.write("clear", "");
  CHECK(b.read("count") == "0");
  CHECK(b.read("hosts") == "0");
}

namespace {

struct RingPort {
  std::vector<rte_ring*> rx, tx;
  std::string device;
  RingPort(const std::string& n, unsigned queues = 1) {
    for (unsigned q = 0; q < queues; q++) {
      rx.push_back(rte_ring_create((n + "r" + std::to_string(q)).c_str(), 4096, 0, RING_F_SP_ENQ | RING_F_SC_DEQ));
      tx.push_back(rte_ring_create((n + "t" + std::to_string(q)).c_str(), 4096, 0, RING_F_SP_ENQ | RING_F_SC_DEQ));
    }
    int id = rte_eth_from_rings(n.c_str(), rx.data(), queues, tx.data(), queues, 0);
    REQUIRE(id >= 0);
    char dev[RTE_ETH_NAME_MAX_LEN];
    rte_eth_dev_get_name_by_port(static_cast<uint16_t>(id), dev);
    device = dev;
  }
  void put(const std::vector<Bytes>& frames, unsigned q = 0) {
    for (const auto& f : frames) REQUIRE(rte_ring_sp_enqueue(rx[q], packet(f)) == 0);
  }
  std::vector<Pkt> get(size_t want, unsigned q = 0) {
    std::vector<Pkt> out;
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (out.size() < want && std::chrono::steady_clock::now() < deadline) {
      void* m;
      if (rte_ring_sc_dequeue(tx[q], &m) == 0) {
        out.push_back(decode(bytes_of(static_cast<rte_mbuf*>(m))));
        rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
      } else {
        std::this_thread::sleep_for(1ms);
      }
    }
    return out;
  }
};

GraphPlan plan_of(const std::string& yaml) {
  Diagnostics d("nat64.yaml");
  auto spec = std::make_shared<GraphSpec>(parse_graph(yaml, "nat64.yaml", d));
  GraphPlan p = validate_graph(spec, loader(), d);
  INFO(d.format());
  REQUIRE_FALSE(d.has_errors());
  return p;
}

std::string rt_handler(Runtime& rt, const std::string& name, const std::string* write = nullptr, unsigned worker = 0) {
  std::string v;
  int node = rt.plan().index_of("nat");
  REQUIRE(node >= 0);
  REQUIRE(rt.run_on_worker(worker, [&] { v = handler(*rt.element(worker, static_cast<size_t>(node)), name, write); },
                           2s));
  return v;
}

// p6 (IPv6 side) -> [from_ipv6]nat[to_ipv4] -> p4; p4 -> [from_ipv4]nat[to_ipv6] -> p6
std::string nat64_graph(const std::string& lcores, const RingPort& p6, const RingPort& p4, const std::string& params,
                        bool extra) {
  return "workers: {lcores: [" + lcores + "], idle_sleep_us: 20}\nports:\n  p6: {device: " + p6.device +
         "}\n  p4: {device: " + p4.device +
         "}\nelements:\n  rx6: {class: PortRx, port: p6}\n  rx4: {class: PortRx, port: p4}\n"
         "  nat: {class: Nat64, pool: [198.51.100.1], " + params + "}\n"
         "  tx4: {class: PortTx, port: p4}\n  tx6: {class: PortTx, port: p6}\n" +
         (extra ? "  pass: Pass\n" : "") + "connections:\n  - rx6 -> [from_ipv6]nat\n  - rx4 -> [from_ipv4]nat\n" +
         (extra ? "  - nat[to_ipv4] -> pass -> tx4\n" : "  - nat[to_ipv4] -> tx4\n") + "  - nat[to_ipv6] -> tx6\n";
}

}  // namespace

TEST_CASE("Nat64 sessions survive a reload that keeps the element, and a new prefix resets them", "[nat64][reload]") {
  test::eal();
  static int serial = 0;
  const std::string tag = std::to_string(serial++);
  RingPort p6("n64v6" + tag), p4("n64v4" + tag);
  Runtime rt(plan_of(nat64_graph("1", p6, p4, "max_sessions: 4096, max_hosts: 256, udp: 30", false)));
  rt.start();
  std::vector<Bytes> flows;
  for (uint16_t i = 0; i < 50; i++)
    flows.push_back(frame6(ip6("2001:db8:1::" + std::to_string(i % 5 + 2), wkp("192.0.2.1"), kUdp,
                               udp_l4(static_cast<uint16_t>(1000 + i), 53))));
  p6.put(flows);
  auto first = p4.get(50);
  REQUIRE(first.size() == 50);
  CHECK(rt_handler(rt, "count") == "50");
  CHECK(rt_handler(rt, "hosts") == "5");

  ReloadReport r = rt.reload(plan_of(nat64_graph("1", p6, p4, "max_sessions: 4096, max_hosts: 256, udp: 30", true)), 2s);
  INFO(r.error);
  REQUIRE(r.ok);
  bool carried = false;
  for (const auto& k : r.kept)
    if (k.id == "nat") carried = k.state == "carried";
  CHECK(carried);
  CHECK(rt_handler(rt, "count") == "50");
  p6.put(flows);
  auto again = p4.get(50);
  REQUIRE(again.size() == 50);
  for (size_t i = 0; i < 50; i++) CHECK(again[i].sport == first[i].sport);
  CHECK(rt_handler(rt, "created") == "50");
  p4.put({frame4(ip4("192.0.2.1", kPool, kUdp, udp_l4(53, first[7].sport)))});
  auto reply = p6.get(1);
  REQUIRE(reply.size() == 1);
  CHECK(reply[0].dst == canon6("2001:db8:1::4"));
  CHECK(reply[0].dport == 1007);

  // Expiry with RCU: sessions, then hosts, go; their slots and ids are
  // reused (600 hosts pass through 256 ids).
  std::string adv = "31";
  rt_handler(rt, "advance_clock", &adv);
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (rt_handler(rt, "hosts") != "0" && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
  CHECK(rt_handler(rt, "count") == "0");
  CHECK(rt_handler(rt, "hosts") == "0");
  for (int round = 0; round < 3; round++) {
    std::vector<Bytes> more;
    for (uint16_t i = 0; i < 200; i++)
      more.push_back(frame6(ip6("2001:db8:2::" + std::to_string(round * 1000 + i + 1), wkp("192.0.2.2"), kUdp,
                                udp_l4(3000, 53))));
    p6.put(more);
    REQUIRE(p4.get(200).size() == 200);
    rt_handler(rt, "advance_clock", &adv);
    deadline = std::chrono::steady_clock::now() + 5s;
    while (rt_handler(rt, "hosts") != "0" && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(1ms);
    CHECK(rt_handler(rt, "hosts") == "0");
  }

  ReloadReport r2 = rt.reload(plan_of(nat64_graph("1", p6, p4, "max_sessions: 4096, prefix: \"2001:db8:64::/96\"", false)), 2s);
  REQUIRE(r2.ok);
  for (const auto& k : r2.kept)
    if (k.id == "nat") CHECK(k.state == "reset");
  rt.stop();
}

TEST_CASE("Nat64 on two workers: one shared table and host ids, per-worker port slices", "[nat64][shared]") {
  test::eal();
  static int serial = 0;
  const std::string tag = std::to_string(serial++);
  RingPort p6("n64w6" + tag, 2), p4("n64w4" + tag, 2);
  Runtime rt(plan_of(nat64_graph("1, 2", p6, p4, "port_range: 10000-10999, max_sessions: 4096, udp: 30", false)));
  rt.start();
  p6.put({frame6(ip6(kHost, wkp("192.0.2.1"), kUdp, udp_l4(5000, 53)))}, 0);
  auto o0 = p4.get(1, 0);
  REQUIRE(o0.size() == 1);
  CHECK(o0[0].sport >= 10000);
  CHECK(o0[0].sport < 10500);  // worker 0's half
  p4.put({frame4(ip4("192.0.2.1", kPool, kUdp, udp_l4(53, o0[0].sport)))}, 1);  // the reply reaches worker 1
  auto i1 = p6.get(1, 1);
  REQUIRE(i1.size() == 1);
  CHECK(i1[0].dst == canon6(kHost));
  CHECK(i1[0].dport == 5000);
  // Worker 1 opens sessions of the same host (same id, same mapping) and of another.
  p6.put({frame6(ip6(kHost, wkp("192.0.2.2"), kUdp, udp_l4(5000, 53))),
          frame6(ip6("2001:db8:1::3", wkp("192.0.2.1"), kUdp, udp_l4(5000, 53)))},
         1);
  auto o1 = p4.get(2, 1);
  REQUIRE(o1.size() == 2);
  CHECK(o1[0].sport == o0[0].sport);
  CHECK(o1[1].sport >= 10500);
  CHECK(rt_handler(rt, "count", nullptr, 0) == "3");
  CHECK(rt_handler(rt, "hosts", nullptr, 1) == "2");
  std::string adv = "31";
  rt_handler(rt, "advance_clock", &adv, 1);
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (rt_handler(rt, "hosts") != "0" && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
  CHECK(rt_handler(rt, "count") == "0");
  CHECK(rt_handler(rt, "hosts") == "0");
  CHECK(rt_handler(rt, "pool") == "198.51.100.1 tcp 1000 udp 1000 icmp 1000\n");
  rt.stop();
}

// Nat44 (and EtherRewrite), driven with real mbufs through the harness, two
// hand-built "workers" sharing one table, and a weft::Runtime for reloads.
//
// Input frames get their checksums from DPDK's own functions
// (rte_ipv4_cksum, rte_ipv4_udptcp_cksum, rte_raw_cksum), and every
// translated frame is checked the same way: the element's incremental
// updates (RFC 1624) must agree with a full recomputation.
#include <arpa/inet.h>
#include <rte_eth_ring.h>
#include <rte_ip.h>
#include <rte_malloc.h>
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

constexpr uint8_t kSyn = 0x02, kAck = 0x10, kFin = 0x01;

std::string ip_text(uint32_t net) {
  char b[INET_ADDRSTRLEN];
  in_addr a{net};
  inet_ntop(AF_INET, &a, b, sizeof b);
  return b;
}
uint16_t get16(const Bytes& f, size_t off) { return static_cast<uint16_t>(f[off] << 8 | f[off + 1]); }
void put16(Bytes& f, size_t off, uint16_t v) {
  f[off] = static_cast<uint8_t>(v >> 8);
  f[off + 1] = static_cast<uint8_t>(v);
}

// Fills in the IPv4 header checksum and the L4 checksum of the IPv4 packet
// at `ip` (UDP: unless `udp_zero`), with DPDK's functions.
void fix_checksums(uint8_t* ip, bool udp_zero = false) {
  auto* h = reinterpret_cast<rte_ipv4_hdr*>(ip);
  uint8_t* l4 = ip + rte_ipv4_hdr_len(h);
  size_t l4_len = ntohs(h->total_length) - rte_ipv4_hdr_len(h);
  if (h->next_proto_id == IPPROTO_TCP) {
    auto* t = reinterpret_cast<rte_tcp_hdr*>(l4);
    t->cksum = 0;
    t->cksum = rte_ipv4_udptcp_cksum(h, l4);
  } else if (h->next_proto_id == IPPROTO_UDP) {
    auto* u = reinterpret_cast<rte_udp_hdr*>(l4);
    u->dgram_cksum = 0;
    if (!udp_zero) u->dgram_cksum = rte_ipv4_udptcp_cksum(h, l4);
  } else if (h->next_proto_id == IPPROTO_ICMP) {
    l4[2] = l4[3] = 0;
    uint16_t c = static_cast<uint16_t>(~rte_raw_cksum(l4, l4_len));
    std::memcpy(l4 + 2, &c, 2);
  }
  h->hdr_checksum = 0;
  h->hdr_checksum = rte_ipv4_cksum(h);
}

Bytes l4_ports(uint16_t sport, uint16_t dport, size_t len) {
  Bytes v(len, 0);
  put16(v, 0, sport);
  put16(v, 2, dport);
  for (size_t i = 8; i < len; i++) v[i] = static_cast<uint8_t>(i * 7);
  return v;
}

Bytes ip_tcp(const std::string& s, uint16_t sp, const std::string& d, uint16_t dp, uint8_t flags) {
  Bytes l4 = l4_ports(sp, dp, 20 + 12);
  put16(l4, 4, 0x1234);
  l4[12] = 5 << 4;
  l4[13] = flags;
  put16(l4, 14, 8192);
  Bytes ip = ipv4(s, d, IPPROTO_TCP, l4);
  fix_checksums(ip.data());
  return ip;
}
Bytes ip_udp(const std::string& s, uint16_t sp, const std::string& d, uint16_t dp, bool zero_csum = false) {
  Bytes l4 = l4_ports(sp, dp, 8 + 21);
  put16(l4, 4, 8 + 21);
  Bytes ip = ipv4(s, d, IPPROTO_UDP, l4);
  fix_checksums(ip.data(), zero_csum);
  return ip;
}
Bytes ip_icmp_echo(const std::string& s, const std::string& d, uint8_t type, uint16_t id) {
  Bytes l4(8 + 16, 0x5a);
  l4[0] = type;
  l4[1] = 0;
  put16(l4, 4, id);
  put16(l4, 6, 7);
  Bytes ip = ipv4(s, d, IPPROTO_ICMP, l4);
  fix_checksums(ip.data());
  return ip;
}
// An ICMP error quoting `quoted` (an IP packet, cut to `quote_len` bytes).
Bytes ip_icmp_error(const std::string& s, const std::string& d, uint8_t type, uint8_t code, const Bytes& quoted,
                    size_t quote_len = 0) {
  size_t n = quote_len ? std::min(quote_len, quoted.size()) : quoted.size();
  Bytes l4(8 + n, 0);
  l4[0] = type;
  l4[1] = code;
  if (n) std::memcpy(l4.data() + 8, quoted.data(), n);
  Bytes ip = ipv4(s, d, IPPROTO_ICMP, l4);
  fix_checksums(ip.data());
  return ip;
}
Bytes frame(const Bytes& ip) { return eth(0x0800, ip); }

// A translated frame, decoded.
struct Pkt {
  std::string src, dst;
  uint16_t sport = 0, dport = 0;  // ICMP echo: the identifier in sport
  uint8_t proto = 0, flags = 0;
  Bytes bytes;
};

// Recomputes every checksum of an IPv4 packet (and of a quoted packet in an
// ICMP error) with DPDK's functions and compares with what the packet says.
void check_checksums(const uint8_t* ip_in, size_t len, bool inner = false) {
  Bytes ip(ip_in, ip_in + len);
  auto* h = reinterpret_cast<rte_ipv4_hdr*>(ip.data());
  const size_t ihl = rte_ipv4_hdr_len(h);
  uint16_t got = h->hdr_checksum;
  h->hdr_checksum = 0;
  CHECK(rte_ipv4_cksum(h) == got);
  h->hdr_checksum = got;
  const size_t total = ntohs(h->total_length);
  if (inner && total > len) return;  // quoted only in part: the L4 checksum cannot be recomputed
  uint8_t* l4 = ip.data() + ihl;
  if (h->next_proto_id == IPPROTO_TCP) {
    auto* t = reinterpret_cast<rte_tcp_hdr*>(l4);
    uint16_t c = t->cksum;
    t->cksum = 0;
    CHECK(rte_ipv4_udptcp_cksum(h, l4) == c);
  } else if (h->next_proto_id == IPPROTO_UDP) {
    auto* u = reinterpret_cast<rte_udp_hdr*>(l4);
    uint16_t c = u->dgram_cksum;
    if (c == 0) return;  // no checksum
    u->dgram_cksum = 0;
    CHECK(rte_ipv4_udptcp_cksum(h, l4) == c);
  } else if (h->next_proto_id == IPPROTO_ICMP) {
    uint16_t c;
    std::memcpy(&c, l4 + 2, 2);
    l4[2] = l4[3] = 0;
    CHECK(static_cast<uint16_t>(~rte_raw_cksum(l4, total - ihl)) == c);
    std::memcpy(l4 + 2, &c, 2);
    if (!inner && (l4[0] == 3 || l4[0] == 11)) check_checksums(l4 + 8, total - ihl - 8, true);
  }
}

Pkt decode(const Bytes& f) {
  Pkt p;
  p.bytes = f;
  REQUIRE(f.size() >= 14 + 20);
  REQUIRE(get16(f, 12) == 0x0800);
  const uint8_t* ip = f.data() + 14;
  uint32_t a;
  std::memcpy(&a, ip + 12, 4);
  p.src = ip_text(a);
  std::memcpy(&a, ip + 16, 4);
  p.dst = ip_text(a);
  p.proto = ip[9];
  size_t l4 = 14 + (ip[0] & 15u) * 4;
  if (p.proto == IPPROTO_ICMP) {
    p.sport = get16(f, l4 + 4);
  } else {
    p.sport = get16(f, l4);
    p.dport = get16(f, l4 + 2);
    if (p.proto == IPPROTO_TCP) p.flags = f[l4 + 13];
  }
  check_checksums(ip, f.size() - 14);
  return p;
}

const char* kGraph = R"(
elements:
  nat:
    class: Nat44
%s
  out: Capture
  in: Capture
connections:
  - nat[to_outside] -> out
  - nat[to_inside] -> in
)";

std::string graph(const std::string& params) {
  std::string g = kGraph;
  std::string indented;
  size_t start = 0;
  while (start < params.size()) {
    size_t nl = params.find('\n', start);
    if (nl == std::string::npos) nl = params.size();
    indented += "    " + params.substr(start, nl - start) + "\n";
    start = nl + 1;
  }
  g.replace(g.find("%s\n"), 3, indented);
  return g;
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

// A Nat44 in a harness, with its two outputs captured.
struct Box {
  GraphHarness h;
  explicit Box(const std::string& params) : h(graph(params), loader(), pool()) {}
  Element& nat() { return h.element("nat"); }
  void send(uint16_t input, const std::vector<Bytes>& frames) {
    Batch b;
    for (const auto& f : frames) b.add(packet(f));
    h.push("nat", b, input);
  }
  void inside(const std::vector<Bytes>& frames) { send(0, frames); }
  void outside(const std::vector<Bytes>& frames) { send(1, frames); }
  std::vector<Pkt> take(const char* id) {
    auto v = h.take(id);
    std::vector<Pkt> out;
    for (auto* m : v) out.push_back(decode(bytes_of(m)));
    free_all(v);
    return out;
  }
  std::vector<Pkt> out() { return take("out"); }
  std::vector<Pkt> in() { return take("in"); }
  uint64_t drops(const std::string& reason) { return ::drops(nat(), reason); }
  std::string read(const std::string& name) { return handler(nat(), name); }
  void write(const std::string& name, const std::string& v) { handler(nat(), name, &v); }
  // Runs the expiry sweep over the whole table.
  void sweep() {
    for (int i = 0; i < 64; i++) h.run("nat");
  }
};

}  // namespace

TEST_CASE("Nat44 translates TCP, UDP and ICMP echo both ways with correct checksums", "[nat44]") {
  Box b("pool: [198.51.100.1]\nport_range: 2000-2999\nmax_sessions: 4096");
  b.inside({frame(ip_tcp("10.0.0.2", 40000, "192.0.2.80", 80, kSyn)),
            frame(ip_udp("10.0.0.2", 5353, "192.0.2.53", 53)),
            frame(ip_udp("10.0.0.3", 5353, "192.0.2.53", 53, /*zero_csum=*/true)),
            frame(ip_icmp_echo("10.0.0.2", "192.0.2.1", 8, 0x4242))});
  auto out = b.out();
  REQUIRE(out.size() == 4);
  CHECK(b.in().empty());
  for (const auto& p : out) {
    CHECK(p.src == "198.51.100.1");
    CHECK(p.sport >= 2000);
    CHECK(p.sport <= 2999);
  }
  CHECK(out[0].dst == "192.0.2.80");
  CHECK(out[0].dport == 80);
  CHECK(out[1].dport == 53);
  CHECK(out[1].sport != out[2].sport);  // two inside hosts, one port each
  CHECK(get16(out[2].bytes, 14 + 20 + 6) == 0);  // a UDP checksum of 0 stays 0
  CHECK(get16(out[1].bytes, 14 + 20 + 6) != 0);
  CHECK(b.read("count") == "4");
  CHECK(b.read("tcp_sessions") == "1");
  CHECK(b.read("udp_sessions") == "2");
  CHECK(b.read("icmp_sessions") == "1");

  // Replies come back to the inside hosts.
  b.outside({frame(ip_tcp("192.0.2.80", 80, "198.51.100.1", out[0].sport, kSyn | kAck)),
             frame(ip_udp("192.0.2.53", 53, "198.51.100.1", out[1].sport)),
             frame(ip_udp("192.0.2.53", 53, "198.51.100.1", out[2].sport, true)),
             frame(ip_icmp_echo("192.0.2.1", "198.51.100.1", 0, out[3].sport))});
  auto in = b.in();
  REQUIRE(in.size() == 4);
  CHECK(in[0].dst == "10.0.0.2");
  CHECK(in[0].dport == 40000);
  CHECK(in[0].src == "192.0.2.80");
  CHECK(in[1].dst == "10.0.0.2");
  CHECK(in[1].dport == 5353);
  CHECK(in[2].dst == "10.0.0.3");
  CHECK(get16(in[2].bytes, 14 + 20 + 6) == 0);
  CHECK(in[3].dst == "10.0.0.2");
  CHECK(in[3].sport == 0x4242);  // the echo identifier is restored
  CHECK(b.read("count") == "4");  // replies create nothing
  CHECK(b.read("created") == "4");
}

TEST_CASE("Nat44 mapping is endpoint-independent and pooling paired", "[nat44]") {
  Box b("pool: [198.51.100.0/30]\nmax_sessions: 4096");
  b.inside({frame(ip_udp("10.0.0.2", 5000, "192.0.2.1", 53)), frame(ip_udp("10.0.0.2", 5000, "192.0.2.2", 53)),
            frame(ip_udp("10.0.0.2", 5000, "192.0.2.2", 54)), frame(ip_tcp("10.0.0.2", 5001, "192.0.2.1", 80, kSyn)),
            frame(ip_udp("10.0.0.2", 5002, "192.0.2.1", 53))});
  auto out = b.out();
  REQUIRE(out.size() == 5);
  // The same inside address:port keeps one external address:port for every destination.
  CHECK(out[0].src == out[1].src);
  CHECK(out[0].sport == out[1].sport);
  CHECK(out[0].sport == out[2].sport);
  // Another port of the same host gets another external port, on the same address (paired).
  CHECK(out[4].sport != out[0].sport);
  CHECK(out[4].src == out[0].src);
  CHECK(out[3].src == out[0].src);
  CHECK(out[0].sport == 5000);  // preserved when free in this worker's slice
  CHECK(b.read("count") == "5");
  CHECK(b.read("mappings") == "3");  // udp 5000, tcp 5001, udp 5002

  // Any of those remote endpoints may answer on the shared mapping.
  b.outside({frame(ip_udp("192.0.2.2", 54, out[0].src, 5000))});
  auto in = b.in();
  REQUIRE(in.size() == 1);
  CHECK(in[0].dst == "10.0.0.2");
  CHECK(in[0].dport == 5000);
}

TEST_CASE("Nat44 filters by address and port: only a session's remote endpoint gets in", "[nat44]") {
  Box b("pool: [198.51.100.1]\nmax_sessions: 4096");
  b.inside({frame(ip_udp("10.0.0.2", 5000, "192.0.2.1", 53))});
  auto out = b.out();
  REQUIRE(out.size() == 1);
  b.outside({frame(ip_udp("192.0.2.1", 53, "198.51.100.1", out[0].sport)),     // the remote: in
             frame(ip_udp("192.0.2.1", 54, "198.51.100.1", out[0].sport)),     // same address, other port
             frame(ip_udp("192.0.2.9", 53, "198.51.100.1", out[0].sport)),     // another address
             frame(ip_tcp("192.0.2.1", 53, "198.51.100.1", out[0].sport, kSyn)),  // other protocol
             frame(ip_udp("192.0.2.1", 53, "198.51.100.1", 7))});               // no mapping at all
  CHECK(b.in().size() == 1);
  CHECK(b.drops("no_mapping") == 4);
  CHECK(b.read("count") == "1");
}

TEST_CASE("Nat44 sessions time out per protocol and TCP state", "[nat44]") {
  Box b("pool: [198.51.100.1]\nmax_sessions: 1024\nudp: 30\nicmp: 10\ntcp_transitory: 100\ntcp_established: 1000");
  b.inside({frame(ip_udp("10.0.0.2", 5000, "192.0.2.1", 53)), frame(ip_icmp_echo("10.0.0.2", "192.0.2.1", 8, 9)),
            frame(ip_tcp("10.0.0.2", 6000, "192.0.2.1", 80, kSyn)),    // will be established
            frame(ip_tcp("10.0.0.2", 6001, "192.0.2.1", 80, kSyn))});  // stays half-open
  auto out = b.out();
  REQUIRE(out.size() == 4);
  b.outside({frame(ip_tcp("192.0.2.1", 80, "198.51.100.1", out[2].sport, kSyn | kAck))});
  b.inside({frame(ip_tcp("10.0.0.2", 6000, "192.0.2.1", 80, kAck))});
  b.in();
  b.out();
  b.write("session_filter", "proto=tcp port=6000");
  CHECK(b.read("sessions").find("established") != std::string::npos);
  b.write("session_filter", "");
  CHECK(b.read("count") == "4");

  b.write("advance_clock", "11");
  b.sweep();
  CHECK(b.read("icmp_sessions") == "0");
  CHECK(b.read("count") == "3");
  b.write("advance_clock", "20");  // t = 31: udp gone
  b.sweep();
  CHECK(b.read("udp_sessions") == "0");
  b.outside({frame(ip_udp("192.0.2.1", 53, "198.51.100.1", out[0].sport))});
  CHECK(b.in().empty());
  CHECK(b.drops("no_mapping") == 1);
  b.write("advance_clock", "80");  // t = 111: the half-open one is past tcp_transitory
  b.sweep();
  CHECK(b.read("tcp_sessions") == "1");
  CHECK(b.read("expired") == "3");
  // The established one lives on; FIN both ways makes it transitory.
  b.inside({frame(ip_tcp("10.0.0.2", 6000, "192.0.2.1", 80, kFin | kAck))});
  b.outside({frame(ip_tcp("192.0.2.1", 80, "198.51.100.1", out[2].sport, kFin | kAck))});
  CHECK(b.out().size() == 1);
  CHECK(b.in().size() == 1);
  b.write("session_filter", "port=6000");
  CHECK(b.read("sessions").find("closing") != std::string::npos);
  b.write("advance_clock", "101");
  b.sweep();
  CHECK(b.read("count") == "0");
  CHECK(b.read("mappings") == "0");  // every port went back to the pool
  CHECK(b.read("pool") == "198.51.100.1 tcp 64512 udp 64512 icmp 64512\n");
}

TEST_CASE("Nat44 hairpins inside host to inside host through external endpoints", "[nat44]") {
  Box b("pool: [198.51.100.1]\nmax_sessions: 4096");
  // B talks to a server first: its mapping exists.
  b.inside({frame(ip_udp("10.0.0.3", 6000, "192.0.2.1", 3478))});
  auto ob = b.out();
  REQUIRE(ob.size() == 1);
  const uint16_t pb = ob[0].sport;
  // A sends to B's external endpoint: it comes back inside, from A's external endpoint.
  b.inside({frame(ip_udp("10.0.0.2", 7000, "198.51.100.1", pb)), frame(ip_tcp("10.0.0.2", 7001, "198.51.100.1", 9, kSyn))});
  CHECK(b.out().empty());
  auto in = b.in();
  REQUIRE(in.size() == 1);
  CHECK(in[0].dst == "10.0.0.3");
  CHECK(in[0].dport == 6000);
  CHECK(in[0].src == "198.51.100.1");
  const uint16_t pa = in[0].sport;
  CHECK(b.drops("no_mapping") == 1);  // TCP to an external port nobody holds
  // B answers A's external endpoint: translated both ways again.
  b.inside({frame(ip_udp("10.0.0.3", 6000, "198.51.100.1", pa))});
  in = b.in();
  REQUIRE(in.size() == 1);
  CHECK(in[0].src == "198.51.100.1");
  CHECK(in[0].sport == pb);
  CHECK(in[0].dst == "10.0.0.2");
  CHECK(in[0].dport == 7000);
  b.write("session_filter", "inside=10.0.0.2");
  CHECK(b.read("sessions").find("hairpin to 10.0.0.3:6000") != std::string::npos);
  // B's mapping is held by the hairpin session too.
  CHECK(b.read("count") == "2");
}

TEST_CASE("Nat44 translates ICMP errors about a session's packets (RFC 5508)", "[nat44]") {
  Box b("pool: [198.51.100.1]\nport_range: 3000-3999\nmax_sessions: 4096\n"
        "static: [{proto: udp, external: \"198.51.100.1:5060\", internal: \"10.0.0.5:5060\"}]");
  b.inside({frame(ip_udp("10.0.0.2", 5353, "192.0.2.53", 53)), frame(ip_tcp("10.0.0.2", 40000, "192.0.2.80", 80, kSyn)),
            frame(ip_icmp_echo("10.0.0.2", "192.0.2.1", 8, 77))});
  auto out = b.out();
  REQUIRE(out.size() == 3);
  Bytes sent_udp(out[0].bytes.begin() + 14, out[0].bytes.end());
  Bytes sent_tcp(out[1].bytes.begin() + 14, out[1].bytes.end());
  Bytes sent_echo(out[2].bytes.begin() + 14, out[2].bytes.end());
  b.outside({
      frame(ip_icmp_error("192.0.2.53", "198.51.100.1", 3, 3, sent_udp)),          // port unreachable, all quoted
      frame(ip_icmp_error("192.0.2.254", "198.51.100.1", 11, 0, sent_tcp, 28)),    // time exceeded, 8 bytes of TCP
      frame(ip_icmp_error("192.0.2.254", "198.51.100.1", 3, 1, sent_echo)),        // host unreachable about an echo
      frame(ip_icmp_error("192.0.2.254", "198.51.100.1", 3, 1, ip_udp("198.51.100.1", 3999, "192.0.2.9", 1))),  // no session
      frame(ip_icmp_error("192.0.2.254", "198.51.100.1", 3, 1, sent_udp, 24)),     // quotes 4 bytes of UDP
  });
  auto in = b.in();
  REQUIRE(in.size() == 3);
  CHECK(b.drops("no_mapping") == 1);
  CHECK(b.drops("truncated_icmp_inner") == 1);
  for (const auto& p : in) {
    CHECK(p.dst == "10.0.0.2");
    CHECK(p.proto == IPPROTO_ICMP);
    // The quoted packet is the one the inside host sent.
    const uint8_t* inner = p.bytes.data() + 14 + 20 + 8;
    uint32_t a;
    std::memcpy(&a, inner + 12, 4);
    CHECK(ip_text(a) == "10.0.0.2");
  }
  CHECK(get16(in[0].bytes, 14 + 20 + 8 + 20) == 5353);
  CHECK(get16(in[1].bytes, 14 + 20 + 8 + 20) == 40000);
  CHECK(get16(in[2].bytes, 14 + 20 + 8 + 20 + 4) == 77);  // the echo identifier
  CHECK(in[1].src == "192.0.2.254");                          // the router that said it

  // From inside: the static server's port is closed; its error goes out from
  // the external address, quoting the packet as the remote sent it.
  b.outside({frame(ip_udp("192.0.2.7", 1111, "198.51.100.1", 5060))});
  auto fwd = b.in();
  REQUIRE(fwd.size() == 1);
  CHECK(fwd[0].dst == "10.0.0.5");
  Bytes got(fwd[0].bytes.begin() + 14, fwd[0].bytes.end());
  b.inside({frame(ip_icmp_error("10.0.0.5", "192.0.2.7", 3, 3, got))});
  out = b.out();
  REQUIRE(out.size() == 1);
  CHECK(out[0].src == "198.51.100.1");
  CHECK(out[0].dst == "192.0.2.7");
  const uint8_t* inner = out[0].bytes.data() + 14 + 20 + 8;
  uint32_t a;
  std::memcpy(&a, inner + 16, 4);
  CHECK(ip_text(a) == "198.51.100.1");
  CHECK(get16(out[0].bytes, 14 + 20 + 8 + 20 + 2) == 5060);
}

TEST_CASE("Nat44 static port forwards and 1:1 mappings work both ways", "[nat44]") {
  Box b("pool: [198.51.100.1]\nport_range: 8080-8081\nmax_sessions: 4096\n"
        "static:\n"
        "  - {proto: tcp, external: \"198.51.100.1:8080\", internal: \"10.0.0.5:80\"}\n"
        "  - {external: 203.0.113.9, internal: 10.0.0.9}");
  b.outside({frame(ip_tcp("192.0.2.7", 50000, "198.51.100.1", 8080, kSyn)),
             frame(ip_tcp("192.0.2.7", 50001, "203.0.113.9", 22, kSyn)),
             frame(ip_icmp_echo("192.0.2.7", "203.0.113.9", 8, 5)),
             frame(ip_tcp("192.0.2.7", 50002, "198.51.100.1", 8081, kSyn))});  // not forwarded
  auto in = b.in();
  REQUIRE(in.size() == 3);
  CHECK(b.drops("no_mapping") == 1);
  CHECK(in[0].dst == "10.0.0.5");
  CHECK(in[0].dport == 80);
  CHECK(in[1].dst == "10.0.0.9");
  CHECK(in[1].dport == 22);
  CHECK(in[2].dst == "10.0.0.9");
  CHECK(in[2].sport == 5);
  b.inside({frame(ip_tcp("10.0.0.5", 80, "192.0.2.7", 50000, kSyn | kAck)),
            frame(ip_tcp("10.0.0.9", 22, "192.0.2.7", 50001, kSyn | kAck)),
            frame(ip_icmp_echo("10.0.0.9", "192.0.2.7", 0, 5)),
            frame(ip_udp("10.0.0.9", 123, "192.0.2.8", 123)),        // the 1:1 host's own traffic
            frame(ip_tcp("10.0.0.2", 123, "192.0.2.8", 443, kSyn)),  // dynamic: 8081, the only free TCP port
            frame(ip_tcp("10.0.0.2", 124, "192.0.2.8", 443, kSyn))});
  auto out = b.out();
  REQUIRE(out.size() == 5);
  CHECK(out[0].src == "198.51.100.1");
  CHECK(out[0].sport == 8080);
  CHECK(out[1].src == "203.0.113.9");
  CHECK(out[1].sport == 22);
  CHECK(out[2].src == "203.0.113.9");
  CHECK(out[3].src == "203.0.113.9");
  CHECK(out[3].sport == 123);
  CHECK(out[4].sport == 8081);  // 8080 is reserved for the TCP forward
  CHECK(b.drops("pool_exhausted") == 1);
  CHECK(b.read("count") == "5");
  b.write("session_filter", "inside=10.0.0.5");
  CHECK(b.read("sessions").find("opened from outside") != std::string::npos);
}

TEST_CASE("Nat44 limits sessions per source, pool ports and the table", "[nat44]") {
  SECTION("per source") {
    Box b("pool: [198.51.100.1]\nmax_sessions: 4096\nmax_sessions_per_source: 3");
    std::vector<Bytes> f;
    for (uint16_t i = 0; i < 5; i++) f.push_back(frame(ip_udp("10.0.0.2", 5000, "192.0.2.1", static_cast<uint16_t>(i + 1))));
    f.push_back(frame(ip_udp("10.0.0.3", 5000, "192.0.2.1", 1)));
    b.inside(f);
    CHECK(b.out().size() == 4);
    CHECK(b.drops("source_limit") == 2);
  }
  SECTION("pool exhaustion") {
    Box b("pool: [198.51.100.1]\nport_range: 2000-2003\nmax_sessions: 4096");
    std::vector<Bytes> f;
    for (uint16_t i = 0; i < 6; i++) f.push_back(frame(ip_udp("10.0.0.2", static_cast<uint16_t>(100 + i), "192.0.2.1", 53)));
    f.push_back(frame(ip_tcp("10.0.0.2", 100, "192.0.2.1", 80, kSyn)));  // TCP has its own ports
    b.inside(f);
    CHECK(b.out().size() == 5);
    CHECK(b.drops("pool_exhausted") == 2);
    CHECK(b.read("allocation_failures") == "2");
    CHECK(b.read("pool") == "198.51.100.1 tcp 3 udp 0 icmp 4\n");
  }
  SECTION("table full") {
    Box b("pool: [198.51.100.1]\nmax_sessions: 64");
    std::vector<Bytes> f;
    for (uint16_t i = 0; i < 70; i++)
      f.push_back(frame(ip_udp("10.0.0." + std::to_string(i % 7 + 2), 5000, "192.0.2.1", static_cast<uint16_t>(i + 1))));
    b.inside(f);
    CHECK(b.out().size() == 64);
    CHECK(b.drops("table_full") == 6);
    CHECK(b.read("count") == "64");
  }
  SECTION("inside prefixes") {
    Box b("pool: [198.51.100.1]\nmax_sessions: 4096\ninside: [10.0.0.0/24]");
    b.inside({frame(ip_udp("10.0.0.2", 1, "192.0.2.1", 53)), frame(ip_udp("10.0.1.2", 1, "192.0.2.1", 53))});
    CHECK(b.out().size() == 1);
    CHECK(b.drops("not_inside") == 1);
  }
}

TEST_CASE("Nat44 refuses bad pools, port ranges and static mappings, naming the value", "[nat44]") {
  const std::string pool = "pool: [198.51.100.1]\nmax_sessions: 4096\n";
  CHECK_THROWS_WITH(
      Box("pool: [198.51.100.1, 2001:db8::1]"),
      Catch::Contains("pool: expected an IPv4 address or prefix such as 198.51.100.0/30, not '2001:db8::1'"));
  CHECK_THROWS_WITH(Box("pool: [198.51.100.1, 198.51.100.0/31]"),
                    Catch::Contains("pool: address 198.51.100.1 is listed twice"));
  CHECK_THROWS_WITH(Box(pool + "port_range: 0-1000"), Catch::Contains("port_range: ports start at 1"));
  CHECK_THROWS_WITH(Box(pool + "port_range: 2000-1000"), Catch::Contains("parameter 'port_range' expects a port"));
  CHECK_THROWS_WITH(Box(pool + "inside: [10.0.0.0/33]"), Catch::Contains("inside: expected an IPv4 address or prefix"));
  CHECK_THROWS_WITH(Box(pool + "static: [{external: 192.0.2.9, internal: 10.0.0.9, port: 1}]"),
                    Catch::Contains("static: unknown key 'port'"));
  CHECK_THROWS_WITH(Box(pool + "static: [{external: 192.0.2.0/24, internal: 10.0.0.9}]"),
                    Catch::Contains("a 1:1 mapping maps one address to one address"));
  CHECK_THROWS_WITH(Box(pool + "static: [{proto: tcp, external: \"198.51.100.1:0\", internal: \"10.0.0.5:80\"}]"),
                    Catch::Contains("static external: port must be 1-65535 in '198.51.100.1:0'"));
  CHECK_THROWS_WITH(Box(pool + "static: [{proto: tcp, external: \"198.51.100.1:80\", internal: \"10.0.0:80\"}]"),
                    Catch::Contains("static internal: '10.0.0' is not an IPv4 address"));
}

TEST_CASE("Nat44 drops malformed packets with named reasons, never reading past the end", "[nat44]") {
  Box b("pool: [198.51.100.1]\nmax_sessions: 4096");
  Bytes good = frame(ip_tcp("10.0.0.2", 1000, "192.0.2.1", 80, kSyn));
  Bytes bad_version = good;
  bad_version[14] = 0x65;
  Bytes bad_ihl = good;
  bad_ihl[14] = 0x44;
  Bytes long_total = good;
  put16(long_total, 14 + 2, 200);
  Bytes frag = frame(ip_udp("10.0.0.2", 1, "192.0.2.1", 2));
  put16(frag, 14 + 6, 0x0010);  // offset 16*8
  Bytes first_frag = frame(ip_udp("10.0.0.2", 3, "192.0.2.1", 4));
  put16(first_frag, 14 + 6, 0x2000);  // MF, offset 0: translated
  fix_checksums(first_frag.data() + 14);
  Bytes short_tcp = frame(ipv4("10.0.0.2", "192.0.2.1", IPPROTO_TCP, Bytes(10, 0)));
  Bytes short_udp = frame(ipv4("10.0.0.2", "192.0.2.1", IPPROTO_UDP, Bytes(6, 0)));
  Bytes tcp_doff = good;
  tcp_doff[14 + 20 + 12] = 0x30;
  Bytes gre = frame(ipv4("10.0.0.2", "192.0.2.1", 47, Bytes(8, 0)));
  Bytes timestamp = frame(ip_icmp_echo("10.0.0.2", "192.0.2.1", 13, 1));
  Bytes echo_reply = frame(ip_icmp_echo("10.0.0.2", "192.0.2.1", 0, 1));  // a reply with no request
  Bytes short_err = frame(ip_icmp_error("192.0.2.1", "198.51.100.1", 3, 3, Bytes(12, 0x45)));
  b.inside({Bytes(10, 0), eth(0x0806, Bytes(28, 0)), eth(0x86dd, ipv6("2001:db8::1", "2001:db8::2", 17, ports(1, 2))),
            Bytes(good.begin(), good.begin() + 14 + 12), bad_version, bad_ihl, long_total, frag, first_frag,
            short_tcp, short_udp, tcp_doff, gre, timestamp, echo_reply, good});
  b.outside({short_err});
  auto out = b.out();
  CHECK(out.size() == 2);  // the first fragment and `good`
  CHECK(b.drops("runt") == 1);
  CHECK(b.drops("not_ipv4") == 2);
  CHECK(b.drops("truncated_ip") == 2);
  CHECK(b.drops("bad_ip") == 2);
  CHECK(b.drops("fragment") == 1);
  CHECK(b.drops("truncated_l4") == 3);
  CHECK(b.drops("unsupported_protocol") == 1);
  CHECK(b.drops("unsupported_icmp") == 1);
  CHECK(b.drops("no_mapping") == 1);
  CHECK(b.drops("truncated_icmp_inner") == 1);
}

TEST_CASE("Nat44 rewrites headers split across segments", "[nat44]") {
  Box b("pool: [198.51.100.1]\nmax_sessions: 4096");
  Bytes f = frame(ip_tcp("10.0.0.2", 1000, "192.0.2.1", 80, kSyn));
  rte_mbuf* a = packet({f.begin(), f.begin() + 30});  // the IP header straddles two segments
  rte_mbuf* c = packet({f.begin() + 30, f.begin() + 40});
  rte_mbuf* d = packet({f.begin() + 40, f.end()});   // so does TCP
  REQUIRE(rte_pktmbuf_chain(c, d) == 0);
  REQUIRE(rte_pktmbuf_chain(a, c) == 0);
  Batch batch;
  batch.add(a);
  b.h.push("nat", batch, 0);
  auto out = b.out();
  REQUIRE(out.size() == 1);  // decode() checked every checksum
  CHECK(out[0].src == "198.51.100.1");
  CHECK(out[0].dst == "192.0.2.1");
  CHECK(out[0].sport >= 1024);  // 1000 is outside the default port_range
}

TEST_CASE("Nat44 holds 1M concurrent sessions (max_sessions default)", "[nat44][scale]") {
  Box b("pool: [198.51.100.1]");  // max_sessions: 1048576
  const uint32_t n = 1u << 20;
  // 256 inside hosts, one port each, 4096 destinations each: 1M sessions on
  // 256 mappings (within max_sessions_per_source 8192).
  Bytes f = frame(ip_udp("10.1.0.0", 4000, "192.0.2.0", 53));
  const size_t src = 14 + 12, dst = 14 + 16;
  uint32_t done = 0;
  auto t0 = std::chrono::steady_clock::now();
  while (done < n) {
    Batch batch;
    for (unsigned i = 0; i < 256 && done < n; i++, done++) {
      f[src + 2] = static_cast<uint8_t>(done >> 12 >> 8);  // 10.1.H.L: host = done / 4096
      f[src + 3] = static_cast<uint8_t>(done >> 12);
      f[dst + 1] = static_cast<uint8_t>(done >> 8 & 0x0f);  // 192.(d>>8).(d&255)...: destination = done % 4096
      f[dst + 2] = static_cast<uint8_t>(done >> 8 & 0x0f);
      f[dst + 3] = static_cast<uint8_t>(done);
      batch.add(packet(f));  // checksums are not checked here: only the count matters
    }
    b.h.push("nat", batch, 0);
    auto v = b.h.take("out");
    free_all(v);
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(b.read("count") == std::to_string(n));
  CHECK(b.read("mappings") == "256");
  CHECK(b.drops("table_full") == 0);
  // One more is refused.
  b.inside({frame(ip_udp("10.9.9.9", 1, "192.0.2.1", 53))});
  CHECK(b.drops("table_full") == 1);
  std::string mem = b.read("memory");
  WARN("1M sessions created in " << secs << " s through the element; memory: " << mem);
  size_t dpdk = std::stoull(mem.substr(mem.find("dpdk ") + 5));
  CHECK(dpdk < (400ull << 20));
  b.write("clear", "");
  CHECK(b.read("count") == "0");
}

namespace {

// An ethdev whose RX and TX queues are rings the test owns: queue i is
// worker i's.
struct RingPort {
  std::vector<rte_ring*> rx, tx;
  std::string device;
  RingPort(const std::string& n, unsigned queues = 1, unsigned size = 1u << 12) {
    for (unsigned q = 0; q < queues; q++) {
      rx.push_back(rte_ring_create((n + "r" + std::to_string(q)).c_str(), size, 0, RING_F_SP_ENQ | RING_F_SC_DEQ));
      tx.push_back(rte_ring_create((n + "t" + std::to_string(q)).c_str(), size, 0, RING_F_SP_ENQ | RING_F_SC_DEQ));
    }
    int id = rte_eth_from_rings(n.c_str(), rx.data(), queues, tx.data(), queues, 0);
    REQUIRE(id >= 0);
    char dev[RTE_ETH_NAME_MAX_LEN];
    rte_eth_dev_get_name_by_port(static_cast<uint16_t>(id), dev);
    device = dev;
  }
  void put(const std::vector<Bytes>& frames, unsigned q = 0) {
    for (const auto& f : frames) {
      rte_mbuf* m = packet(f);
      REQUIRE(rte_ring_sp_enqueue(rx[q], m) == 0);
    }
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
  Diagnostics d("nat.yaml");
  auto spec = std::make_shared<GraphSpec>(parse_graph(yaml, "nat.yaml", d));
  GraphPlan p = validate_graph(spec, loader(), d);
  INFO(d.format());
  REQUIRE_FALSE(d.has_errors());
  return p;
}

std::string rt_handler(Runtime& rt, const std::string& id, const std::string& name, const std::string* write = nullptr,
                       unsigned worker = 0) {
  std::string v;
  int node = rt.plan().index_of(id);
  REQUIRE(node >= 0);
  REQUIRE(rt.run_on_worker(worker, [&] { v = handler(*rt.element(worker, static_cast<size_t>(node)), name, write); },
                           2s));
  return v;
}

// rx(in) -> [from_inside]nat[to_outside] -> tx(out); rxo(back) -> [from_outside]nat[to_inside] -> txi(back)
std::string nat_graph(const std::string& lcores, const RingPort& in, const RingPort& out, const RingPort& back,
                      const std::string& nat_params, bool extra) {
  return "workers: {lcores: [" + lcores + "], idle_sleep_us: 20}\nports:\n  in: {device: " + in.device +
         "}\n  out: {device: " + out.device + "}\n  back: {device: " + back.device +
         "}\nelements:\n  rx: {class: PortRx, port: in}\n  rxo: {class: PortRx, port: back}\n"
         "  nat: {class: Nat44, pool: [198.51.100.1], " + nat_params + "}\n"
         "  tx: {class: PortTx, port: out}\n  txi: {class: PortTx, port: back}\n" +
         (extra ? "  p: Pass\n" : "") + "connections:\n  - rx -> [from_inside]nat\n  - rxo -> [from_outside]nat\n" +
         (extra ? "  - nat[to_outside] -> p -> tx\n" : "  - nat[to_outside] -> tx\n") + "  - nat[to_inside] -> txi\n";
}

}  // namespace

TEST_CASE("Nat44 sessions survive a reload that keeps the element, and RCU frees slots for reuse",
          "[nat44][reload]") {
  test::eal();
  static int serial = 0;
  std::string tag = std::to_string(serial++);
  RingPort in("natin" + tag), out("natout" + tag), back("natback" + tag);
  auto yaml = [&](const std::string& nat_params, bool extra) {
    return nat_graph("1", in, out, back, nat_params, extra);
  };
  Runtime rt(plan_of(yaml("max_sessions: 4096, udp: 30", false)));
  rt.start();
  std::vector<Bytes> flows;
  for (uint16_t i = 0; i < 100; i++) flows.push_back(frame(ip_udp("10.0.0.2", static_cast<uint16_t>(1000 + i), "192.0.2.1", 53)));
  in.put(flows);
  auto first = out.get(100);
  REQUIRE(first.size() == 100);
  CHECK(rt_handler(rt, "nat", "count") == "100");

  ReloadReport r = rt.reload(plan_of(yaml("max_sessions: 4096, udp: 30", true)), 2s);
  INFO(r.error);
  REQUIRE(r.ok);
  bool carried = false;
  for (const auto& k : r.kept)
    if (k.id == "nat") carried = k.state == "carried";
  CHECK(carried);
  CHECK(rt_handler(rt, "nat", "count") == "100");
  // The same flows reuse their sessions: same external ports, nothing created.
  in.put(flows);
  auto again = out.get(100);
  REQUIRE(again.size() == 100);
  for (size_t i = 0; i < 100; i++) CHECK(again[i].sport == first[i].sport);
  CHECK(rt_handler(rt, "nat", "created") == "100");
  // Replies from outside still find their sessions.
  back.put({frame(ip_udp("192.0.2.1", 53, "198.51.100.1", first[7].sport))});
  auto reply = back.get(1);
  REQUIRE(reply.size() == 1);
  CHECK(reply[0].dst == "10.0.0.2");
  CHECK(reply[0].dport == 1007);

  // Expiry on the worker with RCU: every slot comes back and can be used again.
  std::string adv = "31";
  rt_handler(rt, "nat", "advance_clock", &adv);
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (rt_handler(rt, "nat", "count") != "0" && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  CHECK(rt_handler(rt, "nat", "count") == "0");
  CHECK(rt_handler(rt, "nat", "expired") == "100");
  std::vector<Bytes> many;
  for (uint16_t i = 0; i < 4000; i++)
    many.push_back(frame(ip_udp("10.0.0.3", static_cast<uint16_t>(2000 + i % 2000), "192.0.2.2",
                                static_cast<uint16_t>(1 + i / 2000))));
  for (size_t i = 0; i < many.size(); i += 1000) {
    in.put({many.begin() + static_cast<long>(i), many.begin() + static_cast<long>(i + 1000)});
    REQUIRE(out.get(1000).size() == 1000);
  }
  CHECK(rt_handler(rt, "nat", "count") == "4000");

  // A change of max_sessions makes a new table.
  ReloadReport r2 = rt.reload(plan_of(yaml("max_sessions: 8192, udp: 30", false)), 2s);
  REQUIRE(r2.ok);
  for (const auto& k : r2.kept)
    if (k.id == "nat") CHECK(k.state == "reset");
  CHECK(rt_handler(rt, "nat", "count") == "0");
  rt.stop();
}

TEST_CASE("Nat44 on two workers: one shared table, per-worker port slices, shared expiry",
          "[nat44][shared]") {
  test::eal();
  static int serial = 0;
  std::string tag = std::to_string(serial++);
  RingPort in("nat2in" + tag, 2), out("nat2out" + tag, 2), back("nat2back" + tag, 2);
  Runtime rt(plan_of(nat_graph("1, 2", in, out, back, "port_range: 10000-10999, max_sessions: 4096, udp: 30", false)));
  rt.start();
  // Worker 0 opens a session; the reply arrives on worker 1's queue.
  in.put({frame(ip_udp("10.0.0.2", 5000, "192.0.2.1", 53))}, 0);
  auto out0 = out.get(1, 0);
  REQUIRE(out0.size() == 1);
  CHECK(out0[0].sport >= 10000);
  CHECK(out0[0].sport < 10500);  // worker 0's half of the range
  back.put({frame(ip_udp("192.0.2.1", 53, "198.51.100.1", out0[0].sport))}, 1);
  auto in1 = back.get(1, 1);
  REQUIRE(in1.size() == 1);
  CHECK(in1[0].dst == "10.0.0.2");
  CHECK(in1[0].dport == 5000);
  // Worker 1 opens its own (a port from its half); the same inside endpoint
  // keeps its mapping whichever worker sees it.
  in.put({frame(ip_udp("10.0.0.3", 5000, "192.0.2.1", 53)), frame(ip_udp("10.0.0.2", 5000, "192.0.2.2", 53))}, 1);
  auto out1 = out.get(2, 1);
  REQUIRE(out1.size() == 2);
  CHECK(out1[0].sport >= 10500);
  CHECK(out1[0].sport <= 10999);
  CHECK(out1[1].sport == out0[0].sport);
  CHECK(rt_handler(rt, "nat", "count", nullptr, 0) == "3");
  CHECK(rt_handler(rt, "nat", "count", nullptr, 1) == "3");
  CHECK(rt_handler(rt, "nat", "mappings", nullptr, 1) == "2");
  // Both workers sweep the shared table: all three expire.
  std::string adv = "31";
  rt_handler(rt, "nat", "advance_clock", &adv, 1);
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (rt_handler(rt, "nat", "count") != "0" && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  CHECK(rt_handler(rt, "nat", "count") == "0");
  CHECK(rt_handler(rt, "nat", "pool") == "198.51.100.1 tcp 1000 udp 1000 icmp 1000\n");
  rt.stop();
}

TEST_CASE("EtherRewrite sets source and destination MACs", "[nat44][elements]") {
  GraphHarness h(R"(
elements:
  rw: {class: EtherRewrite, src: "02:aa:00:00:00:01", dst: "02:bb:00:00:00:02"}
  d: {class: EtherRewrite, dst: "02:cc:00:00:00:03"}
  c1: Capture
  c2: Capture
connections:
  - rw -> c1
  - d -> c2
)",
                 loader(), pool());
  Batch b;
  b.add(packet(eth(0x0800, Bytes(30, 1))));
  b.add(packet(Bytes(8, 0)));
  h.push("rw", b);
  auto v = h.take("c1");
  REQUIRE(v.size() == 1);
  Bytes f = bytes_of(v[0]);
  CHECK(Bytes(f.begin(), f.begin() + 12) == Bytes{0x02, 0xbb, 0, 0, 0, 2, 0x02, 0xaa, 0, 0, 0, 1});
  const Bytes sent = eth(0x0800, Bytes(30, 1));
  CHECK(Bytes(f.begin() + 12, f.end()) == Bytes(sent.begin() + 12, sent.end()));
  free_all(v);
  CHECK(drops(h.element("rw"), "runt") == 1);
  Batch b2;
  b2.add(packet(eth(0x0800, Bytes(30, 1), "02:00:00:00:00:09", "02:00:00:00:00:08")));
  h.push("d", b2);
  v = h.take("c2");
  REQUIRE(v.size() == 1);
  f = bytes_of(v[0]);
  CHECK(Bytes(f.begin(), f.begin() + 12) == Bytes{0x02, 0xcc, 0, 0, 0, 3, 0x02, 0, 0, 0, 0, 8});
  free_all(v);
  CHECK_THROWS_WITH(GraphHarness("elements:\n  rw: {class: EtherRewrite}\n  c: Capture\nconnections:\n  - rw -> c\n",
                                 loader(), pool()),
                    Catch::Contains("EtherRewrite needs `src`, `dst` or both"));
}

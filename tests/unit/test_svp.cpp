// SVP: the codec against vectors computed by tests/unit/svp_vectors.py
// (Python struct + zlib, from the C layouts), the stream reader, the lab
// server's mappings file, and SvpClient against the real LabServer and
// against a misbehaving server, all over TCP on loopback in one io_context;
// then the Svp service with SvpResolver (harness, runtime, reload) and its
// running state (SvpControl) for the control thread.
#include <rte_eth_ring.h>
#include <rte_ring.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "control/neighbor_control.hpp"
#include "control/svp_client.hpp"
#include "control/svp_control.hpp"
#include "control/svp_lab_server.hpp"
#include "control/svp_proto.hpp"
#include "control/svp_service.hpp"
#include "testing/graph_harness.hpp"
#include "runtime/runtime.hpp"
#include "test_env.hpp"
#include "testing/graph_harness.hpp"
#include "weft/fields.hpp"

using namespace weft::svp;
using weft::IpAddr;
using weft::Mac;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

std::map<std::string, std::vector<uint8_t>> vectors() {
  std::map<std::string, std::vector<uint8_t>> v;
  std::ifstream f(WEFT_SVP_VECTORS);
  REQUIRE(f);
  std::string name, hex;
  while (f >> name >> hex) {
    std::vector<uint8_t> b;
    for (size_t i = 0; i + 1 < hex.size(); i += 2) b.push_back(static_cast<uint8_t>(std::stoul(hex.substr(i, 2), nullptr, 16)));
    v[name] = b;
  }
  return v;
}

Mac M(const char* t) {
  auto m = Mac::parse(t);
  REQUIRE(m);
  return *m;
}
IpAddr I(const char* t) {
  auto a = IpAddr::parse(t);
  REQUIRE(a);
  return *a;
}
Addr A(const char* t) { return to_wire(I(t)); }
Uuid uuid_from(uint8_t first) {
  Uuid u;
  for (int i = 0; i < 16; i++) u[i] = static_cast<uint8_t>(first + i);
  return u;
}

// Decodes a whole message: header + payload of the expected op.
template <class T>
T decoded(const std::vector<uint8_t>& m, uint16_t op, uint32_t id) {
  REQUIRE(m.size() >= kHeaderSize);
  Header h;
  decode_header(m.data(), h);
  CHECK(h.version == 1);
  CHECK(h.op == op);
  CHECK(h.id == id);
  CHECK(h.size == m.size() - kHeaderSize);
  CHECK(message_crc(h, m.data() + kHeaderSize, h.size) == h.crc);
  T out;
  std::string err;
  INFO(err);
  REQUIRE(decode(m.data() + kHeaderSize, h.size, out, err));
  return out;
}

bool pump(asio::io_context& io, const std::function<bool()>& cond, std::chrono::milliseconds limit = 5000ms) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > end) return false;
    io.run_for(2ms);
    io.restart();
  }
  return true;
}

LabMappings lab_mappings() {
  return parse_lab_mappings(
      "vl2:\n"
      "  - {mac: \"02:08:20:00:00:01\", vni: 100, ip: 192.0.2.11}\n"
      "  - {mac: \"02:08:20:00:00:02\", vni: 100, ip: \"2001:db8::12\", port: 8472}\n"
      "vl3:\n"
      "  - {ip: 10.0.0.1, vni: 100, mac: \"02:08:20:00:00:01\"}\n"
      "  - {ip: \"fd00::2\", vni: 100, mac: \"02:08:20:00:00:02\"}\n"
      "  - {ip: 10.0.0.9, vni: 100, mac: \"02:08:20:00:00:09\", underlay: 192.0.2.19, port: 4790, vlan: 7}\n"
      "cns: [192.0.2.1]\n",
      "lab.yaml");
}

std::shared_ptr<LabServer> lab(asio::io_context& io, LabMappings m = lab_mappings(), bool shootdown = false) {
  auto s = std::make_shared<LabServer>(io, std::move(m), LabOptions{"127.0.0.1:0", shootdown});
  s->start();
  return s;
}

ClientConfig client_cfg(std::vector<uint16_t> ports, double timeout = 2) {
  ClientConfig c;
  for (auto p : ports) c.servers.push_back("127.0.0.1:" + std::to_string(p));
  c.timeout_s = timeout;
  c.backoff_min_s = 0.02;
  c.backoff_max_s = 0.1;
  return c;
}

uint16_t free_port() {
  asio::io_context io;
  tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

}  // namespace

// ---------------------------------------------------------------------------
// Codec
// ---------------------------------------------------------------------------

TEST_CASE("SVP codec: every message encodes to the independent vectors, byte for byte", "[svp][codec]") {
  auto v = vectors();
  REQUIRE(v.size() == 17);
  CHECK(encode(kPing, 1, {}) == v["ping"]);
  CHECK(encode(kPong, 1, {}) == v["pong"]);
  CHECK(encode(kVl2Req, 2, payload(Vl2Req{M("02:08:20:aa:bb:cc"), 0x1234})) == v["vl2_req"]);
  CHECK(encode(kVl2Ack, 2, payload(Vl2Ack{kOk, 4789, A("192.0.2.11")})) == v["vl2_ack"]);
  CHECK(encode(kVl2Ack, 3, payload(Vl2Ack{kNotFound, 0, Addr{}})) == v["vl2_ack_notfound"]);
  CHECK(encode(kVl3Req, 4, payload(Vl3Req{A("10.0.0.7"), kVl3Ip, 0xabcdef})) == v["vl3_req"]);
  CHECK(encode(kVl3Req, 5, payload(Vl3Req{A("2001:db8::7"), kVl3Ipv6, 100})) == v["vl3_req_v6"]);
  CHECK(encode(kVl3Ack, 4, payload(Vl3Ack{kOk, M("02:08:20:00:00:07"), 4789, A("192.0.2.12")})) == v["vl3_ack"]);
  CHECK(encode(kVl3Ack, 5, payload(Vl3Ack{kOk, M("02:08:20:00:00:08"), 8472, A("2001:db8:ff::12")})) ==
        v["vl3_ack_v6_underlay"]);
  CHECK(encode(kBulkReq, 6, payload(BulkReq{kBulkVl2})) == v["bulk_req"]);
  CHECK(encode(kBulkAck, 6, payload(BulkAck{kFatal, kBulkVl2, {}})) == v["bulk_ack"]);
  CHECK(encode(kLogReq, 7, payload(LogReq{1024, A("192.0.2.1")})) == v["log_req"]);
  LogAck la;
  la.status = kOk;
  LogRecord r2;
  r2.type = kLogVl2;
  r2.id = uuid_from(1);
  r2.mac = M("02:08:20:aa:bb:cc");
  r2.vnetid = 0x1234;
  LogRecord r3;
  r3.type = kLogVl3;
  r3.id = uuid_from(0x11);
  r3.ip = A("10.0.0.7");
  r3.vlan = 12;
  r3.vnetid = 0xabcdef;
  la.records = {r2, r3};
  CHECK(encode(kLogAck, 7, payload(la)) == v["log_ack"]);
  CHECK(encode(kLogAck, 9, payload(LogAck{kOk, {}})) == v["log_ack_empty"]);
  CHECK(encode(kLogRm, 8, payload(LogRm{{uuid_from(1), uuid_from(0x11)}})) == v["log_rm"]);
  CHECK(encode(kLogRmAck, 8, payload(LogRmAck{kOk})) == v["log_rm_ack"]);
  CHECK(encode(kShootdown, 0, payload(Shootdown{M("02:08:20:aa:bb:cc"), 0x1234})) == v["shootdown"]);
}

TEST_CASE("SVP codec: every vector decodes to its fields", "[svp][codec]") {
  auto v = vectors();
  auto q2 = decoded<Vl2Req>(v["vl2_req"], kVl2Req, 2);
  CHECK(q2.mac == M("02:08:20:aa:bb:cc"));
  CHECK(q2.vnetid == 0x1234);
  auto a2 = decoded<Vl2Ack>(v["vl2_ack"], kVl2Ack, 2);
  CHECK(a2.status == kOk);
  CHECK(a2.port == 4789);
  CHECK(from_wire(a2.addr).str() == "192.0.2.11");
  CHECK(decoded<Vl2Ack>(v["vl2_ack_notfound"], kVl2Ack, 3).status == kNotFound);
  auto q3 = decoded<Vl3Req>(v["vl3_req"], kVl3Req, 4);
  CHECK(from_wire(q3.ip).str() == "10.0.0.7");
  CHECK(q3.type == kVl3Ip);
  CHECK(q3.vnetid == 0xabcdef);
  auto q36 = decoded<Vl3Req>(v["vl3_req_v6"], kVl3Req, 5);
  CHECK(from_wire(q36.ip).str() == "2001:db8::7");
  CHECK(q36.type == kVl3Ipv6);
  auto a3 = decoded<Vl3Ack>(v["vl3_ack"], kVl3Ack, 4);
  CHECK(a3.status == kOk);
  CHECK(a3.mac.str() == "02:08:20:00:00:07");
  CHECK(a3.port == 4789);
  CHECK(from_wire(a3.addr).str() == "192.0.2.12");
  auto a36 = decoded<Vl3Ack>(v["vl3_ack_v6_underlay"], kVl3Ack, 5);
  CHECK(from_wire(a36.addr).str() == "2001:db8:ff::12");
  CHECK(a36.port == 8472);
  CHECK(decoded<BulkReq>(v["bulk_req"], kBulkReq, 6).type == kBulkVl2);
  auto ba = decoded<BulkAck>(v["bulk_ack"], kBulkAck, 6);
  CHECK(ba.status == kFatal);
  CHECK(ba.data.empty());
  auto lr = decoded<LogReq>(v["log_req"], kLogReq, 7);
  CHECK(lr.count == 1024);
  CHECK(from_wire(lr.ip).str() == "192.0.2.1");
  auto la = decoded<LogAck>(v["log_ack"], kLogAck, 7);
  REQUIRE(la.records.size() == 2);
  CHECK(la.records[0].type == kLogVl2);
  CHECK(la.records[0].id == uuid_from(1));
  CHECK(la.records[0].mac.str() == "02:08:20:aa:bb:cc");
  CHECK(la.records[0].vnetid == 0x1234);
  CHECK(la.records[1].type == kLogVl3);
  CHECK(la.records[1].id == uuid_from(0x11));
  CHECK(from_wire(la.records[1].ip).str() == "10.0.0.7");
  CHECK(la.records[1].vlan == 12);
  CHECK(la.records[1].vnetid == 0xabcdef);
  CHECK(decoded<LogAck>(v["log_ack_empty"], kLogAck, 9).records.empty());
  auto rm = decoded<LogRm>(v["log_rm"], kLogRm, 8);
  REQUIRE(rm.ids.size() == 2);
  CHECK(rm.ids[1] == uuid_from(0x11));
  CHECK(decoded<LogRmAck>(v["log_rm_ack"], kLogRmAck, 8).status == kOk);
  auto sd = decoded<Shootdown>(v["shootdown"], kShootdown, 0);
  CHECK(sd.mac.str() == "02:08:20:aa:bb:cc");
  CHECK(sd.vnetid == 0x1234);
}

TEST_CASE("SVP codec: wrong sizes and bad log records are refused", "[svp][codec]") {
  std::string err;
  uint8_t buf[64] = {};
  Vl2Ack a2;
  CHECK_FALSE(decode(buf, 19, a2, err));
  CHECK(err.find("VL2_ACK") != std::string::npos);
  Vl3Ack a3;
  CHECK_FALSE(decode(buf, 29, a3, err));
  LogRm rm;
  buf[3] = 2;  // count 2, one id
  CHECK_FALSE(decode(buf, 20, rm, err));
  LogAck la;
  // status + a record of unknown type 3
  uint8_t bad_type[8] = {0, 0, 0, 0, 0, 0, 0, 3};
  CHECK_FALSE(decode(bad_type, 8, la, err));
  CHECK(err.find("unknown record type 3") != std::string::npos);
  // status + a truncated VL3 record
  std::vector<uint8_t> trunc = {0, 0, 0, 0, 0, 0, 0, 2};
  trunc.resize(8 + 30);
  CHECK_FALSE(decode(trunc.data(), trunc.size(), la, err));
}

TEST_CASE("SVP stream reader: split anywhere, several per read, bad CRC / version / size stop it", "[svp][codec]") {
  auto v = vectors();
  std::vector<uint8_t> stream;
  const char* order[] = {"pong", "vl2_ack", "vl3_ack", "log_ack", "log_rm_ack", "shootdown"};
  for (const char* n : order) stream.insert(stream.end(), v[n].begin(), v[n].end());
  for (size_t chunk : {size_t{1}, size_t{3}, size_t{16}, size_t{17}, size_t{50}, stream.size()}) {
    StreamReader r;
    std::vector<uint16_t> ops;
    for (size_t off = 0; off < stream.size(); off += chunk) {
      const size_t n = std::min(chunk, stream.size() - off);
      REQUIRE(r.feed(stream.data() + off, n, [&](const Header& h, const uint8_t*, size_t) { ops.push_back(h.op); }));
    }
    CHECK(ops == std::vector<uint16_t>{kPong, kVl2Ack, kVl3Ack, kLogAck, kLogRmAck, kShootdown});
    CHECK(r.buffered() == 0);
  }
  auto bad = v["vl2_ack"];
  bad[20] ^= 1;  // payload bit flip
  StreamReader r1;
  CHECK_FALSE(r1.feed(bad.data(), bad.size(), [](const Header&, const uint8_t*, size_t) { FAIL("delivered"); }));
  CHECK(r1.error() == StreamReader::Error::BadCrc);
  auto ver = v["pong"];
  ver[1] = 2;
  StreamReader r2;
  CHECK_FALSE(r2.feed(ver.data(), 4 + 12, [](const Header&, const uint8_t*, size_t) {}));
  CHECK(r2.error() == StreamReader::Error::BadVersion);
  auto big = encode(kBulkAck, 1, std::vector<uint8_t>(64, 0));
  StreamReader r3(32);
  CHECK_FALSE(r3.feed(big.data(), 16, [](const Header&, const uint8_t*, size_t) {}));
  CHECK(r3.error() == StreamReader::Error::TooLarge);
}

TEST_CASE("SVP lab server: mappings file errors name line and column", "[svp][lab]") {
  auto err = [](const std::string& text) {
    try {
      parse_lab_mappings(text, "m.yaml");
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(err("vl2:\n  - {mac: \"zz\", vni: 1, ip: 192.0.2.1}\n") == "m.yaml:2:11: mac: expected a MAC such as 02:00:00:00:00:01");
  CHECK(err("vl2:\n  - {mac: \"02:00:00:00:00:01\", vni: 99999999, ip: 192.0.2.1}\n").rfind("m.yaml:2:", 0) == 0);
  CHECK(err("vl3:\n  - {ip: 10.0.0.1, vni: 1}\n") == "m.yaml:2:5: missing 'mac'");
  CHECK(err("vl4: []\n") == "m.yaml:1:1: unknown key 'vl4' (keys: vl2, vl3, cns)");
  CHECK(err("vl2:\n  - {mac: \"02:00:00:00:00:01\", vni: 1, ip: 1.2.3.4}\n  - {mac: \"02:00:00:00:00:01\", vni: 1, ip: 1.2.3.5}\n")
            .find("listed twice") != std::string::npos);
  auto m = lab_mappings();
  CHECK(m.vl2.size() == 2);
  auto r = m.resolve3(100, A("10.0.0.1"));
  REQUIRE(r);
  CHECK(from_wire(r->second.ip).str() == "192.0.2.11");
  CHECK_FALSE(m.resolve3(100, A("10.0.0.2")));
}

// ---------------------------------------------------------------------------
// Client against the lab server
// ---------------------------------------------------------------------------

TEST_CASE("SvpClient + LabServer: handshake, VL2/VL3 answers, NOTFOUND, BADL3TYPE, BULK unsupported", "[svp][client]") {
  asio::io_context io;
  auto server = lab(io);
  auto client = std::make_shared<SvpClient>(io, client_cfg({server->port()}));
  client->start();
  REQUIRE(pump(io, [&] { return client->up(); }));
  CHECK(client->counters().handshakes == 1);

  std::optional<Vl2Ack> a2, nf2;
  client->vl2({M("02:08:20:00:00:02"), 100}, [&](Outcome o, const Vl2Ack& a) {
    CHECK(o == Outcome::Reply);
    a2 = a;
  });
  client->vl2({M("02:08:20:00:00:02"), 101}, [&](Outcome, const Vl2Ack& a) { nf2 = a; });
  std::optional<Vl3Ack> a3, a3b, bad3;
  client->vl3({A("10.0.0.1"), kVl3Ip, 100}, [&](Outcome, const Vl3Ack& a) { a3 = a; });
  client->vl3({A("10.0.0.9"), kVl3Ip, 100}, [&](Outcome, const Vl3Ack& a) { a3b = a; });
  client->vl3({A("10.0.0.1"), 7, 100}, [&](Outcome, const Vl3Ack& a) { bad3 = a; });
  std::optional<BulkAck> bulk;
  client->bulk({kBulkVl3}, [&](Outcome, const BulkAck& a) { bulk = a; });
  REQUIRE(pump(io, [&] { return a2 && nf2 && a3 && a3b && bad3 && bulk; }));
  CHECK(a2->status == kOk);
  CHECK(a2->port == 8472);
  CHECK(from_wire(a2->addr).str() == "2001:db8::12");
  CHECK(nf2->status == kNotFound);
  CHECK(a3->status == kOk);
  CHECK(a3->mac.str() == "02:08:20:00:00:01");
  CHECK(from_wire(a3->addr).str() == "192.0.2.11");
  CHECK(a3->port == 4789);
  CHECK(a3b->port == 4790);
  CHECK(from_wire(a3b->addr).str() == "192.0.2.19");
  CHECK(bad3->status == kBadL3Type);
  CHECK(bulk->status == kFatal);
  const auto& c = client->counters();
  CHECK(c.status_ok == 3);
  CHECK(c.status_notfound == 1);
  CHECK(c.status_other == 2);
  CHECK(c.bad_crc + c.bad_size + c.unknown_op + c.unsolicited_id == 0);
}

TEST_CASE("SvpClient: pipelined requests beyond the window all get their own answers", "[svp][client]") {
  asio::io_context io;
  LabMappings m;
  for (uint32_t i = 0; i < 500; i++) {
    Mac mac{2, 0, 0, 0, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)};
    uint8_t v4[4] = {192, 0, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)};
    m.vl2[{7, mac}] = {mapped_v4(v4), static_cast<uint16_t>(1000 + i)};
  }
  auto server = lab(io, m);
  auto cfg = client_cfg({server->port()});
  cfg.window = 64;
  auto client = std::make_shared<SvpClient>(io, cfg);
  client->start();
  // Asked before the session is up: queued, then sent 64 at a time.
  constexpr uint32_t kN = 2000;
  uint32_t good = 0;
  for (uint32_t k = 0; k < kN; k++) {
    uint32_t i = k % 500;
    Mac mac{2, 0, 0, 0, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)};
    client->vl2({mac, 7}, [&good, i](Outcome o, const Vl2Ack& a) {
      if (o == Outcome::Reply && a.status == kOk && a.port == 1000 + i && a.addr[15] == static_cast<uint8_t>(i)) good++;
    });
  }
  CHECK(client->in_flight() == 0);
  REQUIRE(pump(io, [&] { return good == kN; }));
  CHECK(client->counters().replies == kN + 0);  // the handshake PONG is not a request
  CHECK(client->counters().connects == 1);
}

TEST_CASE("SvpClient: Portolan down at start and up later, failover to the second server, back after a restart",
          "[svp][client]") {
  asio::io_context io;
  const uint16_t dead = free_port();   // nothing listens here
  const uint16_t later = free_port();  // the server comes up here later
  auto client = std::make_shared<SvpClient>(io, client_cfg({dead, later}, 0.3));
  client->start();
  std::optional<Outcome> first;
  client->vl2({M("02:08:20:00:00:01"), 100}, [&](Outcome o, const Vl2Ack&) { first = o; });
  REQUIRE(pump(io, [&] { return first.has_value(); }));
  CHECK(*first == Outcome::Timeout);  // nobody answered within 0.3 s
  CHECK(client->counters().connect_failures >= 2);
  CHECK_FALSE(client->up());

  auto m = lab_mappings();
  auto server = std::make_shared<LabServer>(io, m, LabOptions{"127.0.0.1:" + std::to_string(later), false});
  server->start();
  REQUIRE(pump(io, [&] { return client->up(); }));
  CHECK(client->server() == "127.0.0.1:" + std::to_string(later));
  CHECK(client->counters().failovers >= 1);
  std::optional<Vl2Ack> a;
  client->vl2({M("02:08:20:00:00:01"), 100}, [&](Outcome, const Vl2Ack& x) { a = x; });
  REQUIRE(pump(io, [&] { return a.has_value(); }));
  CHECK(a->status == kOk);

  // The server goes away: requests wait, the client retries; it comes back.
  server->stop();
  server.reset();
  REQUIRE(pump(io, [&] { return !client->up(); }));
  std::optional<Vl2Ack> b;
  client->vl2({M("02:08:20:00:00:01"), 100}, [&](Outcome, const Vl2Ack& x) { b = x; });
  server = std::make_shared<LabServer>(io, m, LabOptions{"127.0.0.1:" + std::to_string(later), false});
  server->start();
  REQUIRE(pump(io, [&] { return b.has_value(); }));
  CHECK(b->status == kOk);
  CHECK(client->counters().connects >= 2);
}

TEST_CASE("SvpClient + LabServer: the change log (LOG_REQ, records, LOG_RM) and SHOOTDOWN", "[svp][client][log]") {
  asio::io_context io;
  auto server = lab(io, lab_mappings(), true);
  auto client = std::make_shared<SvpClient>(io, client_cfg({server->port()}));
  std::vector<Shootdown> shot;
  client->on_shootdown = [&](const Shootdown& s) { shot.push_back(s); };
  client->start();
  REQUIRE(pump(io, [&] { return client->up(); }));
  const Addr cn = A("192.0.2.1");
  std::optional<LogAck> empty;
  client->log({1024, cn}, [&](Outcome, const LogAck& a) { empty = a; });
  REQUIRE(pump(io, [&] { return empty.has_value(); }));
  CHECK(empty->records.empty());

  // 02:..:01 moves: its VL2 entry and the VL3 entry using it change; 10.0.0.9 goes.
  auto m = lab_mappings();
  m.vl2[{100, M("02:08:20:00:00:01")}].ip = A("192.0.2.99");
  m.vl3.erase({100, A("10.0.0.9")});
  CHECK(server->set_mappings(m) == 3);
  CHECK(server->log_size(cn) == 3);
  REQUIRE(pump(io, [&] { return shot.size() == 1; }));
  CHECK(shot[0].mac.str() == "02:08:20:00:00:01");
  CHECK(shot[0].vnetid == 100);

  // A small LOG_REQ gets what fits: 4 + 32 + 44 = 80 bytes -> VL2 and one VL3.
  std::optional<LogAck> part;
  client->log({80, cn}, [&](Outcome, const LogAck& a) { part = a; });
  REQUIRE(pump(io, [&] { return part.has_value(); }));
  REQUIRE(part->records.size() == 2);
  CHECK(part->records[0].type == kLogVl2);
  CHECK(part->records[1].type == kLogVl3);
  LogRm rm;
  for (const auto& r : part->records) rm.ids.push_back(r.id);
  std::optional<LogRmAck> rmack;
  client->log_rm(rm, [&](Outcome, const LogRmAck& a) { rmack = a; });
  REQUIRE(pump(io, [&] { return rmack.has_value(); }));
  CHECK(rmack->status == kOk);
  CHECK(server->log_size(cn) == 1);
  std::optional<LogAck> rest;
  client->log({4096, cn}, [&](Outcome, const LogAck& a) { rest = a; });
  REQUIRE(pump(io, [&] { return rest.has_value(); }));
  REQUIRE(rest->records.size() == 1);
  CHECK(from_wire(rest->records[0].ip).str() == "10.0.0.9");
  CHECK(client->counters().shootdowns == 1);
}

// ---------------------------------------------------------------------------
// Malformed replies
// ---------------------------------------------------------------------------

namespace {

// A server that answers the handshake PING properly and every other request
// with whatever `reply` makes of it (raw bytes).
struct EvilServer {
  asio::io_context& io;
  tcp::acceptor acc;
  std::function<std::vector<uint8_t>(const Header&)> reply;
  std::vector<std::shared_ptr<tcp::socket>> socks;
  int accepted = 0;
  EvilServer(asio::io_context& i, std::function<std::vector<uint8_t>(const Header&)> r)
      : io(i), acc(i, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), reply(std::move(r)) {
    accept();
  }
  uint16_t port() const { return acc.local_endpoint().port(); }
  void accept() {
    acc.async_accept([this](boost::system::error_code ec, tcp::socket s) {
      if (ec) return;
      accepted++;
      auto sp = std::make_shared<tcp::socket>(std::move(s));
      socks.push_back(sp);
      read(sp);
      accept();
    });
  }
  void read(std::shared_ptr<tcp::socket> s) {
    auto hdr = std::make_shared<std::array<uint8_t, 16>>();
    asio::async_read(*s, asio::buffer(*hdr), [this, s, hdr](boost::system::error_code ec, size_t) {
      if (ec) return;
      Header h;
      decode_header(hdr->data(), h);
      auto body = std::make_shared<std::vector<uint8_t>>(h.size);
      asio::async_read(*s, asio::buffer(*body), [this, s, h, body](boost::system::error_code e2, size_t) {
        if (e2) return;
        auto out = std::make_shared<std::vector<uint8_t>>(h.op == kPing ? encode(kPong, h.id, {}) : reply(h));
        asio::async_write(*s, asio::buffer(*out), [out](boost::system::error_code, size_t) {});
        read(s);
      });
    });
  }
};

}  // namespace

TEST_CASE("SvpClient: malformed replies are counted, reset the connection, and never crash", "[svp][client][malformed]") {
  struct Case {
    const char* name;
    std::function<std::vector<uint8_t>(const Header&)> reply;
    uint64_t ClientCounters::*counter;
  };
  auto good = [](const Header& h) { return encode(kVl2Ack, h.id, payload(Vl2Ack{kOk, 4789, A("192.0.2.1")})); };
  std::vector<Case> cases = {
      {"bad CRC",
       [&](const Header& h) {
         auto m = good(h);
         m[m.size() - 1] ^= 0x40;
         return m;
       },
       &ClientCounters::bad_crc},
      {"wrong version",
       [&](const Header& h) {
         auto m = good(h);
         m[1] = 2;
         return m;
       },
       &ClientCounters::bad_version},
      {"short size", [](const Header& h) { return encode(kVl2Ack, h.id, std::vector<uint8_t>(10, 0)); },
       &ClientCounters::bad_size},
      {"unknown op", [](const Header& h) { return encode(99, h.id, {}); }, &ClientCounters::unknown_op},
      {"op that answers another request", [](const Header& h) { return encode(kVl3Ack, h.id, std::vector<uint8_t>(28, 0)); },
       &ClientCounters::unknown_op},
      {"unsolicited id", [&](const Header& h) { return good(Header{1, kVl2Ack, 0, h.id + 1000, 0}); },
       &ClientCounters::unsolicited_id},
      {"oversized", [](const Header& h) {
         Header x{1, kBulkAck, 5u << 20, h.id, 0};
         std::vector<uint8_t> m(16);
         m[1] = 1;
         m[3] = kBulkAck;
         m[4] = static_cast<uint8_t>(x.size >> 24);
         m[5] = static_cast<uint8_t>(x.size >> 16);
         m[8] = static_cast<uint8_t>(h.id >> 24);
         m[11] = static_cast<uint8_t>(h.id);
         return m;
       },
       &ClientCounters::too_large},
  };
  for (auto& c : cases) {
    SECTION(c.name) {
      asio::io_context io;
      EvilServer evil(io, c.reply);
      auto client = std::make_shared<SvpClient>(io, client_cfg({evil.port()}, 1));
      client->start();
      REQUIRE(pump(io, [&] { return client->up(); }));
      int answered = 0;
      client->vl2({M("02:08:20:00:00:01"), 100}, [&](Outcome, const Vl2Ack&) { answered++; });
      // Each reply is refused; the client reconnects and sends the request again.
      REQUIRE(pump(io, [&] { return client->counters().*c.counter >= 2 && evil.accepted >= 2; }));
      CHECK(client->counters().disconnects >= 2);
      CHECK(client->counters().resent >= 1);
      CHECK(answered == 0);
      // The request finally times out (1 s) and the client lives on.
      REQUIRE(pump(io, [&] { return answered == 1; }, 3000ms));
      CHECK(client->counters().timeouts == 1);
    }
  }
}

// ---------------------------------------------------------------------------
// The service and SvpResolver (a graph harness; the service on our io_context)
// ---------------------------------------------------------------------------

TEST_CASE("SvpResolver: misses held then released with the underlay, NOTFOUND / full queue / timeout drops, "
          "hits while Portolan is down",
          "[svp][resolver]") {
  weft::test::eal();
  asio::io_context io;
  auto server = lab(io, parse_lab_mappings("vl2:\n  - {mac: \"02:00:00:00:00:0a\", vni: 100, ip: 192.0.2.11}\n"
                                           "vl3:\n  - {ip: 10.9.0.1, vni: 100, mac: \"02:00:00:00:00:0a\"}\n",
                                           "m.yaml"));
  const std::string yaml = "name: res\nservices:\n  portolan: {class: Svp, servers: [\"127.0.0.1:" +
                           std::to_string(server->port()) +
                           "\"], timeout: 0.5, backoff_min: 0.05, backoff_max: 0.1, negative_ttl: 30}\n"
                           "elements:\n"
                           "  res: {class: SvpResolver, svp: portolan, vni: 100, wait: 0.4, queue: 2}\n"
                           "  res3: {class: SvpResolver, svp: portolan, mode: vl3, vni: 100}\n"
                           "  cap: Capture\n  cap3: Capture\nconnections:\n  - res -> cap\n  - res3 -> cap3\n";
  weft::GraphHarness h(yaml, weft::test::loader(), weft::test::pool());
  auto svc = static_cast<weft::svp::SvpService&>(h.service("portolan")).control();
  REQUIRE(svc);
  h.start_services(io);
  REQUIRE(pump(io, [&] { return svc->client() && svc->client()->up(); }));
  auto frame = [](const char* dst) { return weft::test::eth(0x0800, std::vector<uint8_t>(46, 0), dst); };
  auto push = [&](const char* id, std::vector<std::vector<uint8_t>> frames) {
    weft::Batch b;
    for (auto& f : frames) b.add(weft::test::packet(f));
    h.push(id, b);
  };
  weft::Element& res = h.element("res");
  enum { kDropNotFound, kDropTimeout, kDropQueueFull };  // SvpResolver's drop reasons
  auto underlay = weft::fields::underlay();
  auto vni = weft::fields::vni();
  auto check_meta = [&](rte_mbuf* m) {
    REQUIRE(underlay.has(m));
    const auto& u = underlay.get(m);
    CHECK(u.family == 4);
    CHECK(u.udp_port == 4789);
    CHECK(std::vector<uint8_t>(u.addr, u.addr + 4) == std::vector<uint8_t>{192, 0, 2, 11});
    REQUIRE(vni.has(m));
    CHECK(vni.get(m) == 100);
  };

  // Cold cache: A A A B -> two A held, the third refused, B held.
  push("res", {frame("02:00:00:00:00:0a"), frame("02:00:00:00:00:0a"), frame("02:00:00:00:00:0a"),
               frame("02:00:00:00:00:0b")});
  CHECK(res.held_packets() == 3);
  CHECK(res.drops(kDropQueueFull) == 1);
  std::vector<rte_mbuf*> got;
  REQUIRE(pump(io, [&] {
    h.run("res");
    for (auto* m : h.take("cap")) got.push_back(m);
    return got.size() == 2 && res.drops(kDropNotFound) == 1;
  }));
  for (auto* m : got) check_meta(m);
  weft::test::free_all(got);
  CHECK(res.held_packets() == 0);
  CHECK(svc->counters().resolved == 1);
  CHECK(svc->counters().notfound == 1);

  // Warm: a hit leaves at once; the negative entry drops at once.
  push("res", {frame("02:00:00:00:00:0a"), frame("02:00:00:00:00:0b")});
  got = h.take("cap");
  REQUIRE(got.size() == 1);
  check_meta(got[0]);
  weft::test::free_all(got);
  CHECK(res.drops(kDropNotFound) == 2);

  // vl3: the destination IP resolves to Portolan's MAC, written into the frame.
  auto ip_frame = weft::test::eth(0x0800, weft::test::ipv4("10.9.0.2", "10.9.0.1", 17, weft::test::ports(1, 2)),
                                  "ff:ff:ff:ff:ff:ff");
  push("res3", {ip_frame});
  REQUIRE(pump(io, [&] {
    h.run("res3");
    got = h.take("cap3");
    return !got.empty();
  }));
  CHECK(weft::test::bytes_of(got[0])[5] == 0x0a);
  check_meta(got[0]);
  weft::test::free_all(got);

  // Portolan goes down: known destinations keep working, new ones time out.
  server->stop();
  REQUIRE(pump(io, [&] { return !svc->client()->up(); }));
  push("res", {frame("02:00:00:00:00:0a"), frame("02:00:00:00:00:0c")});
  got = h.take("cap");
  CHECK(got.size() == 1);
  weft::test::free_all(got);
  REQUIRE(pump(io, [&] {
    h.run("res");
    return res.drops(kDropTimeout) == 1;
  }));
  CHECK(res.held_packets() == 0);

  // SHOOTDOWN-style invalidation drops the entry: the next packet waits again.
  svc->invalidate(weft::svp::CacheKey::vl2(M("02:00:00:00:00:0a").data(), 100), "test");
  push("res", {frame("02:00:00:00:00:0a")});
  CHECK(res.held_packets() == 1);
  CHECK(h.take("cap").empty());
}

// ---------------------------------------------------------------------------
// Two workers read the cache while the control thread replaces and removes
// entries (RCU): every packet that leaves carries a right answer
// ---------------------------------------------------------------------------

namespace {

struct Rings {
  std::vector<rte_ring*> rx, tx;
  std::string device;
  Rings(const std::string& n, unsigned queues) {
    for (unsigned q = 0; q < queues; q++) {
      rx.push_back(rte_ring_create((n + "r" + std::to_string(q)).c_str(), 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ));
      tx.push_back(rte_ring_create((n + "t" + std::to_string(q)).c_str(), 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ));
    }
    int id = rte_eth_from_rings(n.c_str(), rx.data(), queues, tx.data(), queues, 0);
    REQUIRE(id >= 0);
    char dev[RTE_ETH_NAME_MAX_LEN];
    rte_eth_dev_get_name_by_port(static_cast<uint16_t>(id), dev);
    device = dev;
  }
};

weft::GraphPlan svp_plan(const std::string& yaml) {
  weft::Diagnostics d("svp.yaml");
  auto spec = std::make_shared<weft::GraphSpec>(weft::parse_graph(yaml, "svp.yaml", d));
  weft::GraphPlan p = weft::validate_graph(spec, weft::test::loader(), d);
  INFO(d.format());
  REQUIRE_FALSE(d.has_errors());
  return p;
}

}  // namespace

TEST_CASE("SvpResolver on two workers while the control thread churns the cache: every packet is right",
          "[svp][resolver][rcu]") {
  weft::test::eal();
  Rings in("svpcin", 2), out("svpcout", 2);
  const std::string yaml = std::string("workers: {lcores: [1, 2], idle_sleep_us: 0}\nports:\n  in: {device: ") +
                           in.device + ", rx_queues: 2}\n  out: {device: " + out.device +
                           ", tx_queues: 2}\nservices:\n"
                           "  portolan: {class: Svp, servers: [\"127.0.0.1:1\"], backoff_min: 1, max_entries: 1024}\n"
                           "elements:\n  rx: {class: PortRx, port: in}\n"
                           "  res: {class: SvpResolver, svp: portolan, vni: 100, wait: 5, queue: 64}\n"
                           "  tx: {class: PortTx, port: out, retries: 100000}\nconnections:\n  - rx -> res -> tx\n";
  asio::io_context io;
  weft::Runtime rt(svp_plan(yaml));
  rt.set_control_loop(&io);
  rt.start();
  io.poll();
  REQUIRE(rt.services().find("portolan"));
  auto svc = std::static_pointer_cast<weft::svp::SvpService>(rt.services().find("portolan"))->control();
  REQUIRE(svc);
  constexpr unsigned kMacs = 32;
  auto mac = [](unsigned i) { return Mac{2, 0, 0, 0, 0, static_cast<uint8_t>(i)}; };
  // Entry for MAC i: underlay 10.<generation>.0.i, port 4789 + i.
  auto put = [&](unsigned i, unsigned gen) {
    weft::svp::CacheEntry e;
    e.state = weft::svp::CacheEntry::kResolved;
    e.underlay.family = 4;
    e.underlay.udp_port = static_cast<uint16_t>(4789 + i);
    const uint8_t a[4] = {10, static_cast<uint8_t>(gen), 0, static_cast<uint8_t>(i)};
    std::memcpy(e.underlay.addr, a, 4);
    e.expires_ns = UINT64_MAX;
    e.retry_ns.store(UINT64_MAX);
    REQUIRE(svc->writable_cache().put(weft::svp::CacheKey::vl2(mac(i).data(), 100), e));
  };
  for (unsigned i = 0; i < kMacs; i++) put(i, 0);

  std::atomic<bool> stop{false}, stop_sending{false};
  std::atomic<uint64_t> sent{0}, received{0}, bad{0};
  auto underlay = weft::fields::underlay();
  std::vector<std::thread> feeders;
  for (unsigned q = 0; q < 2; q++)
    feeders.emplace_back([&, q] {
      unsigned i = q;
      while (!stop) {
        char dst[18];
        const auto m = mac(i % kMacs);
        std::snprintf(dst, sizeof dst, "%02x:%02x:%02x:%02x:%02x:%02x", m.bytes[0], m.bytes[1], m.bytes[2], m.bytes[3],
                      m.bytes[4], m.bytes[5]);
        rte_mbuf* pkt = stop_sending ? nullptr : weft::test::packet(weft::test::eth(0x0800, std::vector<uint8_t>(46, 0), dst));
        if (!pkt) {
          // draining
        } else if (rte_ring_enqueue(in.rx[q], pkt) == 0) {
          sent++;
          i++;
        } else {
          rte_pktmbuf_free(pkt);
        }
        rte_mbuf* got;
        while (rte_ring_dequeue(out.tx[q], reinterpret_cast<void**>(&got)) == 0) {
          const uint8_t last = rte_pktmbuf_mtod(got, const uint8_t*)[5];
          if (!underlay.has(got)) {
            bad++;
          } else {
            const auto& u = underlay.get(got);
            if (u.family != 4 || u.addr[0] != 10 || u.addr[3] != last || u.udp_port != 4789 + last) bad++;
          }
          received++;
          rte_pktmbuf_free(got);
        }
      }
    });
  // The control thread: replace every entry again and again, remove and
  // restore some (held packets are released when they come back).
  const auto until = std::chrono::steady_clock::now() + 1500ms;
  unsigned gen = 1;
  while (std::chrono::steady_clock::now() < until) {
    for (unsigned i = 0; i < kMacs; i++) put(i, gen);
    if (gen % 4 == 0) svc->writable_cache().erase(weft::svp::CacheKey::vl2(mac(gen % kMacs).data(), 100));
    if (gen % 4 == 1) put((gen - 1) % kMacs, gen);
    gen++;
    io.run_for(1ms);
  }
  for (unsigned i = 0; i < kMacs; i++) put(i, gen);
  // Let what is in flight or held come out (every key is back).
  stop_sending = true;
  uint64_t last = UINT64_MAX;
  pump(io, [&] {
    const uint64_t r = received.load();
    if (r == sent.load()) return true;
    if (r == last) return false;
    last = r;
    io.run_for(50ms);
    return false;
  }, 3000ms);
  stop = true;
  for (auto& t : feeders) t.join();
  io.run_for(20ms);
  rt.halt();
  INFO("sent " << sent << " received " << received << " generations " << gen);
  CHECK(bad == 0);
  CHECK(received > 1000);
  CHECK(gen > 50);
  CHECK(svc->writable_cache().reclaim_pending() < 100000);
  rt.stop();
}

TEST_CASE("SvpControl: resolve() for the control thread, SHOOTDOWN and the change log drop entries and tell subscribers",
          "[svp][service]") {
  weft::test::eal();
  asio::io_context io;
  auto server = lab(io, lab_mappings(), true);
  weft::svp::SvpConfig cfg;
  cfg.client = client_cfg({server->port()});
  cfg.log_ip = I("192.0.2.1");
  cfg.log_interval_s = 0.05;
  auto svc = std::make_shared<weft::svp::SvpControl>();
  svc->configure(cfg);
  svc->start(io);
  std::vector<std::string> dropped;
  svc->subscribe([&](const weft::svp::CacheKey& k) { dropped.push_back(k.text()); });
  std::optional<weft::svp::Resolution> r3, r3b, nf;
  svc->resolve(weft::svp::CacheKey::vl3(A("10.0.0.1").data(), 100), [&](const weft::svp::Resolution& r) { r3 = r; });
  // Asked twice before the answer: one question on the wire.
  svc->resolve(weft::svp::CacheKey::vl3(A("10.0.0.1").data(), 100), [&](const weft::svp::Resolution& r) { r3b = r; });
  svc->resolve(weft::svp::CacheKey::vl3(A("10.0.0.77").data(), 100), [&](const weft::svp::Resolution& r) { nf = r; });
  REQUIRE(pump(io, [&] { return r3 && r3b && nf; }));
  CHECK(r3->kind == weft::svp::Resolution::Resolved);
  CHECK(r3->mac.str() == "02:08:20:00:00:01");
  CHECK(r3b->kind == weft::svp::Resolution::Resolved);
  CHECK(nf->kind == weft::svp::Resolution::NotFound);
  CHECK(svc->counters().deduplicated == 1);
  CHECK(svc->client()->counters().by_op_sent[kVl3Req] == 2);
  // Cached: VL3, the VL2 of its MAC, and the negative answer.
  CHECK(svc->writable_cache().size() == 3);
  std::optional<weft::svp::Resolution> cached;
  svc->resolve(weft::svp::CacheKey::vl3(A("10.0.0.1").data(), 100), [&](const weft::svp::Resolution& r) { cached = r; });
  REQUIRE(cached);  // answered at once, from the cache
  CHECK(svc->client()->counters().by_op_sent[kVl3Req] == 2);

  // The MAC moves: SHOOTDOWN (and the log) drop the VL2 entry and the VL3 entry naming it.
  auto m = lab_mappings();
  m.vl2[{100, M("02:08:20:00:00:01")}].ip = A("192.0.2.99");
  server->set_mappings(m);
  REQUIRE(pump(io, [&] { return svc->counters().shootdowns == 1 && svc->counters().log_removed >= 2; }));
  CHECK(std::find(dropped.begin(), dropped.end(), "vl2 02:08:20:00:00:01 vni 100") != dropped.end());
  CHECK(std::find(dropped.begin(), dropped.end(), "vl3 10.0.0.1 vni 100") != dropped.end());
  CHECK(svc->writable_cache().size() == 1);  // only the negative entry is left
  CHECK(server->log_size(A("192.0.2.1")) == 0);
  std::optional<weft::svp::Resolution> fresh;
  svc->resolve(weft::svp::CacheKey::vl3(A("10.0.0.1").data(), 100), [&](const weft::svp::Resolution& r) { fresh = r; });
  REQUIRE(pump(io, [&] { return fresh.has_value(); }));
  CHECK(fresh->underlay.addr[3] == 99);
  // BULK: the lab server says it does not serve it.
  svc->bulk({{"type", "vl2"}});
  REQUIRE(pump(io, [&] { return svc->status().contains("bulk"); }));
  CHECK(svc->status()["bulk"]["supported"] == false);
  CHECK(svc->status()["bulk"]["status"] == "FATAL");
}

// ---------------------------------------------------------------------------
// The services across reloads, and what the validator says about them
// ---------------------------------------------------------------------------

TEST_CASE("Svp and NeighborSink services: a reload keeps the cache and Portolan's connection, applies parameters "
          "live, rebuilds a NeighborSink moved to another Svp, and stops what it removes",
          "[svp][service][reload]") {
  weft::test::eal();
  asio::io_context io;
  auto server = lab(io);
  Rings in("svprin", 1), out("svprout", 1);
  auto yaml = [&](const std::string& svp_name, const std::string& svp_extra, const std::string& neigh_svp) {
    std::string y = "workers: {lcores: [1], idle_sleep_us: 100}\nports:\n  in: {device: " + in.device +
                    "}\n  out: {device: " + out.device + "}\nservices:\n  " + svp_name +
                    ": {class: Svp, servers: [\"127.0.0.1:" + std::to_string(server->port()) +
                    "\"], backoff_min: 0.05, backoff_max: 0.1" + svp_extra + "}\n";
    if (!neigh_svp.empty())
      y += "  neigh: {class: NeighborSink, svp: " + neigh_svp + ", links: [{ifname: weftnolink0, vni: 100}]}\n";
    y += "elements:\n  rx: {class: PortRx, port: in}\n  res: {class: SvpResolver, svp: " + svp_name +
         ", vni: 100}\n  tx: {class: PortTx, port: out}\nconnections:\n  - rx -> res -> tx\n";
    return y;
  };
  weft::Runtime rt(svp_plan(yaml("portolan", "", "portolan")));
  rt.set_control_loop(&io);
  rt.start();
  auto control = [&](const char* name) {
    auto s = rt.services().find(name);
    REQUIRE(s);
    return static_cast<weft::svp::SvpService&>(*s).control();
  };
  auto core = control("portolan");
  REQUIRE(pump(io, [&] { return core->client() && core->client()->up(); }));
  std::optional<weft::svp::Resolution> r;
  core->resolve(weft::svp::CacheKey::vl2(M("02:08:20:00:00:01").data(), 100), [&](const auto& x) { r = x; });
  REQUIRE(pump(io, [&] { return r.has_value(); }));
  CHECK(r->kind == weft::svp::Resolution::Resolved);
  CHECK(core->writable_cache().size() == 1);
  CHECK(rt.services().find("neigh")->status()["state"] == "listening");

  // A new ttl: the same running state, the cache and the connection kept.
  auto report = rt.reload(svp_plan(yaml("portolan", ", ttl: 100", "portolan")), 5000ms);
  INFO(report.error);
  REQUIRE(report.ok);
  REQUIRE(report.services_kept.size() == 2);
  for (const auto& k : report.services_kept) CHECK(k.state == "carried");
  CHECK(control("portolan") == core);
  CHECK(core->config().ttl_s == 100);
  CHECK(core->writable_cache().size() == 1);
  CHECK(core->client()->up());
  CHECK(core->client()->counters().connects == 1);
  CHECK(rt.services().find("neigh")->status()["state"] == "listening");

  // A NeighborSink following its Svp to a new name uses another service: it
  // is built anew (its old listener holds the old Svp's handle) and the old
  // one stops with the Svp it named.
  report = rt.reload(svp_plan(yaml("p2", "", "p2")), 5000ms);
  INFO(report.error);
  REQUIRE(report.ok);
  CHECK(report.services_added == std::vector<std::string>{"p2", "neigh"});
  CHECK(report.services_removed == std::vector<std::string>{"portolan", "neigh"});
  CHECK(report.services_kept.empty());
  CHECK(rt.services().find("neigh")->status()["state"] == "listening");
  CHECK_FALSE(core->started());
  CHECK(core->client() == nullptr);
  auto p2 = control("p2");
  CHECK(p2 != core);
  REQUIRE(pump(io, [&] { return p2->client() && p2->client()->up(); }));
  CHECK(p2->writable_cache().size() == 0);
  rt.stop();
}

TEST_CASE("Svp and NeighborSink: parameters checked at their position, the old element form refused with the "
          "way to write it",
          "[svp][service][config]") {
  weft::test::eal();
  auto errors = [](const std::string& yaml) {
    weft::Diagnostics d("g.yaml");
    auto spec = std::make_shared<weft::GraphSpec>(weft::parse_graph(yaml, "g.yaml", d));
    if (!d.has_errors()) weft::validate_graph(spec, weft::test::loader(), d);
    return d.format();
  };
  const std::string svp = "services:\n  portolan: {class: Svp, servers: [\"127.0.0.1:1296\"]}\n";
  CHECK_THAT(errors(svp + "  neigh: {class: NeighborSink, svp: portolan, links: [{ifname: eth1, vni: 100}]}\n"
                          "elements:\n  res: {class: SvpResolver, svp: portolan}\n  c: Capture\nconnections:\n"
                          "  - res -> c\n"),
             !Catch::Contains("error"));
  // A graph of services only (an empty elements: section, or none).
  const std::string none = "elements: {}\n";
  CHECK_THAT(errors(svp + "  neigh: {class: NeighborSink, svp: portolan, links: [{ifname: eth1, vni: 16777216}]}\n" +
                    none),
             Catch::Contains("g.yaml:3:") && Catch::Contains("vni: expected 0..16777215"));
  CHECK_THAT(errors(svp + "  neigh: {class: NeighborSink, svp: portolan, links: [{ifname: eth1, vni: 1, x: 2}]}\n" +
                    none),
             Catch::Contains("links: unknown key 'x' (keys: ifname, vni, fdb)"));
  CHECK_THAT(errors(svp + "  neigh: {class: NeighborSink, svp: portolan, links: [{ifname: eth1, vni: 1}, "
                          "{ifname: eth1, vni: 2}]}\n" + none),
             Catch::Contains("ifname eth1 listed twice"));
  CHECK_THAT(errors("services:\n  portolan: {class: Svp, servers: [\"nowhere\"]}\n" + none),
             Catch::Contains("g.yaml:2:") && Catch::Contains("servers: expected ADDRESS[:PORT]"));
  CHECK_THAT(errors("services:\n  portolan: {class: Svp, servers: [\"127.0.0.1\"], log_ip: 300.1.2.3}\n" + none),
             Catch::Contains("log_ip"));
  // An Svp written as an element, as before services existed.
  CHECK_THAT(errors("elements:\n  portolan: {class: Svp, servers: [\"127.0.0.1:1296\"]}\n"),
             Catch::Contains("is a service class now: move 'portolan' from elements: to services:"));
}

// ---------------------------------------------------------------------------
// NeighborSink's netlink reader, on what a kernel (or anything on the socket) could send
// ---------------------------------------------------------------------------

TEST_CASE("NeighborSink: a netlink message longer than its datagram, 2^31 bytes or more included, is counted as "
          "malformed and ends the walk inside the buffer",
          "[svp][neighbor]") {
  weft::test::eal();
  auto svp = std::make_shared<SvpControl>();
  SvpConfig sc;
  sc.client.servers = {"127.0.0.1:9"};
  svp->configure(sc);
  auto neigh = std::make_shared<NeighborControl>(svp);
  neigh->configure(NeighborConfig{{{"lo", 100, ""}}, false});
  auto malformed = [&] { return neigh->status()["counters"]["malformed"].get<uint64_t>(); };
  // A datagram of whole messages, as the kernel aligns them.
  auto datagram = [](std::vector<std::pair<uint32_t, uint16_t>> msgs, size_t len) {
    std::vector<uint32_t> buf(len / 4 + 8, 0);
    size_t off = 0;
    for (auto [nlmsg_len, type] : msgs) {
      auto* h = reinterpret_cast<nlmsghdr*>(reinterpret_cast<uint8_t*>(buf.data()) + off);
      h->nlmsg_len = nlmsg_len;
      h->nlmsg_type = type;
      off += 16;
    }
    return buf;
  };
  auto feed = [&](const std::vector<uint32_t>& buf, size_t len) {
    neigh->on_datagram(reinterpret_cast<const uint8_t*>(buf.data()), len);
  };

  // What the neighbor fuzz target found: libmnl's mnl_nlmsg_ok compares
  // nlmsg_len as an int, so 0xfd7f0000 passed and the next message was read
  // 4 GB past the datagram (a segmentation fault).
  const uint8_t found[] = {0x00, 0x00, 0x7f, 0xfd, 0x28, 0xce, 0x93, 0x7a, 0x01, 0x00, 0x00, 0x00,
                           0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
                           0x01, 0x00, 0x00, 0x00, 0x08, 0x00, 0x01, 0x00, 0x0a, 0x00, 0x00, 0x01};
  std::vector<uint32_t> buf(sizeof found / 4 + 1);
  std::memcpy(buf.data(), found, sizeof found);
  feed(buf, sizeof found);
  CHECK(malformed() == 1);
  // After two whole NLMSG_NOOP messages: 2^31, 2^32 - 1, one byte more than left, shorter than a header.
  for (uint32_t bad : {0x80000000u, 0xffffffffu, 17u, 15u}) {
    const uint64_t before = malformed();
    feed(datagram({{16, NLMSG_NOOP}, {16, NLMSG_NOOP}, {bad, RTM_GETNEIGH}}, 48), 48);
    CHECK(malformed() == before + 1);
  }
  // Trailing bytes that cannot hold a header, and whole messages only.
  feed(datagram({{16, NLMSG_NOOP}}, 16), 20);
  CHECK(malformed() == 6);
  feed(datagram({{16, NLMSG_NOOP}, {16, NLMSG_NOOP}}, 32), 32);
  CHECK(malformed() == 6);
  CHECK(neigh->status()["counters"]["misses"] == 0);
}

// fuzz_svp: what a Portolan server sends an SvpClient, end to end.
//
//   TCP bytes -> SvpClient (StreamReader: header, CRC, size) -> the reply
//   matched to its request by id -> the typed decoders (VL2_ACK, VL3_ACK,
//   LOG_ACK records, LOG_RM_ACK, BULK_ACK) -> the request's callback;
//   SHOOTDOWN and PING from the server; the session's states (handshake,
//   up, reset on a protocol error, reconnect, backoff)
//
// The input drives a server on loopback. It is read as a structure: first
// the client's settings (PING handshake or not, window) and the requests it
// asks, then messages, each {form, op, id choice, length, payload}: most
// are encoded as SVP (right CRC, an id the client really used, a size that
// fits the op), some carry a wrong CRC, version or size, some are raw
// bytes. Between messages the server reads what the client sent (its
// request ids). Checked: no crash, no sanitizer finding, every request's
// callback runs exactly once, a bad message resets the connection.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>

#include "control/svp_client.hpp"
#include "fuzz_env.hpp"

using namespace weft;
using namespace weft::svp;
using namespace std::chrono_literals;

namespace {

boost::asio::io_context* g_io;
int g_listen = -1;
uint16_t g_port = 0;

void pump(std::chrono::milliseconds d) {
  if (g_io->stopped()) g_io->restart();
  if (d.count() == 0) g_io->poll();  // what is ready, without waiting
  else g_io->run_for(d);
}

bool pump_until(const std::function<bool()>& cond, std::chrono::milliseconds limit = 1000ms) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    pump(1ms);
  }
  return true;
}

// The size a reply op's payload has when it is well formed.
size_t fitting_size(uint16_t op, fuzz::Reader& in) {
  switch (op) {
    case kVl2Ack: return kVl2AckSize;
    case kVl3Ack: return kVl3AckSize;
    case kLogRmAck: return kLogRmAckSize;
    case kShootdown: return kShootdownSize;
    case kVl2Req: return kVl2ReqSize;
    case kVl3Req: return kVl3ReqSize;
    case kLogAck: return kLogAckMinSize + (in.u8() % 4) * (in.u8() % 2 ? kLogVl2Size : kLogVl3Size);
    case kBulkAck: return kBulkAckMinSize + in.u8() % 16;
    default: return 0;
  }
}

// The server's end of one session.
struct Session {
  int fd = -1;
  StreamReader reader;
  std::vector<uint32_t> ids;  // request ids the client sent
  void read() {
    uint8_t buf[4096];
    for (;;) {
      ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n <= 0) return;
      reader.feed(buf, static_cast<size_t>(n), [&](const Header& h, const uint8_t*, size_t) {
        if (ids.size() < 4096) ids.push_back(h.id);
      });
    }
  }
  void write(const std::vector<uint8_t>& b) {
    if (fd >= 0) ::send(fd, b.data(), b.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  }
  ~Session() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  g_io = new boost::asio::io_context;
  g_listen = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(g_listen, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(g_listen, 16) != 0 ||
      ::getsockname(g_listen, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    fuzz::fail("cannot listen on loopback");
  g_port = ntohs(a.sin_port);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 32768) return -1;
  fuzz::Reader in(data, size);
  ClientConfig cfg;
  cfg.servers = {"127.0.0.1:" + std::to_string(g_port)};
  cfg.timeout_s = 0.5;
  cfg.keepalive_s = 0.02;
  cfg.backoff_min_s = 0.001;
  cfg.backoff_max_s = 0.002;
  const uint8_t settings = in.u8();
  cfg.ping_on_connect = settings & 1;
  cfg.window = 1 + (settings >> 1) % 8;
  cfg.max_queued = 64;

  auto client = std::make_shared<SvpClient>(*g_io, cfg);
  size_t asked = 0, answered = 0;
  auto once = [&answered](auto&&...) { answered++; };
  client->start();
  Session s;
  if (!pump_until([&] { return (s.fd = ::accept4(g_listen, nullptr, nullptr, SOCK_NONBLOCK)) >= 0; }))
    fuzz::fail("the client did not connect");

  // The requests the client asks (up to 8), from the input.
  for (unsigned i = 0, n = in.u8() % 9; i < n; i++) {
    asked++;
    switch (in.u8() % 6) {
      case 0: client->ping(once); break;
      case 1: client->vl2(Vl2Req{*Mac::parse("02:00:00:00:00:01"), in.u32()}, once); break;
      case 2: client->vl3(Vl3Req{to_wire(*IpAddr::parse("10.0.0.1")), in.u8() % 3u, in.u32()}, once); break;
      case 3: client->log(LogReq{in.u32(), {}}, once); break;
      case 4: client->log_rm(LogRm{{Uuid{}}}, once); break;
      default: client->bulk(BulkReq{in.u8() % 3u}, once); break;
    }
  }
  client->on_shootdown = [](const Shootdown&) {};

  // Then the server's messages.
  while (in.left() > 0) {
    pump(0ms);
    s.read();
    const uint8_t form = in.u8();
    const uint16_t op = static_cast<uint16_t>(in.u8() % 15);
    const uint8_t idsel = in.u8();
    uint32_t id = (idsel & 0x80 || s.ids.empty()) ? idsel : s.ids[idsel % s.ids.size()];
    size_t len = (form & 2) ? fitting_size(op, in) : in.u8();
    std::string_view body = in.bytes(len);
    std::vector<uint8_t> payload(body.begin(), body.end());
    payload.resize(len);
    std::vector<uint8_t> msg;
    switch (form % 8) {
      case 0: msg.assign(body.begin(), body.end()); break;  // raw bytes
      case 1: msg = encode(op, id, payload); msg[15] ^= 1; break;  // bad CRC
      case 2: msg = encode(op, id, payload); msg[1] = 2; break;    // bad version
      default: msg = encode(op, id, payload); break;
    }
    s.write(msg);
    pump(0ms);
  }
  pump(1ms);
  s.read();
  ::close(s.fd);
  s.fd = -1;
  pump(1ms);
  client->status();
  client->stop();  // fails what is still pending, each callback once
  pump(0ms);
  if (answered != asked)
    fuzz::fail(std::to_string(asked) + " requests, " + std::to_string(answered) + " callbacks");
  client.reset();
  pump(0ms);
  // Decoders alone, on the same bytes.
  std::string err;
  Vl2Ack a2; Vl3Ack a3; LogAck la; LogRmAck lr; BulkAck ba; Shootdown sd; Vl2Req q2; Vl3Req q3; LogRm rm; LogReq lq;
  decode(data, size, a2, err); decode(data, size, a3, err); decode(data, size, la, err); decode(data, size, lr, err);
  decode(data, size, ba, err); decode(data, size, sd, err); decode(data, size, q2, err); decode(data, size, q3, err);
  decode(data, size, rm, err); decode(data, size, lq, err);
  return 0;
}

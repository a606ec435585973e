// fuzz_etcd: what an etcd member (its JSON gateway) answers a fleet router.
//
//   HTTP response bytes -> EtcdClient (Boost.Beast: status line, headers,
//   body or chunks) -> JSON -> the txn/range reply (header revision, kvs,
//   base64 keys and values) and the watch stream (created, canceled,
//   compacted, events) -> what FleetAgent gets
//
// A server on loopback (a thread of this program) answers each request with
// the input's bytes: the input is cut in two at its first 0xff 0x00 pair
// (or its middle): the first part answers a linearizable read of two
// ranges, the second a watch. Checked: no crash, no sanitizer finding; a
// reply that makes no sense ends the call with an EtcdError (what the fleet
// agent catches), never with anything else.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>

#include "fleet/etcd_client.hpp"
#include "fuzz_env.hpp"

using namespace weft;

namespace {

int g_listen = -1;
uint16_t g_port = 0;
std::mutex g_mu;
std::string g_reply;  // what the server sends to the next request

// Reads a request (headers, then Content-Length bytes), sends g_reply, closes.
void serve() {
  for (;;) {
    int fd = ::accept(g_listen, nullptr, nullptr);
    if (fd < 0) continue;
    timeval tv{0, 200000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string req;
    char buf[4096];
    size_t need = std::string::npos;
    while (need == std::string::npos || req.size() < need) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      req.append(buf, static_cast<size_t>(n));
      size_t end = req.find("\r\n\r\n");
      if (end != std::string::npos && need == std::string::npos) {
        size_t cl = req.find("Content-Length: ");
        need = end + 4 + (cl != std::string::npos && cl < end ? std::stoul(req.substr(cl + 16)) : 0);
      }
    }
    std::string reply;
    {
      std::lock_guard<std::mutex> l(g_mu);
      reply = g_reply;
    }
    size_t off = 0;
    while (off < reply.size()) {
      ssize_t n = ::send(fd, reply.data() + off, reply.size() - off, MSG_NOSIGNAL);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    ::shutdown(fd, SHUT_RDWR);
    ::close(fd);
  }
}

template <class F>
void expect_etcd_errors_only(F&& f) {
  try {
    f();
  } catch (const EtcdError&) {
    // refused with a reason, as the fleet agent expects
  } catch (const std::exception& e) {
    fuzz::fail(std::string("not an EtcdError: ") + e.what());
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  g_listen = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(g_listen, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(g_listen, 16) != 0 ||
      ::getsockname(g_listen, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    fuzz::fail("cannot listen on loopback");
  g_port = ntohs(a.sin_port);
  std::thread(serve).detach();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 65536) return -1;
  std::string in(reinterpret_cast<const char*>(data), size);
  size_t cut = in.find(std::string("\xff\x00", 2));
  std::string first = cut == std::string::npos ? in.substr(0, size / 2) : in.substr(0, cut);
  std::string second = cut == std::string::npos ? in.substr(size / 2) : in.substr(cut + 2);

  EtcdOptions o;
  o.endpoints = {"http://127.0.0.1:" + std::to_string(g_port)};
  o.timeout = std::chrono::milliseconds(300);
  boost::asio::io_context io;
  {
    EtcdClient c(io, o);
    {
      std::lock_guard<std::mutex> l(g_mu);
      g_reply = first;
    }
    expect_etcd_errors_only([&] {
      auto r = run_sync(io, c.read({{"/weft/desired/", prefix_end("/weft/desired/")}, {"/weft/nodes/n1", ""}}));
      for (const auto& rr : r)
        for (const auto& kv : rr.kvs) (void)kv.value.size();
    });
  }
  {
    EtcdClient c(io, o);
    {
      std::lock_guard<std::mutex> l(g_mu);
      g_reply = second;
    }
    size_t events = 0;
    bool done = false;
    std::exception_ptr err;
    boost::asio::co_spawn(
        io,
        c.watch("/weft/desired/", prefix_end("/weft/desired/"), 7,
                [&](int64_t, const std::vector<WatchEvent>& evs) { events += evs.size(); }),
        [&](std::exception_ptr e) {
          done = true;
          err = e;
        });
    io.restart();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
    while (!done && std::chrono::steady_clock::now() < deadline) io.run_for(std::chrono::milliseconds(5));
    if (!done) c.cancel_watch();  // a stream still open: ended as the agent ends it
    for (int i = 0; !done && i < 100; i++) io.run_for(std::chrono::milliseconds(5));
    if (!done) fuzz::fail("the watch did not end when cancelled");
    expect_etcd_errors_only([&] {
      if (err) std::rethrow_exception(err);
    });
  }
  return 0;
}

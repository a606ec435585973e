// fuzz_fpm: what zebra sends a Fib service, end to end.
//
//   TCP bytes -> FibControl (FpmDecoder: frames, netlink messages) -> Rib
//   (routes, nexthop groups, resync) -> Fib (rte_lpm / lpm6 tables, the
//   nexthop table the workers read) -> `routes` and `status` replies
//
// Each input is one zebra connection on loopback: the client connects,
// writes the input, closes. The Fib service (small tables, two interfaces,
// static neighbours) lives for the whole run, so routes of earlier inputs
// are there when later ones replace, delete or resync them. Checked: no
// crash, no sanitizer finding; a framing error closes the connection and
// is counted (FpmCounters), a bad message is dropped and counted.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>

#include "control/fib_control.hpp"
#include "fuzz_env.hpp"

using namespace weft;
using namespace weft::route;
using namespace std::chrono_literals;

namespace {

boost::asio::io_context* g_io;
std::shared_ptr<FibControl> g_fib;

bool pump(const std::function<bool()>& cond, std::chrono::milliseconds limit = 2000ms) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    if (g_io->stopped()) g_io->restart();
    g_io->run_for(1ms);
  }
  return true;
}

FibConfig config() {
  FibConfig c;
  c.listen = "127.0.0.1:0";
  c.grace_s = 0.05;
  c.quiet_s = 0.01;
  c.sizes.max_routes = 1024;
  c.sizes.tbl8 = 64;
  c.sizes.max_routes6 = 256;
  c.sizes.tbl8_6 = 64;
  c.sizes.max_nexthops = 64;
  c.sizes.max_tables = 4;
  c.interfaces = {{7, "", "p1", *Mac::parse("02:00:00:00:01:07")}, {8, "", "p2", *Mac::parse("02:00:00:00:01:08")}};
  c.neighbors = {{*IpAddr::parse("192.0.2.1"), *Mac::parse("02:00:00:00:00:01")},
                 {*IpAddr::parse("2001:db8::1"), *Mac::parse("02:00:00:00:06:01")}};
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::start_dpdk();
  g_io = new boost::asio::io_context;
  g_fib = std::make_shared<FibControl>();
  g_fib->configure(config());
  g_fib->start(*g_io);
  if (g_fib->port() == 0) fuzz::fail("the Fib service does not listen");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 60000) return -1;  // fits the socket buffers: one thread writes and reads
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(g_fib->port());
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) fuzz::fail("cannot connect to the Fib service");
  if (!pump([] { return g_fib->connected(); })) fuzz::fail("the Fib service did not take the connection");
  size_t off = 0;
  while (off < size) {
    ssize_t n = ::send(fd, data + off, size - off, MSG_NOSIGNAL);
    if (n <= 0) break;  // closed by the service (a framing error)
    off += static_cast<size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  if (!pump([] { return !g_fib->connected(); })) fuzz::fail("the Fib service did not see the connection end");
  ::close(fd);
  // The replies routerctl shows, read from the state the input left.
  g_fib->routes(nlohmann::json::object());
  g_fib->status();
  g_fib->lookup({{"address", "192.0.2.77"}});
  g_fib->lookup({{"address", "2001:db8::77"}});
  return 0;
}

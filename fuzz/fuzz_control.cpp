// fuzz_control: the requests routerctl sends routerd, as any local client
// could send them.
//
//   bytes on the Unix socket -> ControlServer (a line, JSON-parsed) ->
//   ControlApi::handle (status, graph, elements, plugins, stats, handler read
//   and write on the workers, services and their commands) -> the reply
//
// A Runtime runs a graph with stateful elements and two services (a Fib, an
// Svp; not started: nothing listens or connects) on worker lcore 1. Each
// input is one connection: written, half-closed, replies read until the
// server closes. `reload` (which reads a file) is left to fuzz_reload.
// Checked: no crash, no sanitizer finding, every reply is one JSON object
// with "ok".
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include "control/control_api.hpp"
#include "control/control_server.hpp"
#include "core/validator.hpp"
#include "fuzz_env.hpp"
#include "runtime/runtime.hpp"

using namespace weft;

namespace {

const char* kGraph = R"(
name: fuzz-control
workers: {lcores: [1], idle_sleep_us: 50}
ports:
  in: {device: net_ring0}
  out: net_null0
services:
  fib: {class: Fib, listen: "127.0.0.1:0"}
  svp: {class: Svp, servers: ["127.0.0.1:9"]}
elements:
  rx: {class: PortRx, port: in}
  cls: {class: Classifier, rules: [{output: v4, ethertype: ipv4}, {output: web, ip_proto: tcp, dst_port: 80}]}
  c: Counter
  q: {class: Queue, capacity: 64}
  rl: {class: RateLimiter, unit: pps, rate: 10k, key: flow, action: mark}
  look: {class: IpLookup, fib: fib, outputs: [o1]}
  sw: {class: L2Switch, vni: 100, ports: [{name: a}, {name: b}]}
  tx: {class: PortTx, port: out}
  bin: Discard
connections:
  - rx -> cls
  - cls[v4] -> look
  - look[o1] -> c -> q -> rl -> tx
  - cls[web] -> sw
  - sw[a] -> bin
  - sw[b] -> bin
  - sw[unknown] -> bin
  - cls[default] -> bin
)";

boost::asio::io_context* g_io;
Runtime* g_rt;
ControlApi* g_api;
std::string g_path;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::start_dpdk();
  Diagnostics diag("fuzz-control.yaml");
  auto spec = std::make_shared<GraphSpec>(parse_graph(kGraph, "fuzz-control.yaml", diag));
  GraphPlan plan;
  if (!diag.has_errors()) plan = validate_graph(spec, fuzz::builtin_plugins(), diag);
  if (diag.has_errors()) fuzz::fail("the control graph is not valid:\n" + diag.format());
  fuzz::attach_devices(*spec);
  g_io = new boost::asio::io_context;
  g_rt = new Runtime(std::move(plan));
  g_rt->start();
  auto& loader = const_cast<PluginLoader&>(fuzz::builtin_plugins());
  g_api = new ControlApi(*g_rt, loader, "fuzz-control.yaml", {PluginLoader::default_dir()});
  g_path = (std::filesystem::temp_directory_path() / ("weft-fuzz-control-" + std::to_string(::getpid()) + ".sock"))
               .string();
  new ControlServer(*g_io, g_path, [](const json& r) { return g_api->handle(r); });
  // At exit: the workers stop before the plugins are unloaded (the loader is
  // a static made before this handler was registered, so it is destroyed
  // after it), or a worker would call element code that is no longer mapped.
  std::atexit([] {
    g_rt->stop();
    std::filesystem::remove(g_path);
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string req(reinterpret_cast<const char*>(data), size);
  if (size > 16384 || req.find("reload") != std::string::npos) return -1;
  if (req.empty() || req.back() != '\n') req += '\n';
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", g_path.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) fuzz::fail("cannot connect to the control socket");
  size_t off = 0;
  std::string replies;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  bool closed = false;
  while (!closed) {
    if (std::chrono::steady_clock::now() > deadline) fuzz::fail("no reply within 5 s");
    if (off < req.size()) {
      ssize_t n = ::send(fd, req.data() + off, req.size() - off, MSG_NOSIGNAL);
      if (n > 0) off += static_cast<size_t>(n);
      if (off == req.size()) ::shutdown(fd, SHUT_WR);
    }
    g_io->restart();
    g_io->run_for(std::chrono::milliseconds(1));
    char buf[65536];
    for (;;) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n > 0) replies.append(buf, static_cast<size_t>(n));
      else {
        closed = n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
        break;
      }
    }
  }
  ::close(fd);
  size_t start = 0;
  for (size_t nl; (nl = replies.find('\n', start)) != std::string::npos; start = nl + 1) {
    json r = json::parse(replies.substr(start, nl - start), nullptr, false);
    if (!r.is_object() || !r.contains("ok")) fuzz::fail("a reply that is not {ok: ...}: " + replies.substr(start, nl - start));
  }
  return 0;
}

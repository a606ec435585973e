// bench/svp.cpp — what Portolan lookups cost.
//
//   bench_svp [ROUNDS]
//
// 1. SvpResolver on cache hits, per packet, batch 32, through the real
//    framework (plugin loader, YAML graph, weft::GraphHarness), against a
//    reference measured in the same run: the same source and sink with a
//    Pass element where the resolver sits. The figure is the difference,
//    ns per packet added by the resolver (target < 20 ns). The cache holds
//    `kCacheEntries` VL2 entries; the 32 packets go to 32 different MACs.
//
//       src -> res: SvpResolver (vl2, vni 100) -> sink     vs    src -> Pass -> sink
//
// 2. SVP lookups per second: SvpClient on this thread against the lab server
//    (LabServer, the svp-server code) on a second thread, over TCP on
//    loopback, `kLookups` VL2_REQs for known MACs. Pipelined (window 4096)
//    against the reference of one request at a time (window 1), same run.
//
// Each figure is the median of ROUNDS (default 5) timed rounds. The EAL main
// thread is pinned to the last CPU this process may use (WEFT_BENCH_CPU=N
// picks another); the server thread runs where the scheduler puts it.
//
// Last line:  RESULT svp resolver_added_ns_per_pkt=.. ... lookups_per_s=.. ...
#include <rte_eal.h>
#include <rte_ether.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "control/svp_client.hpp"
#include "control/svp_lab_server.hpp"
#include "control/svp_service.hpp"
#include "testing/graph_harness.hpp"
#include "core/plugin_loader.hpp"
#include "runtime/runtime.hpp"
#include "weft/counter.hpp"
#include "weft/element.hpp"

#ifndef WEFT_BENCH_PLUGIN_DIR
#define WEFT_BENCH_PLUGIN_DIR ""
#endif

namespace {

constexpr uint16_t kBurst = 32;
constexpr unsigned kCacheEntries = 10000;
constexpr unsigned kLookups = 200000;
using Clock = std::chrono::steady_clock;

class BenchSource final : public weft::Element {
 public:
  static const weft::ElementClass& klass() {
    static const weft::ElementClass k = weft::ElementClass::make<BenchSource>("BenchSource")
                                            .describe("Pushes the same 32 frames, to 32 MACs, every poll (benchmarks).")
                                            .output("out");
    return k;
  }
  void initialize(weft::InitContext& ctx) override {
    if (rte_pktmbuf_alloc_bulk(ctx.mempool(), pkts_, kBurst) != 0) throw weft::InitError("pool empty");
    for (uint16_t i = 0; i < kBurst; i++) {
      char* d = rte_pktmbuf_append(pkts_[i], 64);
      std::memset(d, 0, 64);
      const uint8_t mac[6] = {2, 0, 0, 0, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)};
      std::memcpy(d, mac, 6);
      d[12] = 0x08;
    }
  }
  void cleanup() override { rte_pktmbuf_free_bulk(pkts_, kBurst); }
  void push(uint16_t, weft::Batch& b) override { b.clear(); }
  bool run() override {
    std::memcpy(batch_.pkts, pkts_, sizeof pkts_);
    batch_.count = kBurst;
    output(0, batch_);
    return true;
  }

 private:
  rte_mbuf* pkts_[kBurst] = {};
  weft::Batch batch_;
};

class BenchSink final : public weft::Element {
 public:
  static const weft::ElementClass& klass() {
    static const weft::ElementClass k = weft::ElementClass::make<BenchSink>("BenchSink")
                                            .describe("Counts what it receives and frees nothing (benchmarks).")
                                            .input("in");
    return k;
  }
  void push(uint16_t, weft::Batch& b) override {
    received.add(b.count);
    b.clear();
  }
  weft::Counter received;
};

int bench_cpu() {
  if (const char* c = std::getenv("WEFT_BENCH_CPU")) return std::atoi(c);
  cpu_set_t set;
  CPU_ZERO(&set);
  int last = 0;
  if (sched_getaffinity(0, sizeof set, &set) == 0)
    for (int c = 0; c < CPU_SETSIZE; c++)
      if (CPU_ISSET(c, &set)) last = c;
  return last;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// ns per packet of polling `h`'s source for about `seconds`.
double per_packet(weft::GraphHarness& h, double seconds) {
  weft::Element& src = h.element("src");
  auto& sink = static_cast<BenchSink&>(h.element("sink"));
  for (int i = 0; i < 10000; i++) {  // warm up
    src.run();
    src.flush_staged();
  }
  const uint64_t before = sink.received.get();
  const auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  uint64_t polls = 0;
  const auto t0 = Clock::now();
  while (Clock::now() < end) {
    for (int i = 0; i < 1000; i++) {
      src.run();
      src.flush_staged();
    }
    polls += 1000;
  }
  const double ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
  if (sink.received.get() - before != polls * kBurst) throw std::runtime_error("packets went missing (cache misses?)");
  return ns / static_cast<double>(polls * kBurst);
}

weft::Mac mac_of(unsigned i) {
  return weft::Mac{{2, 0, 0, static_cast<uint8_t>(i >> 16), static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)}};
}

// Lookups per second with `window` requests in flight.
double lookups_per_s(uint16_t port, uint32_t window, unsigned n) {
  boost::asio::io_context io;
  weft::svp::ClientConfig cfg;
  cfg.servers = {"127.0.0.1:" + std::to_string(port)};
  cfg.window = window;
  cfg.timeout_s = 30;
  auto client = std::make_shared<weft::svp::SvpClient>(io, cfg);
  client->start();
  while (!client->up()) io.run_one();
  unsigned done = 0, ok = 0;
  const auto t0 = Clock::now();
  for (unsigned i = 0; i < n; i++)
    client->vl2({mac_of(i % kCacheEntries), 100}, [&](weft::svp::Outcome o, const weft::svp::Vl2Ack& a) {
      done++;
      if (o == weft::svp::Outcome::Reply && a.status == weft::svp::kOk) ok++;
    });
  while (done < n) io.run_one();
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  client->stop();
  if (ok != n) throw std::runtime_error("lookups failed: " + std::to_string(n - ok));
  return n / s;
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
  weft::PluginLoader loader;  // outlives the harnesses (keeps the plugins loaded)
  try {
    const int cpu = bench_cpu();
    weft::Runtime::init_eal({"bench_svp", "--no-huge", "-m", "256", "--no-shconf", "--no-pci",
                             "--file-prefix=weftbench-svp-" + std::to_string(::getpid()),
                             "--lcores=0@" + std::to_string(cpu), "--log-level=*:warning", "--no-telemetry"});
    rte_mempool* pool = weft::create_packet_pool("bench_svp_pool", 1023, 0, static_cast<int>(rte_socket_id()), true);
    if (!pool) throw std::runtime_error("cannot create the packet pool");
    std::string dirs = WEFT_BENCH_PLUGIN_DIR;
    if (const char* env = std::getenv("WEFT_PLUGIN_PATH")) dirs = env;
    if (dirs.empty()) dirs = weft::PluginLoader::default_dir();
    loader.load_directories(weft::PluginLoader::split_path(dirs));
    loader.add_class(BenchSource::klass(), "bench_svp");
    loader.add_class(BenchSink::klass(), "bench_svp");

    // --- 1. the resolver on hits -------------------------------------------
    weft::GraphHarness ref("name: ref\nelements:\n  src: BenchSource\n  p: Pass\n  sink: BenchSink\n"
                           "connections:\n  - src -> p -> sink\n",
                           loader, pool);
    weft::GraphHarness res("name: res\nservices:\n"
                           "  portolan: {class: Svp, servers: [\"127.0.0.1:1\"], max_entries: 16384}\n"
                           "elements:\n  src: BenchSource\n"
                           "  res: {class: SvpResolver, svp: portolan, vni: 100}\n  sink: BenchSink\n"
                           "connections:\n  - src -> res -> sink\n",
                           loader, pool);
    auto svc = static_cast<weft::svp::SvpService&>(res.service("portolan")).control();
    weft::svp::CacheEntry e;
    e.state = weft::svp::CacheEntry::kResolved;
    e.underlay.family = 4;
    e.underlay.udp_port = 4789;
    e.expires_ns = UINT64_MAX;
    e.retry_ns.store(UINT64_MAX);
    for (unsigned i = 0; i < kCacheEntries; i++) {
      const auto m = i < kBurst ? weft::Mac{{2, 0, 0, 0, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)}}
                                : mac_of(i + 0x10000);
      e.underlay.addr[3] = static_cast<uint8_t>(i);
      if (!svc->writable_cache().put(weft::svp::CacheKey::vl2(m.data(), 100), e))
        throw std::runtime_error("cache full");
    }
    std::vector<double> pass_ns, res_ns;
    for (int r = 0; r < rounds; r++) {
      pass_ns.push_back(per_packet(ref, 0.3));
      res_ns.push_back(per_packet(res, 0.3));
    }
    const double p = median(pass_ns), q = median(res_ns);
    std::printf("resolver (cache hits, %u entries, batch %u, CPU %d): %.2f ns/pkt; reference (Pass): %.2f ns/pkt; "
                "added %.2f ns/pkt\n",
                kCacheEntries, kBurst, cpu, q, p, q - p);

    // --- 2. lookups against the lab server ---------------------------------
    weft::svp::LabMappings m;
    for (unsigned i = 0; i < kCacheEntries; i++) {
      uint8_t v4[4] = {10, static_cast<uint8_t>(i >> 16), static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)};
      m.vl2[{100, mac_of(i)}] = {weft::svp::mapped_v4(v4), 4789};
    }
    boost::asio::io_context sio;
    auto server = std::make_shared<weft::svp::LabServer>(sio, m, weft::svp::LabOptions{"127.0.0.1:0", false});
    server->start();
    std::thread st([&] { sio.run(); });
    std::vector<double> piped, seq;
    for (int r = 0; r < rounds; r++) {
      piped.push_back(lookups_per_s(server->port(), 4096, kLookups));
      seq.push_back(lookups_per_s(server->port(), 1, kLookups / 20));
    }
    sio.stop();
    st.join();
    const double lp = median(piped), ls = median(seq);
    std::printf("SVP lookups against the lab server (loopback TCP): pipelined (window 4096) %.0f/s; one at a time "
                "%.0f/s; ratio %.1f\n",
                lp, ls, lp / ls);
    std::printf("RESULT svp resolver_ns_per_pkt=%.2f pass_ns_per_pkt=%.2f resolver_added_ns_per_pkt=%.2f batch=%u "
                "lookups_per_s=%.0f sequential_lookups_per_s=%.0f pipelining_ratio=%.1f rounds=%d\n",
                q, p, q - p, kBurst, lp, ls, lp / ls, rounds);
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "bench_svp: %s\n", ex.what());
    return 1;
  }
  return 0;
}

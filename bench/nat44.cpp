// bench/nat44.cpp — Nat44 per core: established-flow packets/s and new
// sessions/s, with 64k, 1M and 4M sessions in the table.
//
//   bench_nat44 [--benchmark_* flags]
//
// One Nat44 (weft_nat.so, the real plugin) in a weft::GraphHarness on this
// thread, as one worker runs it: batches of 32 UDP packets pushed into
// `from_inside`, `to_outside` wired to a sink that frees nothing. The table
// is filled first with N sessions (N = 64k, 1M, 4M; flow i: inside host
// 10.1.x.y = i mod 65536, port 1024 + i / 65536, to 192.0.2.1:80; pool a /25,
// so every session has its own mapping, as when clients open connections).
//
//   established/N  each packet belongs to a random one of the N sessions
//                  (a fresh random sequence, so table lookups miss the
//                  caches as a large table does); per packet: parse, bulk
//                  lookup, TCP/UDP rewrite with incremental checksums
//   new/N          each packet opens a new session (new inside port: a new
//                  mapping, a port from this worker's slice, two rte_hash
//                  keys), the table holding N sessions
//   restore        the benchmark's own cost: writing each packet's source
//                  address and port back before it is pushed (included in
//                  the two figures above; subtract it to get Nat44 alone)
//
// The EAL runs without hugepages (-m 2048: 4M sessions + 1M headroom need
// about 1 GB), the main thread pinned to the last CPU this process may use
// (WEFT_BENCH_CPU=N picks another). Without hugepages a page of DPDK memory
// is faulted in when first touched, so new/N also pays the page faults of
// the session slots, keys and mappings it is the first to use (a quarter of
// its time); WEFT_BENCH_MLOCK=1 locks the EAL's memory first (mlockall), as
// hugepages would have it, to measure without them. The last line sums it up:
//   RESULT nat44 est_64k_mpps=.. est_1m_mpps=.. est_4m_mpps=.. new_64k_ksps=.. ...
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <rte_eal.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/plugin_loader.hpp"
#include "runtime/runtime.hpp"
#include "testing/graph_harness.hpp"
#include "weft/element.hpp"

#ifndef WEFT_BENCH_PLUGIN_DIR
#define WEFT_BENCH_PLUGIN_DIR ""
#endif

namespace {

constexpr uint16_t kBurst = 32;
constexpr uint32_t kHeadroom = 1u << 20;  // room for the sessions new/N creates
constexpr size_t kSrcIp = 14 + 12, kSrcPort = 14 + 20;

class BenchSink final : public weft::Element {
 public:
  static const weft::ElementClass& klass() {
    static const weft::ElementClass k = weft::ElementClass::make<BenchSink>("BenchNatSink")
                                            .describe("Counts what it receives and frees nothing (benchmarks only).")
                                            .any_inputs();
    return k;
  }
  void push(uint16_t, weft::Batch& b) override {
    received += b.count;
    b.clear();
  }
  uint64_t received = 0;
};

rte_mempool* g_pool = nullptr;
weft::PluginLoader* g_loader = nullptr;

struct Setup {
  uint32_t sessions = 0;
  std::unique_ptr<weft::GraphHarness> h;
  rte_mbuf* pkts[kBurst] = {};
  uint32_t next_new = 0;  // next flow index never used
};
std::map<uint32_t, std::unique_ptr<Setup>> g_setups;

// Flow i: inside 10.1.(h>>8).(h&255):1024+i/65536 with h = i % 65536.
inline void set_flow(rte_mbuf* m, uint32_t i) {
  uint8_t* d = rte_pktmbuf_mtod(m, uint8_t*);
  const uint32_t h = i & 0xffff;
  d[kSrcIp] = 10;
  d[kSrcIp + 1] = 1;
  d[kSrcIp + 2] = static_cast<uint8_t>(h >> 8);
  d[kSrcIp + 3] = static_cast<uint8_t>(h);
  const uint16_t port = htons(static_cast<uint16_t>(1024 + (i >> 16)));
  std::memcpy(d + kSrcPort, &port, 2);
}

rte_mbuf* make_packet() {
  rte_mbuf* m = rte_pktmbuf_alloc(g_pool);
  if (!m) throw std::runtime_error("packet pool empty");
  uint8_t* d = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, 64));
  std::memset(d, 0, 64);
  d[12] = 0x08;  // IPv4
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(d + 14);
  ip->version_ihl = 0x45;
  ip->total_length = htons(64 - 14);
  ip->time_to_live = 64;
  ip->next_proto_id = IPPROTO_UDP;
  ip->dst_addr = htonl(0xc0000201);  // 192.0.2.1
  uint8_t* udp = d + 34;
  udp[2] = 0;
  udp[3] = 80;
  udp[5] = 64 - 34;
  udp[6] = 0x12;  // a nonzero checksum: updated like a real one
  udp[7] = 0x34;
  return m;
}

Setup& setup(uint32_t n) {
  auto& s = g_setups[n];
  if (s) return *s;
  s = std::make_unique<Setup>();
  s->sessions = n;
  const std::string y = "elements:\n  nat:\n    class: Nat44\n    pool: [198.51.100.0/25]\n    max_sessions: " +
                        std::to_string(n + kHeadroom) +
                        "\n    max_sessions_per_source: 1048576\n  sink: BenchNatSink\nconnections:\n"
                        "  - nat[to_outside] -> sink\n  - nat[to_inside] -> sink\n";
  s->h = std::make_unique<weft::GraphHarness>(y, *g_loader, g_pool);
  for (auto& m : s->pkts) m = make_packet();
  weft::Batch b;
  for (uint32_t i = 0; i < n; i += kBurst) {
    b.count = 0;
    for (uint16_t k = 0; k < kBurst; k++) {
      set_flow(s->pkts[k], i + k);
      b.add(s->pkts[k]);
    }
    s->h->push("nat", b, 0);
  }
  s->next_new = n;
  std::printf("# %u sessions (%s mappings): memory %s\n", n, s->h->read_handler("nat", "mappings").c_str(),
              s->h->read_handler("nat", "memory").c_str());
  std::fflush(stdout);
  return *s;
}

void BM_established(benchmark::State& state) {
  Setup& s = setup(static_cast<uint32_t>(state.range(0)));
  std::mt19937 rng(42);
  std::vector<uint32_t> seq(1u << 20);
  for (auto& x : seq) x = rng() % s.sessions;
  size_t at = 0;
  weft::Batch b;
  for (auto _ : state) {
    b.count = 0;
    for (uint16_t k = 0; k < kBurst; k++) {
      set_flow(s.pkts[k], seq[at++ & (seq.size() - 1)]);
      b.add(s.pkts[k]);
    }
    s.h->push("nat", b, 0);
  }
  state.SetItemsProcessed(state.iterations() * kBurst);
}

void BM_new(benchmark::State& state) {
  Setup& s = setup(static_cast<uint32_t>(state.range(0)));
  weft::Batch b;
  for (auto _ : state) {
    b.count = 0;
    for (uint16_t k = 0; k < kBurst; k++) {
      set_flow(s.pkts[k], s.next_new++);
      b.add(s.pkts[k]);
    }
    s.h->push("nat", b, 0);
  }
  state.SetItemsProcessed(state.iterations() * kBurst);
}

void BM_restore(benchmark::State& state) {
  Setup& s = setup(65536);
  std::vector<uint32_t> seq(1u << 20);
  std::mt19937 rng(42);
  for (auto& x : seq) x = rng() % 65536;
  size_t at = 0;
  for (auto _ : state) {
    for (uint16_t k = 0; k < kBurst; k++) set_flow(s.pkts[k], seq[at++ & (seq.size() - 1)]);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * kBurst);
}

int bench_cpu() {
  if (const char* e = std::getenv("WEFT_BENCH_CPU")) return std::atoi(e);
  return weft::allowed_cpus().back();
}

class Collect : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& r : runs)
      if (!r.error_occurred && r.run_type == Run::RT_Iteration) {
        auto it = r.counters.find("items_per_second");
        if (it == r.counters.end()) continue;
        std::string name = r.benchmark_name();  // "new/1m/1048576/iterations:12000" → "new/1m"
        size_t second = name.find('/', name.find('/') + 1);
        rate[name.substr(0, second)] = it->second;
      }
  }
  std::map<std::string, double> rate;
};

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> args(argv, argv + argc);
  std::string min_time = "--benchmark_min_time=0.3";
  bool given = false;
  for (int i = 1; i < argc; i++) given |= std::strncmp(argv[i], "--benchmark_min_time", 20) == 0;
  if (!given) args.push_back(min_time.data());
  int bargc = static_cast<int>(args.size());
  args.push_back(nullptr);
  benchmark::Initialize(&bargc, args.data());
  if (benchmark::ReportUnrecognizedArguments(bargc, args.data())) return 1;
  weft::PluginLoader loader;
  g_loader = &loader;
  try {
    weft::Runtime::init_eal({"bench_nat44", "--no-huge", "-m", "2048", "--no-shconf", "--no-pci",
                             "--file-prefix=weftbench-nat-" + std::to_string(::getpid()),
                             "--lcores=0@" + std::to_string(bench_cpu()), "--log-level=*:warning", "--no-telemetry"});
    if (std::getenv("WEFT_BENCH_MLOCK") && mlockall(MCL_CURRENT) != 0) throw std::runtime_error("mlockall failed");
    g_pool = weft::create_packet_pool("bench_nat_pool", 1023, 0, static_cast<int>(rte_socket_id()), true);
    if (!g_pool) throw std::runtime_error("cannot create the packet pool");
    std::string dirs = WEFT_BENCH_PLUGIN_DIR;
    if (const char* env = std::getenv("WEFT_PLUGIN_PATH")) dirs = env;
    if (dirs.empty()) dirs = weft::PluginLoader::default_dir();
    loader.load_directories(weft::PluginLoader::split_path(dirs));
    loader.add_class(BenchSink::klass(), "bench_nat44");
    const std::vector<std::pair<std::string, int64_t>> sizes = {{"64k", 65536}, {"1m", 1 << 20}, {"4m", 4 << 20}};
    for (const auto& [name, n] : sizes)
      benchmark::RegisterBenchmark(("established/" + name).c_str(), BM_established)->Arg(n)->Unit(benchmark::kNanosecond);
    for (const auto& [name, n] : sizes)  // at most kHeadroom new sessions per size
      benchmark::RegisterBenchmark(("new/" + name).c_str(), BM_new)->Arg(n)->Iterations(12000)->Unit(benchmark::kNanosecond);
    benchmark::RegisterBenchmark("restore", BM_restore)->Unit(benchmark::kNanosecond);
    Collect rep;
    benchmark::RunSpecifiedBenchmarks(&rep);
    std::string line = "RESULT nat44";
    for (const auto& [name, n] : sizes) {
      (void)n;
      if (rep.rate.count("established/" + name))
        line += " est_" + name + "_mpps=" + std::to_string(rep.rate["established/" + name] / 1e6).substr(0, 5);
    }
    for (const auto& [name, n] : sizes) {
      (void)n;
      if (rep.rate.count("new/" + name))
        line += " new_" + name + "_msps=" + std::to_string(rep.rate["new/" + name] / 1e6).substr(0, 5);
    }
    if (rep.rate.count("restore")) line += " restore_mpps=" + std::to_string(rep.rate["restore"] / 1e6).substr(0, 6);
    std::printf("%s\n", line.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_nat44: %s\n", e.what());
    return 1;
  }
  g_setups.clear();
  return 0;
}

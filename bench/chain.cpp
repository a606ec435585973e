// bench/chain.cpp — the cost of one pass-through element hop, per packet.
//
//   bench_chain [--benchmark_* flags]
//
// A chain  src -> Pass x N -> sink  is built through the real framework
// (plugin loader, YAML graph, validator, weft::GraphHarness: the same
// build_graph_instance() a worker uses), then the source is polled in a loop
// on this thread exactly as a worker polls it (run(), then flush_staged()).
//
//   src   BenchSource (defined here): pushes the same 32 mbufs every poll;
//         copying the 32 pointers into its batch is its only work
//   Pass  the built-in pass-through element (weft_basic.so), N = 0, 1, 8, 32, 64
//   sink  BenchSink (defined here): counts the batch and clears it; it frees
//         nothing, so no mempool or driver work is measured
//
// "fused/N" is the hand-fused reference run in the same process: one plain
// loop doing the same counting work the framework does at each hop (packets
// and bytes of each output: a pass over the batch reading pkt_len, two
// counter updates), N times, with no element call, then the sink's count.
//
// The figure of merit is the slope: ns per packet per element,
//   (t(64) - t(0)) / 64 / 32   from the per-poll times at N = 64 and N = 0
// (a least-squares fit over all N is printed too). The chain's slope minus
// the fused slope is what the element call itself costs (virtual push, the
// staged-output check, the hop through Element::output).
//
// Two mbuf layouts, because the per-hop accounting reads each mbuf's first
// cache line and where the mbufs lie decides whether that hits L1:
//   chain/N, fused/N        mbufs from rte_pktmbuf_pool_create (testpmd's
//                           pool; routerd with mempool.packed: false). Without
//                           hugepages DPDK puts one 2368-byte mbuf per 4 KiB
//                           page, so all mbufs share one L1 cache set.
//   chain_hp/N, fused_hp/N  the same mbufs packed at their 2368-byte stride:
//                           routerd's default pool without hugepages
//                           (weft::create_packet_pool) and the layout a
//                           hugepage-backed pool has.
//
// Defaults (overridable on the command line): --benchmark_min_time=0.2
// --benchmark_repetitions=3 (figures are the medians, of CPU time). The EAL
// main thread is pinned to the last CPU this process may use; WEFT_BENCH_CPU=N
// picks another. WEFT_PLUGIN_PATH overrides where weft_basic.so is looked for.
//
// Last line:  RESULT chain ns_per_pkt_per_element=.. fused_ns_per_pkt_per_element=.. ...
#include <benchmark/benchmark.h>
#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mbuf_pool_ops.h>
#include <rte_mempool.h>
#include <sched.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/plugin_loader.hpp"
#include "runtime/runtime.hpp"
#include "testing/graph_harness.hpp"
#include "weft/counter.hpp"
#include "weft/element.hpp"

#ifndef WEFT_BENCH_PLUGIN_DIR
#define WEFT_BENCH_PLUGIN_DIR ""
#endif

namespace {

constexpr uint16_t kBurst = 32;
constexpr uint16_t kPacketLen = 64;
const std::vector<int> kLengths = {0, 1, 8, 32, 64};

// ---------------------------------------------------------------------------
// Bench-only elements
// ---------------------------------------------------------------------------

class BenchSource final : public weft::Element {
 public:
  static const weft::ElementClass& klass() {
    static const weft::ElementClass k =
        weft::ElementClass::make<BenchSource>("BenchSource")
            .describe("Pushes the same burst of mbufs on every poll (benchmarks only).")
            .output("out");
    return k;
  }
  void initialize(weft::InitContext& ctx) override {
    if (rte_pktmbuf_alloc_bulk(ctx.mempool(), pkts_, kBurst) != 0) throw weft::InitError("pool empty");
    for (auto* m : pkts_) {
      char* d = rte_pktmbuf_append(m, kPacketLen);
      std::memset(d, 0, kPacketLen);
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
    static const weft::ElementClass k =
        weft::ElementClass::make<BenchSink>("BenchSink")
            .describe("Counts what it receives and frees nothing (benchmarks only).")
            .input("in");
    return k;
  }
  void push(uint16_t, weft::Batch& b) override {
    received.add(b.count);
    b.clear();  // the packets still belong to the source
  }
  weft::Counter received;
};

// ---------------------------------------------------------------------------
// Setup
// ---------------------------------------------------------------------------

std::string chain_yaml(int n) {
  std::string y = "name: chain" + std::to_string(n) + "\nelements:\n  src: BenchSource\n  sink: BenchSink\n";
  std::string path = "src";
  for (int i = 1; i <= n; i++) {
    y += "  p" + std::to_string(i) + ": Pass\n";
    path += " -> p" + std::to_string(i);
  }
  return y + "connections:\n  - " + path + " -> sink\n";
}

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


struct Layout {
  std::string suffix;  // "" or "_hp"
  std::string what;
  rte_mempool* pool = nullptr;
  std::map<int, std::unique_ptr<weft::GraphHarness>> chains;
};
std::vector<std::unique_ptr<Layout>> g_layouts;

// ---------------------------------------------------------------------------
// Benchmarks
// ---------------------------------------------------------------------------

void set_counters(benchmark::State& state) {
  state.SetItemsProcessed(state.iterations() * kBurst);
  state.counters["ns_per_pkt"] =
      benchmark::Counter(static_cast<double>(state.iterations() * kBurst), benchmark::Counter::kIsRate |
                                                                              benchmark::Counter::kInvert);
}

void BM_chain(benchmark::State& state, Layout* layout, int n) {
  weft::GraphHarness& h = *layout->chains.at(n);
  weft::Element& src = h.element("src");
  auto& sink = static_cast<BenchSink&>(h.element("sink"));
  uint64_t before = sink.received.get();
  for (auto _ : state) {
    src.run();  // what worker_main does for each source
    src.flush_staged();
  }
  if (sink.received.get() - before != static_cast<uint64_t>(state.iterations()) * kBurst)
    state.SkipWithError("packets went missing");
  set_counters(state);
}

// The same work with no element calls: the source's copy, then for each of
// the N hops the framework's per-output accounting (Element::account: a pass
// over the batch summing pkt_len, then packets and bytes counters), then the
// sink's count.
struct FusedHop {
  weft::Counter packets, bytes;
};

void BM_fused(benchmark::State& state, Layout* layout, int n) {
  rte_mbuf* pkts[kBurst];
  if (rte_pktmbuf_alloc_bulk(layout->pool, pkts, kBurst) != 0) {
    state.SkipWithError("pool empty");
    return;
  }
  for (auto* m : pkts) rte_pktmbuf_append(m, kPacketLen);
  std::vector<FusedHop> hops(static_cast<size_t>(n));
  weft::Counter received;
  weft::Batch batch;
  for (auto _ : state) {
    std::memcpy(batch.pkts, pkts, sizeof pkts);
    batch.count = kBurst;
    benchmark::ClobberMemory();
    for (auto& hop : hops) {
      uint64_t bytes = 0;
      for (uint16_t i = 0; i < batch.count; i++) bytes += batch.pkts[i]->pkt_len;
      hop.packets.add(batch.count);
      hop.bytes.add(bytes);
      // Without a call in between, the compiler would compute the sum once for
      // all hops; a chain of elements re-reads the batch at every hop.
      benchmark::ClobberMemory();
    }
    received.add(batch.count);
    batch.clear();
  }
  if (received.get() != static_cast<uint64_t>(state.iterations()) * kBurst)
    state.SkipWithError("packets went missing");
  set_counters(state);
  rte_pktmbuf_free_bulk(pkts, kBurst);
}

// ---------------------------------------------------------------------------
// Reporting: the console output as usual, plus the slopes.
// ---------------------------------------------------------------------------

class SlopeReporter : public benchmark::ConsoleReporter {
 public:
  explicit SlopeReporter(bool color) : ConsoleReporter(color ? OO_ColorTabular : OO_Tabular) {}

  // ns per poll (one batch of 32) by benchmark family ("chain", "fused_hp", ...) and N.
  std::map<std::string, std::map<int, double>> single, median;

  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs) {
      if (r.error_occurred) continue;
      std::string name = r.run_name.function_name;  // "chain/8"
      auto slash = name.find('/');
      if (slash == std::string::npos) continue;
      std::string family = name.substr(0, slash);
      int n = std::atoi(name.c_str() + slash + 1);
      double ns = r.GetAdjustedCPUTime() * to_ns(r.time_unit);
      if (r.run_type == Run::RT_Aggregate) {
        if (r.aggregate_name == "median") median[family][n] = ns;
      } else {
        single[family][n] = ns;  // the last repetition, if there is no median
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }

  std::map<int, double> times(const std::string& family) {
    if (median.count(family)) return median[family];
    if (single.count(family)) return single[family];
    return {};
  }

 private:
  static double to_ns(benchmark::TimeUnit u) {
    switch (u) {
      case benchmark::kSecond: return 1e9;
      case benchmark::kMillisecond: return 1e6;
      case benchmark::kMicrosecond: return 1e3;
      default: return 1;
    }
  }
};

// ns per packet per element: endpoints (N=0 and the largest N) and least squares.
struct Slope {
  bool ok = false;
  double endpoints = 0, lsq = 0, base_ns_per_pkt = 0;
  int n_max = 0;
};

Slope slope(const std::map<int, double>& t) {
  Slope s;
  if (t.size() < 2 || !t.count(0)) return s;
  auto last = *t.rbegin();
  s.ok = true;
  s.n_max = last.first;
  s.base_ns_per_pkt = t.at(0) / kBurst;
  s.endpoints = (last.second - t.at(0)) / last.first / kBurst;
  double mx = 0, my = 0;
  for (auto& [n, y] : t) {
    mx += n;
    my += y;
  }
  mx /= static_cast<double>(t.size());
  my /= static_cast<double>(t.size());
  double sxy = 0, sxx = 0;
  for (auto& [n, y] : t) {
    sxy += (n - mx) * (y - my);
    sxx += (n - mx) * (n - mx);
  }
  s.lsq = sxy / sxx / kBurst;
  return s;
}

bool has_flag(int argc, char** argv, const char* flag) {
  for (int i = 1; i < argc; i++)
    if (std::strncmp(argv[i], flag, std::strlen(flag)) == 0) return true;
  return false;
}

// --benchmark_color as the library reads it (a custom display reporter does
// not get it applied): auto (the default) means colour on a terminal.
bool want_color(int argc, char** argv) {
  std::string v = "auto";
  for (int i = 1; i < argc; i++)
    if (std::strncmp(argv[i], "--benchmark_color=", 18) == 0) v = argv[i] + 18;
  if (v == "auto") return isatty(STDOUT_FILENO) != 0;
  return v == "true" || v == "yes" || v == "1";
}

}  // namespace

int main(int argc, char** argv) {
  // Defaults for a short, repeatable run; any --benchmark_* flag given wins.
  bool color = want_color(argc, argv);
  std::vector<char*> args(argv, argv + argc);
  std::string min_time = "--benchmark_min_time=0.2", reps = "--benchmark_repetitions=3";
  if (!has_flag(argc, argv, "--benchmark_min_time")) args.push_back(min_time.data());
  if (!has_flag(argc, argv, "--benchmark_repetitions")) args.push_back(reps.data());
  int bargc = static_cast<int>(args.size());
  args.push_back(nullptr);
  benchmark::Initialize(&bargc, args.data());
  if (benchmark::ReportUnrecognizedArguments(bargc, args.data())) return 1;

  int rc = 0;
  // Outlives the harnesses: it keeps weft_basic.so (the Pass elements' code) loaded.
  weft::PluginLoader loader;
  try {
    int cpu = bench_cpu();
    weft::Runtime::init_eal({"bench_chain", "--no-huge", "-m", "128", "--no-shconf", "--no-pci",
                             "--file-prefix=weftbench-chain-" + std::to_string(::getpid()),
                             "--lcores=0@" + std::to_string(cpu), "--log-level=*:warning", "--no-telemetry"});

    auto page = std::make_unique<Layout>();
    page->what = "rte_pktmbuf_pool_create (mempool.packed: false, as testpmd): without hugepages one mbuf per 4 KiB page";
    page->pool = rte_pktmbuf_pool_create("bench_pool", 1023, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                         static_cast<int>(rte_socket_id()));
    auto hp = std::make_unique<Layout>();
    hp->suffix = "_hp";
    hp->what = "packed back to back: routerd's default without hugepages, and the layout of a hugepage pool";
    hp->pool = weft::create_packet_pool("bench_pool_hp", 1023, 0, static_cast<int>(rte_socket_id()), true);
    if (!page->pool || !hp->pool) throw std::runtime_error("cannot create the packet pools");
    g_layouts.push_back(std::move(page));
    g_layouts.push_back(std::move(hp));

    std::string dirs = WEFT_BENCH_PLUGIN_DIR;
    if (const char* env = std::getenv("WEFT_PLUGIN_PATH")) dirs = env;
    if (dirs.empty()) dirs = weft::PluginLoader::default_dir();
    loader.load_directories(weft::PluginLoader::split_path(dirs));
    loader.add_class(BenchSource::klass(), "bench_chain");
    loader.add_class(BenchSink::klass(), "bench_chain");

    for (auto& l : g_layouts) {
      for (int n : kLengths) {
        l->chains[n] = std::make_unique<weft::GraphHarness>(chain_yaml(n), loader, l->pool);
        benchmark::RegisterBenchmark(("chain" + l->suffix + "/" + std::to_string(n)).c_str(), BM_chain, l.get(), n)
            ->Unit(benchmark::kNanosecond);
      }
      for (int n : kLengths)
        benchmark::RegisterBenchmark(("fused" + l->suffix + "/" + std::to_string(n)).c_str(), BM_fused, l.get(), n)
            ->Unit(benchmark::kNanosecond);
    }

    std::printf("# chain: src -> Pass x N -> sink, batch %u, on CPU %d; times are per poll (one batch of %u)\n",
                kBurst, cpu, kBurst);
    std::fflush(stdout);
    SlopeReporter rep(color);
    benchmark::RunSpecifiedBenchmarks(&rep);

    std::string result = "RESULT chain";
    bool any = false;
    std::printf("\nper packet, batch %u (medians of CPU time):\n", kBurst);
    for (auto& l : g_layouts) {
      Slope c = slope(rep.times("chain" + l->suffix)), f = slope(rep.times("fused" + l->suffix));
      if (!c.ok || !f.ok) continue;
      any = true;
      std::printf(" mbufs: %s\n", l->what.c_str());
      std::printf("  chain%-3s %.3f ns/pkt/element (N=0..%d endpoints), %.3f (least squares); %.2f ns/pkt at N=0\n",
                  l->suffix.c_str(), c.endpoints, c.n_max, c.lsq, c.base_ns_per_pkt);
      std::printf("  fused%-3s %.3f ns/pkt/hop     (N=0..%d endpoints), %.3f (least squares); %.2f ns/pkt at N=0\n",
                  l->suffix.c_str(), f.endpoints, f.n_max, f.lsq, f.base_ns_per_pkt);
      std::printf("  element call overhead (chain - fused): %.3f ns/pkt/element\n", c.endpoints - f.endpoints);
      char buf[256];
      const char* p = l->suffix.empty() ? "" : "hp_";
      std::snprintf(buf, sizeof buf,
                    " %sns_per_pkt_per_element=%.3f %slsq=%.3f %sfused_ns_per_pkt_per_element=%.3f "
                    "%scall_overhead_ns=%.3f",
                    p, c.endpoints, p, c.lsq, p, f.endpoints, p, c.endpoints - f.endpoints);
      result += buf;
    }
    std::printf(" target: <= 1 ns per packet per pass-through element at batch 32\n");
    std::printf("%s batch=%u\n", any ? result.c_str() : "RESULT chain incomplete (filtered run)", kBurst);
    std::fflush(stdout);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_chain: error: %s\n", e.what());
    rc = 1;
  }
  for (auto& l : g_layouts) {
    l->chains.clear();  // the sources give their mbufs back
    if (l->pool) rte_mempool_free(l->pool);
  }
  g_layouts.clear();
  benchmark::Shutdown();
  if (weft::Runtime::eal_running()) rte_eal_cleanup();
  return rc;
}

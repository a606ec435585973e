// bench/nat64.cpp — Nat64 per core: established packets/s both ways and new
// sessions/s, with 64k, 1M and 4M sessions in the table.
//
//   bench_nat64 [--benchmark_* flags]
//
// One Nat64 (weft_nat.so, the real plugin) in a weft::GraphHarness on this
// thread, as one worker runs it, batches of 32 UDP packets, outputs wired to a
// sink that frees nothing. The table is filled first with N sessions (N =
// 64k, 1M, 4M; flow i: IPv6 host 2001:db8::(i mod 65536), port 1024 +
// i / 65536, to [64:ff9b::192.0.2.1]:80; pool a /25, so every session has its
// own mapping, and 65536 hosts hold them).
//
//   v6to4/N    each packet an IPv6 packet of a random one of the N sessions
//              (parse, host id and session bulk lookups, a new IPv4 header
//              in place of the IPv6 one, incremental UDP checksum)
//   v4to6/N    each packet the IPv4 reply of a random session (parse,
//              session bulk lookup, IPv6 header in place of the IPv4 one)
//   new/N      each packet opens a new session of an existing host (a new
//              port: a mapping, two keys), the table holding N sessions
//   restore6, restore4  the benchmark's own cost: rewriting each packet back
//              to what it was before it was pushed (included in the figures
//              above; subtract it to get Nat64 alone)
//
// The EAL runs without hugepages (-m 2560: 4M sessions + 1M headroom and
// 65536 hosts), the main thread pinned to the last CPU this process may use
// (WEFT_BENCH_CPU=N picks another). The last line sums it up:
//   RESULT nat64 v6to4_64k_mpps=.. ... new_4m_msps=.. restore6_mpps=.. restore4_mpps=..
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <rte_eal.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
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
constexpr uint16_t kV6Len = 14 + 40 + 8 + 18, kV4Len = 14 + 20 + 8 + 18;
constexpr size_t kSrc6 = 14 + 8, kSport6 = 14 + 40, kDst4 = 14 + 16, kDport4 = 14 + 20 + 2;

class BenchSink final : public weft::Element {
 public:
  static const weft::ElementClass& klass() {
    static const weft::ElementClass k = weft::ElementClass::make<BenchSink>("BenchNat64Sink")
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
uint8_t g_v6[kV6Len], g_v4[kV4Len];  // packet templates

struct External {
  uint32_t ip;    // network order
  uint16_t port;  // network order
};

struct Setup {
  uint32_t sessions = 0;
  std::unique_ptr<weft::GraphHarness> h;
  rte_mbuf* pkts[kBurst] = {};
  std::vector<External> ext;  // session i's pool address and port
  uint32_t next_new = 0;      // next flow index never used
};
std::map<uint32_t, std::unique_ptr<Setup>> g_setups;

void fill_templates() {
  std::memset(g_v6, 0, sizeof g_v6);
  g_v6[12] = 0x86;
  g_v6[13] = 0xdd;
  uint8_t* ip = g_v6 + 14;
  ip[0] = 0x60;
  ip[5] = 8 + 18;  // payload length
  ip[6] = IPPROTO_UDP;
  ip[7] = 64;
  inet_pton(AF_INET6, "2001:db8::", ip + 8);
  inet_pton(AF_INET6, "64:ff9b::192.0.2.1", ip + 24);
  uint8_t* udp = ip + 40;
  udp[3] = 80;
  udp[5] = 8 + 18;
  udp[6] = 0x12;  // a nonzero checksum, updated like a real one
  udp[7] = 0x34;
  std::memset(g_v4, 0, sizeof g_v4);
  g_v4[12] = 0x08;
  auto* h = reinterpret_cast<rte_ipv4_hdr*>(g_v4 + 14);
  h->version_ihl = 0x45;
  h->total_length = htons(20 + 8 + 18);
  h->time_to_live = 64;
  h->next_proto_id = IPPROTO_UDP;
  h->src_addr = htonl(0xc0000201);  // 192.0.2.1
  h->hdr_checksum = 0;
  uint8_t* u = g_v4 + 14 + 20;
  u[1] = 80;
  u[5] = 8 + 18;
  u[6] = 0x56;
  u[7] = 0x78;
}

// The IPv6 packet of flow i: host 2001:db8::(i mod 65536), port 1024 + i / 65536.
inline void set_v6(rte_mbuf* m, uint32_t i) {
  m->data_off = RTE_PKTMBUF_HEADROOM;
  m->data_len = m->pkt_len = kV6Len;
  uint8_t* d = rte_pktmbuf_mtod(m, uint8_t*);
  std::memcpy(d, g_v6, kV6Len);
  d[kSrc6 + 14] = static_cast<uint8_t>(i >> 8);
  d[kSrc6 + 15] = static_cast<uint8_t>(i);
  const uint16_t port = htons(static_cast<uint16_t>(1024 + (i >> 16)));
  std::memcpy(d + kSport6, &port, 2);
}

// The IPv4 reply to session i's external endpoint.
inline void set_v4(rte_mbuf* m, const External& e) {
  m->data_off = RTE_PKTMBUF_HEADROOM;
  m->data_len = m->pkt_len = kV4Len;
  uint8_t* d = rte_pktmbuf_mtod(m, uint8_t*);
  std::memcpy(d, g_v4, kV4Len);
  std::memcpy(d + kDst4, &e.ip, 4);
  std::memcpy(d + kDport4, &e.port, 2);
  auto* h = reinterpret_cast<rte_ipv4_hdr*>(d + 14);
  h->hdr_checksum = rte_ipv4_cksum(h);
}

rte_mbuf* make_packet() {
  rte_mbuf* m = rte_pktmbuf_alloc(g_pool);
  if (!m) throw std::runtime_error("packet pool empty");
  return m;
}

Setup& setup(uint32_t n) {
  auto& s = g_setups[n];
  if (s) return *s;
  s = std::make_unique<Setup>();
  s->sessions = n;
  const std::string y = "elements:\n  nat:\n    class: Nat64\n    pool: [198.51.100.0/25]\n    max_sessions: " +
                        std::to_string(n + kHeadroom) +
                        "\n    max_hosts: 65536\n    max_sessions_per_source: 1048576\n  sink: BenchNat64Sink\n"
                        "connections:\n  - nat[to_ipv4] -> sink\n  - nat[to_ipv6] -> sink\n";
  s->h = std::make_unique<weft::GraphHarness>(y, *g_loader, g_pool);
  for (auto& m : s->pkts) m = make_packet();
  s->ext.resize(n);
  weft::Batch b;
  for (uint32_t i = 0; i < n; i += kBurst) {
    b.count = 0;
    for (uint16_t k = 0; k < kBurst; k++) {
      set_v6(s->pkts[k], i + k);
      b.add(s->pkts[k]);
    }
    s->h->push("nat", b, 0);
    for (uint16_t k = 0; k < kBurst; k++) {  // now IPv4: note the external endpoint
      const uint8_t* d = rte_pktmbuf_mtod(s->pkts[k], const uint8_t*);
      std::memcpy(&s->ext[i + k].ip, d + 14 + 12, 4);
      std::memcpy(&s->ext[i + k].port, d + 14 + 20, 2);
    }
  }
  s->next_new = n;
  std::printf("# %u sessions (%s hosts, %s mappings): memory %s\n", n, s->h->read_handler("nat", "hosts").c_str(),
              s->h->read_handler("nat", "mappings").c_str(), s->h->read_handler("nat", "memory").c_str());
  std::fflush(stdout);
  return *s;
}

std::vector<uint32_t> random_sequence(uint32_t n) {
  std::mt19937 rng(42);
  std::vector<uint32_t> seq(1u << 20);
  for (auto& x : seq) x = rng() % n;
  return seq;
}

void BM_v6to4(benchmark::State& state) {
  Setup& s = setup(static_cast<uint32_t>(state.range(0)));
  const auto seq = random_sequence(s.sessions);
  size_t at = 0;
  weft::Batch b;
  for (auto _ : state) {
    b.count = 0;
    for (uint16_t k = 0; k < kBurst; k++) {
      set_v6(s.pkts[k], seq[at++ & (seq.size() - 1)]);
      b.add(s.pkts[k]);
    }
    s.h->push("nat", b, 0);
  }
  state.SetItemsProcessed(state.iterations() * kBurst);
}

void BM_v4to6(benchmark::State& state) {
  Setup& s = setup(static_cast<uint32_t>(state.range(0)));
  const auto seq = random_sequence(s.sessions);
  size_t at = 0;
  weft::Batch b;
  for (auto _ : state) {
    b.count = 0;
    for (uint16_t k = 0; k < kBurst; k++) {
      set_v4(s.pkts[k], s.ext[seq[at++ & (seq.size() - 1)]]);
      b.add(s.pkts[k]);
    }
    s.h->push("nat", b, 1);
  }
  state.SetItemsProcessed(state.iterations() * kBurst);
}

void BM_new(benchmark::State& state) {
  Setup& s = setup(static_cast<uint32_t>(state.range(0)));
  weft::Batch b;
  for (auto _ : state) {
    b.count = 0;
    for (uint16_t k = 0; k < kBurst; k++) {
      set_v6(s.pkts[k], s.next_new++);
      b.add(s.pkts[k]);
    }
    s.h->push("nat", b, 0);
  }
  state.SetItemsProcessed(state.iterations() * kBurst);
}

void BM_restore6(benchmark::State& state) {
  Setup& s = setup(65536);
  const auto seq = random_sequence(65536);
  size_t at = 0;
  for (auto _ : state) {
    for (uint16_t k = 0; k < kBurst; k++) set_v6(s.pkts[k], seq[at++ & (seq.size() - 1)]);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * kBurst);
}

void BM_restore4(benchmark::State& state) {
  Setup& s = setup(65536);
  const auto seq = random_sequence(65536);
  size_t at = 0;
  for (auto _ : state) {
    for (uint16_t k = 0; k < kBurst; k++) set_v4(s.pkts[k], s.ext[seq[at++ & (seq.size() - 1)]]);
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
    weft::Runtime::init_eal({"bench_nat64", "--no-huge", "-m", "2560", "--no-shconf", "--no-pci",
                             "--file-prefix=weftbench-nat64-" + std::to_string(::getpid()),
                             "--lcores=0@" + std::to_string(bench_cpu()), "--log-level=*:warning", "--no-telemetry"});
    g_pool = weft::create_packet_pool("bench_nat64_pool", 1023, 0, static_cast<int>(rte_socket_id()), true);
    if (!g_pool) throw std::runtime_error("cannot create the packet pool");
    fill_templates();
    std::string dirs = WEFT_BENCH_PLUGIN_DIR;
    if (const char* env = std::getenv("WEFT_PLUGIN_PATH")) dirs = env;
    if (dirs.empty()) dirs = weft::PluginLoader::default_dir();
    loader.load_directories(weft::PluginLoader::split_path(dirs));
    loader.add_class(BenchSink::klass(), "bench_nat64");
    const std::vector<std::pair<std::string, int64_t>> sizes = {{"64k", 65536}, {"1m", 1 << 20}, {"4m", 4 << 20}};
    for (const auto& [name, n] : sizes)
      benchmark::RegisterBenchmark(("v6to4/" + name).c_str(), BM_v6to4)->Arg(n)->Unit(benchmark::kNanosecond);
    for (const auto& [name, n] : sizes)
      benchmark::RegisterBenchmark(("v4to6/" + name).c_str(), BM_v4to6)->Arg(n)->Unit(benchmark::kNanosecond);
    for (const auto& [name, n] : sizes)  // at most kHeadroom new sessions per size
      benchmark::RegisterBenchmark(("new/" + name).c_str(), BM_new)->Arg(n)->Iterations(12000)->Unit(benchmark::kNanosecond);
    benchmark::RegisterBenchmark("restore6", BM_restore6)->Unit(benchmark::kNanosecond);
    benchmark::RegisterBenchmark("restore4", BM_restore4)->Unit(benchmark::kNanosecond);
    Collect rep;
    benchmark::RunSpecifiedBenchmarks(&rep);
    std::string line = "RESULT nat64";
    for (const char* kind : {"v6to4", "v4to6"})
      for (const auto& [name, n] : sizes) {
        (void)n;
        const std::string key = std::string(kind) + "/" + name;
        if (rep.rate.count(key))
          line += " " + std::string(kind) + "_" + name + "_mpps=" + std::to_string(rep.rate[key] / 1e6).substr(0, 5);
      }
    for (const auto& [name, n] : sizes) {
      (void)n;
      if (rep.rate.count("new/" + name))
        line += " new_" + name + "_msps=" + std::to_string(rep.rate["new/" + name] / 1e6).substr(0, 5);
    }
    for (const char* r : {"restore6", "restore4"})
      if (rep.rate.count(r)) line += std::string(" ") + r + "_mpps=" + std::to_string(rep.rate[r] / 1e6).substr(0, 6);
    std::printf("%s\n", line.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_nat64: %s\n", e.what());
    return 1;
  }
  g_setups.clear();
  return 0;
}

// bench/fib.cpp — routes from FRR: FPM ingest rate, and lookup rate on a
// full-size IPv4 table.
//
//   bench_fib [--routes=N] [--lpm-budget=SECONDS] [--benchmark_* flags]
//   bench_fib --routes=N --write-stream=PATH --write-pcap=PCAP
//                                             (writes bench/fib-loss.py's inputs and exits)
//
// 1. Ingest. A recorded-style FPM stream of N (default 1000000) distinct
//    IPv4 prefixes is generated here, shaped like an
//    Internet table (60 % /24, then /22, /23, /21 ... down to /8, and 1.5 %
//    longer than /24), as zebra's dplane_fpm_nl sends it: four
//    RTM_NEWNEXTHOP, then one RTM_NEWROUTE per FPM frame with RTA_NH_ID (and
//    RTA_PRIORITY). A client thread writes it as fast as TCP on loopback
//    takes it to the FIB of a real Fib service (the service and
//    IpLookup are compiled into this program and built by weft::GraphHarness,
//    so the benchmark can reach the service); the control loop runs on the
//    main thread. Measured: first byte written to the last route in the LPM
//    (FpmDecoder -> Rib -> entry -> Lpm4), as routes/s.
//    Two references on the same prefixes, in the same order:
//      - Lpm4::add alone (the FIB's table writer, no FPM/RIB);
//      - rte_lpm_add, DPDK's own writer, as the brief asked. In DPDK 22.11 it
//        scans its rule array linearly per prefix length (and the tbl8
//        groups for a free one): O(n^2) over a table. It is run for at most
//        --lpm-budget seconds (default 30) and its rate over what it did is
//        reported (it falls as the table grows).
// 2. Lookups (Google Benchmark), random destinations inside the routed
//    prefixes (every lookup hits), 1M keys read in order, batches of 32:
//      lpm_bulk     rte_lpm_lookup_bulk on the FIB's table, alone
//      fib_lookup   IpLookup's lookup: FibSnapshot::of (the table pointers
//                   loaded once per batch) + lookup_v4 (rte_lpm_lookup_bulk)
//      fib_path     fib_lookup + for each key entry_of4 and the entry's action
//                   and ECMP member read, as IpLookup::push does per packet
//      iplookup     the whole IpLookup element on 32 real packets per batch
//                   (parse, checksum check, tbl24 prefetch, lookup, member,
//                   TTL + checksum update, MAC rewrite, metadata, emit to a
//                   counting sink)
//    Figure of merit: lpm_bulk time / fib_lookup time (target >= 0.9);
//    lpm_bulk / fib_path is reported too (the entry read is not free: the
//    loads that depend on the lookups hold back misses still in flight).
//
// WEFT_BENCH_BREAKDOWN=1 also times, on the same stream without TCP,
// FpmDecoder alone and FpmDecoder + Rib (where an ingest's time goes).
//
// Defaults: --benchmark_min_time=0.5 --benchmark_repetitions=5
// --benchmark_enable_random_interleaving=true (the lookups compared run
// interleaved, so machine noise hits them alike), medians of CPU time.
// Last line: RESULT fib ingest_routes_per_s=.. ... lookup_ratio=..
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <linux/netlink.h>
#include <linux/nexthop.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pcap/pcap.h>
#include <rte_eal.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_lpm.h>
#include <rte_mbuf.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <thread>
#include <unordered_set>

#include "control/fib_service.hpp"
#include "tables/fib_lookup.hpp"
#include "testing/graph_harness.hpp"
#include "datapath/ip_lookup.hpp"
#include "core/plugin_loader.hpp"
#include "runtime/runtime.hpp"
#include "weft/counter.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using weft::route::Entry;

constexpr unsigned kBurst = 32;
constexpr unsigned kGateways = 4;

// ---------------------------------------------------------------------------
// Prefixes and the FPM stream
// ---------------------------------------------------------------------------

struct Pfx {
  uint32_t ip;  // host order, masked
  uint8_t len;
};

std::vector<Pfx> make_prefixes(size_t n, uint32_t seed) {
  // Share of each length, per mille (sums to 1000).
  const std::vector<std::pair<uint8_t, unsigned>> mix = {
      {24, 600}, {23, 100}, {22, 120}, {21, 45}, {20, 40}, {19, 30}, {18, 15}, {17, 10}, {16, 15},
      {15, 2},   {14, 2},   {13, 1},   {12, 1},  {25, 3},  {26, 3},  {27, 2},  {28, 2},  {29, 2},
      {30, 2},   {31, 1},   {32, 2},   {11, 1},  {10, 1},  {9, 1},   {8, 1}};
  std::vector<uint8_t> table;
  for (auto [len, share] : mix) table.insert(table.end(), share, len);
  std::mt19937 rng(seed);
  std::unordered_set<uint64_t> seen;
  seen.reserve(n * 2);
  std::vector<Pfx> out;
  out.reserve(n);
  while (out.size() < n) {
    uint8_t len = table[rng() % table.size()];
    uint32_t ip = 0x01000000u + rng() % (0xe0000000u - 0x01000000u);  // 1.0.0.0 .. 223.255.255.255
    ip &= ~0u << (32 - len);
    if (seen.insert((static_cast<uint64_t>(ip) << 8) | len).second) out.push_back({ip, len});
  }
  return out;
}

void put_attr(std::vector<uint8_t>& b, uint16_t type, const void* data, uint16_t len) {
  nlattr a{static_cast<uint16_t>(NLA_HDRLEN + len), type};
  const auto* p = reinterpret_cast<const uint8_t*>(&a);
  b.insert(b.end(), p, p + sizeof a);
  const auto* d = static_cast<const uint8_t*>(data);
  b.insert(b.end(), d, d + len);
  b.resize(b.size() + (NLA_ALIGN(len) - len), 0);
}

// One FPM frame around one netlink message built by `body`.
template <class F>
void put_frame(std::vector<uint8_t>& s, uint16_t type, F&& body) {
  size_t start = s.size();
  s.resize(start + 4 + sizeof(nlmsghdr));
  body(s);
  auto* nlh = reinterpret_cast<nlmsghdr*>(s.data() + start + 4);
  std::memset(nlh, 0, sizeof *nlh);
  nlh->nlmsg_len = static_cast<uint32_t>(s.size() - start - 4);
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE;
  size_t flen = s.size() - start;
  s[start] = 1;
  s[start + 1] = 1;
  s[start + 2] = static_cast<uint8_t>(flen >> 8);
  s[start + 3] = static_cast<uint8_t>(flen);
}

void nexthop_frames(std::vector<uint8_t>& s) {
  for (uint32_t g = 0; g < kGateways; g++)
    put_frame(s, RTM_NEWNEXTHOP, [&](std::vector<uint8_t>& b) {
      nhmsg nh{};
      nh.nh_family = AF_INET;
      nh.nh_protocol = RTPROT_STATIC;
      const auto* p = reinterpret_cast<const uint8_t*>(&nh);
      b.insert(b.end(), p, p + sizeof nh);
      uint32_t id = 100 + g, oif = 1 + g, gw = htonl(0xc0000201u + g);  // 192.0.2.1..4
      put_attr(b, NHA_ID, &id, 4);
      put_attr(b, NHA_GATEWAY, &gw, 4);
      put_attr(b, NHA_OIF, &oif, 4);
    });
}

void route_frame(std::vector<uint8_t>& s, const Pfx& pfx, uint32_t nhid) {
  put_frame(s, RTM_NEWROUTE, [&](std::vector<uint8_t>& b) {
    rtmsg r{};
    r.rtm_family = AF_INET;
    r.rtm_dst_len = pfx.len;
    r.rtm_table = RT_TABLE_MAIN;
    r.rtm_protocol = RTPROT_BGP;
    r.rtm_type = RTN_UNICAST;
    const auto* p = reinterpret_cast<const uint8_t*>(&r);
    b.insert(b.end(), p, p + sizeof r);
    uint32_t dst = htonl(pfx.ip), metric = 20;
    put_attr(b, RTA_DST, &dst, 4);
    put_attr(b, RTA_PRIORITY, &metric, 4);
    put_attr(b, RTA_NH_ID, &nhid, 4);
  });
}

std::vector<uint8_t> fpm_stream(const std::vector<Pfx>& pfx) {
  std::vector<uint8_t> s;
  s.reserve(pfx.size() * 60 + 4096);
  nexthop_frames(s);
  for (size_t i = 0; i < pfx.size(); i++) route_frame(s, pfx[i], 100 + static_cast<uint32_t>(i % kGateways));
  return s;
}

// Random destinations inside the routed prefixes (host order).
std::vector<uint32_t> keys_in(const std::vector<Pfx>& pfx, size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint32_t> keys(n);
  for (auto& k : keys) {
    const Pfx& p = pfx[rng() % pfx.size()];
    k = p.ip | (rng() & (p.len == 0 ? ~0u : ~(~0u << (32 - p.len))));
  }
  return keys;
}

// A 64-byte Ethernet/IPv4/UDP packet to dst (host order), TTL 64.
void build_packet(uint8_t* d, uint32_t dst) {
  std::memset(d, 0, 64);
  auto* eth = reinterpret_cast<rte_ether_hdr*>(d);
  eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
  ip->version_ihl = 0x45;
  ip->total_length = rte_cpu_to_be_16(50);
  ip->next_proto_id = IPPROTO_UDP;
  ip->time_to_live = 64;
  ip->src_addr = rte_cpu_to_be_32(0x0a000001);
  ip->dst_addr = rte_cpu_to_be_32(dst);
  ip->hdr_checksum = rte_ipv4_cksum(ip);
}

void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size() || std::fclose(f) != 0)
    throw std::runtime_error("cannot write " + path);
}

// --write-stream=PATH --write-pcap=PCAP (for bench/fib-loss.py): PATH.base
// holds the next hops and a default route via the first, PATH the routes;
// PCAP 4096 packets to destinations inside the routes.
void write_inputs(const std::vector<Pfx>& pfx, const std::string& path, const std::string& pcap_path) {
  std::vector<uint8_t> base;
  nexthop_frames(base);
  route_frame(base, Pfx{0, 0}, 100);
  write_file(path + ".base", base);
  std::vector<uint8_t> routes;
  routes.reserve(pfx.size() * 60);
  for (size_t i = 0; i < pfx.size(); i++) route_frame(routes, pfx[i], 100 + static_cast<uint32_t>(i % kGateways));
  write_file(path, routes);
  pcap_t* dead = pcap_open_dead(DLT_EN10MB, 65535);
  pcap_dumper_t* dump = dead ? pcap_dump_open(dead, pcap_path.c_str()) : nullptr;
  if (!dump) throw std::runtime_error("cannot write " + pcap_path);
  uint8_t pkt[64];
  for (uint32_t key : keys_in(pfx, 4096, 7)) {
    build_packet(pkt, key);
    pcap_pkthdr h{};
    h.caplen = h.len = sizeof pkt;
    pcap_dump(reinterpret_cast<u_char*>(dump), &h, pkt);
  }
  pcap_dump_close(dump);
  pcap_close(dead);
}

// ---------------------------------------------------------------------------
// Bench-only sink
// ---------------------------------------------------------------------------

class BenchSink final : public weft::Element {
 public:
  static const weft::ElementClass& klass() {
    static const weft::ElementClass k = weft::ElementClass::make<BenchSink>("BenchSink")
                                            .describe("Counts what it receives and frees nothing (benchmarks only).")
                                            .input("in");
    return k;
  }
  void push(uint16_t, weft::Batch& b) override {
    received.add(b.count);
    b.clear();
  }
  weft::Counter received;
};

std::string graph_yaml(size_t routes) {
  std::string y = "name: bench_fib\nservices:\n  fib:\n    class: Fib\n    listen: \"127.0.0.1:0\"\n";
  y += "    max_routes: " + std::to_string(routes + 1024) + "\n    tbl8: 65536\n    max_routes6: 16\n";
  y += "    tbl8_6: 16\n    quiet: 5\n    grace: 60\n    interfaces:\n";
  for (unsigned g = 0; g < kGateways; g++)
    y += "      - {ifindex: " + std::to_string(1 + g) + ", output: o" + std::to_string(g) + ", mac: \"02:00:00:00:01:0" +
         std::to_string(g) + "\"}\n";
  y += "    neighbors:\n";
  for (unsigned g = 0; g < kGateways; g++)
    y += "      - {ip: 192.0.2." + std::to_string(1 + g) + ", mac: \"02:00:00:00:00:0" + std::to_string(g) + "\"}\n";
  y += "elements:\n  lookup: {class: IpLookup, fib: fib, outputs: [o0, o1, o2, o3]}\n";
  for (unsigned g = 0; g < kGateways; g++) y += "  s" + std::to_string(g) + ": BenchSink\n";
  y += "connections:\n";
  for (unsigned g = 0; g < kGateways; g++) y += "  - lookup[o" + std::to_string(g) + "] -> s" + std::to_string(g) + "\n";
  return y;
}

// ---------------------------------------------------------------------------
// State shared with the lookup benchmarks
// ---------------------------------------------------------------------------

struct World {
  std::unique_ptr<weft::GraphHarness> harness;
  std::shared_ptr<weft::route::FibControl> svc;
  const weft::route::FibTable* table = nullptr;
  std::vector<uint32_t> keys;  // host order, all inside routed prefixes
  rte_mempool* pool = nullptr;
  std::vector<rte_mbuf*> packets;
} g;

void BM_lpm_bulk(benchmark::State& state) {
  const rte_lpm* lpm = g.table->v4.load();
  const size_t nkeys = g.keys.size();
  uint32_t hops[kBurst];
  uint64_t acc = 0;
  size_t i = 0;
  for (auto _ : state) {
    rte_lpm_lookup_bulk(lpm, &g.keys[i], hops, kBurst);
    for (unsigned k = 0; k < kBurst; k++) acc += hops[k];
    i += kBurst;
    if (i + kBurst > nkeys) i = 0;
  }
  benchmark::DoNotOptimize(acc);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kBurst);
}

void BM_fib_lookup(benchmark::State& state) {
  weft::route::Fib& fib = g.svc->fib();
  const size_t nkeys = g.keys.size();
  uint32_t hops[kBurst];
  uint64_t acc = 0;
  size_t i = 0;
  for (auto _ : state) {
    const auto snap = weft::route::FibSnapshot::of(fib, *g.table);
    weft::route::lookup_v4(snap, &g.keys[i], hops, kBurst);
    for (unsigned k = 0; k < kBurst; k++) acc += hops[k];
    i += kBurst;
    if (i + kBurst > nkeys) i = 0;
  }
  benchmark::DoNotOptimize(acc);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kBurst);
}

void BM_fib_path(benchmark::State& state) {
  weft::route::Fib& fib = g.svc->fib();
  const size_t nkeys = g.keys.size();
  uint32_t hops[kBurst];
  uint64_t acc = 0;
  size_t i = 0;
  for (auto _ : state) {
    const auto snap = weft::route::FibSnapshot::of(fib, *g.table);
    weft::route::lookup_v4(snap, &g.keys[i], hops, kBurst);
    for (unsigned k = 0; k < kBurst; k++) {
      const Entry* e = weft::route::entry_of4(snap, hops[k]);
      if (!e || e->action != weft::route::Action::Forward) continue;
      const weft::route::Member& m = e->n_buckets > 1 ? weft::route::pick_member(*e, g.keys[i + k]) : e->members[0];
      acc += m.iface + m.dst_mac[5];
    }
    i += kBurst;
    if (i + kBurst > nkeys) i = 0;
  }
  benchmark::DoNotOptimize(acc);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kBurst);
}

void reset_ttl() {
  for (auto* m : g.packets) {
    auto* ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr*, sizeof(rte_ether_hdr));
    ip->time_to_live = 255;
    ip->hdr_checksum = 0;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
  }
}

void BM_iplookup(benchmark::State& state) {
  weft::Element& lookup = g.harness->element("lookup");
  const size_t n = g.packets.size();
  weft::Batch b;
  size_t i = 0, rounds = 0;
  uint64_t before = 0;
  for (unsigned s = 0; s < kGateways; s++)
    before += static_cast<BenchSink&>(g.harness->element("s" + std::to_string(s))).received.get();
  reset_ttl();  // the packets are reused from run to run
  for (auto _ : state) {
    std::memcpy(b.pkts, &g.packets[i], kBurst * sizeof(rte_mbuf*));
    b.count = kBurst;
    lookup.push(0, b);
    lookup.flush_staged();
    i += kBurst;
    if (i + kBurst > n) {
      i = 0;
      if (++rounds == 250) {  // TTL 255 lasts 254 passes
        state.PauseTiming();
        reset_ttl();
        rounds = 0;
        state.ResumeTiming();
      }
    }
  }
  uint64_t after = 0;
  for (unsigned s = 0; s < kGateways; s++)
    after += static_cast<BenchSink&>(g.harness->element("s" + std::to_string(s))).received.get();
  if (after - before != static_cast<uint64_t>(state.iterations()) * kBurst) state.SkipWithError("packets were dropped");
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kBurst);
}

class Collect : public benchmark::ConsoleReporter {
 public:
  std::map<std::string, double> ns_per_key;  // median (or last) per family
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs) {
      if (r.error_occurred) continue;
      std::string name = r.run_name.function_name;
      double ns = r.GetAdjustedCPUTime() * (r.time_unit == benchmark::kNanosecond ? 1 : 1e3) / kBurst;
      if (r.run_type == Run::RT_Aggregate) {
        if (r.aggregate_name == "median") ns_per_key[name] = ns, have_median_[name] = true;
      } else if (!have_median_[name]) {
        ns_per_key[name] = ns;
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }

 private:
  std::map<std::string, bool> have_median_;
};

bool has_flag(int argc, char** argv, const char* flag) {
  for (int i = 1; i < argc; i++)
    if (std::strncmp(argv[i], flag, std::strlen(flag)) == 0) return true;
  return false;
}

std::string flag_value(int argc, char** argv, const char* flag, const std::string& dflt) {
  size_t n = std::strlen(flag);
  for (int i = 1; i < argc; i++)
    if (std::strncmp(argv[i], flag, n) == 0 && argv[i][n] == '=') return argv[i] + n + 1;
  return dflt;
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

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

}  // namespace

int main(int argc, char** argv) {
  const size_t nroutes = std::stoul(flag_value(argc, argv, "--routes", "1000000"));
  const double lpm_budget = std::stod(flag_value(argc, argv, "--lpm-budget", "30"));
  std::vector<char*> args;
  for (int i = 0; i < argc; i++)
    if (std::strncmp(argv[i], "--routes", 8) != 0 && std::strncmp(argv[i], "--lpm-budget", 12) != 0 &&
        std::strncmp(argv[i], "--write-", 8) != 0)
      args.push_back(argv[i]);
  std::string min_time = "--benchmark_min_time=0.5", reps = "--benchmark_repetitions=5",
              interleave = "--benchmark_enable_random_interleaving=true";
  if (!has_flag(argc, argv, "--benchmark_min_time")) args.push_back(min_time.data());
  if (!has_flag(argc, argv, "--benchmark_repetitions")) args.push_back(reps.data());
  if (!has_flag(argc, argv, "--benchmark_enable_random_interleaving")) args.push_back(interleave.data());
  int bargc = static_cast<int>(args.size());
  args.push_back(nullptr);
  benchmark::Initialize(&bargc, args.data());
  if (benchmark::ReportUnrecognizedArguments(bargc, args.data())) return 1;

  const std::string write_stream = flag_value(argc, argv, "--write-stream", "");
  if (!write_stream.empty()) {
    try {
      write_inputs(make_prefixes(nroutes, 20261121), write_stream, flag_value(argc, argv, "--write-pcap", "traffic.pcap"));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "bench_fib: %s\n", e.what());
      return 1;
    }
    return 0;
  }
  weft::PluginLoader loader;  // no plugins: the route elements are compiled in
  try {
    int cpu = bench_cpu();
    weft::Runtime::init_eal({"bench_fib", "--no-huge", "-m", "1024", "--no-shconf", "--no-pci",
                             "--file-prefix=weftbench-fib-" + std::to_string(::getpid()),
                             "--lcores=0@" + std::to_string(cpu), "--log-level=*:warning", "--no-telemetry"});
    loader.add_service_class(weft::route::FibService::klass(), "bench_fib");
    loader.add_class(weft::route::IpLookup::klass(), "bench_fib");
    loader.add_class(BenchSink::klass(), "bench_fib");
    g.pool = weft::create_packet_pool("bench_fib_pool", 8191, 0, static_cast<int>(rte_socket_id()), true);
    if (!g.pool) throw std::runtime_error("cannot create the packet pool");
    g.harness = std::make_unique<weft::GraphHarness>(graph_yaml(nroutes), loader, g.pool);
    g.svc = static_cast<weft::route::FibService&>(g.harness->service("fib")).control();

    // ---- 1. ingest ----
    std::printf("# generating %zu IPv4 prefixes and their FPM stream\n", nroutes);
    std::fflush(stdout);
    std::vector<Pfx> pfx = make_prefixes(nroutes, 20261121);
    std::vector<uint8_t> stream = fpm_stream(pfx);
    std::printf("# stream: %zu bytes, %zu frames (4 nexthops + %zu routes, one per frame)\n", stream.size(),
                pfx.size() + kGateways, pfx.size());

    if (std::getenv("WEFT_BENCH_BREAKDOWN")) {
      weft::route::FpmDecoder d1;
      uint64_t n = 0;
      d1.on_route = [&](const weft::route::RouteUpdate&) { n++; };
      auto t = Clock::now();
      for (size_t off = 0; off < stream.size(); off += 262144)
        d1.feed(stream.data() + off, std::min<size_t>(262144, stream.size() - off));
      std::printf("breakdown: decoder alone %.3f s (%llu routes)\n", seconds_since(t), (unsigned long long)n);
      weft::route::FpmDecoder d2;
      weft::route::Rib rib;
      rib.reserve(nroutes);
      d2.on_route = [&](const weft::route::RouteUpdate& u) { rib.apply(u); };
      d2.on_nexthop = [&](const weft::route::NexthopUpdate& u) { rib.apply(u); };
      n = 0;
      rib.on_change = [&](const weft::route::Rib::Key&, const weft::route::Resolved*) { n++; };
      t = Clock::now();
      for (size_t off = 0; off < stream.size(); off += 262144)
        d2.feed(stream.data() + off, std::min<size_t>(262144, stream.size() - off));
      std::printf("breakdown: decoder + rib %.3f s (%llu changes)\n", seconds_since(t), (unsigned long long)n);
    }
    boost::asio::io_context io;
    g.svc->start(io);
    uint16_t port = g.svc->port();
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("connect failed");
    while (!g.svc->connected()) io.run_for(std::chrono::milliseconds(1));
    auto t0 = Clock::now();
    std::thread writer([&] {
      size_t off = 0;
      while (off < stream.size()) {
        ssize_t w = ::send(fd, stream.data() + off, stream.size() - off, MSG_NOSIGNAL);
        if (w <= 0) break;
        off += static_cast<size_t>(w);
      }
    });
    weft::route::Fib& fib = g.svc->fib();
    while (fib.routes4() < nroutes && seconds_since(t0) < 600) io.run_for(std::chrono::milliseconds(5));
    double ingest_s = seconds_since(t0);
    writer.join();
    if (fib.routes4() != nroutes)
      throw std::runtime_error("only " + std::to_string(fib.routes4()) + " routes arrived in the FIB");
    const double ingest_rate = static_cast<double>(nroutes) / ingest_s;
    auto st = g.svc->status();
    std::printf("ingest: %zu routes over FPM/TCP into the FIB in %.3f s: %.0f routes/s (%s frames, %zu entries)\n",
                nroutes, ingest_s, ingest_rate, st["fpm"]["frames"].dump().c_str(), fib.entries_used());
    g.table = fib.table(254);

    // Reference 1: the FIB's own table writer alone, same prefixes and order.
    double writer_rate;
    {
      weft::route::Lpm4 w("benchw", SOCKET_ID_ANY, static_cast<uint32_t>(nroutes + 1024), 65536, nullptr);
      auto t = Clock::now();
      for (size_t i = 0; i < pfx.size(); i++) w.add(pfx[i].ip, pfx[i].len, static_cast<uint32_t>(i % kGateways));
      double s = seconds_since(t);
      writer_rate = static_cast<double>(nroutes) / s;
      std::printf("reference: Lpm4::add alone (no FPM, no RIB): %.3f s, %.0f routes/s\n", s, writer_rate);
    }
    // Reference 2: rte_lpm_add, time-boxed.
    double lpm_rate;
    size_t lpm_done = 0;
    double lpm_s;
    {
      rte_lpm_config cfg{static_cast<uint32_t>(nroutes + 1024), 65536, 0};
      rte_lpm* l = rte_lpm_create("benchdpdk", SOCKET_ID_ANY, &cfg);
      if (!l) throw std::runtime_error("rte_lpm_create for the reference failed");
      auto t = Clock::now();
      while (lpm_done < pfx.size()) {
        rte_lpm_add(l, pfx[lpm_done].ip, pfx[lpm_done].len, static_cast<uint32_t>(lpm_done % kGateways));
        lpm_done++;
        if (lpm_done % 1024 == 0 && seconds_since(t) > lpm_budget) break;
      }
      lpm_s = seconds_since(t);
      lpm_rate = static_cast<double>(lpm_done) / lpm_s;
      std::printf("reference: rte_lpm_add: %zu of %zu routes in %.2f s: %.0f routes/s over those%s\n", lpm_done,
                  nroutes, lpm_s, lpm_rate, lpm_done < nroutes ? " (time budget reached)" : "");
      rte_lpm_free(l);
    }

    // ---- 2. lookups ----
    g.keys = keys_in(pfx, 1u << 20, 99);
    // Packets for the element run: 4096 different destinations.
    for (unsigned i = 0; i < 4096; i++) {
      rte_mbuf* m = rte_pktmbuf_alloc(g.pool);
      if (!m) throw std::runtime_error("pool empty");
      build_packet(reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, 64)), g.keys[i * 97 % g.keys.size()]);
      g.packets.push_back(m);
    }
    reset_ttl();
    benchmark::RegisterBenchmark("lpm_bulk", BM_lpm_bulk)->Unit(benchmark::kNanosecond);
    benchmark::RegisterBenchmark("fib_lookup", BM_fib_lookup)->Unit(benchmark::kNanosecond);
    benchmark::RegisterBenchmark("fib_path", BM_fib_path)->Unit(benchmark::kNanosecond);
    benchmark::RegisterBenchmark("iplookup", BM_iplookup)->Unit(benchmark::kNanosecond);

    std::printf("# lookups on CPU %d: %zu routes, random keys inside them, batch %u; times per batch\n", cpu, nroutes,
                kBurst);
    std::fflush(stdout);
    Collect rep;
    benchmark::RunSpecifiedBenchmarks(&rep);

    double lpm_ns = rep.ns_per_key["lpm_bulk"], look_ns = rep.ns_per_key["fib_lookup"],
           path_ns = rep.ns_per_key["fib_path"], el_ns = rep.ns_per_key["iplookup"];
    weft::Element& lookup = g.harness->element("lookup");
    std::string drops;
    for (size_t r = 0; r < lookup.drop_reason_count(); r++)
      if (lookup.drops(r)) drops += " " + lookup.element_class().drops[r].name + "=" + std::to_string(lookup.drops(r));
    if (!drops.empty()) std::printf("IpLookup drops:%s\n", drops.c_str());
    std::printf("\nsummary (%zu IPv4 routes):\n", nroutes);
    std::printf("  ingest over FPM/TCP: %.0f routes/s (target >= 500000); %.2fx rte_lpm_add's rate over its first %zu "
                "routes; %.2f of Lpm4::add alone\n",
                ingest_rate, ingest_rate / lpm_rate, lpm_done, ingest_rate / writer_rate);
    if (lpm_ns > 0 && look_ns > 0)
      std::printf("  lookups: rte_lpm_lookup_bulk %.2f ns/key (%.1f M/s); IpLookup's lookup (lookup_v4) %.2f ns/key "
                  "(%.1f M/s): ratio %.3f (target >= 0.9)\n",
                  lpm_ns, 1e3 / lpm_ns, look_ns, 1e3 / look_ns, lpm_ns / look_ns);
    if (lpm_ns > 0 && path_ns > 0)
      std::printf("  lookup + next-hop entry read (action, ECMP member): %.2f ns/key (%.1f M/s): %.3f of the bulk "
                  "lookup alone\n",
                  path_ns, 1e3 / path_ns, lpm_ns / path_ns);
    if (el_ns > 0)
      std::printf("  whole IpLookup element: %.2f ns/packet (%.1f Mpps) on one core\n", el_ns, 1e3 / el_ns);
    std::printf("RESULT fib routes=%zu ingest_routes_per_s=%.0f ingest_s=%.3f lpm4_writer_routes_per_s=%.0f "
                "rte_lpm_add_routes_per_s=%.0f rte_lpm_add_done=%zu rte_lpm_add_s=%.2f ingest_vs_rte_lpm_add=%.2f "
                "lpm_bulk_ns=%.2f fib_lookup_ns=%.2f lookup_ratio=%.3f fib_path_ns=%.2f path_ratio=%.3f "
                "iplookup_ns_per_pkt=%.2f\n",
                nroutes, ingest_rate, ingest_s, writer_rate, lpm_rate, lpm_done, lpm_s, ingest_rate / lpm_rate, lpm_ns,
                look_ns, look_ns > 0 ? lpm_ns / look_ns : 0.0, path_ns, path_ns > 0 ? lpm_ns / path_ns : 0.0, el_ns);
    ::close(fd);
    for (auto* m : g.packets) rte_pktmbuf_free(m);
    g.packets.clear();
    g.svc.reset();
    g.harness.reset();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_fib: %s\n", e.what());
    return 1;
  }
  benchmark::Shutdown();
  return 0;
}

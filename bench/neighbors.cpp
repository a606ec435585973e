// bench/neighbors.cpp — dynamic neighbours (an Interfaces service) against
// static ones (the Fib's `neighbors:`), and the service's resolution latency.
//
//   bench_neighbors [--hops=16,1024] [--resolutions=N] [--benchmark_* flags]
//
// 1. Forwarding (Google Benchmark, in-process through weft::GraphHarness).
//    For each N in --hops, one graph holds both variants side by side:
//
//      ports p0, p1 (net_null vdevs); services:
//        ifaces   Interfaces: a (p0, 10.0.0.1/16), b (p1, 10.1.0.1/16), and
//                 the N next hops (hosts of both subnets, half on each) as
//                 static neighbours in its neighbour table (rte_hash LF)
//        fib_s    Fib, interfaces_from: ifaces, neighbors: the same N hosts
//                 with the same MACs (the Fib's static neighbour table)
//        fib_d    Fib, interfaces_from: ifaces, no neighbors
//      elements:
//        static   IpLookup fib: fib_s (no `interfaces`): MACs from fib_s
//        dynamic  IpLookup fib: fib_d, interfaces: ifaces: MACs from the
//                 Interfaces service's table (NeighborCache::lookup), MTU
//                 checked
//
//    Both Fibs route the two connected subnets (two routes, from the
//    Interfaces service); every packet's destination is one of the N hosts,
//    so it is its own next hop (a direct member): N next hops over two
//    routes. 4096 packets of 64 bytes, destinations drawn at random among the
//    N, pushed 32 at a time into the element (push + flush_staged, as a
//    worker does), into counting sinks. The same packets serve both
//    variants (TTLs reset between passes, off the clock).
//    Google Benchmark runs every variant --benchmark_repetitions (7) times
//    of --benchmark_min_time (0.3 s) in a random interleaved order (static
//    and dynamic alternate in one run); medians of CPU time per packet.
//    Figure: rate ratio dynamic/static = static ns / dynamic ns (target
//    >= 0.97). A run that loses a packet fails.
//    Also, on the same destinations in the same order, the neighbour tables
//    alone: fib_neighbors/N (the Fib's static table), cache_lookup/N
//    (NeighborCache::lookup, as IpLookup calls it per packet) and
//    cache_bulk/N (the same rte_hash read with rte_hash_lookup_bulk).
//
// 2. Resolution latency, InterfacesCore driven directly (as
//    tests/unit/test_neighbors.cpp does), one interface, --resolutions
//    (default 400) distinct neighbours, one at a time:
//      timed   the service runs on its own thread (start(io), as in
//              routerd: woken by a worker's hold() or punt(), its 5 ms timer
//              for the neighbour timers); the benchmark thread plays the
//              worker and the peer: hold() of a first packet to an unknown
//              neighbour, wait for the ARP request on the interface's tx
//              ring, punt() the ARP reply at once, wait for the held packet
//              on the tx ring. Time from hold() to the released packet.
//              Holds land at a random phase of the timer (a random 0-10 ms
//              pause between resolutions). This is the service's own added
//              latency: two wake-ups of its thread (eventfd), two polls. It
//              EXCLUDES the wire and the peer (the peer here answers in
//              microseconds, on the same machine, through the rings).
//      cpu     the same exchange with poll() called by hand right after
//              hold() and after punt(): the control thread's processing
//              alone, no timer wait.
//    Median and p99 in microseconds. max_requests (requests per second) is
//    raised to 1e6 so the rate limit does not pace this sequential run (at
//    its default, 200/s, it would not either: one request per resolution).
//
// Not measured here: the host path under flood (issue 15's third benchmark).
//
// Last line: RESULT neighbors hops=.. static_ns=.. dynamic_ns=.. ratio=.. ...
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <rte_eal.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_hash.h>
#include <rte_ring.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "control/fib_service.hpp"
#include "control/interfaces_core.hpp"
#include "control/interfaces_service.hpp"
#include "core/plugin_loader.hpp"
#include "datapath/ip_lookup.hpp"
#include "runtime/runtime.hpp"
#include "tables/arp_nd.hpp"
#include "testing/graph_harness.hpp"
#include "weft/counter.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using namespace weft::route;

constexpr unsigned kBurst = 32;
constexpr unsigned kPackets = 4096;

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

// ---------------------------------------------------------------------------
// Next hops and the graph
// ---------------------------------------------------------------------------

// Host i of the N next hops (network order): even i in 10.0.0.0/16 (a), odd
// in 10.1.0.0/16 (b), from .0.2 upwards (10.x.0.1 is the router's).
uint32_t host(unsigned i) {
  const unsigned k = i / 2 + 2;
  return htonl((10u << 24) | ((i & 1u) << 16) | ((k >> 8) << 8) | (k & 0xffu));
}
std::string ip_text(uint32_t be) {
  char s[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &be, s, sizeof s);
  return s;
}
std::string mac_text(unsigned i) {
  char s[18];
  std::snprintf(s, sizeof s, "02:00:00:%02x:%02x:%02x", (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff);
  return s;
}

std::string graph_yaml(unsigned n) {
  const std::string sfx = std::to_string(n);
  std::string y = "name: bench_neighbors_" + sfx + "\nports:\n  p0: net_null0\n  p1: net_null1\nservices:\n";
  y += "  ifaces:\n    class: Interfaces\n    max_neighbors: " + std::to_string(std::max(64u, 2 * n)) + "\n";
  y += "    interfaces:\n";
  y += "      - {name: a, port: p0, mac: \"02:aa:00:00:00:01\", addresses: [10.0.0.1/16]}\n";
  y += "      - {name: b, port: p1, mac: \"02:bb:00:00:00:01\", addresses: [10.1.0.1/16]}\n";
  y += "    neighbors:\n";
  for (unsigned i = 0; i < n; i++)
    y += "      - {interface: " + std::string(i & 1 ? "b" : "a") + ", ip: " + ip_text(host(i)) + ", mac: \"" +
         mac_text(i) + "\"}\n";
  const std::string sizes = "    max_routes: 1024\n    tbl8: 64\n    max_routes6: 16\n    tbl8_6: 16\n"
                            "    listen: \"127.0.0.1:0\"\n    interfaces_from: ifaces\n";
  y += "  fib_s:\n    class: Fib\n" + sizes + "    neighbors:\n";
  for (unsigned i = 0; i < n; i++) y += "      - {ip: " + ip_text(host(i)) + ", mac: \"" + mac_text(i) + "\"}\n";
  y += "  fib_d:\n    class: Fib\n" + sizes;
  y += "elements:\n";
  y += "  static: {class: IpLookup, fib: fib_s, outputs: [a, b]}\n";
  y += "  dynamic: {class: IpLookup, fib: fib_d, interfaces: ifaces, outputs: [a, b]}\n";
  y += "  ss_a: BenchSink\n  ss_b: BenchSink\n  sd_a: BenchSink\n  sd_b: BenchSink\n";
  y += "connections:\n  - static[a] -> ss_a\n  - static[b] -> ss_b\n  - dynamic[a] -> sd_a\n  - dynamic[b] -> sd_b\n";
  return y;
}

// A 64-byte Ethernet/IPv4/UDP packet to dst (network order).
void build_packet(uint8_t* d, uint32_t dst) {
  std::memset(d, 0, 64);
  auto* eth = reinterpret_cast<rte_ether_hdr*>(d);
  eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
  ip->version_ihl = 0x45;
  ip->total_length = rte_cpu_to_be_16(50);
  ip->next_proto_id = IPPROTO_UDP;
  ip->time_to_live = 64;
  ip->src_addr = rte_cpu_to_be_32(0x0a020001);  // 10.2.0.1
  ip->dst_addr = dst;
  ip->hdr_checksum = rte_ipv4_cksum(ip);
}

struct Setup {
  unsigned hops = 0;
  std::unique_ptr<weft::GraphHarness> harness;
  std::vector<rte_mbuf*> packets;
  std::vector<uint32_t> dst;     // the packets' destinations (network order), in order
  std::vector<uint16_t> iface;   // and their interface ids in the Interfaces service
  const NeighborTable* fib_neighbors = nullptr;  // fib_s's static table
  const NeighborCache* cache = nullptr;          // the Interfaces service's table
};

rte_mempool* g_pool = nullptr;
std::vector<std::unique_ptr<Setup>> g_setups;

void reset_ttl(Setup& s) {
  for (auto* m : s.packets) {
    auto* ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr*, sizeof(rte_ether_hdr));
    ip->time_to_live = 255;
    ip->hdr_checksum = 0;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
  }
}

uint64_t sunk(Setup& s, const std::string& variant) {
  const std::string p = variant == "static" ? "ss_" : "sd_";
  return static_cast<BenchSink&>(s.harness->element(p + "a")).received.get() +
         static_cast<BenchSink&>(s.harness->element(p + "b")).received.get();
}

// One pass of `variant` over 32-packet batches; the figure is per batch.
void BM_lookup(benchmark::State& state, Setup* s, std::string variant) {
  weft::Element& lookup = s->harness->element(variant);
  const size_t n = s->packets.size();
  weft::Batch b;
  size_t i = 0, rounds = 0;
  const uint64_t before = sunk(*s, variant);
  reset_ttl(*s);  // the packets are shared by the variants and reused from run to run
  for (auto _ : state) {
    std::memcpy(b.pkts, &s->packets[i], kBurst * sizeof(rte_mbuf*));
    b.count = kBurst;
    lookup.push(0, b);
    lookup.flush_staged();
    i += kBurst;
    if (i + kBurst > n) {
      i = 0;
      if (++rounds == 250) {  // TTL 255 lasts 254 passes
        state.PauseTiming();
        reset_ttl(*s);
        rounds = 0;
        state.ResumeTiming();
      }
    }
  }
  if (sunk(*s, variant) - before != static_cast<uint64_t>(state.iterations()) * kBurst)
    state.SkipWithError("packets were dropped");
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kBurst);
}

// Where the difference goes: the two neighbour tables alone, on the same
// destinations in the same order, 32 per iteration.
void BM_fib_neighbors(benchmark::State& state, Setup* s) {
  const size_t n = s->dst.size();
  size_t i = 0;
  uint64_t acc = 0, missed = 0;
  for (auto _ : state) {
    const NeighborTable* nb = s->fib_neighbors;
    for (unsigned k = 0; k < kBurst; k++) {
      if (const uint8_t* mac = nb->find(AF_INET, reinterpret_cast<const uint8_t*>(&s->dst[i + k]))) acc += mac[5];
      else missed++;
    }
    i += kBurst;
    if (i + kBurst > n) i = 0;
  }
  benchmark::DoNotOptimize(acc);
  if (missed) state.SkipWithError("a next hop was not in the Fib's table");
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kBurst);
}

void BM_cache_lookup(benchmark::State& state, Setup* s) {
  const size_t n = s->dst.size();
  size_t i = 0;
  uint64_t acc = 0, missed = 0;
  uint8_t mac[6];
  for (auto _ : state) {
    const uint64_t now = rte_rdtsc();
    for (unsigned k = 0; k < kBurst; k++) {
      if (s->cache->lookup(s->iface[i + k], AF_INET, reinterpret_cast<const uint8_t*>(&s->dst[i + k]), mac, now))
        acc += mac[5];
      else
        missed++;
    }
    i += kBurst;
    if (i + kBurst > n) i = 0;
  }
  benchmark::DoNotOptimize(acc);
  if (missed) state.SkipWithError("a next hop was not in the Interfaces service's table");
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kBurst);
}

// The same table read with rte_hash_lookup_bulk (what a batched lookup would cost).
void BM_cache_bulk(benchmark::State& state, Setup* s) {
  const size_t n = s->dst.size();
  size_t i = 0;
  uint64_t acc = 0, missed = 0;
  NeighborKey keys[kBurst];
  const void* kp[kBurst];
  int32_t pos[kBurst];
  for (unsigned k = 0; k < kBurst; k++) kp[k] = &keys[k];
  const NeighborEntry* entries = s->cache->entries();
  for (auto _ : state) {
    for (unsigned k = 0; k < kBurst; k++) {
      keys[k] = NeighborKey{};
      keys[k].iface = s->iface[i + k];
      keys[k].family = AF_INET;
      std::memcpy(keys[k].addr, &s->dst[i + k], 4);
    }
    rte_hash_lookup_bulk(s->cache->hash(), kp, kBurst, pos);
    for (unsigned k = 0; k < kBurst; k++) {
      if (pos[k] < 0) {
        missed++;
        continue;
      }
      acc += entries[pos[k]].mac.load(std::memory_order_acquire) & 0xff;
    }
    i += kBurst;
    if (i + kBurst > n) i = 0;
  }
  benchmark::DoNotOptimize(acc);
  if (missed) state.SkipWithError("a next hop was not in the Interfaces service's table");
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kBurst);
}

class Collect : public benchmark::ConsoleReporter {
 public:
  std::map<std::string, double> ns_per_pkt;  // median per benchmark name
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs) {
      if (r.error_occurred) {
        errors++;
        continue;
      }
      const std::string name = r.run_name.function_name;
      const double ns = r.GetAdjustedCPUTime() * (r.time_unit == benchmark::kNanosecond ? 1 : 1e3) / kBurst;
      if (r.run_type == Run::RT_Aggregate) {
        if (r.aggregate_name == "median") ns_per_pkt[name] = ns, have_median_[name] = true;
      } else if (!have_median_[name]) {
        ns_per_pkt[name] = ns;
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }
  unsigned errors = 0;

 private:
  std::map<std::string, bool> have_median_;
};

// ---------------------------------------------------------------------------
// Resolution latency
// ---------------------------------------------------------------------------

const weft::Mac kOurs{{0x02, 0xaa, 0, 0, 0, 0x01}};

InterfacesConfig latency_config(unsigned neighbours) {
  InterfacesConfig c;
  InterfacesConfig::Iface i;
  i.name = "a";
  i.port = "p0";
  i.mac = kOurs;
  i.addresses = {*weft::Prefix::parse("10.0.0.1/16")};
  c.interfaces.push_back(i);
  c.max_neighbors = std::max(64u, neighbours + 64);
  c.max_requests_per_s = 1e6;
  return c;
}

// The first packet to `dst`, as IpLookup hands it over (TTL already
// decremented, the pending next hop set).
rte_mbuf* first_packet(uint32_t dst, uint16_t iface) {
  rte_mbuf* m = rte_pktmbuf_alloc(g_pool);
  if (!m) throw std::runtime_error("pool empty");
  build_packet(reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, 64)), dst);
  m->port = 0xfff0;
  PendingNeighbor p{};
  std::memcpy(p.addr, &dst, 4);
  p.iface = iface;
  p.family = AF_INET;
  pending_slot().set(m, p);
  return m;
}

// The peer's ARP reply to a request, as ArpNd punts it (the interface set).
rte_mbuf* reply_to(const nd::Arp& req, unsigned idx, uint16_t iface) {
  rte_mbuf* r = rte_pktmbuf_alloc(g_pool);
  if (!r) throw std::runtime_error("pool empty");
  rte_pktmbuf_append(r, nd::kArpFrame);
  weft::Mac peer{};  // 02:00:00:xx:xx:xx, as mac_text(idx)
  peer.bytes[0] = 0x02;
  peer.bytes[3] = static_cast<uint8_t>(idx >> 16);
  peer.bytes[4] = static_cast<uint8_t>(idx >> 8);
  peer.bytes[5] = static_cast<uint8_t>(idx);
  nd::build_arp(rte_pktmbuf_mtod(r, uint8_t*), RTE_ARP_OP_REPLY, peer, kOurs, peer, req.target_ip, kOurs, req.sender_ip);
  PendingNeighbor p{};
  p.iface = iface;
  pending_slot().set(r, p);
  return r;
}

// Waits (yielding) for the next packet on `ring`; null after 2 s.
rte_mbuf* wait_on(rte_ring* ring, bool yield) {
  const auto give_up = Clock::now() + std::chrono::seconds(2);
  void* m = nullptr;
  while (rte_ring_dequeue(ring, &m) != 0) {
    if (Clock::now() > give_up) return nullptr;
    if (yield) std::this_thread::yield();
  }
  return static_cast<rte_mbuf*>(m);
}

nd::Arp expect_request(rte_mbuf* m, uint32_t dst) {
  if (!m) throw std::runtime_error("no ARP request on the tx ring within 2 s");
  nd::Arp a;
  if (nd::parse_arp(rte_pktmbuf_mtod(m, uint8_t*), m->data_len, a) != nd::Verdict::Ok || a.op != RTE_ARP_OP_REQUEST ||
      a.target_ip != dst)
    throw std::runtime_error("expected an ARP request for " + ip_text(dst) + " on the tx ring");
  rte_pktmbuf_free(m);
  return a;
}

void expect_released(rte_mbuf* got, rte_mbuf* held) {
  if (got != held) throw std::runtime_error(got ? "something else than the held packet on the tx ring"
                                                : "the held packet was not released within 2 s");
  rte_pktmbuf_free(got);
}

struct Stats {
  double median_us, p99_us, max_us;
};
Stats stats_of(std::vector<double> us) {
  std::sort(us.begin(), us.end());
  auto at = [&](double q) { return us[std::min(us.size() - 1, static_cast<size_t>(q * double(us.size())))]; };
  return {at(0.5), at(0.99), us.back()};
}
double us_since(Clock::time_point t) { return std::chrono::duration<double, std::micro>(Clock::now() - t).count(); }

// hold -> request -> reply punted -> released, the service on its own thread (woken, and its timer).
std::vector<double> latency_timed(unsigned count) {
  InterfacesCore core("lat_timed", nullptr, static_cast<int>(rte_socket_id()));
  core.configure(latency_config(count));
  const uint16_t a = core.interfaces()->by_name("a")->id;
  rte_ring* tx = core.tx_ring(a);
  boost::asio::io_context io;
  auto guard = boost::asio::make_work_guard(io);
  core.start(io);  // announces the interface (gratuitous ARP, NA): drained below
  std::thread control([&] { io.run(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  void* junk = nullptr;
  while (rte_ring_dequeue(tx, &junk) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(junk));
  std::vector<double> us;
  std::mt19937 rng(15);
  std::uniform_int_distribution<int> pause_us(0, 10000);
  try {
    for (unsigned i = 0; i < count; i++) {
      const uint32_t dst = host(2 * i);  // all on a
      std::this_thread::sleep_for(std::chrono::microseconds(pause_us(rng)));
      rte_mbuf* m = first_packet(dst, a);
      const auto t0 = Clock::now();
      if (!core.hold(m)) throw std::runtime_error("hold ring full");
      const nd::Arp req = expect_request(wait_on(tx, true), dst);
      if (!core.punt(reply_to(req, i, a))) throw std::runtime_error("punt ring full");
      rte_mbuf* out = wait_on(tx, true);
      us.push_back(us_since(t0));
      expect_released(out, m);
    }
  } catch (...) {
    boost::asio::post(io, [&] { core.stop(); });
    guard.reset();
    control.join();
    throw;
  }
  boost::asio::post(io, [&] { core.stop(); });
  guard.reset();
  control.join();
  if (core.counters().resolved != count || core.counters().released != count)
    throw std::runtime_error("resolved/released counters do not match the resolutions made");
  return us;
}

// The same exchange with poll() called at once: the control thread's work alone.
std::vector<double> latency_cpu(unsigned count) {
  InterfacesCore core("lat_cpu", nullptr, static_cast<int>(rte_socket_id()));
  core.configure(latency_config(count));
  const uint16_t a = core.interfaces()->by_name("a")->id;
  rte_ring* tx = core.tx_ring(a);
  std::vector<double> us;
  for (unsigned i = 0; i < count; i++) {
    const uint32_t dst = host(2 * i);
    rte_mbuf* m = first_packet(dst, a);
    const auto t0 = Clock::now();
    if (!core.hold(m)) throw std::runtime_error("hold ring full");
    core.poll();
    const nd::Arp req = expect_request(wait_on(tx, false), dst);
    if (!core.punt(reply_to(req, i, a))) throw std::runtime_error("punt ring full");
    core.poll();
    rte_mbuf* out = wait_on(tx, false);
    us.push_back(us_since(t0));
    expect_released(out, m);
  }
  if (core.counters().resolved != count || core.counters().released != count)
    throw std::runtime_error("resolved/released counters do not match the resolutions made");
  return us;
}

// ---------------------------------------------------------------------------

bool has_flag(int argc, char** argv, const char* flag) {
  for (int i = 1; i < argc; i++)
    if (std::strncmp(argv[i], flag, std::strlen(flag)) == 0) return true;
  return false;
}

std::string flag_value(int argc, char** argv, const char* flag, const std::string& dflt) {
  const size_t n = std::strlen(flag);
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

}  // namespace

int main(int argc, char** argv) {
  std::vector<unsigned> hops;
  unsigned resolutions = 0;
  try {
    const std::string list = flag_value(argc, argv, "--hops", "16,1024");
    for (size_t p = 0; p < list.size();) {
      size_t q = list.find(',', p);
      if (q == std::string::npos) q = list.size();
      const unsigned long v = std::stoul(list.substr(p, q - p));
      if (v < 1 || v > 100000) throw std::invalid_argument("--hops: 1..100000 each");
      hops.push_back(static_cast<unsigned>(v));
      p = q + 1;
    }
    resolutions = static_cast<unsigned>(std::stoul(flag_value(argc, argv, "--resolutions", "400")));
    if (resolutions < 1 || resolutions > 100000) throw std::invalid_argument("--resolutions: 1..100000");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_neighbors: %s\n", e.what());
    return 2;
  }
  std::vector<char*> args;
  for (int i = 0; i < argc; i++)
    if (std::strncmp(argv[i], "--hops", 6) != 0 && std::strncmp(argv[i], "--resolutions", 13) != 0)
      args.push_back(argv[i]);
  std::string min_time = "--benchmark_min_time=0.3", reps = "--benchmark_repetitions=7",
              interleave = "--benchmark_enable_random_interleaving=true";
  if (!has_flag(argc, argv, "--benchmark_min_time")) args.push_back(min_time.data());
  if (!has_flag(argc, argv, "--benchmark_repetitions")) args.push_back(reps.data());
  if (!has_flag(argc, argv, "--benchmark_enable_random_interleaving")) args.push_back(interleave.data());
  int bargc = static_cast<int>(args.size());
  args.push_back(nullptr);
  benchmark::Initialize(&bargc, args.data());
  if (benchmark::ReportUnrecognizedArguments(bargc, args.data())) return 1;

  weft::PluginLoader loader;  // no plugins: the route classes are compiled in
  try {
    const int cpu = bench_cpu();
    weft::Runtime::init_eal({"bench_neighbors", "--no-huge", "-m", "512", "--no-shconf", "--no-pci",
                             "--file-prefix=weftbench-nb-" + std::to_string(::getpid()),
                             "--lcores=0@" + std::to_string(cpu), "--log-level=*:warning", "--no-telemetry",
                             "--vdev=net_null0", "--vdev=net_null1"});
    loader.add_service_class(FibService::klass(), "bench_neighbors");
    loader.add_service_class(InterfacesService::klass(), "bench_neighbors");
    loader.add_class(IpLookup::klass(), "bench_neighbors");
    loader.add_class(BenchSink::klass(), "bench_neighbors");
    g_pool = weft::create_packet_pool("bench_nb_pool", 32767, 0, static_cast<int>(rte_socket_id()), true);
    if (!g_pool) throw std::runtime_error("cannot create the packet pool");

    // ---- 1. forwarding, static vs dynamic ----
    for (unsigned n : hops) {
      auto s = std::make_unique<Setup>();
      s->hops = n;
      s->harness = std::make_unique<weft::GraphHarness>(graph_yaml(n), loader, g_pool);
      std::mt19937 rng(n);
      for (unsigned i = 0; i < kPackets; i++) {
        rte_mbuf* m = rte_pktmbuf_alloc(g_pool);
        if (!m) throw std::runtime_error("pool empty");
        // Every next hop in the first N packets, then at random.
        build_packet(reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, 64)), host(i < n ? i : rng() % n));
        s->packets.push_back(m);
      }
      std::shuffle(s->packets.begin(), s->packets.end(), rng);
      auto& ifs = static_cast<InterfacesService&>(s->harness->service("ifaces"));
      s->cache = &ifs.core()->neighbors();
      const auto table = ifs.core()->interfaces();
      const uint16_t ida = table->by_name("a")->id, idb = table->by_name("b")->id;
      for (auto* m : s->packets) {
        const auto* ip = rte_pktmbuf_mtod_offset(m, const rte_ipv4_hdr*, sizeof(rte_ether_hdr));
        s->dst.push_back(ip->dst_addr);
        s->iface.push_back((rte_be_to_cpu_32(ip->dst_addr) >> 16 & 1) ? idb : ida);
      }
      s->fib_neighbors = static_cast<FibService&>(s->harness->service("fib_s")).control()->fib().neighbors();
      if (!s->fib_neighbors) throw std::runtime_error("fib_s has no neighbour table");
      for (const char* v : {"static", "dynamic"})
        benchmark::RegisterBenchmark((std::string(v) + "/" + std::to_string(n)).c_str(), BM_lookup, s.get(),
                                     std::string(v))
            ->Unit(benchmark::kNanosecond);
      const std::string k = std::to_string(n);
      benchmark::RegisterBenchmark(("fib_neighbors/" + k).c_str(), BM_fib_neighbors, s.get())->Unit(benchmark::kNanosecond);
      benchmark::RegisterBenchmark(("cache_lookup/" + k).c_str(), BM_cache_lookup, s.get())->Unit(benchmark::kNanosecond);
      benchmark::RegisterBenchmark(("cache_bulk/" + k).c_str(), BM_cache_bulk, s.get())->Unit(benchmark::kNanosecond);
      g_setups.push_back(std::move(s));
    }
    std::printf("# IpLookup on CPU %d: batches of %u packets (64 B) to N next hops over 2 connected routes; times "
                "per batch\n",
                cpu, kBurst);
    std::fflush(stdout);
    Collect rep;
    benchmark::RunSpecifiedBenchmarks(&rep);
    for (auto& s : g_setups)
      for (const char* v : {"static", "dynamic"}) {
        weft::Element& e = s->harness->element(v);
        for (size_t r = 0; r < e.drop_reason_count(); r++)
          if (e.drops(r))
            std::printf("drops in %s/%u: %s=%llu\n", v, s->hops, e.element_class().drops[r].name.c_str(),
                        static_cast<unsigned long long>(e.drops(r)));
      }

    // ---- 2. resolution latency ----
    std::printf("# resolution latency: %u neighbours, one at a time (InterfacesCore, woken by hold and punt)\n", resolutions);
    std::fflush(stdout);
    const Stats timed = stats_of(latency_timed(resolutions));
    const Stats cpu_only = stats_of(latency_cpu(resolutions));

    std::printf("\nsummary:\n");
    std::string result = "RESULT neighbors batch=32";
    bool all = true;
    for (auto& s : g_setups) {
      const std::string k = std::to_string(s->hops);
      const double st = rep.ns_per_pkt["static/" + k], dy = rep.ns_per_pkt["dynamic/" + k];
      if (!(st > 0 && dy > 0)) {
        all = false;
        std::printf("  %u next hops: not measured (filtered out or failed)\n", s->hops);
        continue;
      }
      std::printf("  %5u next hops: static (Fib neighbors) %.2f ns/packet (%.1f Mpps); dynamic (Interfaces) %.2f "
                  "ns/packet (%.1f Mpps); rate dynamic/static %.3f (target >= 0.97)\n",
                  s->hops, st, 1e3 / st, dy, 1e3 / dy, st / dy);
      const double fn = rep.ns_per_pkt["fib_neighbors/" + k], cl = rep.ns_per_pkt["cache_lookup/" + k],
                   cb = rep.ns_per_pkt["cache_bulk/" + k];
      if (fn > 0 && cl > 0 && cb > 0)
        std::printf("         neighbour tables alone, per next hop: Fib's static table %.2f ns; Interfaces' "
                    "NeighborCache::lookup %.2f ns; the same rte_hash with rte_hash_lookup_bulk %.2f ns\n",
                    fn, cl, cb);
      char buf[256];
      std::snprintf(buf, sizeof buf,
                    " static_ns_%s=%.2f dynamic_ns_%s=%.2f ratio_%s=%.3f fib_nb_ns_%s=%.2f cache_ns_%s=%.2f "
                    "cache_bulk_ns_%s=%.2f",
                    k.c_str(), st, k.c_str(), dy, k.c_str(), st / dy, k.c_str(), fn, k.c_str(), cl, k.c_str(), cb);
      result += buf;
    }
    std::printf("  resolution, service on its own thread (hold -> ARP request -> reply punted -> packet released; "
                "excludes the wire and the peer): median %.0f us, p99 %.0f us, max %.0f us over %u neighbours\n",
                timed.median_us, timed.p99_us, timed.max_us, resolutions);
    std::printf("  resolution, control thread's processing alone (poll() at once): median %.1f us, p99 %.1f us\n",
                cpu_only.median_us, cpu_only.p99_us);
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  " resolutions=%u resolve_median_us=%.0f resolve_p99_us=%.0f resolve_cpu_median_us=%.1f "
                  "resolve_cpu_p99_us=%.1f",
                  resolutions, timed.median_us, timed.p99_us, cpu_only.median_us, cpu_only.p99_us);
    result += buf;
    std::printf("%s\n", result.c_str());
    for (auto& s : g_setups)
      for (auto* m : s->packets) rte_pktmbuf_free(m);
    g_setups.clear();
    if (!all) std::printf("# some next-hop counts were not measured (--benchmark_filter?)\n");
    if (rep.errors) {
      std::fprintf(stderr, "bench_neighbors: %u benchmark runs failed\n", rep.errors);
      return 1;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_neighbors: %s\n", e.what());
    return 1;
  }
  benchmark::Shutdown();
  return 0;
}

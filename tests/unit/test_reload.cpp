// The reload transaction under sustained traffic, with real DPDK ring ports:
//
//   traffic thread ──► [ring in_q*] ══ port IN ══► worker(s): graph A or B ══ port OUT ══► [ring out_q*] ──► checker
//
// The test feeds numbered packets into the RX rings of port IN while it
// reloads, and the checker takes every packet out of port OUT's TX rings and
// verifies none is missing, duplicated or reordered.
#include <rte_eth_ring.h>
#include <rte_pause.h>
#include <rte_ring.h>

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "control/control_api.hpp"
#include "runtime/runtime.hpp"
#include "test_env.hpp"
#include "weft/metadata.hpp"

#include <rte_rcu_qsbr.h>

using namespace weft;
using namespace std::chrono_literals;

namespace {

// An ethdev whose RX and TX queues are rings the test owns.
struct RingPort {
  std::string name;
  std::vector<rte_ring*> rx, tx;
  RingPort(const std::string& n, unsigned queues, unsigned size = 1u << 16) : name(n) {
    for (unsigned q = 0; q < queues; q++) {
      rx.push_back(rte_ring_create((n + "r" + std::to_string(q)).c_str(), size, 0, RING_F_SP_ENQ | RING_F_SC_DEQ));
      tx.push_back(rte_ring_create((n + "t" + std::to_string(q)).c_str(), size, 0, RING_F_SP_ENQ | RING_F_SC_DEQ));
    }
    int id = rte_eth_from_rings(n.c_str(), rx.data(), queues, tx.data(), queues, 0);
    if (id < 0) throw std::runtime_error("rte_eth_from_rings failed for " + n);
    char dev[RTE_ETH_NAME_MAX_LEN];
    rte_eth_dev_get_name_by_port(static_cast<uint16_t>(id), dev);
    device = dev;  // the ethdev's name, as a graph's `device:` names it
  }
  std::string device;
};

std::string unique(const char* base) {
  static int n = 0;
  return std::string(base) + std::to_string(n++);
}

GraphPlan plan_of(const std::string& yaml) {
  Diagnostics d("reload.yaml");
  auto spec = std::make_shared<GraphSpec>(parse_graph(yaml, "reload.yaml", d));
  GraphPlan p = validate_graph(spec, test::loader(), d);
  INFO(d.format());
  REQUIRE_FALSE(d.has_errors());
  return p;
}

// Numbered packets into each RX ring of a port, paced, until stopped.
struct Traffic {
  std::atomic<bool> stop{false};
  std::vector<std::atomic<uint64_t>> sent;
  std::thread thread;
  explicit Traffic(RingPort& in) : sent(in.rx.size()) {
    thread = std::thread([this, &in] {
      const unsigned burst = 32;
      while (!stop.load()) {
        for (size_t q = 0; q < in.rx.size(); q++) {
          rte_mbuf* m[burst];
          if (rte_pktmbuf_alloc_bulk(test::pool(), m, burst) != 0) break;
          for (unsigned i = 0; i < burst; i++) {
            char* d = rte_pktmbuf_append(m[i], 64);
            std::memset(d, 0, 64);
            uint64_t seq = sent[q] + i;
            std::memcpy(d, &seq, sizeof seq);
          }
          unsigned done = 0;
          while (done < burst)
            done += rte_ring_sp_enqueue_burst(in.rx[q], reinterpret_cast<void* const*>(m + done), burst - done,
                                              nullptr);
          sent[q] += burst;
        }
        std::this_thread::sleep_for(20us);
      }
    });
  }
  void finish() {
    stop = true;
    if (thread.joinable()) thread.join();
  }
  ~Traffic() { finish(); }
  uint64_t total() const {
    uint64_t t = 0;
    for (auto& s : sent) t += s;
    return t;
  }
};

// Takes packets out of each TX ring, checking per-ring order and an optional
// per-packet predicate.
struct Checker {
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> received{0}, out_of_order{0}, bad{0};
  std::thread thread;
  Checker(RingPort& out, std::function<bool(rte_mbuf*)> ok = {}) {
    thread = std::thread([this, &out, ok] {
      std::vector<uint64_t> next(out.tx.size() * 2, 0);
      while (!stop.load()) {
        bool any = false;
        for (size_t q = 0; q < out.tx.size(); q++) {
          rte_mbuf* m[64];
          unsigned n = rte_ring_sc_dequeue_burst(out.tx[q], reinterpret_cast<void**>(m), 64, nullptr);
          any |= n > 0;
          for (unsigned i = 0; i < n; i++) {
            uint64_t seq;
            std::memcpy(&seq, rte_pktmbuf_mtod(m[i], void*), sizeof seq);
            // Worker q transmits what it received on RX queue q, in order.
            if (seq != next[q]) out_of_order++;
            next[q] = seq + 1;
            if (ok && !ok(m[i])) bad++;
            rte_pktmbuf_free(m[i]);
            received++;
          }
        }
        if (!any) std::this_thread::sleep_for(10us);
      }
    });
  }
  void finish() {
    stop = true;
    if (thread.joinable()) thread.join();
  }
  ~Checker() { finish(); }
};

bool wait_for(const std::function<bool()>& cond, std::chrono::seconds limit = 30s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

std::string handler_read(Runtime& rt, const std::string& id, const std::string& name, unsigned worker = 0) {
  std::string v;
  int node = rt.plan().index_of(id);
  REQUIRE(node >= 0);
  REQUIRE(rt.run_on_worker(worker, [&] {
    Element& el = *rt.element(worker, static_cast<size_t>(node));
    for (const auto& h : handlers_of(rt.plan().nodes[static_cast<size_t>(node)]))
      if (h.name == name) v = h.read(el);
  }, 2s));
  return v;
}

// Every drop of every element of worker 0, as "id.reason=n ...".
std::string all_drops(Runtime& rt) {
  std::string out;
  REQUIRE(rt.run_on_worker(0, [&] {
    for (size_t n = 0; n < rt.plan().nodes.size(); n++) {
      const Element* e = rt.element(0, n);
      for (size_t r = 0; r < e->drop_reason_count(); r++)
        if (e->drops(r))
          out += rt.plan().nodes[n].spec->id + "." + e->element_class().drops[r].name + "=" + std::to_string(e->drops(r)) + " ";
    }
  }, 2s));
  return out;
}

// Every output counter of every element of worker 0, as "id.output=n ...".
std::string all_outputs(Runtime& rt) {
  std::string out;
  REQUIRE(rt.run_on_worker(0, [&] {
    for (size_t n = 0; n < rt.plan().nodes.size(); n++) {
      const Element* e = rt.element(0, n);
      for (size_t o = 0; o < e->output_count(); o++)
        out += rt.plan().nodes[n].spec->id + "." + rt.plan().nodes[n].outputs[o] + "=" +
               std::to_string(e->output_port(o).packets.get()) + " ";
    }
  }, 2s));
  return out;
}

// PortTx retries (almost) forever: on a loaded machine the checker thread can
// be off its CPU for milliseconds, and a full TX ring must wait for it, not
// drop (that would be this test's loss, not the reload's).
std::string graph_yaml(const std::string& in, const std::string& out, const std::string& lcores,
                       const std::string& elements, const std::string& connections) {
  return "workers: {lcores: [" + lcores + "], idle_sleep_us: 20}\nports:\n  in: {device: " + in +
         "}\n  out: {device: " + out + "}\nelements:\n  rx: {class: PortRx, port: in}\n  tx: {class: PortTx, port: out, "
         "retries: 4000000000}\n" + elements + "connections:\n" + connections;
}

}  // namespace

// The Queue releases 4 packets per loop while PortRx takes up to 32, so a
// worker that was off its CPU finds an RX backlog and the Queue grows by 28 a
// loop until the backlog is gone. With the default capacity (1024) a few
// milliseconds off the CPU (a loaded machine) are enough to overflow it: those
// are counted queue_full drops (see the stalled-worker case below), the
// test's loss, not the reload's. A capacity as large as the RX ring holds any
// backlog the test can build up.
const std::string kQueue = "  q: {class: Queue, burst: 4, capacity: 65536}\n";

TEST_CASE("100 reloads under sustained traffic lose nothing, counters and queues carry over", "[reload]") {
  test::eal();
  RingPort in(unique("rin"), 1), out(unique("rout"), 1);
  // A and B differ in an element (s) and a connection.
  const std::string a = graph_yaml(in.device, out.device, "1", "  c: Counter\n" + kQueue, "  - rx -> c -> q -> tx\n");
  const std::string b = graph_yaml(in.device, out.device, "1", "  c: Counter\n" + kQueue + "  s: Pass\n",
                                   "  - rx -> c -> s -> q -> tx\n");
  GraphPlan plan_a = plan_of(a), plan_b = plan_of(b);
  Runtime rt(plan_a);
  rt.start();
  Checker checker(out);
  Traffic traffic(in);
  REQUIRE(wait_for([&] { return checker.received > 1000; }));

  uint64_t lost = 0, carried_queue = 0, carried_counter = 0, queued_at_swap = 0;
  for (int i = 0; i < 100; i++) {
    queued_at_swap += std::stoull(handler_read(rt, "q", "length"));
    ReloadReport r = rt.reload(i % 2 ? plan_a : plan_b, 2s);
    INFO("reload " << i << ": " << r.error);
    REQUIRE(r.ok);
    CHECK(r.mode == "flip");
    lost += r.packets_lost;
    for (const auto& k : r.kept) {
      if (k.id == "q" && k.state == "carried") carried_queue++;
      if (k.id == "c" && k.state == "carried") carried_counter++;
    }
    CHECK(r.added.size() == (i % 2 ? 0u : 1u));
    CHECK(r.removed.size() == (i % 2 ? 1u : 0u));
  }
  traffic.finish();
  uint64_t sent = traffic.total();
  bool all = wait_for([&] { return checker.received == sent; });
  INFO("sent " << sent << ", received " << checker.received.load() << ", lost in reloads " << lost
               << ", queue length " << handler_read(rt, "q", "length") << ", counter " << handler_read(rt, "c", "count")
               << ", drops: " << all_drops(rt) << ", outputs: " << all_outputs(rt));
  REQUIRE(all);
  std::this_thread::sleep_for(50ms);
  checker.finish();
  CHECK(checker.received == sent);
  CHECK(checker.out_of_order == 0);
  CHECK(lost == 0);
  CHECK(carried_queue == 100);
  CHECK(carried_counter == 100);
  CHECK(queued_at_swap > 0);  // the queue held packets at some swaps, and they all came out
  // The kept Counter counted every packet across all 100 graphs.
  CHECK(std::stoull(handler_read(rt, "c", "count")) == sent);
  CHECK(rt.workers()[0]->generation.get() == 100);
  CHECK(rt.reloads() == 100);
  rt.stop();
}

// Deterministic version of what a loaded machine does to the case above: the
// worker is held at a batch boundary until 2048 packets wait in its RX ring,
// then a reload swaps graphs while the Queue holds the backlog. A Queue of the
// default capacity overflows (every lost packet is a counted queue_full drop,
// none vanishes); one with room for the backlog loses nothing across the swap.
TEST_CASE("a stalled worker's backlog: an overflowing Queue counts its drops, a large one carries it over a reload",
          "[reload]") {
  test::eal();
  for (unsigned capacity : {1024u, 65536u}) {
    INFO("capacity " << capacity);
    RingPort in(unique("rin"), 1), out(unique("rout"), 1);
    const std::string q = "  q: {class: Queue, burst: 4, capacity: " + std::to_string(capacity) + "}\n";
    GraphPlan plan_a =
        plan_of(graph_yaml(in.device, out.device, "1", "  c: Counter\n" + q, "  - rx -> c -> q -> tx\n"));
    GraphPlan plan_b = plan_of(graph_yaml(in.device, out.device, "1", "  c: Counter\n" + q + "  s: Pass\n",
                                          "  - rx -> c -> s -> q -> tx\n"));
    Runtime rt(plan_a);
    rt.start();
    Checker checker(out);
    const unsigned total = 2048;
    std::atomic<bool> stalled{false};
    std::thread feeder([&] {
      while (!stalled.load()) std::this_thread::yield();
      for (uint64_t seq = 0; seq < total; seq += 32) {
        rte_mbuf* m[32];
        while (rte_pktmbuf_alloc_bulk(test::pool(), m, 32) != 0) std::this_thread::yield();
        for (unsigned i = 0; i < 32; i++) {
          char* d = rte_pktmbuf_append(m[i], 64);
          std::memset(d, 0, 64);
          uint64_t v = seq + i;
          std::memcpy(d, &v, sizeof v);
        }
        unsigned done = 0;
        while (done < 32)
          done += rte_ring_sp_enqueue_burst(in.rx[0], reinterpret_cast<void* const*>(m + done), 32 - done, nullptr);
      }
    });
    // Held at a boundary (as if off its CPU) until the whole backlog waits.
    REQUIRE(rt.run_on_worker(0, [&] {
      stalled = true;
      while (rte_ring_count(in.rx[0]) < total) rte_pause();
    }, 2s));
    feeder.join();
    ReloadReport r = rt.reload(plan_b, 2s);
    INFO(r.error);
    REQUIRE(r.ok);
    CHECK(r.packets_lost == 0);
    auto drops = [&] {
      uint64_t n = 0;
      const size_t node = static_cast<size_t>(rt.plan().index_of("q"));
      REQUIRE(rt.run_on_worker(0, [&] { n = rt.element(0, node)->drops(0); }, 2s));
      return n;
    };
    bool accounted = wait_for([&] { return checker.received + drops() == total; });
    INFO("received " << checker.received.load() << ", drops: " << all_drops(rt) << ", outputs: " << all_outputs(rt));
    REQUIRE(accounted);
    CHECK(std::stoull(handler_read(rt, "c", "count")) == total);
    CHECK(handler_read(rt, "q", "length") == "0");
    if (capacity == 1024) {
      CHECK(drops() > 0);  // the backlog did not fit: counted, never silent
      CHECK(std::stoull(handler_read(rt, "q", "highwater")) == capacity);
    } else {
      CHECK(drops() == 0);
      CHECK(checker.received == total);
      CHECK(checker.out_of_order == 0);
      CHECK(std::stoull(handler_read(rt, "q", "highwater")) > 1024);  // it held more than the default would
    }
    checker.finish();
    rt.stop();
  }
}

TEST_CASE("two workers both switch, and no batch sees a mix of old and new graph", "[reload]") {
  test::eal();
  RingPort in(unique("rin"), 2), out(unique("rout"), 2);
  auto graph = [&](int gen) {
    std::string g = std::to_string(gen);
    return graph_yaml(in.device, out.device, "1, 2",
                      "  s0: {class: TestStamp, gen: " + g + ", slot: 0}\n  c: Counter\n  s1: {class: TestStamp, gen: " +
                          g + ", slot: 1}\n",
                      "  - rx -> s0 -> c -> s1 -> tx\n");
  };
  GraphPlan p1 = plan_of(graph(1)), p2 = plan_of(graph(2));
  Runtime rt(p1);
  rt.start();
  MetaField<uint32_t> slot0("weft_test_stamp0"), slot1("weft_test_stamp1");
  Checker checker(out, [&](rte_mbuf* m) { return slot0(m) == slot1(m); });
  Traffic traffic(in);
  REQUIRE(wait_for([&] { return checker.received > 1000; }));
  for (int i = 0; i < 50; i++) {
    ReloadReport r = rt.reload(i % 2 ? p1 : p2, 2s);
    INFO(r.error);
    REQUIRE(r.ok);
  }
  traffic.finish();
  uint64_t sent = traffic.total();
  bool all = wait_for([&] { return checker.received == sent; });
  INFO("sent " << sent << ", received " << checker.received.load());
  REQUIRE(all);
  checker.finish();
  CHECK(checker.bad == 0);
  CHECK(checker.out_of_order == 0);
  CHECK(rt.workers()[0]->generation.get() == 50);
  CHECK(rt.workers()[1]->generation.get() == 50);
  CHECK(std::stoull(handler_read(rt, "c", "count", 0)) + std::stoull(handler_read(rt, "c", "count", 1)) == sent);
  rt.stop();
}

TEST_CASE("a reload that fails leaves the old graph running with its state", "[reload]") {
  test::eal();
  RingPort in(unique("rin"), 1), out(unique("rout"), 1);
  const std::string a = graph_yaml(in.device, out.device, "1", "  c: Counter\n", "  - rx -> c -> tx\n");
  Runtime rt(plan_of(a));
  rt.start();
  Checker checker(out);
  Traffic traffic(in);
  REQUIRE(wait_for([&] { return checker.received > 1000; }));

  // Files with errors are refused by the control layer before the runtime
  // sees them; a plugin that throws in initialize is refused by the runtime.
  PluginLoader loader;
  loader.load_directories({test::builtin_plugin_dir(), test::test_plugin_dir("testkit")});
  ControlApi api(rt, loader, "a.yaml", {});
  auto tmp = std::filesystem::temp_directory_path() / ("weft-reload-" + std::to_string(::getpid()));
  std::filesystem::create_directories(tmp);
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(tmp / name) << text;
    return (tmp / name).string();
  };
  json bad_yaml = api.reload(write("bad.yaml", "elements: {c: [\n"));
  CHECK_FALSE(bad_yaml["applied"].get<bool>());
  CHECK(bad_yaml["diagnostics"][0].get<std::string>().find("bad.yaml:2:1: error: YAML syntax") != std::string::npos);
  json unknown = api.reload(write("unknown.yaml", graph_yaml(in.device, out.device, "1", "  c: Countr\n",
                                                             "  - rx -> c -> tx\n")));
  CHECK_FALSE(unknown["applied"].get<bool>());
  CHECK(unknown["diagnostics"].dump().find("unknown class 'Countr' (did you mean 'Counter'?)") != std::string::npos);
  json throws = api.reload(write("throws.yaml", graph_yaml(in.device, out.device, "1", "  c: Counter\n  t: TestThrowOnInit\n",
                                                           "  - rx -> c -> t -> tx\n")));
  CHECK_FALSE(throws["applied"].get<bool>());
  CHECK(throws["error"].get<std::string>().find("deliberate failure in initialize") != std::string::npos);
  std::filesystem::remove_all(tmp);

  CHECK(rt.workers()[0]->generation.get() == 0);
  CHECK(rt.reloads() == 0);
  uint64_t before = checker.received;
  REQUIRE(wait_for([&] { return checker.received > before + 1000; }));  // still forwarding
  traffic.finish();
  uint64_t sent = traffic.total();
  bool all = wait_for([&] { return checker.received == sent; });
  INFO("sent " << sent << ", received " << checker.received.load());
  REQUIRE(all);
  checker.finish();
  CHECK(std::stoull(handler_read(rt, "c", "count")) == sent);  // state untouched
  rt.stop();
}

TEST_CASE("a worker that does not answer in time makes the reload roll back", "[reload]") {
  test::eal();
  RingPort in(unique("rin"), 2), out(unique("rout"), 2);
  const std::string a = graph_yaml(in.device, out.device, "1, 2", "  st: TestStall\n  c: Counter\n",
                                   "  - rx -> st -> c -> tx\n");
  const std::string b = graph_yaml(in.device, out.device, "1, 2", "  st: TestStall\n  c: Counter\n  p: Pass\n",
                                   "  - rx -> st -> p -> c -> tx\n");
  Runtime rt(plan_of(a));
  rt.start();
  Checker checker(out);
  Traffic traffic(in);
  REQUIRE(wait_for([&] { return checker.received > 1000; }));
  // Worker 1's next batch sleeps 1.5 s: it cannot reach a boundary in 300 ms.
  int st = rt.plan().index_of("st");
  REQUIRE(rt.run_on_worker(1, [&] {
    Element& el = *rt.element(1, static_cast<size_t>(st));
    el.element_class().find_handler("stall_ms")->write(el, "1500");
  }, 2s));
  std::this_thread::sleep_for(100ms);  // let worker 1 enter the stall
  ReloadReport r = rt.reload(plan_of(b), 300ms);
  CHECK_FALSE(r.ok);
  CHECK(r.rolled_back);
  CHECK(r.error.find("worker(s) 1 did not reach a batch boundary") != std::string::npos);
  CHECK(rt.plan().index_of("p") < 0);  // old graph
  CHECK(rt.workers()[0]->generation.get() == 2);  // switched, and back
  CHECK(rt.workers()[1]->generation.get() == 0);  // never switched
  traffic.finish();
  uint64_t sent = traffic.total();
  bool all = wait_for([&] { return checker.received == sent; });
  INFO("sent " << sent << ", received " << checker.received.load());
  REQUIRE(all);
  checker.finish();
  CHECK(checker.out_of_order == 0);
  CHECK(std::stoull(handler_read(rt, "c", "count", 0)) + std::stoull(handler_read(rt, "c", "count", 1)) == sent);
  // And a reload afterwards works.
  ReloadReport again = rt.reload(plan_of(b), 2s);
  CHECK(again.ok);
  rt.stop();
}

TEST_CASE("ports added, removed and reconfigured on reload, unchanged ports keep their traffic", "[reload]") {
  test::eal();
  RingPort in(unique("rin"), 1), out(unique("rout"), 1), side(unique("rside"), 2);
  const std::string base = graph_yaml(in.device, out.device, "1", "  c: Counter\n", "  - rx -> c -> tx\n");
  // + a port (a new null device, hot-plugged), + an existing ring device with 2 queues
  const std::string more = "workers: {lcores: [1], idle_sleep_us: 20}\nports:\n  in: {device: " + in.device +
                           "}\n  out: {device: " + out.device + "}\n  extra: {device: net_null9}\n  side: {device: " +
                           side.device + ", rx_queues: 2}\nelements:\n  rx: {class: PortRx, port: in}\n"
                           "  tx: {class: PortTx, port: out, retries: 100000}\n  c: Counter\n"
                           "  fx: {class: Forward, from: extra, to: side}\nconnections:\n  - rx -> c -> tx\n";
  Runtime rt(plan_of(base));
  rt.start();
  Checker checker(out);
  Traffic traffic(in);
  REQUIRE(wait_for([&] { return checker.received > 1000; }));
  ReloadReport r1 = rt.reload(plan_of(more), 2s);
  INFO(r1.error);
  REQUIRE(r1.ok);
  CHECK(r1.ports_added == std::vector<std::string>{"extra", "side"});
  CHECK(r1.ports_unchanged == std::vector<std::string>{"in", "out"});
  // The null device forwards into the side ring port.
  REQUIRE(wait_for([&] { return rte_ring_count(side.tx[0]) > 0; }));
  // Change the side port's queues: a paused swap.
  std::string changed = more;
  changed.replace(changed.find("rx_queues: 2"), 12, "rx_queues: 1");
  ReloadReport r2 = rt.reload(plan_of(changed), 2s);
  INFO(r2.error);
  REQUIRE(r2.ok);
  CHECK(r2.mode == "pause");
  CHECK(r2.ports_changed == std::vector<std::string>{"side"});
  // Back to the base graph: both extra ports removed (the null device is unplugged).
  ReloadReport r3 = rt.reload(plan_of(base), 2s);
  REQUIRE(r3.ok);
  CHECK(r3.ports_removed.size() == 2);
  uint16_t id;
  CHECK(rte_eth_dev_get_port_by_name("net_null9", &id) != 0);
  traffic.finish();
  uint64_t sent = traffic.total();
  bool all = wait_for([&] { return checker.received == sent; });
  INFO("sent " << sent << " received " << checker.received << " counted " << handler_read(rt, "c", "count")
               << " in-ring " << rte_ring_count(in.rx[0]));
  REQUIRE(all);
  checker.finish();
  CHECK(checker.out_of_order == 0);  // traffic on the unchanged ports was not disturbed
  CHECK(std::stoull(handler_read(rt, "c", "count")) == sent);
  rte_mbuf* m;
  while (rte_ring_dequeue(side.tx[0], reinterpret_cast<void**>(&m)) == 0) rte_pktmbuf_free(m);
  rt.stop();
}

TEST_CASE("shared objects are shared by workers and kept across reloads while compatible, and RCU works",
          "[reload][shared]") {
  test::eal();
  RingPort in(unique("rin"), 2), out(unique("rout"), 2);
  auto graph = [&](const std::string& compat, bool extra) {
    return graph_yaml(in.device, out.device, "1, 2", "  sh: {class: TestShared, compat: " + compat + "}\n" +
                                                         (extra ? "  p: Pass\n" : ""),
                      extra ? "  - rx -> sh -> p -> tx\n" : "  - rx -> sh -> tx\n");
  };
  Runtime rt(plan_of(graph("a", false)));
  rt.start();
  std::string o0 = handler_read(rt, "sh", "object", 0), o1 = handler_read(rt, "sh", "object", 1);
  CHECK(o0 == o1);  // one object for both workers
  REQUIRE(rt.reload(plan_of(graph("a", true)), 2s).ok);
  CHECK(handler_read(rt, "sh", "object", 0) == o0);  // same compat: the running object is handed over
  REQUIRE(rt.reload(plan_of(graph("b", false)), 2s).ok);
  std::string n0 = handler_read(rt, "sh", "object", 0);
  CHECK(n0 != o0);  // compat changed: a new object
  CHECK(handler_read(rt, "sh", "object", 1) == n0);
  // Both workers report quiescent states: a grace period ends while they run.
  REQUIRE(rt.rcu() != nullptr);
  auto t0 = std::chrono::steady_clock::now();
  rte_rcu_qsbr_synchronize(rt.rcu(), RTE_QSBR_THRID_INVALID);
  CHECK(std::chrono::steady_clock::now() - t0 < 1s);
  rt.stop();
}

namespace {
// The graph of the service tests: rx -> [u: TestServiceUser] -> tx, with the
// given `services:` section (and `u` only when it names a service).
std::string service_graph(const RingPort& in, const RingPort& out, const std::string& services, bool user) {
  const std::string g = graph_yaml(in.device, out.device, "1", user ? "  u: {class: TestServiceUser, ping: ping}\n" : "",
                                   user ? "  - rx -> u -> tx\n" : "  - rx -> tx\n");
  return services.empty() ? g : "services:\n" + services + g;
}
json ping(ControlApi& api, const std::string& name = "ping") {
  json r = api.handle({{"cmd", "service"}, {"args", {{"name", name}, {"cmd", "ping"}}}});
  INFO(r.dump());
  REQUIRE(r["ok"].get<bool>());
  return r["data"][0]["result"];
}
}  // namespace

TEST_CASE("services: built once, started on the control loop, their handle shared by every worker",
          "[reload][service]") {
  test::eal();
  RingPort in(unique("rin"), 2), out(unique("rout"), 2);
  const std::string g = graph_yaml(in.device, out.device, "1, 2", "  u: {class: TestServiceUser, ping: ping}\n",
                                   "  - rx -> u -> tx\n");
  boost::asio::io_context io;
  Runtime rt(plan_of("services:\n  ping: TestPing\n" + g));
  rt.set_control_loop(&io);
  rt.start();
  io.poll();
  PluginLoader loader;
  ControlApi api(rt, loader, "g.yaml", {});
  json list = api.handle({{"cmd", "services"}});
  REQUIRE(list["data"].size() == 1);  // one per router, not one per worker
  CHECK(list["data"][0]["name"] == "ping");
  CHECK(list["data"][0]["class"] == "TestPing");
  CHECK(list["data"][0]["status"]["started"] == true);
  CHECK(ping(api)["pong"] == 1);
  // Both workers count into the one state their handles point to.
  for (int i = 0; i < 64; i++) REQUIRE(rte_ring_enqueue(in.rx[i % 2], test::packet(test::eth(0x0800, {}))) == 0);
  auto packets = [&] {
    return api.handle({{"cmd", "service"}, {"args", {{"name", "ping"}}}})["data"][0]["result"]["packets"].get<uint64_t>();
  };
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (packets() < 64 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
  CHECK(packets() == 64);
  // By class, as `routerctl routes` finds the Fib; unknown commands name the known ones.
  json by_class = api.handle({{"cmd", "service"}, {"args", {{"class", "TestPing"}, {"cmd", "ping"}}}});
  CHECK(by_class["data"][0]["result"]["pong"] == 2);
  json bad = api.handle({{"cmd", "service"}, {"args", {{"name", "ping"}, {"cmd", "nope"}}}});
  CHECK_FALSE(bad["ok"].get<bool>());
  CHECK_THAT(bad["error"].get<std::string>(), Catch::Contains("no command 'nope' (commands: status, ping)"));
  rt.stop();
  rte_mbuf* m;
  for (auto* r : out.tx)
    while (rte_ring_dequeue(r, reinterpret_cast<void**>(&m)) == 0) rte_pktmbuf_free(m);
}

TEST_CASE("services: a reload carries their state, stops removed ones, and gives the state back when refused",
          "[reload][service]") {
  test::eal();
  RingPort in(unique("rin"), 1), out(unique("rout"), 1);
  boost::asio::io_context io;
  Runtime rt(plan_of(service_graph(in, out, "  ping: TestPing\n", true)));
  rt.set_control_loop(&io);
  rt.start();
  io.poll();
  PluginLoader loader;
  ControlApi api(rt, loader, "g.yaml", {});
  CHECK(ping(api)["pong"] == 1);

  // Same name and class, a parameter changed: the new instance takes the state.
  ReloadReport r = rt.reload(plan_of(service_graph(in, out, "  ping: {class: TestPing, tag: two}\n", true)), 2s);
  INFO(r.error);
  REQUIRE(r.ok);
  REQUIRE(r.services_kept.size() == 1);
  CHECK(r.services_kept[0].id == "ping");
  CHECK(r.services_kept[0].state == "carried");
  json pong = ping(api);
  CHECK(pong["pong"] == 2);  // the state went on
  CHECK(pong["started"] == true);

  // The new graph's element fails to initialize after the service took the
  // state: refused, and the running service has its state back.
  r = rt.reload(plan_of("services:\n  ping: {class: TestPing, tag: three}\n" +
                        graph_yaml(in.device, out.device, "1", "  u: {class: TestServiceUser, ping: ping}\n  bad: TestThrowOnInit\n",
                                   "  - rx -> u -> bad -> tx\n")),
                2s);
  CHECK_FALSE(r.ok);
  CHECK_THAT(r.error, Catch::Contains("deliberate failure in initialize"));
  CHECK(ping(api)["pong"] == 3);

  // take_state itself fails: refused, nothing changed.
  r = rt.reload(plan_of(service_graph(in, out, "  ping: {class: TestPing, fail_take: true}\n", true)), 2s);
  CHECK_FALSE(r.ok);
  CHECK_THAT(r.error, Catch::Contains("service 'ping'") && Catch::Contains("deliberate failure in take_state"));
  CHECK(ping(api)["pong"] == 4);

  // A new service that fails to initialize: refused, the old one runs on.
  r = rt.reload(plan_of(service_graph(in, out, "  ping: TestPing\n  other: {class: TestPing, fail_init: true}\n", true)),
                2s);
  CHECK_FALSE(r.ok);
  CHECK_THAT(r.error, Catch::Contains("service 'other'") && Catch::Contains("deliberate failure in initialize"));
  CHECK(ping(api)["pong"] == 5);
  CHECK(api.handle({{"cmd", "services"}})["data"].size() == 1);

  // Removed from the graph: stopped, gone from the list.
  r = rt.reload(plan_of(service_graph(in, out, "", false)), 2s);
  REQUIRE(r.ok);
  CHECK(r.services_removed == std::vector<std::string>{"ping"});
  CHECK(api.handle({{"cmd", "services"}})["data"].empty());
  rt.stop();
}

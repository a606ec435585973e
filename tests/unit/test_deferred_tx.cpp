// Deferred transmission (PortTx `deferred: true`, tables/deferred_tx.hpp)
// into a real net_tap port and the Linux kernel behind it:
//
//   test thread or worker ──► [DeferredTx ring, MPSC] ──► its thread ──► net_tap queue 0 ═ kernel dtxN ──► AF_PACKET socket
//
// in a network namespace of the test's own (unshare(CLONE_NEWNET), left at
// the end of each case). The kernel's side is read with an AF_PACKET socket
// on the tap's interface and the interface's own counters: numbered frames
// arrive all, once, in order; a full ring refuses what does not fit; a graph
// reloaded while frames are in flight loses none.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <rte_bus_vdev.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ring.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "tables/deferred_tx.hpp"
#include "runtime/runtime.hpp"
#include "scratch_netns.hpp"
#include "test_env.hpp"

using namespace weft;
using namespace std::chrono_literals;

using weft::test::ScratchNetns;
using weft::test::sh;

namespace {

constexpr uint16_t kEtherType = 0x88b5;  // IEEE local experimental: nothing in the kernel answers it

// A net_tap device (hot-plugged; its kernel interface is made in the calling
// thread's namespace), removed at the end.
struct Tap {
  std::string device, iface;
  uint16_t id = 0;
  explicit Tap(const std::string& tag) : device("net_tap_" + tag), iface(tag) {
    REQUIRE(rte_eal_hotplug_add("vdev", device.c_str(), ("iface=" + iface + ",mac=02:00:00:00:0d:01").c_str()) == 0);
    REQUIRE(rte_eth_dev_get_port_by_name(device.c_str(), &id) == 0);
  }
  // Configures and starts it with one queue pair (the runtime does that for a graph's ports).
  void start() {
    rte_eth_conf conf{};
    REQUIRE(rte_eth_dev_configure(id, 1, 1, &conf) == 0);
    REQUIRE(rte_eth_rx_queue_setup(id, 0, 512, SOCKET_ID_ANY, nullptr, test::pool()) == 0);
    REQUIRE(rte_eth_tx_queue_setup(id, 0, 512, SOCKET_ID_ANY, nullptr) == 0);
    REQUIRE(rte_eth_dev_start(id) == 0);
    sh("ip link set " + iface + " up");
  }
  ~Tap() {
    if (rte_eth_dev_is_valid_port(id)) {  // a runtime may have closed it already
      rte_eth_dev_stop(id);
      rte_eth_dev_close(id);
    }
    rte_eal_hotplug_remove("vdev", device.c_str());
  }
  // The kernel interface's RX packets (/proc/thread-self/net/dev: this
  // thread's namespace; /sys shows the namespace it was mounted in).
  uint64_t kernel_rx() const {
    std::ifstream f("/proc/thread-self/net/dev");
    std::string line;
    while (std::getline(f, line)) {
      auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      name.erase(0, name.find_first_not_of(' '));
      if (name != iface) continue;
      std::istringstream in(line.substr(colon + 1));
      uint64_t bytes = 0, packets = 0;
      in >> bytes >> packets;
      return packets;
    }
    return 0;
  }
};

// What the kernel received on an interface: our frames' sequence numbers.
struct KernelSide {
  int fd = -1;
  explicit KernelSide(const std::string& iface) {
    fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_ALL));
    REQUIRE(fd >= 0);
    int buf = 32 << 20;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf);
    sockaddr_ll a{};
    a.sll_family = AF_PACKET;
    a.sll_protocol = htons(ETH_P_ALL);
    a.sll_ifindex = static_cast<int>(if_nametoindex(iface.c_str()));
    REQUIRE(a.sll_ifindex > 0);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  }
  ~KernelSide() { ::close(fd); }
  // Reads what is there; appends our frames' numbers to `seqs`.
  void read(std::vector<uint32_t>& seqs) {
    uint8_t f[2048];
    sockaddr_ll from{};
    socklen_t len = sizeof from;
    for (;;) {
      ssize_t n = ::recvfrom(fd, f, sizeof f, 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (n < 0) return;
      if (from.sll_pkttype == PACKET_OUTGOING || n < 18) continue;
      if (f[12] != (kEtherType >> 8) || f[13] != (kEtherType & 0xff)) continue;
      uint32_t s;
      std::memcpy(&s, f + 14, sizeof s);
      seqs.push_back(s);
    }
  }
};

rte_mbuf* frame(uint32_t seq) {
  std::vector<uint8_t> f(64, 0);
  const uint8_t mac[6] = {0x02, 0, 0, 0, 0x0d, 0x01};
  for (size_t i = 0; i < 6; i++) f[i] = f[6 + i] = mac[i];
  f[11] = 0x02;
  f[12] = kEtherType >> 8;
  f[13] = kEtherType & 0xff;
  for (size_t i = 0; i < 4; i++) f[14 + i] = static_cast<uint8_t>(seq >> (8 * i));
  rte_mbuf* m = test::packet(f);
  REQUIRE(m);
  return m;
}

bool wait_for(const std::function<bool()>& cond, std::chrono::seconds limit = 20s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// Checks seqs is exactly first..first+n-1 in order; says where not.
std::string gaps(const std::vector<uint32_t>& seqs, uint32_t first, uint32_t n) {
  if (seqs.size() != n) return "received " + std::to_string(seqs.size()) + " of " + std::to_string(n);
  for (uint32_t i = 0; i < n; i++)
    if (seqs[i] != first + i)
      return "position " + std::to_string(i) + " holds " + std::to_string(seqs[i]) + ", expected " +
             std::to_string(first + i);
  return "";
}

}  // namespace

TEST_CASE("deferred transmission: frames reach the kernel behind a net_tap all, once and in order, and a full ring "
          "refuses the excess",
          "[deferred_tx]") {
  test::eal();
  ScratchNetns ns;
  Tap tap("dtx0");
  tap.start();
  KernelSide kernel(tap.iface);
  std::vector<uint32_t> seqs;

  SECTION("in order, counted") {
    auto d = std::make_unique<basic::DeferredTx>(tap.id, 0, 256, "weft-dtx-test");
    const uint32_t n = 20000;
    uint32_t next = 0;
    while (next < n) {
      rte_mbuf* b[32];
      const uint16_t k = static_cast<uint16_t>(std::min<uint32_t>(32, n - next));
      for (uint16_t i = 0; i < k; i++) b[i] = frame(next + i);
      uint16_t done = 0;
      // The test is the producer here: it waits for room (a worker would drop and count).
      while (done < k) {
        done += d->hand_over(b + done, static_cast<uint16_t>(k - done));
        if (done < k) std::this_thread::sleep_for(50us);
        kernel.read(seqs);
      }
      next += k;
    }
    REQUIRE(wait_for([&] { return d->sent() + d->tx_full() == n; }));
    REQUIRE(wait_for([&] {
      kernel.read(seqs);
      return seqs.size() >= n;
    }, 5s));
    CHECK(d->taken() == n);
    CHECK(d->in_ring() == 0);
    CHECK(d->tx_full() == 0);
    CHECK(d->sent() == n);
    CHECK(gaps(seqs, 0, n) == "");
    // The interface's own count: what the tap's queue took is what the kernel received.
    CHECK(tap.kernel_rx() == n);
    CHECK(d->thread_cpu_ns() > 0);
  }

  SECTION("a full ring takes what fits and the rest stays the caller's; stopping sends what is in the ring") {
    auto d = std::make_unique<basic::DeferredTx>(tap.id, 0, 64, "weft-dtx-test");
    d->pause();
    std::vector<rte_mbuf*> b;
    for (uint32_t i = 0; i < 100; i++) b.push_back(frame(i));
    uint16_t took = d->hand_over(b.data(), 100);
    CHECK(took == 64);
    CHECK(d->in_ring() == 64);
    CHECK(d->capacity() == 64);
    for (size_t i = took; i < b.size(); i++) rte_pktmbuf_free(b[i]);
    // Destroyed with packets in its ring (paused): they are sent, not lost.
    d.reset();
    REQUIRE(wait_for([&] {
      kernel.read(seqs);
      return seqs.size() >= 64;
    }, 5s));
    CHECK(gaps(seqs, 0, 64) == "");
  }
}

namespace {

// An ethdev whose RX queue is a ring the test fills.
struct RingIn {
  rte_ring* rx = nullptr;
  rte_ring* tx = nullptr;
  std::string device;
  explicit RingIn(const std::string& n) {
    rx = rte_ring_create((n + "r").c_str(), 1u << 14, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
    tx = rte_ring_create((n + "t").c_str(), 1u << 14, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
    int id = rte_eth_from_rings(n.c_str(), &rx, 1, &tx, 1, 0);
    REQUIRE(id >= 0);
    char dev[RTE_ETH_NAME_MAX_LEN];
    rte_eth_dev_get_name_by_port(static_cast<uint16_t>(id), dev);
    device = dev;
  }
};

GraphPlan plan_of(const std::string& yaml) {
  Diagnostics d("deferred.yaml");
  auto spec = std::make_shared<GraphSpec>(parse_graph(yaml, "deferred.yaml", d));
  GraphPlan p = validate_graph(spec, test::loader(), d);
  INFO(d.format());
  REQUIRE_FALSE(d.has_errors());
  return p;
}

std::string handler(Runtime& rt, const std::string& id, const std::string& name) {
  std::string v;
  int node = rt.plan().index_of(id);
  REQUIRE(node >= 0);
  REQUIRE(rt.run_on_worker(0, [&] {
    Element& el = *rt.element(0, static_cast<size_t>(node));
    for (const auto& h : handlers_of(rt.plan().nodes[static_cast<size_t>(node)]))
      if (h.name == name) v = h.read(el);
  }, 2s));
  return v;
}

uint64_t field(const std::string& text, const std::string& name) {
  auto at = text.find(name + " ");
  REQUIRE(at != std::string::npos);
  return std::stoull(text.substr(at + name.size() + 1));
}

}  // namespace

TEST_CASE("deferred transmission in a graph: reloads while frames are in the ring lose none", "[deferred_tx][reload]") {
  test::eal();
  ScratchNetns ns;
  Tap tap("dtx1");
  RingIn in("dtxin");
  KernelSide* kernel = nullptr;
  // mtu: a reload changing it reconfigures the tap port in place, while the
  // deferred thread may be writing (weft/port_lock.hpp keeps them apart).
  auto graph = [&](const std::string& middle, unsigned ring, unsigned mtu = 1500) {
    return "workers: {lcores: [1], idle_sleep_us: 20}\nports:\n  in: {device: " + in.device +
           "}\n  tp: {device: " + tap.device + ", mtu: " + std::to_string(mtu) +
           "}\nelements:\n  rx: {class: PortRx, port: in}\n  c: Counter\n  totap: {class: PortTx, port: tp, "
           "deferred: true, ring: " + std::to_string(ring) + "}\n" + middle + "connections:\n  - rx -> c -> " +
           (middle.empty() ? "totap" : "m -> totap") + "\n";
  };
  Runtime rt(plan_of(graph("", 4096)));
  rt.start();
  sh("ip link set " + tap.iface + " up");
  KernelSide k(tap.iface);
  kernel = &k;
  std::vector<uint32_t> seqs;

  // Numbered frames into the RX ring, 32 every 100 us (~300k/s at most; the
  // kernel's side takes them at its pace), while the test reloads.
  std::atomic<bool> stop{false};
  std::atomic<uint32_t> fed{0};
  std::thread feeder([&] {
    uint32_t next = 0;
    while (!stop.load()) {
      rte_mbuf* b[32];
      for (auto& m : b) m = frame(next++);
      unsigned done = 0;
      while (done < 32) {
        done += rte_ring_sp_enqueue_burst(in.rx, reinterpret_cast<void* const*>(b + done), 32 - done, nullptr);
        if (done < 32) std::this_thread::sleep_for(50us);
      }
      fed = next;
      std::this_thread::sleep_for(100us);
    }
  });

  unsigned reloads = 0, new_rings = 0, ring_now = 4096;
  for (int i = 0; i < 40; i++) {
    // Alternate: a Pass added in the middle (a flip, the PortTx kept with its ring),
    // and, every fifth, a ring of another size (a new ring; the old one drains and goes).
    const bool resize = i % 5 == 4;
    const unsigned ring = resize ? 2048u + 1024u * unsigned(i % 2) : 4096u;
    new_rings += ring != ring_now;
    ring_now = ring;
    // The eighth of every ten sets the tap port's MTU to 1400 and the next sets it back
    // (each reconfigures the port in place).
    const unsigned mtu = i % 10 == 7 ? 1400u : 1500u;
    const std::string next = graph(i % 2 ? "" : "  m: Pass\n", ring, mtu);
    ReloadReport r = rt.reload(plan_of(next), 2s);
    INFO(r.error);
    REQUIRE(r.ok);
    CHECK(r.packets_lost == 0);
    reloads++;
    kernel->read(seqs);
    std::this_thread::sleep_for(20ms);
  }
  stop = true;
  feeder.join();
  const uint32_t n = fed;
  REQUIRE(wait_for([&] { return rte_ring_count(in.rx) == 0; }));
  // Back to a 4096 ring: every earlier ring has drained and gone.
  REQUIRE(rt.reload(plan_of(graph("", 4096)), 2s).ok);
  new_rings += ring_now != 4096;
  bool all = wait_for([&] {
    kernel->read(seqs);
    return seqs.size() >= n;
  });
  const std::string d = handler(rt, "totap", "deferred");
  INFO("fed " << n << ", kernel saw " << seqs.size() << ", ring: " << d << ", drops of c.. " << handler(rt, "c", "count")
              << ", kernel rx " << tap.kernel_rx());
  CHECK(all);
  CHECK(field(d, "tx_full") == 0);
  // Every frame once; order holds except where a resized ring's remainder
  // was sent after the new ring's first frames, so compare as sets too.
  std::vector<uint32_t> sorted = seqs;
  std::sort(sorted.begin(), sorted.end());
  CHECK(gaps(sorted, 0, n) == "");
  CHECK(tap.kernel_rx() == n);
  // In order but for the resizes: count the places where a frame follows a later one.
  size_t back = 0;
  for (size_t i = 1; i < seqs.size(); i++) back += seqs[i] < seqs[i - 1];
  INFO("out of order at " << back << " places");
  CHECK(back <= new_rings);  // at most one per new ring, none when the ring is kept
  CHECK(reloads == 40);
  rt.stop();
}

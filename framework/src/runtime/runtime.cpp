#include "runtime/runtime.hpp"

#include "weft/metadata.hpp"

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_mbuf_pool_ops.h>
#include <rte_rcu_qsbr.h>
#include <rte_malloc.h>
#include <rte_lcore.h>
#include <rte_dev.h>
#include <sched.h>
#include <unistd.h>

#include <set>
#include <stdexcept>
#include <thread>

#include "weft/log.hpp"

namespace weft {

// Sets the framework-owned fields of an element (friend of Element).
class ElementWiring {
 public:
  static void bind(Element& e, const std::string& id, const ElementClass& k, unsigned worker, size_t n_outputs,
                   bool count_bytes) {
    e.id_ = id;
    e.count_bytes_ = count_bytes;
    e.class_ = &k;
    e.worker_ = worker;
    e.n_outputs_ = n_outputs;
    e.outputs_ = std::make_unique<OutputPort[]>(n_outputs);
    e.drops_ = std::make_unique<Counter[]>(k.drops.size() + 1);
  }
  static void carry_drops(Element& to, const Element& from) {
    const auto& td = to.class_->drops;
    const auto& fd = from.class_->drops;
    for (size_t i = 0; i < td.size(); i++)
      for (size_t j = 0; j < fd.size(); j++)
        if (td[i].name == fd[j].name) to.drops_[i].set(from.drops_[j].get());
  }
  static void link(Element& e, size_t out, Element* target, uint16_t input) {
    e.outputs_[out].target = target;
    e.outputs_[out].target_input = input;
  }
};

void carry_counters(Element& to, const Element& from, const NodePlan& to_plan, const NodePlan& from_plan) {
  // Outputs and drop reasons are matched by name: a reload may reorder them.
  for (size_t i = 0; i < to_plan.outputs.size(); i++)
    for (size_t j = 0; j < from_plan.outputs.size(); j++)
      if (to_plan.outputs[i] == from_plan.outputs[j]) {
        OutputPort& t = const_cast<OutputPort&>(to.output_port(i));
        const OutputPort& f = from.output_port(j);
        t.packets.set(f.packets.get());
        t.bytes.set(f.bytes.get());
      }
  ElementWiring::carry_drops(to, from);
}

namespace {

std::atomic<bool> g_eal_running{false};

int worker_main(void* arg) {
  Worker& w = *static_cast<Worker*>(arg);
  if (w.rcu) {
    rte_rcu_qsbr_thread_register(w.rcu, w.index);
    rte_rcu_qsbr_thread_online(w.rcu, w.index);
  }
  w.running.store(true, std::memory_order_release);
  unsigned idle = 0;
  while (!w.stop.load(std::memory_order_relaxed)) {
    // Nothing read from a shared table in the previous loop is held now.
    if (w.rcu) rte_rcu_qsbr_quiescent(w.rcu, w.index);
    WorkerGraph* g = w.graph.load(std::memory_order_acquire);
    bool busy = false;
    for (Element* s : g->sources) {
      busy |= s->run();
      s->flush_staged();
    }
    w.polls.inc();
    // Batch boundary: the only place the control thread's requests run.
    if (w.mail.load(std::memory_order_acquire) == Worker::kPosted) {
      int expected = Worker::kPosted;
      if (w.mail.compare_exchange_strong(expected, Worker::kRunning, std::memory_order_acq_rel)) {
        w.task();
        w.mail.store(Worker::kDone, std::memory_order_release);
      }
    }
    if (busy) {
      w.busy_polls.inc();
      idle = 0;
    } else if (unsigned sleep_us = w.idle_sleep_us.load(std::memory_order_relaxed);
               sleep_us && ++idle >= w.idle_polls.load(std::memory_order_relaxed)) {
      w.sleeps.inc();
      rte_delay_us_sleep(sleep_us);
    }
  }
  if (w.rcu) {
    rte_rcu_qsbr_thread_offline(w.rcu, w.index);
    rte_rcu_qsbr_thread_unregister(w.rcu, w.index);
  }
  w.running.store(false, std::memory_order_release);
  return 0;
}

}  // namespace

unsigned WorkerInitContext::worker_count() const { return static_cast<unsigned>(rt_.workers().size()); }
int WorkerInitContext::socket() const { return static_cast<int>(rte_lcore_to_socket_id(w_.lcore)); }
uint16_t WorkerInitContext::rx_queue(const std::string& port) const {
  return static_cast<uint16_t>(w_.index % get(port).rx_queues);
}
uint16_t WorkerInitContext::tx_queue(const std::string& port) const {
  return static_cast<uint16_t>(w_.index % get(port).tx_queues);
}
rte_rcu_qsbr* WorkerInitContext::rcu() const { return rt_.rcu(); }
std::shared_ptr<void> WorkerInitContext::shared_object(const std::string& key, const std::string& compat,
                                                       const std::function<std::shared_ptr<void>()>& make) {
  return rt_.shared_objects().get(key, compat, make);
}

void WorkerInitContext::register_service(const std::string& key, const std::shared_ptr<Service>& s) {
  rt_.services().add(key, s);
}

void ServiceRegistry::add(const std::string& key, const std::shared_ptr<Service>& s) {
  auto it = entries_.find(key);
  if (it != entries_.end() && it->second.service.lock() == s) return;
  entries_[key] = {s, false};
}

void ServiceRegistry::start_pending(boost::asio::io_context* io) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    auto s = it->second.service.lock();
    if (!s) {
      it = entries_.erase(it);
      continue;
    }
    if (!it->second.started && io) {
      s->start(*io);
      it->second.started = true;
    }
    ++it;
  }
}

std::vector<std::pair<std::string, std::shared_ptr<Service>>> ServiceRegistry::live() const {
  std::vector<std::pair<std::string, std::shared_ptr<Service>>> out;
  for (const auto& [k, e] : entries_)
    if (auto s = e.service.lock()) out.emplace_back(k, s);
  return out;
}

std::shared_ptr<void> SharedObjects::get(const std::string& key, const std::string& compat,
                                         const std::function<std::shared_ptr<void>()>& make) {
  auto it = entries_.find(key);
  if (it != entries_.end() && it->second.compat == compat)
    if (auto obj = it->second.object.lock()) return obj;
  std::shared_ptr<void> obj = make();
  entries_[key] = {compat, obj};
  return obj;
}

const PortRuntime& WorkerInitContext::get(const std::string& port) const {
  for (const auto& p : ports_)
    if (p.name == port) return p;
  throw InitError("unknown port '" + port + "'");
}

std::vector<int> allowed_cpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0)
    for (int c = 0; c < CPU_SETSIZE; c++)
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
  if (cpus.empty()) cpus.push_back(0);
  return cpus;
}

Runtime::Runtime(GraphPlan plan) : plan_(std::move(plan)) {}

Runtime::~Runtime() {
  if (started_) stop();
}

bool Runtime::eal_running() { return g_eal_running.load(); }

std::vector<std::string> Runtime::eal_args(const GraphSpec& g, const std::string& program) {
  std::vector<std::string> a{program};
  if (g.eal_args_given) {
    a.insert(a.end(), g.eal_args.begin(), g.eal_args.end());
  } else {
    for (const char* s : {"--no-huge", "--no-shconf", "--no-pci"}) a.push_back(s);
    a.push_back("-m");
    a.push_back(std::to_string(g.memory_mb));
  }
  auto given = [&](const std::string& flag) {
    for (const auto& x : a)
      if (x == flag || x.rfind(flag + "=", 0) == 0) return true;
    return false;
  };
  if (!given("--file-prefix")) a.push_back("--file-prefix=weft" + std::to_string(::getpid()));
  if (!given("--lcores") && !given("-l")) {
    // Map lcore N to one of the CPUs this process may run on, so a graph that
    // asks for more workers than the machine has cores still starts.
    std::vector<int> cpus = allowed_cpus();
    std::string l = "0@" + std::to_string(cpus[0]);
    for (unsigned lc : g.worker_lcores) l += "," + std::to_string(lc) + "@" + std::to_string(cpus[lc % cpus.size()]);
    a.push_back("--lcores=" + l);
  }
  for (const auto& p : g.ports) {
    if (p.is_vdev()) a.push_back("--vdev=" + p.device + (p.args.empty() ? "" : "," + p.args));
    else if (!given("--no-pci")) a.push_back("--allow=" + p.device + (p.args.empty() ? "" : "," + p.args));
  }
  if (!g.log_level.empty() && !given("--log-level")) a.push_back("--log-level=" + g.log_level);
  return a;
}

double Runtime::measured_tsc_hz() {
  static const double hz = [] {
    // (ns, tsc) with the tightest TSC bracket of a few tries, so that a
    // preemption between the two clock reads cannot skew the pair.
    auto pair = [] {
      uint64_t best_gap = UINT64_MAX, tsc = 0;
      int64_t ns = 0;
      for (int i = 0; i < 8; i++) {
        timespec ts{};
        uint64_t t0 = rte_rdtsc();
        clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
        uint64_t t1 = rte_rdtsc();
        if (t1 - t0 < best_gap) {
          best_gap = t1 - t0;
          tsc = t0 + (t1 - t0) / 2;
          ns = static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
        }
      }
      return std::pair{ns, tsc};
    };
    auto [ns0, tsc0] = pair();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto [ns1, tsc1] = pair();
    return double(tsc1 - tsc0) * 1e9 / double(ns1 - ns0);
  }();
  return hz;
}

void Runtime::init_eal(const std::vector<std::string>& args) {
  if (g_eal_running) throw std::runtime_error("DPDK is already initialized in this process");
  std::vector<char*> argv;
  std::vector<std::string> copy = args;
  for (auto& s : copy) argv.push_back(s.data());
  argv.push_back(nullptr);
  int rc = rte_eal_init(static_cast<int>(copy.size()), argv.data());
  if (rc < 0) throw std::runtime_error(std::string("DPDK EAL initialization failed: ") + rte_strerror(rte_errno));
  g_eal_running = true;
}

const PortRuntime* Runtime::find_port(const std::string& name) const {
  for (const auto& p : ports_)
    if (p.name == name) return &p;
  return nullptr;
}

Element* Runtime::element(unsigned w, size_t node) const {
  if (w >= graphs_.size() || node >= graphs_[w]->elements.size()) return nullptr;
  return graphs_[w]->elements[node].get();
}

rte_mempool* create_packet_pool(const char* name, unsigned n, unsigned cache, int socket, bool packed) {
  // Without hugepages (and with IOVA as VA), nothing DMAs from physical
  // addresses, so buffers need not stay within one page. Packing them avoids
  // DPDK's one-mbuf-per-4K-page layout, which puts every mbuf header at the
  // same page offset and makes them all compete for the same L1 sets.
  if (!packed || rte_eal_has_hugepages() || rte_eal_iova_mode() != RTE_IOVA_VA)
    return rte_pktmbuf_pool_create(name, n, cache, kMetadataBytes, RTE_MBUF_DEFAULT_BUF_SIZE, socket);
  const unsigned elt = sizeof(rte_mbuf) + kMetadataBytes + RTE_MBUF_DEFAULT_BUF_SIZE;
  rte_mempool* mp = rte_mempool_create_empty(name, n, elt, cache, sizeof(rte_pktmbuf_pool_private), socket,
                                             RTE_MEMPOOL_F_NO_IOVA_CONTIG);
  if (!mp) return nullptr;
  rte_pktmbuf_pool_private priv{};
  priv.mbuf_data_room_size = RTE_MBUF_DEFAULT_BUF_SIZE;
  priv.mbuf_priv_size = kMetadataBytes;
  if (rte_mempool_set_ops_byname(mp, rte_mbuf_best_mempool_ops(), nullptr) != 0) {
    rte_mempool_free(mp);
    return nullptr;
  }
  rte_pktmbuf_pool_init(mp, &priv);
  if (rte_mempool_populate_default(mp) < 0) {
    rte_mempool_free(mp);
    return nullptr;
  }
  rte_mempool_obj_iter(mp, rte_pktmbuf_init, nullptr);
  return mp;
}

void Runtime::setup_pool() {
  const GraphSpec& g = *plan_.spec;
  unsigned n = g.mempool_size;
  if (n == 0) {
    // Every descriptor may hold a buffer, plus each worker's cache and bursts in flight.
    unsigned need = 2048;
    for (const auto& p : plan_.ports)
      need += p.rx_queues * p.spec->rx_desc + p.tx_queues * p.spec->tx_desc;
    need += plan_.workers() * (g.mempool_cache + 4 * kBatchCapacity);
    n = 1;
    while (n < need + 1) n <<= 1;
    n -= 1;  // a power of two minus one is the optimum for rte_mempool
  }
  const bool can_pack = !rte_eal_has_hugepages() && rte_eal_iova_mode() == RTE_IOVA_VA;
  if (g.mempool_packing == GraphSpec::Packing::Always && !can_pack)
    throw std::runtime_error("mempool.packed: true needs --no-huge and IOVA as VA");
  pool_ = create_packet_pool("weft_pool", n, g.mempool_cache, static_cast<int>(rte_socket_id()),
                             g.mempool_packing != GraphSpec::Packing::Never);
  if (!pool_)
    throw std::runtime_error("cannot create a pool of " + std::to_string(n) +
                             " packet buffers: " + rte_strerror(rte_errno) + " (raise eal.memory_mb)");
}

PortRuntime Runtime::setup_port(const PortPlan& pp, bool existing, uint16_t id) {
  const PortSpec& s = *pp.spec;
  PortRuntime pr;
  pr.name = s.name;
  pr.spec = s;
  if (existing) {
    pr.id = id;
  } else if (rte_eth_dev_get_port_by_name(s.device.c_str(), &pr.id) != 0) {
    throw std::runtime_error("port '" + s.name + "': DPDK has no device '" + s.device + "'");
  }
  rte_eth_dev_info info{};
  if (rte_eth_dev_info_get(pr.id, &info) != 0)
    throw std::runtime_error("port '" + s.name + "': cannot read device information");
  if (pp.rx_queues > info.max_rx_queues || pp.tx_queues > info.max_tx_queues)
    throw std::runtime_error("port '" + s.name + "': device supports " + std::to_string(info.max_rx_queues) +
                             " RX / " + std::to_string(info.max_tx_queues) + " TX queues, graph needs " +
                             std::to_string(pp.rx_queues) + " / " + std::to_string(pp.tx_queues));
  rte_eth_conf conf{};
  int rc = rte_eth_dev_configure(pr.id, pp.rx_queues, pp.tx_queues, &conf);
  if (rc < 0) throw std::runtime_error("port '" + s.name + "': configure failed: " + rte_strerror(-rc));
  uint16_t rxd = s.rx_desc, txd = s.tx_desc;
  rte_eth_dev_adjust_nb_rx_tx_desc(pr.id, &rxd, &txd);
  int socket = rte_eth_dev_socket_id(pr.id);
  if (socket < 0) socket = static_cast<int>(rte_socket_id());
  for (uint16_t q = 0; q < pp.rx_queues; q++) {
    rc = rte_eth_rx_queue_setup(pr.id, q, rxd, static_cast<unsigned>(socket), nullptr, pool_);
    if (rc < 0)
      throw std::runtime_error("port '" + s.name + "': RX queue " + std::to_string(q) + ": " + rte_strerror(-rc));
  }
  for (uint16_t q = 0; q < pp.tx_queues; q++) {
    rc = rte_eth_tx_queue_setup(pr.id, q, txd, static_cast<unsigned>(socket), nullptr);
    if (rc < 0)
      throw std::runtime_error("port '" + s.name + "': TX queue " + std::to_string(q) + ": " + rte_strerror(-rc));
  }
  pr.rx_queues = pp.rx_queues;
  pr.tx_queues = pp.tx_queues;
  rc = rte_eth_dev_start(pr.id);
  if (rc < 0) throw std::runtime_error("port '" + s.name + "': start failed: " + rte_strerror(-rc));
  pr.started = true;
  if (s.promiscuous) rte_eth_promiscuous_enable(pr.id);  // some vdevs refuse; harmless
  return pr;
}

std::unique_ptr<WorkerGraph> build_graph_instance(const GraphPlan& plan, unsigned w, InitContext& ctx) {
  auto g = std::make_unique<WorkerGraph>();
  const GraphSpec& spec = *plan.spec;
  for (const auto& n : plan.nodes) {
    auto el = n.klass->create();
    ElementWiring::bind(*el, n.spec->id, *n.klass, w, n.outputs.size(), spec.count_bytes);
    configure_instance(*el, n, spec);
    g->elements.push_back(std::move(el));
  }
  for (size_t i = 0; i < plan.nodes.size(); i++) {
    const auto& n = plan.nodes[i];
    for (size_t o = 0; o < n.links.size(); o++)
      ElementWiring::link(*g->elements[i], o, g->elements[static_cast<size_t>(n.links[o].element)].get(),
                          n.links[o].input);
    if ((n.klass->inputs.empty() && !n.klass->variadic_inputs) || n.klass->polled)
      g->sources.push_back(g->elements[i].get());
  }
  size_t initialized = 0;
  try {
    for (auto& el : g->elements) {
      el->initialize(ctx);
      initialized++;
    }
  } catch (const std::exception& e) {
    for (size_t i = 0; i < initialized; i++) g->elements[i]->cleanup();
    const std::string& id = g->elements[initialized]->id();
    throw std::runtime_error("element '" + id + "' failed to initialize on worker " + std::to_string(w) + ": " +
                             e.what());
  }
  return g;
}

void cleanup_graph_instance(WorkerGraph& g) {
  for (auto& el : g.elements) el->cleanup();
}

void Runtime::start() {
  if (!g_eal_running) throw std::runtime_error("DPDK is not initialized");
  const GraphSpec& spec = *plan_.spec;
  try {
    setup_pool();
    for (const auto& pp : plan_.ports) {
      ports_.push_back(setup_port(pp, false, 0));
    }
    size_t rcu_size = rte_rcu_qsbr_get_memsize(plan_.workers());
    rcu_ = static_cast<rte_rcu_qsbr*>(rte_zmalloc("weft_rcu", rcu_size, RTE_CACHE_LINE_SIZE));
    if (!rcu_ || rte_rcu_qsbr_init(rcu_, plan_.workers()) != 0)
      throw std::runtime_error("cannot set up the RCU variable for " + std::to_string(plan_.workers()) + " workers");
    for (unsigned i = 0; i < plan_.workers(); i++) {
      auto w = std::make_unique<Worker>();
      w->index = i;
      w->rcu = rcu_;
      w->lcore = spec.worker_lcores[i];
      w->idle_sleep_us = spec.idle_sleep_us;
      w->idle_polls = spec.idle_polls;
      if (!rte_lcore_is_enabled(w->lcore))
        throw std::runtime_error("worker lcore " + std::to_string(w->lcore) + " is not enabled in DPDK");
      workers_.push_back(std::move(w));
    }
    for (unsigned i = 0; i < plan_.workers(); i++) {
      WorkerInitContext ctx(*this, *workers_[i], ports_);
      graphs_.push_back(build_graph_instance(plan_, i, ctx));
      workers_[i]->graph.store(graphs_[i].get(), std::memory_order_release);
    }
  } catch (...) {
    for (auto& g : graphs_) cleanup_graph_instance(*g);
    graphs_.clear();
    workers_.clear();
    close_ports();
    rte_mempool_free(pool_);
    pool_ = nullptr;
    rte_free(rcu_);
    rcu_ = nullptr;
    throw;
  }
  start_time_ = std::chrono::steady_clock::now();
  for (auto& w : workers_) {
    int rc = rte_eal_remote_launch(worker_main, w.get(), w->lcore);
    if (rc != 0) {
      started_ = true;
      stop();
      throw std::runtime_error("cannot launch worker on lcore " + std::to_string(w->lcore));
    }
  }
  started_ = true;
  services_.start_pending(io_);
  WEFT_LOG(Info, "running %zu element(s) on %zu worker(s), %zu port(s)", plan_.nodes.size(), workers_.size(),
           ports_.size());
}

void Runtime::post(Worker& w, std::function<void()> fn) {
  w.task = std::move(fn);
  w.mail.store(Worker::kPosted, std::memory_order_release);
}

Runtime::Wait Runtime::wait(Worker& w, std::chrono::steady_clock::time_point deadline) {
  while (true) {
    int m = w.mail.load(std::memory_order_acquire);
    if (m == Worker::kDone) break;
    if (m == Worker::kPosted && std::chrono::steady_clock::now() > deadline) {
      int expected = Worker::kPosted;
      if (w.mail.compare_exchange_strong(expected, Worker::kIdle, std::memory_order_acq_rel)) {
        w.task = nullptr;
        return Wait::Withdrawn;  // never ran, never will
      }
      continue;  // the worker took it just now: it finishes soon
    }
    std::this_thread::sleep_for(std::chrono::microseconds(10));
  }
  w.task = nullptr;
  w.mail.store(Worker::kIdle, std::memory_order_release);
  return Wait::Done;
}

bool Runtime::run_on_worker(unsigned w, std::function<void()> fn, std::chrono::milliseconds timeout) {
  if (w >= workers_.size()) return false;
  Worker& wk = *workers_[w];
  if (!wk.running.load(std::memory_order_acquire)) {
    fn();  // worker not running: nobody else touches its graph
    return true;
  }
  post(wk, std::move(fn));
  return wait(wk, std::chrono::steady_clock::now() + timeout) == Wait::Done;
}

double Runtime::elapsed_s() const {
  auto end = halted_ ? halt_time_ : std::chrono::steady_clock::now();
  return std::chrono::duration<double>(end - start_time_).count();
}

void Runtime::halt() {
  if (!started_ || halted_) return;
  for (auto& w : workers_) w->stop.store(true, std::memory_order_relaxed);
  for (auto& w : workers_) rte_eal_wait_lcore(w->lcore);
  halt_time_ = std::chrono::steady_clock::now();
  halted_ = true;
}

void Runtime::stop() {
  if (!started_) return;
  halt();
  for (auto& g : graphs_) cleanup_graph_instance(*g);
  graphs_.clear();
  close_ports();
  rte_mempool_free(pool_);
  pool_ = nullptr;
  rte_free(rcu_);
  rcu_ = nullptr;
  started_ = false;
}

void Runtime::close_port(PortRuntime& p, bool detach) {
  if (p.started) rte_eth_dev_stop(p.id);
  p.started = false;
  rte_eth_dev_close(p.id);  // flushes capture files (net_pcap) and frees queues
  if (detach && p.spec.is_vdev()) rte_eal_hotplug_remove("vdev", p.spec.device.c_str());
}

void Runtime::close_ports() {
  for (auto& p : ports_) close_port(p, false);
}

}  // namespace weft

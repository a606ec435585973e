#include "runtime/runtime.hpp"

#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include <stdexcept>
#include <thread>

#include "runtime/link_watch.hpp"
#include "weft/log.hpp"
#include "weft/port_lock.hpp"

namespace weft {

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

ServiceEnv Runtime::service_env() const {
  return {rcu_, static_cast<int>(rte_socket_id()), plan_.workers()};
}

const PortRuntime& WorkerInitContext::get(const std::string& port) const {
  for (const auto& p : ports_)
    if (p.name == port) return p;
  throw InitError("unknown port '" + port + "'");
}

Runtime::Runtime(GraphPlan plan) : plan_(std::move(plan)) {}

Runtime::~Runtime() {
  if (started_ || prepared_) stop();
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

void Runtime::start() {
  if (!prepared_) prepare();
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
  if (plan_.spec->runtime_figures) {
    try {
      probes_.set_timing(true);  // the file says so: stats.runtime
    } catch (const std::exception& e) {
      WEFT_LOG(Warning, "stats.runtime: %s", e.what());
    }
  }
  services_.start_pending(io_);
  if (io_) link_watch_ = std::make_unique<LinkWatch>(*io_, std::chrono::seconds(1), [this] { refresh_links(); });
  WEFT_LOG(Info, "running %zu element(s) on %zu worker(s), %zu port(s)", plan_.nodes.size(), workers_.size(),
           ports_.size());
}

void Runtime::prepare() {
  if (prepared_ || started_) return;
  if (!eal_running()) throw std::runtime_error("DPDK is not initialized");
  const GraphSpec& spec = *plan_.spec;
  try {
    pool_ = create_graph_pool(plan_);
    for (const auto& pp : plan_.ports) {
      ports_.push_back(setup_port(pp, pool_));
    }
    size_t rcu_size = rte_rcu_qsbr_get_memsize(plan_.workers());
    rcu_ = static_cast<rte_rcu_qsbr*>(rte_zmalloc("weft_rcu", rcu_size, RTE_CACHE_LINE_SIZE));
    if (!rcu_ || rte_rcu_qsbr_init(rcu_, plan_.workers()) != 0)
      throw std::runtime_error("cannot set up the RCU variable for " + std::to_string(plan_.workers()) + " workers");
    for (unsigned i = 0; i < plan_.workers(); i++) {
      auto w = std::make_unique<Worker>();
      w->index = i;
      w->probe.worker = i;
      w->rcu = rcu_;
      w->lcore = spec.worker_lcores[i];
      w->idle_sleep_us = spec.idle_sleep_us;
      w->idle_polls = spec.idle_polls;
      if (!rte_lcore_is_enabled(w->lcore))
        throw std::runtime_error("worker lcore " + std::to_string(w->lcore) + " is not enabled in DPDK");
      workers_.push_back(std::move(w));
    }
    services_ = build_services(plan_, service_env());
    for (unsigned i = 0; i < plan_.workers(); i++) {
      WorkerInitContext ctx(*this, *workers_[i], ports_, services_);
      graphs_.push_back(build_graph_instance(plan_, i, ctx));
      attach_probes(*graphs_[i], workers_[i]->probe);
      workers_[i]->graph.store(graphs_[i].get(), std::memory_order_release);
    }
  } catch (...) {
    for (auto& g : graphs_) cleanup_graph_instance(*g);
    graphs_.clear();
    services_.stop_all();
    workers_.clear();
    close_ports();
    rte_mempool_free(pool_);
    pool_ = nullptr;
    rte_free(rcu_);
    rcu_ = nullptr;
    throw;
  }
  prepared_ = true;
}

void Worker::post(std::function<void()> fn) {
  task = std::move(fn);
  mail.store(kPosted, std::memory_order_release);
}

Worker::Wait Worker::wait(std::chrono::steady_clock::time_point deadline) {
  while (true) {
    int m = mail.load(std::memory_order_acquire);
    if (m == kDone) break;
    if (m == kPosted && std::chrono::steady_clock::now() > deadline) {
      int expected = kPosted;
      if (mail.compare_exchange_strong(expected, kIdle, std::memory_order_acq_rel)) {
        task = nullptr;
        return Wait::Withdrawn;  // never ran, never will
      }
      continue;  // the worker took it just now: it finishes soon
    }
    std::this_thread::sleep_for(std::chrono::microseconds(10));
  }
  task = nullptr;
  mail.store(kIdle, std::memory_order_release);
  return Wait::Done;
}

bool Runtime::run_on_worker(unsigned w, std::function<void()> fn, std::chrono::milliseconds timeout) {
  if (w >= workers_.size()) return false;
  Worker& wk = *workers_[w];
  if (!wk.running.load(std::memory_order_acquire)) {
    fn();  // worker not running: nobody else touches its graph
    return true;
  }
  wk.post(std::move(fn));
  return wk.wait(std::chrono::steady_clock::now() + timeout) == Worker::Wait::Done;
}

void Runtime::watch_workers() {
  const auto now = std::chrono::steady_clock::now();
  watch_.resize(workers_.size(), WorkerWatch{0, now, false, 0});
  for (size_t i = 0; i < workers_.size(); i++) {
    const Worker& w = *workers_[i];
    WorkerWatch& ww = watch_[i];
    const uint64_t polls = w.polls.get();
    if (polls != ww.polls || !w.running.load(std::memory_order_acquire)) {
      if (ww.stalled)
        WEFT_LOG(Notice, "worker %u (lcore %u) is looping again after %.1f s", w.index, w.lcore,
                 std::chrono::duration<double>(now - ww.moved).count());
      ww = {polls, now, false, ww.stalls};
    } else if (!ww.stalled && now - ww.moved >= kStallAfter) {
      ww.stalled = true;
      ww.stalls++;
      WEFT_LOG(Warning,
               "worker %u (lcore %u) has not finished a loop for %.1f s: an element is stuck in push or run "
               "(handlers and reloads cannot reach it)",
               w.index, w.lcore, std::chrono::duration<double>(now - ww.moved).count());
    }
  }
}

double Runtime::stalled_for(unsigned w) const {
  if (w >= watch_.size() || !watch_[w].stalled) return 0;
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - watch_[w].moved).count();
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

void Runtime::refresh_links() {
  for (auto& p : ports_) {
    LinkState now = read_link(p.id);
    if (now == p.link) continue;
    log(now.up ? LogLevel::Notice : LogLevel::Warning, "port '%s': %s (was %s)", p.name.c_str(),
        link_text(now).c_str(), link_text(p.link).c_str());
    p.link = now;
  }
}

void Runtime::stop() {
  if (!started_ && !prepared_) return;
  link_watch_.reset();
  halt();
  try {
    probes_.end_sessions("routerd stopped");  // captures write what they have and close their files
  } catch (const std::exception& e) {
    WEFT_LOG(Warning, "stopping the trace and captures: %s", e.what());
  }
  for (auto& g : graphs_) cleanup_graph_instance(*g);
  graphs_.clear();
  services_.stop_all();
  close_ports();
  rte_mempool_free(pool_);
  pool_ = nullptr;
  rte_free(rcu_);
  rcu_ = nullptr;
  started_ = false;
  prepared_ = false;
}

void Runtime::close_ports() {
  for (auto& p : ports_) close_port(p, false);
}

void Runtime::reconfigure_port(size_t i, const PortPlan& pp) {
  PortRuntime& p = ports_[i];
  std::lock_guard<std::mutex> hold(port_lock(p.id));  // workers are parked; other threads wait (port_lock.hpp)
  if (p.started) rte_eth_dev_stop(p.id);
  p.started = false;
  p = setup_port(pp, pool_, p.id);
}

void Runtime::commit(Generation next) {
  graphs_ = std::move(next.graphs);
  ports_ = std::move(next.ports);
  plan_ = std::move(next.plan);
  for (auto& w : workers_) {
    w->idle_sleep_us = plan_.spec->idle_sleep_us;
    w->idle_polls = plan_.spec->idle_polls;
  }
  reloads_++;
}

}  // namespace weft

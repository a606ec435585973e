// Runtime: DPDK's EAL, the ports, the packet pool, and one graph instance per
// worker lcore, each run to completion by its worker without locks.
//
// The control thread (the EAL main lcore) talks to a worker only through its
// mailbox: it posts a task, the worker runs it at a batch boundary and marks
// it done. A task not yet started can be withdrawn, which is how a reload
// that a worker does not answer in time is rolled back. Handler calls and the
// reload transaction (reload.cpp) are built on it.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/validator.hpp"
#include "weft/counter.hpp"
#include "weft/element.hpp"
#include "weft/service.hpp"

namespace weft {

struct WorkerGraph {
  std::vector<std::unique_ptr<Element>> elements;  // same order as GraphPlan::nodes
  std::vector<Element*> sources;                   // sources and polled elements, run every loop
};

// Creates, configures, wires and initializes one instance of every element of
// a validated plan, for worker `worker`. On failure, cleans up what was
// initialized and throws std::runtime_error naming the element.
std::unique_ptr<WorkerGraph> build_graph_instance(const GraphPlan& plan, unsigned worker, InitContext& ctx);
// Runs cleanup() on every element of an instance.
void cleanup_graph_instance(WorkerGraph& g);
// Copies the framework's counters (outputs and drops, matched by name) of an
// element into its replacement.
void carry_counters(Element& to, const Element& from, const NodePlan& to_plan, const NodePlan& from_plan);

// A packet buffer pool; packed (not one buffer per page) when `packed` and
// running without hugepages with IOVA as VA (nothing DMAs from physical
// addresses then). Returns nullptr and sets rte_errno on failure.
rte_mempool* create_packet_pool(const char* name, unsigned n, unsigned cache, int socket, bool packed = true);

// The CPUs this process may run on (at least one).
std::vector<int> allowed_cpus();

struct Worker {
  enum Mail : int { kIdle = 0, kPosted = 1, kRunning = 2, kDone = 3 };

  unsigned index = 0;
  unsigned lcore = 0;
  std::atomic<unsigned> idle_sleep_us{0};
  std::atomic<unsigned> idle_polls{256};
  std::atomic<WorkerGraph*> graph{nullptr};
  std::atomic<bool> stop{false};
  std::atomic<bool> running{false};
  // Mailbox: control stores `task`, then kPosted; the worker moves it to
  // kRunning (compare-and-swap, so control can withdraw a task still posted),
  // runs it, and stores kDone.
  std::atomic<int> mail{kIdle};
  std::function<void()> task;
  rte_rcu_qsbr* rcu = nullptr;  // reports a quiescent state every loop
  // Loop statistics.
  Counter polls;        // loop iterations
  Counter busy_polls;   // iterations that moved packets
  Counter sleeps;       // idle sleeps
  Counter generation;   // graphs this worker has switched to (0: the first)
};

struct PortRuntime {
  std::string name;
  PortSpec spec;  // as configured (for reload's comparison)
  uint16_t id = 0;
  uint16_t rx_queues = 0;
  uint16_t tx_queues = 0;
  bool started = false;
};

// What a reload did, for the reply and the log.
struct ReloadReport {
  bool ok = false;
  std::string error;
  bool rolled_back = false;
  struct Kept {
    std::string id, klass;
    std::string state;  // "carried", "reset" or "none" (stateless class)
    std::string why;
  };
  std::vector<std::string> added, removed;
  std::vector<Kept> kept;
  std::vector<std::string> ports_added, ports_removed, ports_changed, ports_unchanged;
  std::string mode;  // "flip" (each worker on its own) or "pause" (all parked: ports changed)
  double build_ms = 0, swap_ms = 0, pause_ms = 0;
  uint64_t packets_lost = 0;
};

// The registry behind InitContext::shared(): objects by key, reused while
// their compat string is unchanged, freed with their last user.
class SharedObjects {
 public:
  std::shared_ptr<void> get(const std::string& key, const std::string& compat,
                            const std::function<std::shared_ptr<void>()>& make);

 private:
  struct Entry {
    std::string compat;
    std::weak_ptr<void> object;
  };
  std::map<std::string, Entry> entries_;
};

// Control-thread services registered by elements (weft/service.hpp).
class ServiceRegistry {
 public:
  void add(const std::string& key, const std::shared_ptr<Service>& s);
  // Starts, on `io`, every live service not started yet; forgets dead ones.
  void start_pending(boost::asio::io_context* io);
  // Live services, by key.
  std::vector<std::pair<std::string, std::shared_ptr<Service>>> live() const;

 private:
  struct Entry {
    std::weak_ptr<Service> service;
    bool started = false;
  };
  std::map<std::string, Entry> entries_;
};

class ReloadTransaction;

class Runtime {
 public:
  explicit Runtime(GraphPlan plan);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // EAL arguments for a graph: its `eal.args` or the embedded default
  // (--no-huge --no-shconf --no-pci), plus lcores and virtual devices.
  static std::vector<std::string> eal_args(const GraphSpec& g, const std::string& program);

  // Starts DPDK (once per process). Throws std::runtime_error.
  static void init_eal(const std::vector<std::string>& args);
  static bool eal_running();
  // The TSC frequency measured against CLOCK_MONOTONIC_RAW over ~50 ms
  // (measured on the first call), to check DPDK's own estimate: a thread
  // preempted during EAL's 100 ms calibration can leave rte_get_tsc_hz()
  // off by any factor, and every TSC-based rate and timeout with it.
  static double measured_tsc_hz();

  // Sets up the packet pool and ports, builds and initializes every worker's
  // graph, starts ports, launches the workers. Throws on any failure, leaving
  // nothing running.
  void start();
  // Stops the workers (their counters stay readable).
  void halt();
  // Stops the workers, cleans every element up, stops and closes the ports.
  void stop();
  bool started() const { return started_; }

  // Replaces the running graph with `next` (validated), carrying the state of
  // elements kept (same id and class) and losing no packet: see reload.cpp.
  // On failure the old graph keeps running exactly as before.
  ReloadReport reload(GraphPlan next, std::chrono::milliseconds timeout);

  // Runs `fn` on worker `w` at a batch boundary; false if the worker did not
  // take it within `timeout` (it is then withdrawn and never runs).
  bool run_on_worker(unsigned w, std::function<void()> fn, std::chrono::milliseconds timeout);

  const GraphPlan& plan() const { return plan_; }
  const std::vector<std::unique_ptr<Worker>>& workers() const { return workers_; }
  const std::vector<PortRuntime>& ports() const { return ports_; }
  rte_mempool* mempool() const { return pool_; }
  const PortRuntime* find_port(const std::string& name) const;
  // The instance of element `node` on worker `w`.
  Element* element(unsigned w, size_t node) const;
  // Seconds the workers have been running (frozen once halted).
  double elapsed_s() const;
  uint64_t reloads() const { return reloads_; }
  rte_rcu_qsbr* rcu() const { return rcu_; }
  SharedObjects& shared_objects() const { return shared_; }
  ServiceRegistry& services() const { return services_; }
  // The control thread's event loop: services start on it (after start() and
  // after each reload). Without one (tests), services are not started.
  void set_control_loop(boost::asio::io_context* io) { io_ = io; }

 private:
  friend class ReloadTransaction;
  void setup_pool();
  PortRuntime setup_port(const PortPlan& pp, bool existing, uint16_t id);
  void close_port(PortRuntime& p, bool detach);
  void close_ports();
  // Mailbox primitives (control thread).
  void post(Worker& w, std::function<void()> fn);
  enum class Wait { Done, Withdrawn };
  Wait wait(Worker& w, std::chrono::steady_clock::time_point deadline);

  GraphPlan plan_;
  rte_mempool* pool_ = nullptr;
  std::vector<PortRuntime> ports_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::unique_ptr<WorkerGraph>> graphs_;
  bool started_ = false;
  bool halted_ = false;
  uint64_t reloads_ = 0;
  std::chrono::steady_clock::time_point start_time_, halt_time_;
  rte_rcu_qsbr* rcu_ = nullptr;
  mutable SharedObjects shared_;
  mutable ServiceRegistry services_;
  boost::asio::io_context* io_ = nullptr;
};

// An InitContext for worker `w` resolving ports in `ports`.
class WorkerInitContext : public InitContext {
 public:
  WorkerInitContext(const Runtime& rt, const Worker& w, const std::vector<PortRuntime>& ports)
      : rt_(rt), w_(w), ports_(ports) {}
  unsigned worker_index() const override { return w_.index; }
  unsigned worker_count() const override;
  unsigned lcore() const override { return w_.lcore; }
  int socket() const override;
  rte_mempool* mempool() const override { return rt_.mempool(); }
  uint16_t port_id(const std::string& port) const override { return get(port).id; }
  uint16_t rx_queue(const std::string& port) const override;
  uint16_t tx_queue(const std::string& port) const override;
  rte_rcu_qsbr* rcu() const override;
  std::shared_ptr<void> shared_object(const std::string& key, const std::string& compat,
                                      const std::function<std::shared_ptr<void>()>& make) override;
  void register_service(const std::string& key, const std::shared_ptr<Service>& s) override;

 private:
  const PortRuntime& get(const std::string& port) const;
  const Runtime& rt_;
  const Worker& w_;
  const std::vector<PortRuntime>& ports_;
};

}  // namespace weft

// Runtime: DPDK's EAL (eal.cpp), the ports and the packet pool (ports.cpp),
// and one graph instance per worker lcore (graph_instance.cpp), each run to
// completion by its worker without locks (worker.cpp).
//
// The control thread (the EAL main lcore) owns the Runtime and reaches the
// workers only through their mailboxes (worker.hpp). A reload builds the next
// generation (plan, graphs, ports) beside the running one and commits it
// through the narrow interface at the end of the class (reload.cpp).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/validator.hpp"
#include "runtime/graph_instance.hpp"
#include "runtime/ports.hpp"
#include "runtime/probe_control.hpp"
#include "runtime/registries.hpp"
#include "runtime/services.hpp"
#include "runtime/worker.hpp"
#include "weft/element.hpp"

namespace weft {

class LinkWatch;

// The CPUs this process may run on (at least one).
std::vector<int> allowed_cpus();

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
  std::vector<std::string> services_added, services_removed;
  std::vector<Kept> services_kept;
  std::vector<std::string> ports_added, ports_removed, ports_changed, ports_unchanged;
  std::string mode;  // "flip" (each worker on its own) or "pause" (all parked: ports changed)
  double build_ms = 0, swap_ms = 0, pause_ms = 0;
  uint64_t packets_lost = 0;
};

class Runtime {
 public:
  explicit Runtime(GraphPlan plan);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // EAL arguments for a graph: its `eal.args` or the embedded default
  // (--no-huge --no-shconf --no-pci), plus lcores and virtual devices.
  static std::vector<std::string> eal_args(const GraphSpec& g, const std::string& program);

  // Starts DPDK (once per process), then the framework's clock (weft/clock.hpp:
  // measured over 20 ms, not DPDK's estimate). Throws std::runtime_error.
  static void init_eal(const std::vector<std::string>& args);
  static bool eal_running();

  // Sets up the packet pool and ports, builds and initializes every worker's
  // graph, starts ports, launches the workers. Throws on any failure, leaving
  // nothing running.
  void start();
  // All of start() but launching the workers (start() then only launches
  // them): what routerd does with a graph before any packet moves. The
  // graph fuzz target runs this; stop() undoes it.
  void prepare();
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

  // The stall watch (control thread; routerd samples every 100 ms, and at
  // each status request): a running worker whose loop counter has not moved
  // for kStallAfter is stalled — an element stuck in push or run. Stalls and
  // their end are logged.
  static constexpr std::chrono::milliseconds kStallAfter{500};
  void watch_workers();
  struct WorkerWatch {
    uint64_t polls = 0;
    std::chrono::steady_clock::time_point moved;  // when its counter was last seen moving
    bool stalled = false;
    uint64_t stalls = 0;  // stalls seen so far
  };
  // Seconds worker `w` has been stalled, at the last sample (0: it loops).
  double stalled_for(unsigned w) const;
  const WorkerWatch& worker_watch(unsigned w) const { return watch_[w]; }

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
  // Packets the applied reloads reported lost, all together (0 is the goal).
  uint64_t reload_packets_lost() const { return reload_packets_lost_; }
  rte_rcu_qsbr* rcu() const { return rcu_; }
  SharedObjects& shared_objects() const { return shared_; }
  // The graph's services (its `services:` section), running on the control thread.
  const ServiceSet& services() const { return services_; }
  ServiceEnv service_env() const;
  // The control thread's event loop: services start on it (after start() and
  // after each reload). Without one (tests), services are not started.
  void set_control_loop(boost::asio::io_context* io) { io_ = io; }
  // Reads every port's link and logs the changes (the link watch calls this
  // once a second on the control loop, from start() to stop()).
  void refresh_links();
  // Runtime figures, the packet trace and captures (probe_control.hpp).
  ProbeControl& probes() { return probes_; }
  const ProbeControl& probes() const { return probes_; }

  // --- What a reload transaction (reload.cpp) does to a running Runtime ---
  // Besides these, it talks to the workers through their mailboxes
  // (Worker::post, Worker::wait) and switches their `graph`.

  // What runs: a plan, one graph instance per worker, the ports they use.
  struct Generation {
    GraphPlan plan;
    std::vector<std::unique_ptr<WorkerGraph>> graphs;
    std::vector<PortRuntime> ports;
  };
  // The graph instance of worker `w` in the running generation.
  WorkerGraph& graph(unsigned w) const { return *graphs_[w]; }
  // Stops running port `i` and sets it up again as `pp` says (same device,
  // same port id); the port table describes it afterwards. Only while every
  // worker is parked. Throws, leaving the port stopped.
  void reconfigure_port(size_t i, const PortPlan& pp);
  // The running services, for the transaction's service step (services.hpp),
  // and the event loop new services start on (null: none).
  ServiceSet& running_services() { return services_; }
  boost::asio::io_context* control_loop() const { return io_; }
  // Makes `next` the running generation. Every worker already runs its graph
  // from `next`; the caller has cleaned up the old graphs and closed the ports
  // `next` does not keep, and committed the services. Frees the old
  // generation, gives the workers the new idle settings, counts the reload.
  void commit(Generation next);

 private:
  void close_ports();

  GraphPlan plan_;
  rte_mempool* pool_ = nullptr;
  std::vector<PortRuntime> ports_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::unique_ptr<WorkerGraph>> graphs_;
  bool started_ = false;
  bool prepared_ = false;
  bool halted_ = false;
  uint64_t reloads_ = 0;
  uint64_t reload_packets_lost_ = 0;
  std::chrono::steady_clock::time_point start_time_, halt_time_;
  rte_rcu_qsbr* rcu_ = nullptr;
  mutable SharedObjects shared_;
  ServiceSet services_;
  boost::asio::io_context* io_ = nullptr;
  std::unique_ptr<LinkWatch> link_watch_;
  std::vector<WorkerWatch> watch_;
  ProbeControl probes_{*this};  // last: its sessions go before the workers and graphs they watch
};

// An InitContext for worker `w` resolving ports in `ports`.
class WorkerInitContext : public ElementInitContext {
 public:
  WorkerInitContext(const Runtime& rt, const Worker& w, const std::vector<PortRuntime>& ports,
                    const ServiceSet& services)
      : ElementInitContext(&services), rt_(rt), w_(w), ports_(ports) {}
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

 private:
  const PortRuntime& get(const std::string& port) const;
  const Runtime& rt_;
  const Worker& w_;
  const std::vector<PortRuntime>& ports_;
};

}  // namespace weft

// Runtime: DPDK's EAL, the ports, the packet pool, and one graph instance per
// worker lcore, each run to completion by its worker without locks.
//
// The control thread (the EAL main lcore) talks to a worker only through its
// mailbox: it posts a task, the worker runs it between two batches and
// acknowledges. Handler calls use it now; graph swaps on reload build on it.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "validator.hpp"
#include "weft/counter.hpp"
#include "weft/element.hpp"

namespace weft {

struct WorkerGraph {
  std::vector<std::unique_ptr<Element>> elements;  // same order as GraphPlan::nodes
  std::vector<Element*> sources;
};

// Creates, configures, wires and initializes one instance of every element of
// a validated plan, for worker `worker`. On failure, cleans up what was
// initialized and throws std::runtime_error naming the element.
std::unique_ptr<WorkerGraph> build_graph_instance(const GraphPlan& plan, unsigned worker, InitContext& ctx);

// A packet buffer pool; packed (not one buffer per page) when `packed` and
// running without hugepages with IOVA as VA (nothing DMAs from physical
// addresses then). Returns nullptr and sets rte_errno on failure.
rte_mempool* create_packet_pool(const char* name, unsigned n, unsigned cache, int socket, bool packed = true);

struct Worker {
  unsigned index = 0;
  unsigned lcore = 0;
  unsigned burst = 32;
  unsigned idle_sleep_us = 0;
  unsigned idle_polls = 256;
  std::atomic<WorkerGraph*> graph{nullptr};
  std::atomic<bool> stop{false};
  std::atomic<bool> running{false};
  // Mailbox: control sets `task`, then bumps `request`; the worker runs the
  // task and stores the same number in `done`.
  std::atomic<uint64_t> request{0};
  std::atomic<uint64_t> done{0};
  std::function<void()> task;
  // Loop statistics.
  Counter polls;       // loop iterations
  Counter busy_polls;  // iterations that moved packets
  Counter sleeps;      // idle sleeps
};

struct PortRuntime {
  std::string name;
  uint16_t id = 0;
  uint16_t rx_queues = 0;
  uint16_t tx_queues = 0;
  bool started = false;
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

  // Starts DPDK (once per process). Throws std::runtime_error.
  static void init_eal(const std::vector<std::string>& args);
  static bool eal_running();

  // Sets up the packet pool and ports, builds and initializes every worker's
  // graph, starts ports, launches the workers. Throws on any failure, leaving
  // nothing running.
  void start();
  // Stops the workers (their counters stay readable).
  void halt();
  // Stops the workers, cleans every element up, stops and closes the ports.
  void stop();
  bool started() const { return started_; }

  // Runs `fn` on worker `w` between two batches; false if it did not answer
  // within `timeout`.
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

 private:
  void setup_pool();
  void setup_ports();
  std::unique_ptr<WorkerGraph> build_worker_graph(unsigned w);
  void close_ports();

  GraphPlan plan_;
  rte_mempool* pool_ = nullptr;
  std::vector<PortRuntime> ports_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::unique_ptr<WorkerGraph>> graphs_;
  bool started_ = false;
  bool halted_ = false;
  std::chrono::steady_clock::time_point start_time_, halt_time_;
};

}  // namespace weft

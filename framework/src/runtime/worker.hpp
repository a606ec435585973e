// Worker: one per worker lcore. It runs its own instance of the graph to
// completion, without locks (worker_main, worker.cpp: the fast path).
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

#include "runtime/probe.hpp"
#include "weft/counter.hpp"
#include "weft/element.hpp"

namespace weft {

struct WorkerGraph;

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
  Counter element_failures;  // element instances that threw here (element_faults.hpp)
  // Runtime figures, trace (probe.hpp): changed only by tasks from the mailbox.
  WorkerProbe probe;

  // The mailbox's control side (control thread only; runtime.cpp).
  // Posts `fn`, to run at the worker's next batch boundary.
  void post(std::function<void()> fn);
  enum class Wait { Done, Withdrawn };
  // Waits until the posted task is done; withdraws it if the worker has not
  // taken it by `deadline` (a task already running is always waited for).
  Wait wait(std::chrono::steady_clock::time_point deadline);
};

// The worker loop, launched on the worker's lcore (rte_eal_remote_launch);
// returns once `stop` is set.
int worker_main(void* worker);

}  // namespace weft

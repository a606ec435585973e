// The worker loop: the only fast-path code that is not an element's.
//
// Each turn runs every source (and polled element) of the worker's graph: a
// source pushes what it receives through the graph, depth-first, to
// completion, then its staged outputs are flushed. Between two turns (a batch
// boundary) no packet is in flight and no element is running: that is where
// the worker reports an RCU quiescent state, runs a task from its mailbox
// (worker.hpp), and reads its graph pointer anew (a reload switches it there).
// After `idle_polls` empty turns it sleeps `idle_sleep_us` (0: always
// busy-poll). No lock, no system call while packets flow. While runtime
// figures are on, the turn over the sources is timed (timed_turn).
//
// Nothing thrown by an element leaves the loop: a source's run() is
// contained here, a push where its batch entered (element_faults.hpp).
#include <rte_cycles.h>
#include <rte_rcu_qsbr.h>

#include "runtime/element_faults.hpp"
#include "runtime/fault_log.hpp"
#include "runtime/graph_instance.hpp"
#include "runtime/worker.hpp"
#include "weft/log.hpp"

namespace weft {

int worker_main(void* arg) {
  Worker& w = *static_cast<Worker*>(arg);
  if (w.rcu) {
    rte_rcu_qsbr_thread_register(w.rcu, w.index);
    rte_rcu_qsbr_thread_online(w.rcu, w.index);
  }
  w.running.store(true, std::memory_order_release);
  unsigned idle = 0;
  WorkerGraph* current = nullptr;
  while (!w.stop.load(std::memory_order_relaxed)) {
    // Nothing read from a shared table in the previous loop is held now.
    if (w.rcu) rte_rcu_qsbr_quiescent(w.rcu, w.index);
    WorkerGraph* g = w.graph.load(std::memory_order_acquire);
    if (g != current) set_fault_context(&w, current = g);
    bool busy = false;
    if (kProbeHooks && w.probe.timing) [[unlikely]] {  // runtime figures: the same turn, timed (probe_path.cpp)
      busy = timed_turn(*g, w.probe);
    } else {
      for (size_t i = 0; i < g->sources.size(); i++) {
        Element* s = g->sources[i];  // a failed one is replaced in place, by its quarantine
        try {
          busy |= s->run();
          s->flush_staged();
        } catch (...) {
          contain_element_failure(*s, "run", 0);
        }
      }
    }
    w.polls.inc();
    // Batch boundary: the only place the control thread's requests run.
    if (w.mail.load(std::memory_order_acquire) == Worker::kPosted) {
      int expected = Worker::kPosted;
      if (w.mail.compare_exchange_strong(expected, Worker::kRunning, std::memory_order_acq_rel)) {
        try {
          w.task();
        } catch (...) {  // the framework's tasks catch their own; this keeps the mailbox answering
          WEFT_LOG(Error, "worker %u: a control task threw: %s", w.index, current_exception_text().c_str());
        }
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
  set_fault_context(nullptr, nullptr);
  if (w.rcu) {
    rte_rcu_qsbr_thread_offline(w.rcu, w.index);
    rte_rcu_qsbr_thread_unregister(w.rcu, w.index);
  }
  w.running.store(false, std::memory_order_release);
  return 0;
}

}  // namespace weft

// When an element throws on a worker (docs/engine.md, "When an element
// throws"). The exception is caught where the batch entered the element
// (Element::push_into, or the worker loop around a source's run()); then, on
// that worker, without stopping it:
//
//   - the batch's packets are counted under the framework's drop reason
//     `exception`; what the element had staged on its outputs is freed; the
//     rest is not (the element may have passed packets on or freed them
//     before it threw: freeing one twice would corrupt the pool);
//   - the instance is taken out of service: every output that fed it now
//     feeds a sink that drops (and frees) as `quarantined`, and it is no
//     longer run; its state is suspect, so a reload builds a new instance
//     without carrying it;
//   - the fault is logged once and recorded for `routerctl status`.
//
// The rest of the graph, and the other workers, go on forwarding.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "weft/element.hpp"

namespace weft {

struct Worker;
struct WorkerGraph;

// One element instance that threw on its worker.
struct ElementFault {
  size_t node = 0;        // its index in the graph (GraphPlan::nodes)
  const char* call = "";  // "push" or "run"
  std::string error;      // the exception's message
  uint64_t packets = 0;   // the batch it threw on
  std::chrono::steady_clock::time_point at;
};

// The failed instances of one worker's graph. Written only by that worker,
// read by the control thread: a record is complete before `count` covers it
// and never changes afterwards. An instance fails at most once.
class ElementFaults {
 public:
  void reserve(size_t elements);
  size_t size() const { return count_.load(std::memory_order_acquire); }
  const ElementFault& operator[](size_t i) const { return records_[i]; }
  // The fault of instance `node`, or null.
  const ElementFault* find(size_t node) const;

 private:
  friend void contain_element_failure(Element& e, const char* call, uint64_t packets) noexcept;
  std::unique_ptr<ElementFault[]> records_;
  size_t capacity_ = 0;
  std::atomic<size_t> count_{0};
  std::vector<std::unique_ptr<Element>> sinks_;  // the worker's own
};

// The worker and graph running on this thread (set by the worker loop and
// the test harness): where a failed instance is found and contained. Without
// one, a failure is counted and logged only.
void set_fault_context(Worker* w, WorkerGraph* g) noexcept;

// In a catch block on a worker: `e` threw in `call` with a batch of
// `packets` (0 for run()). See above.
void contain_element_failure(Element& e, const char* call, uint64_t packets) noexcept;

}  // namespace weft

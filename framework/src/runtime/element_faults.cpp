#include "runtime/element_faults.hpp"

#include <rte_mbuf.h>

#include "runtime/element_wiring.hpp"
#include "runtime/fault_log.hpp"
#include "runtime/graph_instance.hpp"
#include "runtime/worker.hpp"
#include "weft/log.hpp"

namespace weft {

namespace {

struct FaultContext {
  Worker* worker = nullptr;
  WorkerGraph* graph = nullptr;
};
thread_local FaultContext tls_context;

// What the outputs that fed a failed instance feed instead: it drops every
// batch, counting it on the failed instance as `quarantined`.
class Quarantine final : public Element {
 public:
  explicit Quarantine(Element& failed) : failed_(failed) {}
  void push(uint16_t, Batch& b) override {
    ElementWiring::count_framework_drop(failed_, 1, b.count);
    rte_pktmbuf_free_bulk(b.pkts, b.count);
    b.clear();
  }

 private:
  Element& failed_;
};

}  // namespace

void ElementFaults::reserve(size_t elements) {
  records_ = std::make_unique<ElementFault[]>(elements);
  capacity_ = elements;
}

const ElementFault* ElementFaults::find(size_t node) const {
  for (size_t i = 0, n = size(); i < n; i++)
    if (records_[i].node == node) return &records_[i];
  return nullptr;
}

void set_fault_context(Worker* w, WorkerGraph* g) noexcept { tls_context = {w, g}; }

uint64_t ElementWiring::free_staged(Element& e) {
  uint64_t n = 0;
  for (size_t i = 0; i < e.n_outputs_; i++) {
    Batch& s = e.outputs_[i].staging;
    n += s.count;
    rte_pktmbuf_free_bulk(s.pkts, s.count);
    s.clear();
  }
  e.staged_ = false;
  return n;
}

void Element::contain_failure(const char* call, Batch& b, uint16_t n) noexcept {
  contain_element_failure(*this, call, n);
  b.clear();
}

void contain_element_failure(Element& e, const char* call, uint64_t packets) noexcept {
  const std::string error = current_exception_text();
  ElementWiring::count_framework_drop(e, 0, packets);
  ElementWiring::free_staged(e);
  const FaultContext ctx = tls_context;
  const char* where = "";
  try {
    WorkerGraph* g = ctx.graph;
    size_t node = g ? g->elements.size() : 0;
    for (size_t i = 0; g && i < g->elements.size(); i++)
      if (g->elements[i].get() == &e) node = i;
    if (g && node < g->elements.size()) {
      // Out of service: whatever fed it feeds a sink, and it is not run again.
      ElementFaults& f = g->faults;
      auto sink = std::make_unique<Quarantine>(e);
      retarget(*g, &e, sink.get());  // outputs, and the probes' shims standing on them
      for (auto& s : g->sources)
        if (s == &e) s = sink.get();
      f.sinks_.push_back(std::move(sink));
      if (const size_t i = f.count_.load(std::memory_order_relaxed); i < f.capacity_) {
        f.records_[i] = {node, call, error, packets, std::chrono::steady_clock::now()};
        f.count_.store(i + 1, std::memory_order_release);
      }
      where = ", the instance is out of service on this worker until a reload replaces it";
    }
  } catch (...) {
    where = " (it could not be taken out of service: out of memory)";
  }
  if (ctx.worker) ctx.worker->element_failures.inc();
  WEFT_LOG(Error, "worker %u: element '%s' (%s) threw in %s: %s; %llu packet(s) dropped (exception)%s",
           e.worker_index(), e.id().c_str(), e.element_class().name.c_str(), call, error.c_str(),
           static_cast<unsigned long long>(packets), where);
}

}  // namespace weft

// A worker's instance of a graph: every element of a validated plan created,
// configured, wired and initialized for one worker. Each worker has its own,
// so the elements' per-worker state needs no locks.
#pragma once

#include <memory>
#include <vector>

#include "core/validator.hpp"
#include "runtime/element_faults.hpp"
#include "runtime/probe.hpp"
#include "runtime/services.hpp"
#include "weft/element.hpp"

namespace weft {

struct WorkerGraph {
  std::vector<std::unique_ptr<Element>> elements;  // same order as GraphPlan::nodes
  std::vector<Element*> sources;                   // sources and polled elements, run every loop
  ElementFaults faults;                            // instances that threw (element_faults.hpp)
  std::unique_ptr<ElementProbe[]> probes;          // one per element (probe.hpp); unwatched until apply_probes
};

// Creates, configures, wires and initializes one instance of every element of
// a validated plan, for worker `worker`. On failure, cleans up what was
// initialized and throws std::runtime_error naming the element.
std::unique_ptr<WorkerGraph> build_graph_instance(const GraphPlan& plan, unsigned worker, ElementInitContext& ctx);
// Every handler of an element (`routerctl handler`): the framework's own
// (class, config), then those its class declares. `n` must outlive them.
std::vector<HandlerSpec> handlers_of(const NodePlan& n);
// Runs cleanup() on every element of an instance; one that throws is logged
// (control_faults()) and the others are cleaned up all the same.
void cleanup_graph_instance(WorkerGraph& g);
// cleanup() of one element, the same way.
void cleanup_element(Element& e);
// Copies the framework's counters (outputs and drops, matched by name) of an
// element into its replacement.
void carry_counters(Element& to, const Element& from, const NodePlan& to_plan, const NodePlan& from_plan);

}  // namespace weft

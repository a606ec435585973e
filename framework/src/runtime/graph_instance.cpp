#include "runtime/graph_instance.hpp"

#include <stdexcept>

#include "runtime/element_wiring.hpp"
#include "runtime/fault_log.hpp"

namespace weft {

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

std::unique_ptr<WorkerGraph> build_graph_instance(const GraphPlan& plan, unsigned w, ElementInitContext& ctx) {
  auto g = std::make_unique<WorkerGraph>();
  const GraphSpec& spec = *plan.spec;
  for (const auto& n : plan.nodes) {
    try {
      auto el = n.klass->create();
      ElementWiring::bind(*el, n.spec->id, *n.klass, w, n.outputs.size(), spec.count_bytes);
      configure_instance(*el, n, spec);
      g->elements.push_back(std::move(el));
    } catch (...) {
      throw std::runtime_error("element '" + n.spec->id + "' failed to configure on worker " + std::to_string(w) +
                               ": " + current_exception_text());
    }
  }
  g->probes = std::make_unique<ElementProbe[]>(plan.nodes.size());
  for (size_t i = 0; i < plan.nodes.size(); i++) {
    const auto& n = plan.nodes[i];
    ElementProbe& p = g->probes[i];
    p.node = static_cast<uint16_t>(i);
    p.source = n.klass->inputs.empty() && !n.klass->variadic_inputs;
    p.n_taps = n.outputs.size();
    p.taps = std::make_unique<CaptureTap*[]>(p.n_taps);
    for (size_t o = 0; o < n.links.size(); o++)
      ElementWiring::link(*g->elements[i], o, g->elements[static_cast<size_t>(n.links[o].element)].get(),
                          n.links[o].input);
    if ((n.klass->inputs.empty() && !n.klass->variadic_inputs) || n.klass->polled)
      g->sources.push_back(g->elements[i].get());
  }
  g->faults.reserve(g->elements.size());
  size_t initialized = 0;
  try {
    for (auto& el : g->elements) {
      ctx.set_element(&plan.nodes[initialized]);
      el->initialize(ctx);
      initialized++;
    }
    ctx.set_element(nullptr);
  } catch (...) {
    ctx.set_element(nullptr);
    const std::string why = current_exception_text();
    for (size_t i = 0; i < initialized; i++) cleanup_element(*g->elements[i]);
    const std::string& id = g->elements[initialized]->id();
    throw std::runtime_error("element '" + id + "' failed to initialize on worker " + std::to_string(w) + ": " + why);
  }
  return g;
}

std::vector<HandlerSpec> handlers_of(const NodePlan& n) {
  std::vector<HandlerSpec> hs;
  hs.push_back({"class", "the element's class", [](const Element& e) { return e.element_class().name; }, {}});
  hs.push_back({"config", "parameters in effect (defaults applied), as YAML",
                [&n](const Element&) { return make_params(*n.spec, *n.klass).effective_yaml(); }, {}});
  for (const auto& h : n.klass->handlers) hs.push_back(h);
  return hs;
}

void cleanup_element(Element& e) {
  try {
    e.cleanup();
  } catch (...) {
    control_faults().note("element '" + e.id() + "' (" + e.element_class().name + ") threw in cleanup on worker " +
                          std::to_string(e.worker_index()) + ": " + current_exception_text());
  }
}

void cleanup_graph_instance(WorkerGraph& g) {
  for (auto& el : g.elements) cleanup_element(*el);
}

}  // namespace weft

// ElementWiring: the framework's access to the fields of an Element it owns
// (identity, outputs, counters), for building graph instances, carrying
// counters across reloads and containing an element that threw.
#pragma once

#include <memory>
#include <string>

#include "weft/element.hpp"

namespace weft {

class ElementWiring {
 public:
  static void bind(Element& e, const std::string& id, const ElementClass& k, unsigned worker, size_t n_outputs,
                   bool count_bytes) {
    e.id_ = id;
    e.count_bytes_ = count_bytes;
    e.class_ = &k;
    e.worker_ = worker;
    e.n_outputs_ = n_outputs;
    e.outputs_ = std::make_unique<OutputPort[]>(n_outputs);
    e.drops_ = std::make_unique<Counter[]>(k.drops.size() + kFrameworkDropCount);
  }
  // Drop counters, matched by name; the framework's own carried as well.
  static void carry_drops(Element& to, const Element& from) {
    const auto& td = to.class_->drops;
    const auto& fd = from.class_->drops;
    for (size_t i = 0; i < td.size(); i++)
      for (size_t j = 0; j < fd.size(); j++)
        if (td[i].name == fd[j].name) to.drops_[i].set(from.drops_[j].get());
    for (size_t k = 0; k < kFrameworkDropCount; k++) to.drops_[td.size() + k].set(from.drops_[fd.size() + k].get());
  }
  static void link(Element& e, size_t out, Element* target, uint16_t input) {
    e.outputs_[out].target = target;
    e.outputs_[out].target_input = input;
  }
  static OutputPort& output(Element& e, size_t out) { return e.outputs_[out]; }
  // Counts `n` under the framework's reason kFrameworkDrops[k].
  static void count_framework_drop(Element& e, size_t k, uint64_t n) {
    e.drops_[e.class_->drops.size() + k].add(n);
  }
  // Frees what an element staged on its outputs and forgets it.
  static uint64_t free_staged(Element& e);
};

}  // namespace weft

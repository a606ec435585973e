// Queue — hold packets and release them in bursts on the next loop. Its
// class declaration (queue.cpp) is its manual: `routerctl elements --doc
// Queue`.
//
// Decouples two parts of a graph: what arrives is stored (in an rte_ring,
// single-producer/single-consumer: each worker has its own queue) and is
// pushed downstream on the worker's next loop, at most `burst` at a time.
// On reload the queued packets move to the new Queue with the same id and
// come out of the new graph; with a smaller capacity the excess is dropped
// and reported as lost.
#pragma once

#include <rte_ring.h>

#include "weft/element.hpp"

namespace weft::basic {

class Queue final : public Element {
 public:
  static const ElementClass& klass();
  void configure(ConfigContext& ctx) override;
  void initialize(InitContext& ctx) override;
  void cleanup() override;
  void push(uint16_t, Batch& b) override;
  bool run() override;
  StateCarry take_state(Element& old) override;
  uint64_t held_packets() const override { return ring_ ? rte_ring_count(ring_) : 0; }

 private:
  static inline Drop kFull;

  unsigned capacity_ = 1024;
  uint16_t burst_ = 32;
  rte_ring* ring_ = nullptr;
  unsigned highwater_ = 0;
  Batch out_;
};

}  // namespace weft::basic

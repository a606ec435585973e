// Queue — hold packets and release them in bursts on the next loop.
//
// Ports:       input `in`; output `out`
// Parameters:  capacity (default 1024) packets held at most (rounded up to a power of two)
//              burst    (default 32) packets released per loop
// Handlers:    length (read) packets held now; highwater (read) most ever held
// Drops:       queue_full — arrived while the queue was full
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
  void add_handlers(HandlerSet& h) override;

 private:
  unsigned capacity_ = 1024;
  uint16_t burst_ = 32;
  rte_ring* ring_ = nullptr;
  unsigned highwater_ = 0;
  Batch out_;
};

}  // namespace weft::basic

// PortTx — transmit packets on a DPDK port. Its class declaration
// (port_tx.cpp) is its manual: `routerctl elements --doc PortTx`.
//
// Each worker transmits on its own TX queue (worker i uses queue i), so no
// two lcores ever share a queue and no lock is taken.
//
// With `deferred: true` the worker does not transmit: it hands the batch to
// the port's DeferredTx (tables/deferred_tx.hpp; its thread is in
// control/deferred_tx.cpp), a ring that a thread of its own drains into the
// port's queue 0. For ports whose transmission is a system call (net_tap):
// the write and the kernel's work on it leave the worker. Every PortTx of
// the port shares one DeferredTx, and a reload keeps it
// (InitContext::shared, keyed by the port's id), packets in the ring
// included.
#pragma once

#include <memory>

#include "tables/deferred_tx.hpp"
#include "weft/element.hpp"

namespace weft::basic {

class PortTx final : public Element {
 public:
  static const ElementClass& klass();
  void configure(ConfigContext& ctx) override;
  void initialize(InitContext& ctx) override;
  void push(uint16_t, Batch& b) override;
  // Lets go of the DeferredTx: the last PortTx to let go stops its thread and
  // writes out its ring, before a port the reload removes is closed.
  void cleanup() override { handoff_.reset(); }

 private:
  static inline Drop kTxFull;
  static inline Drop kRingFull;

  std::string port_;
  unsigned retries_ = 8;
  uint16_t port_id_ = 0;
  uint16_t queue_id_ = 0;
  bool deferred_ = false;
  unsigned ring_size_ = 1024;
  std::shared_ptr<DeferredTx> handoff_;
};

}  // namespace weft::basic

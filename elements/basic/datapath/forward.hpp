// Forward — steer every packet from one port to another. Its class
// declaration (forward.cpp) is its manual: `routerctl elements --doc Forward`.
//
// The equivalent of SPP's `forward` component: the shortest path between two
// ports, for patching a VM port to a physical port. Like PortRx, each worker
// polls its own RX queue of `from`; like PortTx, it sends on its own TX queue
// of `to`.
#pragma once

#include "weft/element.hpp"

namespace weft::basic {

class Forward final : public Element {
 public:
  static const ElementClass& klass();
  void configure(ConfigContext& ctx) override;
  void initialize(InitContext& ctx) override;
  void push(uint16_t, Batch& b) override { drop(b, kUnexpected); }
  bool run() override;
  StateCarry take_state(Element& old) override;

 private:
  static inline Drop kTxFull, kUnexpected;

  std::string from_, to_;
  uint16_t burst_ = 32;
  unsigned retries_ = 8;
  uint16_t rx_port_ = 0, rx_queue_ = 0, tx_port_ = 0, tx_queue_ = 0;
  weft::Counter forwarded_;
  Batch batch_;
};

}  // namespace weft::basic

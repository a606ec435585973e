// Forward — steer every packet from one port to another.
//
// Ports:       none (a source that transmits itself)
// Parameters:  from  (required) graph port to receive from
//              to    (required) graph port to transmit on
//              burst (default 32) packets per poll
//              retries (default 8) extra transmit attempts when the queue is full
// Handlers:    count (read) packets forwarded by this worker
// Drops:       tx_full — the TX queue stayed full after all retries
//
// The equivalent of SPP's `forward` component: the shortest path between two
// ports, for patching a VM port to a physical port. Like PortRx, each worker
// polls its own RX queue of `from`.
#pragma once

#include "weft/element.hpp"

namespace weft::basic {

class Forward final : public Element {
 public:
  static const ElementClass& klass();
  void configure(ConfigContext& ctx) override;
  void initialize(InitContext& ctx) override;
  void push(uint16_t, Batch& b) override { drop(b, 1); }
  bool run() override;
  void add_handlers(HandlerSet& h) override;
  StateCarry take_state(Element& old) override;

 private:
  std::string from_, to_;
  uint16_t burst_ = 32;
  unsigned retries_ = 8;
  uint16_t rx_port_ = 0, rx_queue_ = 0, tx_port_ = 0, tx_queue_ = 0;
  weft::Counter forwarded_;
  Batch batch_;
};

}  // namespace weft::basic

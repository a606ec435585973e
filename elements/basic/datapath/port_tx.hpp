// PortTx — transmit packets on a DPDK port.
//
// Ports:       input `in`; no output
// Parameters:  port    (required) graph port to send on
//              retries (default 8) extra tx_burst attempts when the queue is full
// Handlers:    port (read)
// Drops:       tx_full — the TX queue stayed full after all retries
//
// Each worker transmits on its own TX queue (worker i uses queue i).
#pragma once

#include "weft/element.hpp"

namespace weft::basic {

class PortTx final : public Element {
 public:
  static const ElementClass& klass();
  void configure(ConfigContext& ctx) override;
  void initialize(InitContext& ctx) override;
  void push(uint16_t, Batch& b) override;
  void add_handlers(HandlerSet& h) override;

 private:
  std::string port_;
  unsigned retries_ = 8;
  uint16_t port_id_ = 0;
  uint16_t queue_id_ = 0;
};

}  // namespace weft::basic

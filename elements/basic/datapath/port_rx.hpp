// PortRx — receive packets from a DPDK port.
//
// Ports:       no input; output `out`
// Parameters:  port  (required) graph port to poll
//              queue (default: the worker's own queue) RX queue number; only
//                    meaningful with one worker
//              burst (default 32) packets asked from the driver per poll
// Handlers:    port, queue (read)
// Drops:       none
//
// Each worker's instance polls its own RX queue (worker i polls queue i), so
// the port needs as many RX queues as there are workers; Weft sizes it so.
#pragma once

#include "weft/element.hpp"

namespace weft::basic {

class PortRx final : public Element {
 public:
  static const ElementClass& klass();
  void configure(ConfigContext& ctx) override;
  void initialize(InitContext& ctx) override;
  void push(uint16_t, Batch& b) override { drop(b, 0); }
  bool run() override;
  void add_handlers(HandlerSet& h) override;

 private:
  std::string port_;
  int queue_ = -1;
  uint16_t burst_ = 32;
  uint16_t port_id_ = 0;
  uint16_t queue_id_ = 0;
  Batch batch_;
};

}  // namespace weft::basic

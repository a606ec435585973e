// PortRx — receive packets from a DPDK port. Its class declaration
// (port_rx.cpp) is its manual: `routerctl elements --doc PortRx`.
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
  void push(uint16_t, Batch& b) override { drop(b, kUnexpected); }
  bool run() override;

 private:
  static inline Drop kUnexpected;

  std::string port_;
  int queue_ = -1;
  uint16_t burst_ = 32;
  uint16_t port_id_ = 0;
  uint16_t queue_id_ = 0;
  Batch batch_;
};

}  // namespace weft::basic

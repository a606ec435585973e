// PortTx — transmit packets on a DPDK port. Its class declaration
// (port_tx.cpp) is its manual: `routerctl elements --doc PortTx`.
//
// Each worker transmits on its own TX queue (worker i uses queue i), so no
// two lcores ever share a queue and no lock is taken.
#pragma once

#include "weft/element.hpp"

namespace weft::basic {

class PortTx final : public Element {
 public:
  static const ElementClass& klass();
  void configure(ConfigContext& ctx) override;
  void initialize(InitContext& ctx) override;
  void push(uint16_t, Batch& b) override;

 private:
  static inline Drop kTxFull;

  std::string port_;
  unsigned retries_ = 8;
  uint16_t port_id_ = 0;
  uint16_t queue_id_ = 0;
};

}  // namespace weft::basic

// Counter — count packets and bytes, and measure the rate.
//
// Ports:       input `in`; output `out`
// Parameters:  none
// Handlers:    count, byte_count (read), rate (read: packets and bits per
//              second since the previous read of `rate`), reset (write)
// Drops:       none
//
// Packets pass unchanged. Every element's outputs are counted by the
// framework too; Counter adds a resettable count and a rate.
#pragma once

#include "weft/element.hpp"

namespace weft::basic {

class Counter final : public Element {
 public:
  static const ElementClass& klass();
  void push(uint16_t, Batch& b) override;
  void add_handlers(HandlerSet& h) override;
  StateCarry take_state(Element& old) override;

 private:
  uint64_t count_ = 0;
  uint64_t bytes_ = 0;
  uint64_t rate_tsc_ = 0;
  uint64_t rate_count_ = 0;
  uint64_t rate_bytes_ = 0;
};

}  // namespace weft::basic

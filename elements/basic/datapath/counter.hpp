// Counter — count packets and bytes, and measure the rate. Its class
// declaration (counter.cpp) is its manual: `routerctl elements --doc Counter`.
//
// Every element's outputs are counted by the framework too; Counter adds a
// count that `reset` zeroes and a rate. Reading `rate` starts the next
// measurement window, so the window's start is state a read changes.
#pragma once

#include "weft/element.hpp"

namespace weft::basic {

class Counter final : public Element {
 public:
  static const ElementClass& klass();
  void push(uint16_t, Batch& b) override;
  StateCarry take_state(Element& old) override;

 private:
  std::string rate() const;
  void reset();

  uint64_t count_ = 0;
  uint64_t bytes_ = 0;
  // Start of the `rate` window: moved by every read of `rate`.
  mutable uint64_t rate_ns_ = 0;
  mutable uint64_t rate_count_ = 0;
  mutable uint64_t rate_bytes_ = 0;
};

}  // namespace weft::basic

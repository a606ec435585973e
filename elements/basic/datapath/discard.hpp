// Discard — drop every packet, counted.
//
// Ports:       input `in`; no output
// Parameters:  none
// Drops:       discarded — every packet that arrives
#pragma once

#include "weft/element.hpp"

namespace weft::basic {

class Discard final : public Element {
 public:
  static const ElementClass& klass();
  void push(uint16_t, Batch& b) override { drop(b, 0); }
};

}  // namespace weft::basic

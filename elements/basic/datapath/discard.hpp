// Discard — drop every packet, counted. Its class declaration (discard.cpp)
// is its manual: `routerctl elements --doc Discard`.
#pragma once

#include "weft/element.hpp"

namespace weft::basic {

class Discard final : public Element {
 public:
  static const ElementClass& klass();
  void push(uint16_t, Batch& b) override { drop(b, kDiscarded); }

 private:
  static inline Drop kDiscarded;
};

}  // namespace weft::basic

// Pass — pass packets through unchanged. Its class declaration (pass.cpp)
// is its manual: `routerctl elements --doc Pass`.
//
// Useful as a placeholder while building a graph, and to measure the cost of
// one element hop (bench/chain).
#pragma once

#include "weft/element.hpp"

namespace weft::basic {

class Pass final : public Element {
 public:
  static const ElementClass& klass();
  void push(uint16_t, Batch& b) override { output(0, b); }
};

}  // namespace weft::basic

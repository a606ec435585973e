// Merge — join several paths into one. Its class declaration (merge.cpp) is
// its manual: `routerctl elements --doc Merge`.
//
// Any input accepts several connections, so Merge is mostly for readability
// and for a single place to count the joined traffic (as SPP's merge
// component).
#pragma once

#include "weft/element.hpp"

namespace weft::basic {

class Merge final : public Element {
 public:
  static const ElementClass& klass();
  void push(uint16_t, Batch& b) override { output(0, b); }
};

}  // namespace weft::basic

// Merge — join several paths into one.
//
// Ports:       any number of inputs ([0], [1], ... or just `-> merge`); output `out`
// Parameters:  none
// Drops:       none
//
// Every batch arriving on any input leaves on `out` unchanged. (Any input
// accepts several connections, so Merge is mostly for readability and for a
// single place to count the joined traffic, as in SPP's merge component.)
#pragma once

#include "weft/element.hpp"

namespace weft::basic {

class Merge final : public Element {
 public:
  static const ElementClass& klass();
  void push(uint16_t, Batch& b) override { output(0, b); }
};

}  // namespace weft::basic

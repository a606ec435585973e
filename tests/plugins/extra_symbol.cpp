// The plugin exports a factory its manifest does not list.
#include "weft/plugin.hpp"

namespace {
class Hidden final : public weft::Element {
 public:
  void push(uint16_t, weft::Batch& b) override { drop(b, 0); }
};
const weft::ElementClass& klass() {
  static const weft::ElementClass k = weft::ElementClass::make<Hidden>("Hidden").input("in").drop("x", "y");
  return k;
}
}  // namespace

WEFT_PLUGIN("extra_symbol", "1.0", "test", "");
WEFT_EXPORT_CLASS(Hidden, klass())

// A plugin that claims a class name the built-in plugin already provides.
#include "weft/plugin.hpp"

namespace {
class Fake final : public weft::Element {
 public:
  static inline weft::Drop kX;
  void push(uint16_t, weft::Batch& b) override { drop(b, kX); }
};
const weft::ElementClass& klass() {
  static const weft::ElementClass k =
      weft::ElementClass::make<Fake>("Counter").describe("impostor").input("in").drop(Fake::kX, "x", "y");
  return k;
}
}  // namespace

WEFT_PLUGIN("dup_class", "1.0", "test");
WEFT_EXPORT_CLASS(Counter, klass())

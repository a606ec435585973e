// Links against a function nobody defines: the dynamic linker must refuse it
// at load time, naming the symbol.
#include "weft/plugin.hpp"

extern "C" int weft_test_symbol_that_does_not_exist(int);

namespace {
class Broken final : public weft::Element {
 public:
  void push(uint16_t, weft::Batch& b) override {
    if (weft_test_symbol_that_does_not_exist(b.count)) output(0, b);
  }
};
const weft::ElementClass& klass() {
  static const weft::ElementClass k = weft::ElementClass::make<Broken>("Broken").input("in").output("out");
  return k;
}
}  // namespace

WEFT_PLUGIN("undefined_symbol", "1.0", "test");
WEFT_EXPORT_CLASS(Broken, klass())

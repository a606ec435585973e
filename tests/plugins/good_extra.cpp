// A well-formed third-party plugin with one class, for loader tests.
#include "weft/plugin.hpp"

namespace {
class Passthrough final : public weft::Element {
 public:
  void push(uint16_t, weft::Batch& b) override { output(0, b); }
};
const weft::ElementClass& klass() {
  static const weft::ElementClass k = weft::ElementClass::make<Passthrough>("TestPassthrough")
                                          .describe("Passes packets, from a test plugin.")
                                          .input("in")
                                          .output("out")
                                          .param("label", weft::ParamType::String, "x", "a documented parameter");
  return k;
}
}  // namespace

WEFT_PLUGIN("good_extra", "1.2.3", "test plugin");
WEFT_EXPORT_CLASS(TestPassthrough, klass())

// A class that declares two drop reasons with one handle: its description is
// refused when the plugin loads, before anything runs.
#include "weft/plugin.hpp"

namespace {
class Twice final : public weft::Element {
 public:
  static inline weft::Drop kOnly;
  void push(uint16_t, weft::Batch& b) override { drop(b, kOnly); }
};
const weft::ElementClass& klass() {
  static const weft::ElementClass k = weft::ElementClass::make<Twice>("Twice")
                                          .input("in")
                                          .drop(Twice::kOnly, "first", "a reason")
                                          .drop(Twice::kOnly, "second", "another reason, same handle");
  return k;
}
}  // namespace

WEFT_PLUGIN("drop_bound_twice", "1.0", "test");
WEFT_EXPORT_CLASS(Twice, klass())

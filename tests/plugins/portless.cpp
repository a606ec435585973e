// The pattern services replaced: an "element" with no ports that exists only
// to own control-plane state. Refused at load, pointing at services.
#include "weft/plugin.hpp"

namespace {
class Owner final : public weft::Element {
 public:
  void push(uint16_t, weft::Batch& b) override { b.clear(); }
};
const weft::ElementClass& klass() {
  static const weft::ElementClass k = weft::ElementClass::make<Owner>("Owner").describe("owns a socket");
  return k;
}
}  // namespace

WEFT_PLUGIN("portless", "1.0", "test");
WEFT_EXPORT_CLASS(Owner, klass())

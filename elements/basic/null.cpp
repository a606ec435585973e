#include "null.hpp"

namespace weft::basic {

const ElementClass& Null::klass() {
  static const ElementClass k =
      ElementClass::make<Null>("Null")
          .describe("Passes packets through unchanged.", "A placeholder, and the unit of per-element cost.")
          .input("in")
          .output("out");
  return k;
}

}  // namespace weft::basic

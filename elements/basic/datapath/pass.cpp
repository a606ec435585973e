#include "datapath/pass.hpp"

namespace weft::basic {

const ElementClass& Pass::klass() {
  static const ElementClass k =
      ElementClass::make<Pass>("Pass")
          .describe("Passes packets through unchanged.", "A placeholder, and the unit of per-element cost.")
          .input("in")
          .output("out");
  return k;
}

}  // namespace weft::basic

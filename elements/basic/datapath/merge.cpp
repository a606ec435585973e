#include "datapath/merge.hpp"

namespace weft::basic {

const ElementClass& Merge::klass() {
  static const ElementClass k = ElementClass::make<Merge>("Merge")
                                    .describe("Joins several paths into one output.",
                                              "Batches from every input leave on `out` unchanged.")
                                    .any_inputs()
                                    .output("out");
  return k;
}

}  // namespace weft::basic

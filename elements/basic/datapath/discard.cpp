#include "datapath/discard.hpp"

namespace weft::basic {

const ElementClass& Discard::klass() {
  static const ElementClass k = ElementClass::make<Discard>("Discard")
                                    .describe("Drops every packet it receives, counting them.")
                                    .input("in")
                                    .drop(kDiscarded, "discarded", "every packet that arrives");
  return k;
}

}  // namespace weft::basic

// The "nat" element family: stateful address and port translation.
#include "nat44.hpp"
#include "weft/plugin.hpp"

WEFT_PLUGIN("nat", WEFT_VERSION_STRING, "Stateful NAT (NAT44 NAPT)", "Nat44");

WEFT_EXPORT_CLASS(Nat44, weft::nat::Nat44::klass())

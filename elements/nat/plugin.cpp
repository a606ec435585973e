// The "nat" family: address and port translation — stateful NAT44 and NAT64
// over a session table shared by the workers (tables/), and stateless NPTv6.
#include "datapath/nat44.hpp"
#include "datapath/nat64.hpp"
#include "datapath/nat66.hpp"
#include "weft/plugin.hpp"

WEFT_PLUGIN("nat", WEFT_VERSION_STRING, "NAT: stateful NAT44 NAPT, stateful NAT64, NPTv6 (Nat66)");

WEFT_EXPORT_CLASS(Nat44, weft::nat::Nat44::klass())
WEFT_EXPORT_CLASS(Nat64, weft::nat::Nat64::klass())
WEFT_EXPORT_CLASS(Nat66, weft::nat::Nat66::klass())

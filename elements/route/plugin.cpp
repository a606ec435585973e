// The "route" element family: routes from FRR (FPM) and IP forwarding.
#include "fib.hpp"
#include "ip_lookup.hpp"
#include "weft/plugin.hpp"

WEFT_PLUGIN("route", WEFT_VERSION_STRING, "Routes from FRR zebra over FPM, and IPv4/IPv6 forwarding",
            "Fib IpLookup");

WEFT_EXPORT_CLASS(Fib, weft::route::FibElement::klass())
WEFT_EXPORT_CLASS(IpLookup, weft::route::IpLookup::klass())

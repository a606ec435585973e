// The "route" family: routes from FRR (the Fib service, an FPM server for
// zebra) and IPv4/IPv6 forwarding on them (IpLookup).
#include "control/fib_service.hpp"
#include "datapath/icmp_echo.hpp"
#include "datapath/icmp_error.hpp"
#include "datapath/ip_local.hpp"
#include "datapath/ip_lookup.hpp"
#include "weft/plugin.hpp"

WEFT_PLUGIN("route", WEFT_VERSION_STRING, "Routes from FRR zebra over FPM, and IPv4/IPv6 forwarding");

WEFT_EXPORT_SERVICE(Fib, weft::route::FibService::klass())
WEFT_EXPORT_CLASS(IpLookup, weft::route::IpLookup::klass())
WEFT_EXPORT_CLASS(IpLocal, weft::route::IpLocal::klass())
WEFT_EXPORT_CLASS(IcmpEcho, weft::route::IcmpEcho::klass())
WEFT_EXPORT_CLASS(IcmpError, weft::route::IcmpError::klass())

// The "route" family: routes from FRR (the Fib service, an FPM server for
// zebra), the router's interfaces and neighbours (Interfaces, ArpNd), its
// host path (HostPath) and IPv4/IPv6 forwarding (IpLookup).
#include "control/fib_service.hpp"
#include "control/host_path_service.hpp"
#include "control/interfaces_service.hpp"
#include "datapath/arp_nd_element.hpp"
#include "datapath/icmp_echo.hpp"
#include "datapath/icmp_error.hpp"
#include "datapath/ip_local.hpp"
#include "datapath/ip_lookup.hpp"
#include "weft/plugin.hpp"

WEFT_PLUGIN("route", WEFT_VERSION_STRING,
            "Routes from FRR zebra over FPM, interfaces and neighbours (ARP/ND), the host path, and IPv4/IPv6 forwarding");

WEFT_EXPORT_SERVICE(Fib, weft::route::FibService::klass())
WEFT_EXPORT_SERVICE(Interfaces, weft::route::InterfacesService::klass())
WEFT_EXPORT_SERVICE(HostPath, weft::route::HostPathService::klass())
WEFT_EXPORT_CLASS(IpLookup, weft::route::IpLookup::klass())
WEFT_EXPORT_CLASS(ArpNd, weft::route::ArpNd::klass())
WEFT_EXPORT_CLASS(IpLocal, weft::route::IpLocal::klass())
WEFT_EXPORT_CLASS(IcmpEcho, weft::route::IcmpEcho::klass())
WEFT_EXPORT_CLASS(IcmpError, weft::route::IcmpError::klass())

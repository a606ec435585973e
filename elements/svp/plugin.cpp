// The "svp" family: Portolan lookups over SVP — the Svp service (client and
// overlay cache), the NeighborSink service (the kernel's neighbour misses),
// and SvpResolver on the data path.
#include "control/neighbor_sink.hpp"
#include "control/svp_service.hpp"
#include "datapath/svp_resolver.hpp"
#include "weft/plugin.hpp"

WEFT_PLUGIN("svp", WEFT_VERSION_STRING, "Portolan (SVP) overlay lookups: the Svp and NeighborSink services, SvpResolver");

WEFT_EXPORT_SERVICE(Svp, weft::svp::SvpService::klass())
WEFT_EXPORT_SERVICE(NeighborSink, weft::svp::NeighborSink::klass())
WEFT_EXPORT_CLASS(SvpResolver, weft::svp::SvpResolver::klass())

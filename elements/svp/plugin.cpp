// The "svp" element family: Portolan lookups over SVP (the overlay cache),
// the resolver on the data path, and the kernel neighbour-miss answerer.
#include "control/neighbor_sink.hpp"
#include "control/svp_service.hpp"
#include "datapath/svp_resolver.hpp"
#include "weft/plugin.hpp"

WEFT_PLUGIN("svp", WEFT_VERSION_STRING, "Portolan (SVP) overlay lookups: Svp, SvpResolver, NeighborSink",
            "Svp SvpResolver NeighborSink");

WEFT_EXPORT_CLASS(Svp, weft::svp::SvpElement::klass())
WEFT_EXPORT_CLASS(SvpResolver, weft::svp::SvpResolver::klass())
WEFT_EXPORT_CLASS(NeighborSink, weft::svp::NeighborSink::klass())

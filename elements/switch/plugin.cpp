// The "switch" element family: Ethernet switching (a learning MAC table per VNI).
#include "datapath/l2_switch.hpp"
#include "weft/plugin.hpp"

WEFT_PLUGIN("switch", WEFT_VERSION_STRING, "Ethernet switching: a learning switch with a MAC table per VNI");

WEFT_EXPORT_CLASS(L2Switch, weft::sw::L2Switch::klass())

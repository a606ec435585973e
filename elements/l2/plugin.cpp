// The "l2" element family: Ethernet-layer rewrites (VLAN tags).
#include "datapath/vlan_pop.hpp"
#include "datapath/vlan_push.hpp"
#include "weft/plugin.hpp"

WEFT_PLUGIN("l2", WEFT_VERSION_STRING, "Ethernet-layer rewrites: VLAN tag push and pop");

WEFT_EXPORT_CLASS(VlanPush, weft::l2::VlanPush::klass())
WEFT_EXPORT_CLASS(VlanPop, weft::l2::VlanPop::klass())

// The "overlay" element family: VXLAN encapsulation and decapsulation.
#include "datapath/vxlan_decap.hpp"
#include "datapath/vxlan_encap.hpp"
#include "weft/plugin.hpp"

WEFT_PLUGIN("overlay", WEFT_VERSION_STRING, "VXLAN overlay elements");

WEFT_EXPORT_CLASS(VxlanEncap, weft::overlay::VxlanEncap::klass())
WEFT_EXPORT_CLASS(VxlanDecap, weft::overlay::VxlanDecap::klass())

// A plugin built against the previous SDK (plugin ABI 1.0, when classes were
// listed in the manifest and handlers registered at run time): refused with
// the ABI reason before any of its code runs.
#include "weft/plugin.hpp"

extern "C" const weft::PluginManifest weft_manifest_data = {
    weft::kManifestMagic, 1, 0, "old_abi", "1.0", "test", "0.1.0", WEFT_COMPILER_ABI, WEFT_DPDK_VERSION, "OldElement"};
BOOST_DLL_ALIAS_SECTIONED(weft_manifest_data, weft_plugin_manifest, weft_mf)

// A plugin whose manifest claims plugin ABI 99.0: must be refused before any
// of its code runs.
#include "weft/plugin.hpp"

extern "C" const weft::PluginManifest weft_manifest_data = {
    weft::kManifestMagic, 99, 0, "bad_abi", "1.0", "test", WEFT_VERSION_STRING, WEFT_COMPILER_ABI,
    WEFT_DPDK_VERSION, ""};
BOOST_DLL_ALIAS_SECTIONED(weft_manifest_data, weft_plugin_manifest, weft_mf)

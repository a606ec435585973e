// A plugin built against a newer minor plugin ABI than the framework's (it
// may use additions this framework lacks): refused, naming both versions.
#include "weft/plugin.hpp"

extern "C" const weft::PluginManifest weft_manifest_data = {
    weft::kManifestMagic, WEFT_PLUGIN_ABI_MAJOR, WEFT_PLUGIN_ABI_MINOR + 1, "newer_minor", "1.0", "test",
    WEFT_VERSION_STRING, WEFT_COMPILER_ABI, WEFT_DPDK_VERSION, ""};
BOOST_DLL_ALIAS_SECTIONED(weft_manifest_data, weft_plugin_manifest, weft_mf)

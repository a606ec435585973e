// A plugin whose manifest names another C++ library ABI.
#include "weft/plugin.hpp"

extern "C" const weft::PluginManifest weft_manifest_data = {
    weft::kManifestMagic, WEFT_PLUGIN_ABI_MAJOR, WEFT_PLUGIN_ABI_MINOR, "bad_cxx_abi", "1.0", "test",
    WEFT_VERSION_STRING, "itanium/libc++-1", WEFT_DPDK_VERSION, ""};
BOOST_DLL_ALIAS_SECTIONED(weft_manifest_data, weft_plugin_manifest, weft_mf)

// Plugin manifest and export macros.
//
// A plugin is a shared object that exports, through Boost.DLL:
//   - one manifest, `weft_plugin_manifest`, in the section "weft_mf": a plain
//     C struct the loader checks before any code of the plugin runs;
//   - one factory per element class, `weft_class_<Name>`, returning the
//     class's ElementClass description.
//
// In a plugin's source file:
//
//   WEFT_PLUGIN("myplugin", "1.0.0", "What these elements are for",
//               "MyElement OtherElement");
//   WEFT_EXPORT_CLASS(MyElement, my_element_class());
//   WEFT_EXPORT_CLASS(OtherElement, other_element_class());
//
// The loader refuses the plugin if the manifest is missing, if its ABI, C++
// library or DPDK version differ from the framework's, if a class listed in
// the manifest has no factory (or a factory is not listed), or if a class
// name is already taken by another plugin.
#pragma once

#include <boost/dll/alias.hpp>
#include <cstdint>

#include "weft/dpdk.hpp"
#include "weft/element.hpp"
#include "weft/version.hpp"

namespace weft {

inline constexpr uint32_t kManifestMagic = 0x57454654;  // "WEFT"

// Fixed C layout: never reorder or remove fields (append only, bumping
// WEFT_PLUGIN_ABI_MINOR), so any plugin's manifest can be read safely.
struct PluginManifest {
  uint32_t magic;
  uint16_t abi_major;
  uint16_t abi_minor;
  const char* name;
  const char* version;
  const char* description;
  const char* framework_version;  // Weft version the plugin was built against
  const char* compiler_abi;       // WEFT_COMPILER_ABI at the plugin's build
  const char* dpdk_version;       // WEFT_DPDK_VERSION at the plugin's build
  const char* classes;            // space-separated element class names
};

using ClassFactory = const ElementClass*();

}  // namespace weft

#define WEFT_PLUGIN(NAME, VERSION, DESCRIPTION, CLASSES)                                                  \
  extern "C" const ::weft::PluginManifest weft_manifest_data = {                                          \
      ::weft::kManifestMagic, WEFT_PLUGIN_ABI_MAJOR, WEFT_PLUGIN_ABI_MINOR, NAME, VERSION, DESCRIPTION,   \
      WEFT_VERSION_STRING,    WEFT_COMPILER_ABI,     WEFT_DPDK_VERSION,     CLASSES};                     \
  BOOST_DLL_ALIAS_SECTIONED(weft_manifest_data, weft_plugin_manifest, weft_mf)

// EXPR must evaluate to a `const weft::ElementClass&` that lives forever
// (typically a function-local static).
#define WEFT_EXPORT_CLASS(NAME, EXPR)                                 \
  namespace weft_export_##NAME {                                      \
  static const ::weft::ElementClass* factory() { return &(EXPR); }    \
  }                                                                   \
  BOOST_DLL_ALIAS(weft_export_##NAME::factory, weft_class_##NAME)

// Plugin manifest and export macros.
//
// A plugin is a shared object that exports, through Boost.DLL:
//   - one manifest, `weft_plugin_manifest`, in the section "weft_mf": a plain
//     C struct the loader checks before any code of the plugin runs;
//   - one factory per element class, `weft_class_<Name>`, returning the
//     class's ElementClass description, and one per service class,
//     `weft_service_<Name>`, returning its ServiceClass.
//
// In a plugin's source file:
//
//   WEFT_PLUGIN("myplugin", "1.0.0", "What these elements are for");
//   WEFT_EXPORT_CLASS(MyElement, MyElement::klass());
//   WEFT_EXPORT_SERVICE(MyService, MyService::klass());
//
// The plugin's classes are its exports: nothing else lists them. The loader
// refuses the plugin if the manifest is missing, if its ABI, C++ library or
// DPDK version differ from the framework's, if a factory returns a class of
// another name, or if a class name is already taken by another plugin.
#pragma once

#include <boost/dll/alias.hpp>
#include <cstdint>

#include "weft/dpdk.hpp"
#include "weft/element.hpp"
#include "weft/service.hpp"
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
  const char* classes;            // unused since ABI 2 (classes are the plugin's exports); ""
};

using ClassFactory = const ElementClass*();
using ServiceFactory = const ServiceClass*();

}  // namespace weft

#define WEFT_PLUGIN(NAME, VERSION, DESCRIPTION)                                                           \
  extern "C" const ::weft::PluginManifest weft_manifest_data = {                                          \
      ::weft::kManifestMagic, WEFT_PLUGIN_ABI_MAJOR, WEFT_PLUGIN_ABI_MINOR, NAME, VERSION, DESCRIPTION,   \
      WEFT_VERSION_STRING,    WEFT_COMPILER_ABI,     WEFT_DPDK_VERSION,     ""};                          \
  BOOST_DLL_ALIAS_SECTIONED(weft_manifest_data, weft_plugin_manifest, weft_mf)

// EXPR must evaluate to a `const weft::ElementClass&` that lives forever
// (typically a function-local static).
#define WEFT_EXPORT_CLASS(NAME, EXPR)                                 \
  namespace weft_export_##NAME {                                      \
  static const ::weft::ElementClass* factory() { return &(EXPR); }    \
  }                                                                   \
  BOOST_DLL_ALIAS(weft_export_##NAME::factory, weft_class_##NAME)

// EXPR must evaluate to a `const weft::ServiceClass&` that lives forever.
#define WEFT_EXPORT_SERVICE(NAME, EXPR)                                   \
  namespace weft_export_service_##NAME {                                  \
  static const ::weft::ServiceClass* factory() { return &(EXPR); }        \
  }                                                                       \
  BOOST_DLL_ALIAS(weft_export_service_##NAME::factory, weft_service_##NAME)

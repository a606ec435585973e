// Weft version and ABI identity. A plugin records these values at its build
// time in its manifest; the loader compares them with the framework's own.
#pragma once

#include <cstdint>

#define WEFT_STRINGIFY_(x) #x
#define WEFT_STRINGIFY(x) WEFT_STRINGIFY_(x)

#define WEFT_VERSION_MAJOR 0
#define WEFT_VERSION_MINOR 2
#define WEFT_VERSION_PATCH 0
#define WEFT_VERSION_STRING \
  WEFT_STRINGIFY(WEFT_VERSION_MAJOR) "." WEFT_STRINGIFY(WEFT_VERSION_MINOR) "." WEFT_STRINGIFY(WEFT_VERSION_PATCH)

// Plugin ABI: a plugin must have the same major and a minor no newer than the
// framework's. Bump the major on any change to the layout of a public type or
// to a virtual function of weft::Element; bump the minor on additions.
#define WEFT_PLUGIN_ABI_MAJOR 4
#define WEFT_PLUGIN_ABI_MINOR 1

// Compiler and C++ standard library ABI: plugins exchange std::string,
// std::function and std::vector with the framework, so both sides must agree.
#if defined(_GLIBCXX_RELEASE)
#define WEFT_CXX_LIB "libstdc++-" WEFT_STRINGIFY(_GLIBCXX_RELEASE) "/cxx11abi-" WEFT_STRINGIFY(_GLIBCXX_USE_CXX11_ABI)
#elif defined(_LIBCPP_VERSION)
#define WEFT_CXX_LIB "libc++-" WEFT_STRINGIFY(_LIBCPP_ABI_VERSION)
#else
#define WEFT_CXX_LIB "unknown-stdlib"
#endif
#define WEFT_COMPILER_ABI "itanium/" WEFT_CXX_LIB

namespace weft {

inline constexpr const char* kVersion = WEFT_VERSION_STRING;
inline constexpr uint16_t kPluginAbiMajor = WEFT_PLUGIN_ABI_MAJOR;
inline constexpr uint16_t kPluginAbiMinor = WEFT_PLUGIN_ABI_MINOR;
inline constexpr const char* kCompilerAbi = WEFT_COMPILER_ABI;

}  // namespace weft

# The installed SDK's package files: `find_package(Weft)` (WeftConfig.cmake,
# its version file, the exported targets Weft::weft and Weft::testing, and
# the weft_add_plugin() helper) and pkg-config files weft.pc and
# weft-testing.pc. Both are relocatable: they find the prefix from their own
# location, so `cmake --install build --prefix ANYWHERE` works.
include(CMakePackageConfigHelpers)

# One version: the project's must be the one weft/version.hpp compiles in.
file(STRINGS ${PROJECT_SOURCE_DIR}/framework/include/weft/version.hpp _weft_defs
  REGEX "^#define WEFT_(VERSION|PLUGIN_ABI)_(MAJOR|MINOR|PATCH) [0-9]+$")
foreach(d ${_weft_defs})
  string(REGEX REPLACE "^#define ([A-Z_]+) ([0-9]+)$" "\\1;\\2" kv "${d}")
  list(GET kv 0 k)
  list(GET kv 1 v)
  set(_${k} ${v})
endforeach()
if(NOT "${_WEFT_VERSION_MAJOR}.${_WEFT_VERSION_MINOR}.${_WEFT_VERSION_PATCH}" STREQUAL PROJECT_VERSION)
  message(FATAL_ERROR "weft/version.hpp says ${_WEFT_VERSION_MAJOR}.${_WEFT_VERSION_MINOR}.${_WEFT_VERSION_PATCH}, "
                      "CMakeLists.txt says ${PROJECT_VERSION}: make them agree")
endif()
set(WEFT_PLUGIN_ABI "${_WEFT_PLUGIN_ABI_MAJOR}.${_WEFT_PLUGIN_ABI_MINOR}")
string(REGEX MATCH "^[0-9]+\\.[0-9]+" WEFT_DPDK_RELEASE "${DPDK_VERSION}")

set(WEFT_CMAKE_INSTALL_DIR ${WEFT_INSTALL_LIBDIR}/cmake/Weft)
install(EXPORT WeftTargets NAMESPACE Weft:: DESTINATION ${WEFT_CMAKE_INSTALL_DIR} COMPONENT dev)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/WeftConfig.cmake.in
  ${PROJECT_BINARY_DIR}/cmake/WeftConfig.cmake
  INSTALL_DESTINATION ${WEFT_CMAKE_INSTALL_DIR}
  PATH_VARS WEFT_PLUGIN_INSTALL_DIR)
# 0.x: a minor release may change the plugin ABI.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/cmake/WeftConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/cmake/WeftConfig.cmake
  ${PROJECT_BINARY_DIR}/cmake/WeftConfigVersion.cmake
  ${PROJECT_SOURCE_DIR}/cmake/WeftPlugin.cmake
  DESTINATION ${WEFT_CMAKE_INSTALL_DIR} COMPONENT dev)

# DPDK's flags go into weft.pc directly, with its include directories as
# -isystem (as the CMake package does): DPDK 22.11's headers trip C++20
# warnings (-Wvolatile) that must not fail a plugin built with -Werror.
string(REGEX REPLACE "(^|;)-I" "\\1-isystem;" WEFT_PC_DPDK_CFLAGS "${DPDK_CFLAGS}")
list(JOIN WEFT_PC_DPDK_CFLAGS " " WEFT_PC_DPDK_CFLAGS)
string(REPLACE "-isystem " "-isystem" WEFT_PC_DPDK_CFLAGS "${WEFT_PC_DPDK_CFLAGS}")
list(JOIN DPDK_LDFLAGS " " WEFT_PC_DPDK_LIBS)
# From PREFIX/<libdir>/pkgconfig up to PREFIX (../.. for lib, ../../.. for lib/<multiarch>).
file(RELATIVE_PATH WEFT_PC_TO_PREFIX /prefix/${WEFT_INSTALL_LIBDIR}/pkgconfig /prefix)
foreach(pc weft weft-testing)
  configure_file(${PROJECT_SOURCE_DIR}/cmake/${pc}.pc.in ${PROJECT_BINARY_DIR}/pkgconfig/${pc}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/pkgconfig/${pc}.pc DESTINATION ${WEFT_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)
endforeach()

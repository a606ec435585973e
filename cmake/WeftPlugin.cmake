# weft_add_plugin(<name> <sources>...)
#
# Builds a Weft element plugin: a shared object with no "lib" prefix, linked
# against libweft (and through it DPDK, yaml-cpp and Boost.DLL's headers),
# placed where routerd looks for plugins. Used for Weft's own element families
# and by third-party plugins alike.
function(weft_add_plugin name)
  add_library(${name} MODULE ${ARGN})
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(TARGET Weft::weft)
    target_link_libraries(${name} PRIVATE Weft::weft)
  else()
    target_link_libraries(${name} PRIVATE weft)
  endif()
  if(DEFINED WEFT_PLUGIN_OUTPUT_DIR)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${WEFT_PLUGIN_OUTPUT_DIR})
  endif()
  # -Wl,--no-undefined: a missing symbol fails the build, not the router.
  target_link_options(${name} PRIVATE -Wl,--no-undefined)
endfunction()

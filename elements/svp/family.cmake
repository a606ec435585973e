# SVP's CRC is zlib's CRC-32; the lab server (svp-server) reads its mappings
# file with yaml-cpp.
find_package(ZLIB REQUIRED)
if(TARGET weft_svp_core)
  target_link_libraries(weft_svp_core PUBLIC ZLIB::ZLIB yaml-cpp)
endif()

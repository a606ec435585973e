# SVP's CRC is zlib's CRC-32.
find_package(ZLIB REQUIRED)
if(TARGET weft_svp_core)
  target_link_libraries(weft_svp_core PUBLIC ZLIB::ZLIB)
endif()

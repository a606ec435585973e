# SVP's CRC is zlib's CRC-32.
find_package(ZLIB REQUIRED)
target_link_libraries(weft_svp_core PUBLIC ZLIB::ZLIB)

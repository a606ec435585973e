# What an installed Weft carries besides programs, libraries and the SDK
# (manual pages, shell completion, the systemd unit, the lab runner, example
# graphs), and the Debian packages made from it with CPack's DEB generator:
#
#   weft      routerd, routerctl, svp-server, libweft, the built-in plugins,
#             routerd@.service, /etc/weft/quickstart.yaml, manual pages,
#             bash completion, the lab runner weft-lab, examples
#   weft-dev  the SDK: headers, libweft.so, libweft_testing, find_package(Weft),
#             pkg-config files
#
# tools/build-debs.sh runs cpack in a build tree (the default one in CI:
# the packages are the tested build, installed to /usr); docs/packages.md.

include(GNUInstallDirs)

# --- Manual pages and completion, generated from the programs' own --cli-json
# and the markdown in docs/man/ (and docs/graph-format.md for weft-graph(5)).
find_program(WEFT_GO_MD2MAN go-md2man)
find_package(Python3 REQUIRED COMPONENTS Interpreter)
set(WEFT_MAN_DIR ${PROJECT_BINARY_DIR}/share/man)
set(WEFT_COMPLETION_FILE ${PROJECT_BINARY_DIR}/share/bash-completion/completions/routerctl)
set(WEFT_MAN_PAGES man8/routerd.8.gz man8/routerctl.8.gz man8/svp-server.8.gz man5/weft-graph.5.gz)
set(_weft_man_outputs "")
foreach(p ${WEFT_MAN_PAGES})
  list(APPEND _weft_man_outputs ${WEFT_MAN_DIR}/${p})
endforeach()
file(GLOB _weft_man_sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/man/*.md)
if(WEFT_GO_MD2MAN)
  add_custom_command(OUTPUT ${_weft_man_outputs}
    COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/tools/gen-man.py --bin $<TARGET_FILE_DIR:routerd>
            --docs ${PROJECT_SOURCE_DIR}/docs --out ${WEFT_MAN_DIR} --version ${PROJECT_VERSION}
            --md2man ${WEFT_GO_MD2MAN}
    DEPENDS routerd routerctl svp-server ${PROJECT_SOURCE_DIR}/tools/gen-man.py ${_weft_man_sources}
            ${PROJECT_SOURCE_DIR}/docs/graph-format.md
    COMMENT "Manual pages (docs/man, --cli-json)")
else()
  message(WARNING "go-md2man not found (Debian: go-md2man; tools/setup-debian.sh): no manual pages")
  set(_weft_man_outputs "")
endif()
add_custom_command(OUTPUT ${WEFT_COMPLETION_FILE}
  COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/tools/gen-completion.py $<TARGET_FILE:routerctl>
          ${WEFT_COMPLETION_FILE}
  DEPENDS routerctl ${PROJECT_SOURCE_DIR}/tools/gen-completion.py
  COMMENT "bash completion for routerctl (routerctl --cli-json)")
add_custom_target(weft_man_and_completion ALL DEPENDS ${_weft_man_outputs} ${WEFT_COMPLETION_FILE})

if(_weft_man_outputs)
  install(DIRECTORY ${WEFT_MAN_DIR}/ DESTINATION ${CMAKE_INSTALL_MANDIR} COMPONENT runtime)
endif()
install(FILES ${WEFT_COMPLETION_FILE} DESTINATION share/bash-completion/completions COMPONENT runtime)

# --- systemd (routerd@GRAPH.service runs /etc/weft/GRAPH.yaml) and the
# quickstart graph as a service (/etc/weft/quickstart.yaml): both depend on
# the prefix given at install time, so cmake/WeftInstallPrefix.cmake.in
# installs them then (below, with the RPATH rule). The capture and the examples:
set(WEFT_SYSTEMD_UNIT_DIR lib/systemd/system CACHE STRING
    "where routerd@.service is installed: under the prefix, or /lib/systemd/system for /usr")
install(FILES ${PROJECT_SOURCE_DIR}/graphs/quickstart.pcap DESTINATION ${CMAKE_INSTALL_DATADIR}/weft COMPONENT runtime)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/graphs/ DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/weft/examples/graphs COMPONENT runtime
  FILES_MATCHING PATTERN "*.yaml" PATTERN "*.pcap")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/plugins/example/ DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/weft-dev/examples/plugin
  COMPONENT dev)

# --- The lab runner: tools/weft-lab and its package, in /usr/share/weft/lab;
# /usr/bin/weft-lab links to it.
install(PROGRAMS ${PROJECT_SOURCE_DIR}/tools/weft-lab DESTINATION ${CMAKE_INSTALL_DATADIR}/weft/lab COMPONENT runtime)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/tools/lab/ DESTINATION ${CMAKE_INSTALL_DATADIR}/weft/lab/lab COMPONENT runtime
  FILES_MATCHING PATTERN "*.py" PATTERN "__pycache__" EXCLUDE)
file(MAKE_DIRECTORY ${PROJECT_BINARY_DIR}/links)
file(CREATE_LINK ../share/weft/lab/weft-lab ${PROJECT_BINARY_DIR}/links/weft-lab SYMBOLIC)
install(FILES ${PROJECT_BINARY_DIR}/links/weft-lab DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)

# --- Debian packages (cpack -G DEB, from tools/build-debs.sh).
set(WEFT_DEB_MAINTAINER "Weft maintainers <maintainers@weft.invalid>" CACHE STRING
    "the Maintainer of the Debian packages")
set(WEFT_DEB_VERSION ${PROJECT_VERSION}-1)
# Each package's /usr/share/doc/PACKAGE: copyright and changelog.Debian.gz (Debian policy 12.5, 12.7).
configure_file(${PROJECT_SOURCE_DIR}/tools/debian/changelog.in ${PROJECT_BINARY_DIR}/debian/changelog.Debian @ONLY)
execute_process(COMMAND gzip -9 -n -f -k ${PROJECT_BINARY_DIR}/debian/changelog.Debian)
foreach(pkg_comp weft:runtime weft-dev:dev)
  string(REPLACE ":" ";" pc ${pkg_comp})
  list(GET pc 0 pkg)
  list(GET pc 1 comp)
  install(FILES ${PROJECT_SOURCE_DIR}/tools/debian/copyright ${PROJECT_BINARY_DIR}/debian/changelog.Debian.gz
    DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${pkg} COMPONENT ${comp})
endforeach()
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME weft)
set(CPACK_PACKAGE_VENDOR "The Weft project")
set(CPACK_PACKAGE_CONTACT "${WEFT_DEB_MAINTAINER}")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_INSTALL_PREFIX /usr)  # with CPACK_SET_DESTDIR, what cpack installs to, whatever the tree's CMAKE_INSTALL_PREFIX
set(CPACK_SET_DESTDIR ON)  # /etc/weft and /lib/systemd/system are absolute
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime dev)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)  # WEFT_DEB_VERSION
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://github.com/weft-router/weft")
# Dependencies on shared libraries come from dpkg-shlibdeps (DPDK, yaml-cpp,
# Boost, libmnl, OpenSSL, libpcap, libsystemd, ...); libweft is found in the
# package being built.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${PROJECT_BINARY_DIR}/lib)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME weft)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION net)
# The poll-mode drivers are DPDK plugins, loaded by name, not linked: the ones
# the quickstart and the labs use (null, pcap, ring, tap, vhost, virtio, af_packet),
# and every other driver recommended through the dpdk package. The lab runner is Python.
set(CPACK_DEBIAN_RUNTIME_PACKAGE_DEPENDS
  "librte-net-null23, librte-net-pcap23, librte-net-ring23, librte-net-tap23, librte-net-vhost23, librte-net-virtio23, librte-net-af-packet23, python3, python3-yaml")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_RECOMMENDS "dpdk, bash-completion, iproute2")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SUGGESTS "frr, etcd-server, prometheus")
set(CPACK_DEBIAN_RUNTIME_DESCRIPTION
"modular router on DPDK, configured as a YAML graph of elements
Weft runs a router described as a YAML graph of elements (classifiers,
counters, NAT, VXLAN, VLAN, L2 switching, IP lookup) on DPDK, one graph
instance per worker core, and hot-reloads it without losing packets.
.
This package holds the daemon routerd (with a systemd unit, routerd@.service,
one instance per graph in /etc/weft), the command line routerctl (with bash
completion), svp-server (a Portolan SVP server for labs), the built-in
element plugins, the lab runner weft-lab, and manual pages.")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_EXTRA
  ${PROJECT_SOURCE_DIR}/tools/debian/weft/conffiles
  ${PROJECT_SOURCE_DIR}/tools/debian/weft/triggers)

set(CPACK_DEBIAN_DEV_PACKAGE_NAME weft-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_CONTROL_EXTRA ${PROJECT_SOURCE_DIR}/tools/debian/weft/triggers)
set(CPACK_COMPONENT_DEV_DEPENDS runtime)
# What the public headers, WeftConfig.cmake and weft.pc name.
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
  "libdpdk-dev, libboost-dev, nlohmann-json3-dev, libpcap-dev, pkg-config")
set(CPACK_DEBIAN_DEV_PACKAGE_RECOMMENDS "cmake, g++, catch2")
set(CPACK_DEBIAN_DEV_DESCRIPTION
"Weft plugin SDK: headers, CMake package and test harness
The SDK to write element and service plugins for the Weft router out of
tree: the public headers (weft/*.hpp), libweft's development link,
find_package(Weft) with weft_add_plugin(), pkg-config files (weft,
weft-testing) and libweft_testing, a harness that runs elements on DPDK
virtual devices in unit tests. An example plugin is under
/usr/share/doc/weft-dev/examples/plugin.")

include(CPack)

# Last of all the install rules, for every component: the prefix-dependent
# files and, for /usr, no RPATH on what was installed.
configure_file(${PROJECT_SOURCE_DIR}/cmake/WeftInstallPrefix.cmake.in ${PROJECT_BINARY_DIR}/cmake/WeftInstallPrefix.cmake
  @ONLY)
install(SCRIPT ${PROJECT_BINARY_DIR}/cmake/WeftInstallPrefix.cmake ALL_COMPONENTS)

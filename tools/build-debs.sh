#!/usr/bin/env bash
# Builds the Debian packages weft and weft-dev from this tree (CPack's DEB
# generator, dependencies from dpkg-shlibdeps) and runs lintian on them.
#
#   bash tools/build-debs.sh [BUILD_DIR]     (default build-deb; packages in BUILD_DIR/debs)
#
# The tree is configured for Debian's layout: prefix /usr, libraries and
# plugins in /usr/lib/<multiarch>, no RPATH, /etc/weft, /lib/systemd/system.
# Tests and benchmarks are not built. docs/packages.md.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-deb}

bash tools/setup-debian.sh
umask 022  # plugins load only from directories nobody else can write to (docs/security.md)

multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
cmake -S . -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O3 -g -DNDEBUG" \
  -DCMAKE_INSTALL_PREFIX=/usr -DWEFT_INSTALL_LIBDIR="lib/$multiarch" -DCMAKE_INSTALL_RPATH= \
  -DCMAKE_INSTALL_SYSCONFDIR=/etc -DWEFT_SYSTEMD_UNIT_DIR=/lib/systemd/system \
  -DCMAKE_STRIP="$PWD/tools/debian/strip" -DWEFT_BUILD_TESTS=OFF -DWEFT_BUILD_BENCH=OFF ${CMAKE_CXX_COMPILER_LAUNCHER:+-DCMAKE_CXX_COMPILER_LAUNCHER=$CMAKE_CXX_COMPILER_LAUNCHER} >/dev/null
cmake --build "$build" -j "${WEFT_JOBS:-$(nproc)}"
rm -rf "$build/debs" "$build/_CPack_Packages"
(cd "$build" && cpack -G DEB -B "$PWD/debs" >/dev/null)
rm -rf "$build/debs/_CPack_Packages"
ls -l "$build"/debs/*.deb

# lintian: errors fail the build unless tools/debian/lintian-overrides explains them.
echo "== lintian"
lintian --fail-on error --suppress-tags-from-file tools/debian/lintian-overrides --no-tag-display-limit \
  "$build"/debs/*.deb

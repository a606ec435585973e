#!/usr/bin/env bash
# Builds the Debian packages weft and weft-dev from a build tree (CPack's DEB
# generator, dependencies from dpkg-shlibdeps) and runs lintian on them.
#
#   bash tools/build-debs.sh [BUILD_DIR]     (default build; packages in BUILD_DIR/debs)
#
# The packages are the build tree installed to /usr: libraries and plugins in
# /usr/lib/<multiarch> (the tree's WEFT_INSTALL_LIBDIR), /etc/weft,
# /lib/systemd/system, no RPATH, stripped by tools/debian/strip; all of it is
# decided at install time (cmake/WeftInstallPrefix.cmake.in), so the tree the
# tests run in is the one packaged, with nothing compiled twice. A BUILD_DIR
# not configured yet is configured here: `build` with the default preset,
# any other without tests and benchmarks. docs/packages.md.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}

bash tools/setup-debian.sh
umask 022  # plugins load only from directories nobody else can write to (docs/security.md)

if [ ! -f "$build/CMakeCache.txt" ]; then
  if [ "$build" = build ]; then
    cmake --preset default >/dev/null
  else
    cmake -S . -B "$build" -G Ninja \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O3 -g -DNDEBUG" \
      -DWEFT_BUILD_TESTS=OFF -DWEFT_BUILD_BENCH=OFF >/dev/null
  fi
fi

# What the packages promise: an optimized, unsanitized build, in Debian's layout.
cache() { sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt"; }
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
problems=()
[ "$(cache CMAKE_BUILD_TYPE)" = RelWithDebInfo ] || problems+=("CMAKE_BUILD_TYPE is '$(cache CMAKE_BUILD_TYPE)', not RelWithDebInfo")
[ "$(cache WEFT_SANITIZE)" = OFF ] || problems+=("it is a sanitizer tree (WEFT_SANITIZE=$(cache WEFT_SANITIZE))")
[ "$(cache WEFT_INSTALL_LIBDIR)" = "lib/$multiarch" ] ||
  problems+=("WEFT_INSTALL_LIBDIR is '$(cache WEFT_INSTALL_LIBDIR)', not lib/$multiarch (reconfigure with -DWEFT_INSTALL_LIBDIR=lib/$multiarch)")
if [ ${#problems[@]} -gt 0 ]; then
  echo "build-debs: $build cannot be packaged:" >&2
  printf '  %s\n' "${problems[@]}" >&2
  exit 1
fi

cmake --build "$build" -j "${WEFT_JOBS:-$(nproc)}"
rm -rf "$build/debs" "$build/_CPack_Packages"
(cd "$build" && cpack -G DEB -B "$PWD/debs" >/dev/null)
rm -rf "$build/debs/_CPack_Packages"
ls -l "$build"/debs/*.deb

# lintian: errors fail the build unless tools/debian/lintian-overrides explains them.
echo "== lintian"
lintian --fail-on error --suppress-tags-from-file tools/debian/lintian-overrides --no-tag-display-limit \
  "$build"/debs/*.deb

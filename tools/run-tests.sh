#!/usr/bin/env bash
# Sets up a Debian 12 machine, builds Weft (optimized, -Werror) and runs every
# test; then runs the unit tests under ASan+UBSan (gcc), or, with
# WEFT_SANITIZE_ALL=1, builds the sanitizer tree (clang-14, ASan+UBSan,
# libFuzzer) and runs the unit tests, the golden tests and every fuzz target
# in it (docs/fuzzing.md).
#
#   sudo bash tools/run-tests.sh
#
# A skipped test is never a passed test: after each ctest run,
# tools/check-skips.py lists every test that did not run, with the reason it
# printed, and with CI=true (as .ci/run sets) fails the run unless
# tests/skip-allowlist.txt names the test (docs/testing.md).
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/setup-debian.sh

# Plugins load only from files and directories that nobody but root and the
# user loading them can change (docs/security.md): the build tree's too.
umask 022

jobs=$(nproc)

# ctest, then the skip check on its JUnit report; fails if either does.
run_ctest() {  # PRESET BUILD_DIR
  local junit="$PWD/$2/ctest-junit.xml" status=0
  rm -f "$junit"
  ctest --preset "$1" -j "$jobs" --output-junit "$junit" || status=$?
  python3 tools/check-skips.py "$junit" || status=$((status ? status : 1))
  return "$status"
}

echo "== build (preset default)"
cmake --preset default >/dev/null
cmake --build --preset default -j "$jobs"
if ! out=$(build/bin/routerctl validate graphs/quickstart.yaml 2>&1); then
  echo "$out"
  echo "run-tests: the build tree's plugins cannot be loaded (see docs/security.md, \"Plugins\")" >&2
  exit 1
fi

# The Debian packages (a second tree, configured for /usr: docs/packages.md);
# the test package.debian_install installs them on a bare Debian 12.
echo "== Debian packages (tools/build-debs.sh: weft, weft-dev, lintian)"
bash tools/build-debs.sh build-deb

echo "== tests (preset default)"
run_ctest default build

# The sanitizer tree's own stage (clang-14: unit tests, routerd and plugins
# through the golden tests, every fuzz target; docs/fuzzing.md) runs with
# WEFT_SANITIZE_ALL=1, until it has been timed and passed on the CI machine;
# CI's sanitizer stage is meanwhile the unit tests built with gcc.
if [ "${WEFT_SANITIZE_ALL:-0}" = 1 ]; then
  asan=asan supp=tests/lsan.supp
  echo "== build (preset asan: clang-14, ASan+UBSan, libFuzzer targets)"
  cmake --preset asan >/dev/null
  cmake --build --preset asan -j "$jobs"
else
  asan=asan-gcc supp=tests/lsan-librte.supp
  echo "== build (preset asan-gcc: ASan+UBSan, unit tests)"
  cmake --preset asan-gcc >/dev/null
  cmake --build --preset asan-gcc -j "$jobs" --target weft_unit_tests
fi

echo "== under ASan+UBSan (preset $asan)"
# LeakSanitizer suppressions name the DPDK frames whose allocations live as
# long as the process (tests/lsan.supp; the gcc stage still suppresses all of
# DPDK, tests/lsan-librte.supp); each fuzz target runs for WEFT_FUZZ_SECONDS
# (CMake cache, default 20) after replaying its seeds.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/$supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
run_ctest "$asan" "build-$asan"

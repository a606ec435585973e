#!/usr/bin/env bash
# Sets up a Debian 12 machine, builds Weft (optimized, -Werror) and runs every
# test; then builds the unit tests with ASan+UBSan and runs them again.
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

echo "== tests (preset default)"
run_ctest default build

echo "== build (preset asan: AddressSanitizer + UndefinedBehaviorSanitizer)"
cmake --preset asan >/dev/null
cmake --build --preset asan -j "$jobs" --target weft_unit_tests

echo "== unit tests under ASan+UBSan"
# DPDK's own libraries are not instrumented; leaks inside them are not ours.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
run_ctest asan build-asan

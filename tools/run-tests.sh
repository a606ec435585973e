#!/usr/bin/env bash
# Sets up a Debian 12 machine, builds Weft (optimized, -Werror) and runs every
# test; then builds the unit tests with ASan+UBSan and runs them again.
#
#   sudo bash tools/run-tests.sh
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/setup-debian.sh

jobs=$(nproc)
echo "== build (preset default)"
cmake --preset default >/dev/null
cmake --build --preset default -j "$jobs"

echo "== tests (preset default)"
ctest --preset default -j "$jobs"

echo "== build (preset asan: AddressSanitizer + UndefinedBehaviorSanitizer)"
cmake --preset asan >/dev/null
cmake --build --preset asan -j "$jobs" --target weft_unit_tests

echo "== unit tests under ASan+UBSan"
# DPDK's own libraries are not instrumented; leaks inside them are not ours.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --preset asan -j "$jobs"

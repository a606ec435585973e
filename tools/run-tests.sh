#!/usr/bin/env bash
# Sets up a Debian 12 machine, builds Weft (optimized, -Werror), makes the
# Debian packages from that build and runs every test; then builds the
# sanitizer tree (clang-14, ASan+UBSan, libFuzzer) and runs the unit tests,
# the golden tests and every fuzz target in it (docs/fuzzing.md).
#
#   sudo bash tools/run-tests.sh
#
# A skipped test is never a passed test: after each ctest run,
# tools/check-skips.py lists every test that did not run, with the reason it
# printed, and with CI=true (as .ci/run sets) fails the run unless
# tests/skip-allowlist.txt names the test (docs/testing.md). Each stage
# prints how long it took.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each stage's wall time, printed as it ends and summed up at the end.
t_run=$SECONDS t_stage=$SECONDS stages=()
stage_done() {  # NAME
  stages+=("$(printf '%-44s %4d s' "$1" $((SECONDS - t_stage)))")
  echo "== $1: $((SECONDS - t_stage)) s"
  t_stage=$SECONDS
}
trap 'printf "== stages:\n"; printf "   %s\n" "${stages[@]}"; echo "== total: $((SECONDS - t_run)) s"' EXIT

bash tools/setup-debian.sh
stage_done "setup (tools/setup-debian.sh)"

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
stage_done "build (preset default)"

# The Debian packages are this tree installed to /usr (docs/packages.md):
# nothing is compiled again. package.debian_install installs them on a bare
# Debian 12.
echo "== Debian packages (tools/build-debs.sh build: weft, weft-dev, lintian)"
bash tools/build-debs.sh build
stage_done "Debian packages from build/"

echo "== tests (preset default)"
run_ctest default build
stage_done "tests (preset default)"

echo "== build (preset asan: clang-14, ASan+UBSan, libFuzzer targets)"
cmake --preset asan >/dev/null
cmake --build --preset asan -j "$jobs"
stage_done "build (preset asan)"

echo "== under ASan+UBSan (preset asan: unit, golden, fuzz)"
# LeakSanitizer's suppressions name the DPDK functions whose allocations live
# as long as the process (tests/lsan.supp), never a whole library; each fuzz
# target replays its seeds, then runs for WEFT_FUZZ_SECONDS (CMake cache,
# default 20) and prints libFuzzer's final stats.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
run_ctest asan build-asan
stage_done "tests (preset asan)"

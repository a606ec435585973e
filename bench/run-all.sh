#!/usr/bin/env bash
# bench/run-all.sh — build what the benchmarks need (if out of date) and run
# them all, then repeat their RESULT lines together.
#
#   bench/run-all.sh [BUILD_DIR] [SECONDS]
#
#   BUILD_DIR  build tree (default: build/ at the repo root). If it is not
#              configured yet it is configured like the `default` preset
#              (Ninja, RelWithDebInfo, -O3 -g -DNDEBUG).
#   SECONDS    measured time per DPDK run (default: 5)
#
# Environment: BENCH_NO_BUILD=1 skips the build step; ROUNDS, BENCH_UNI,
# BENCH_FUSED are passed to forwarding.sh, CHAIN_LENGTHS to chain.sh; extra
# flags for bench_chain go in BENCH_CHAIN_ARGS (e.g. --benchmark_repetitions=5).
#
# Takes about a minute: forwarding ~20 s, bench_chain ~15 s, chain.sh ~20 s.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
build=${1:-$repo/build}
secs=${2:-5}

if [[ ${BENCH_NO_BUILD:-0} != 1 ]]; then
  if [[ ! -f $build/CMakeCache.txt ]]; then
    if [[ $(realpath -m "$build") == "$repo/build" ]]; then
      (cd "$repo" && cmake --preset default)
    else
      cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O3 -g -DNDEBUG"
    fi
  fi
  # Only what the benchmarks run (not the tests). bench_chain is missing
  # when libbenchmark-dev is not installed; the run below reports that.
  cmake --build "$build" --target routerd weft_basic
  cmake --build "$build" --target bench_chain || echo "run-all.sh: bench_chain not built" >&2
fi

log=$(mktemp /tmp/weft-bench-all.XXXXXX)
trap 'rm -f "$log"' EXIT
status=0

echo "=== forwarding: routerd vs dpdk-testpmd ==="
"$here/forwarding.sh" "$build" "$secs" | tee -a "$log" || status=1
echo
echo "=== bench_chain: per-element cost (Google Benchmark, GraphHarness) ==="
if [[ -x $build/bin/bench_chain ]]; then
  # shellcheck disable=SC2086
  "$build/bin/bench_chain" --benchmark_color=false ${BENCH_CHAIN_ARGS:-} | tee -a "$log" || status=1
else
  echo "no $build/bin/bench_chain (libbenchmark-dev missing?)" >&2
  status=1
fi
echo
echo "=== chain.sh: per-element cost in routerd ==="
"$here/chain.sh" "$build" "$secs" | tee -a "$log" || status=1

echo
echo "=== reload.sh: hot reload while forwarding ==="
"$here/reload.sh" "$build" 100 | tee -a "$log" || status=1

echo
echo "=== results ==="
grep '^RESULT' "$log" || true
exit $status

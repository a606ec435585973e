#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time: its seed corpus first (every
# seed must pass), then SECONDS of fuzzing. Exits non-zero on any finding
# (crash, sanitizer report, leak, timeout, broken invariant); the input that
# found it is kept as WORK/NAME/crash-* (or leak-*, timeout-*) and printed.
#
#   fuzz/run-fuzzer.sh BUILD/bin/fuzz_NAME NAME SECONDS [libFuzzer flags...]
#
# WORK is $WEFT_FUZZ_WORK (default: a directory under /tmp); inputs found to
# add coverage are kept in WORK/NAME/corpus and reused by the next run.
# docs/fuzzing.md says how to run a longer campaign.
set -euo pipefail
bin=$1 name=$2 seconds=$3
shift 3
repo=$(cd "$(dirname "$0")/.." && pwd)
work=${WEFT_FUZZ_WORK:-/tmp/weft-fuzz}/$name
mkdir -p "$work/corpus"

# Seeds: the target's own corpus, plus every graph the repository ships for
# the graph targets (structure-aware mutations start from valid graphs).
seeds=("$repo/fuzz/corpus/$name")
case $name in
  graph|reload) seeds+=("$repo/graphs" "$repo/tests/graphs/valid" "$repo/tests/graphs/broken") ;;
esac
dict=()
[ -f "$repo/fuzz/$name.dict" ] && dict=(-dict="$repo/fuzz/$name.dict")

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}:allocator_may_return_null=1
export LSAN_OPTIONS=suppressions=$repo/tests/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

log=$work/fuzz.log
status=0
"$bin" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=6144 -max_len=65536 -print_final_stats=1 \
  -artifact_prefix="$work/" "${dict[@]}" "$@" "$work/corpus" "${seeds[@]}" >"$log" 2>&1 || status=$?
grep -E '^#[0-9]+ +(INITED|DONE)|^(stat::number_of_executed_units|stat::peak_rss_mb|Done )' "$log" || true
if [ "$status" -ne 0 ]; then
  echo "fuzz.$name: FINDING (exit $status); the end of its log ($log):"
  tail -n 60 "$log"
  for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
    [ -e "$f" ] && echo "input kept: $f" && head -c 2000 "$f" | od -c | head -40
  done
  exit 1
fi
echo "fuzz.$name: no finding in ${seconds}s"

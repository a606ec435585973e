#!/usr/bin/env bash
# Regenerates the metric catalogue of docs/telemetry.md from the code: the
# framework's metric table and every built-in class's declared metrics
# (`routerctl metrics --doc`). Only the part between the two markers is
# generated; the rest of the page is written by hand.
#   bash tools/gen-telemetry-docs.sh [BUILD_DIR]            rewrites docs/telemetry.md
#   bash tools/gen-telemetry-docs.sh --check [BUILD_DIR]    fails if the page is out of date
set -euo pipefail
check=0
if [ "${1:-}" = "--check" ]; then
  check=1
  shift
fi
build=${1:-build}
page=docs/telemetry.md
begin='<!-- BEGIN GENERATED METRICS: bash tools/gen-telemetry-docs.sh -->'
end='<!-- END GENERATED METRICS -->'
grep -qxF "$begin" "$page" && grep -qxF "$end" "$page" || { echo "$page: the markers are missing" >&2; exit 1; }
gen=$(mktemp)
new=$(mktemp)
trap 'rm -f "$gen" "$new"' EXIT
# WEFT_SOCKET points nowhere so the classes are always loaded locally.
WEFT_SOCKET=/nonexistent "$build/bin/routerctl" metrics --doc >"$gen"
awk -v begin="$begin" -v end="$end" -v gen="$gen" '
  $0 == begin { print; print ""; while ((getline line < gen) > 0) print line; print ""; skip = 1; next }
  $0 == end { skip = 0 }
  !skip { print }
' "$page" >"$new"
if [ $check = 1 ]; then
  diff -u "$page" "$new" && echo "$page is up to date" || {
    echo "$page is out of date: run bash tools/gen-telemetry-docs.sh $build" >&2
    exit 1
  }
else
  cp "$new" "$page"
fi

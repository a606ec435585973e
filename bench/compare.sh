#!/usr/bin/env bash
# Compares two builds of one benchmark program in the same run: BEFORE and
# AFTER are run alternately ROUNDS times (so both see the same machine load),
# and the medians of every figure in their RESULT lines are printed side by
# side with their ratio.
#
#   bench/compare.sh BEFORE_BIN AFTER_BIN [ROUNDS] [-- benchmark flags]
#   bench/compare.sh /tmp/base/build/bin/bench_nat44 build/bin/bench_nat44 3 -- --benchmark_filter=new
#
# Last line: RESULT compare name=.. ROUNDS=.. <figure>_before=.. <figure>_after=.. <figure>_ratio=..
set -euo pipefail
before=${1:?BEFORE_BIN}
after=${2:?AFTER_BIN}
rounds=${3:-3}
shift $(( $# >= 3 ? 3 : $# ))
[ "${1:-}" = "--" ] && shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for r in $(seq 1 "$rounds"); do
  for side in before after; do
    bin=$before
    [ "$side" = after ] && bin=$after
    "$bin" "$@" > "$tmp/out" 2>&1 || { cat "$tmp/out"; exit 1; }
    # (Google Benchmark may colour the line: keep what follows RESULT.)
    grep -a 'RESULT ' "$tmp/out" | tail -1 | sed "s/.*RESULT /$side RESULT /" | tee -a "$tmp/results"
  done
done
python3 - "$tmp/results" "$rounds" <<'EOF'
import statistics, sys
rows = {"before": [], "after": []}
name = "?"
for line in open(sys.argv[1]):
    side, _, name, *kv = line.split()
    rows[side].append(dict(x.split("=", 1) for x in kv))
out = [f"RESULT compare name={name} rounds={sys.argv[2]}"]
print(f"{'figure':24} {'before':>10} {'after':>10} {'ratio':>7}   (medians)")
for key in rows["before"][0]:
    b = statistics.median(float(r[key]) for r in rows["before"] if key in r)
    a = statistics.median(float(r[key]) for r in rows["after"] if key in r)
    ratio = a / b if b else float("nan")
    print(f"{key:24} {b:10.3f} {a:10.3f} {ratio:7.2f}")
    out.append(f"{key}_before={b:.3f} {key}_after={a:.3f} {key}_ratio={ratio:.2f}")
print(" ".join(out))
EOF

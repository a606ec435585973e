#!/usr/bin/env bash
# bench/runtime.sh — the cost of runtime figures (and of their hooks when off).
#
#   bench/runtime.sh [BUILD_DIR] [SECONDS] [BASE_BUILD_DIR]
#
#   BUILD_DIR       Weft build tree holding bin/routerd (default: build/ at the repo root)
#   SECONDS         measured time per run (default: 5)
#   BASE_BUILD_DIR  optional: a build without the probes (e.g. of the previous
#                   release); its routerd is run too, and `off` is compared to it
#   ROUNDS=3        the modes are run alternately this many times; medians
#
# The quickstart graph (graphs/quickstart.yaml, fed by net_null0 -> PortRx ->
# Classifier -> Counter -> Merge -> PortTx -> net_null1, one busy-polling
# worker) in the same run, alternately:
#   off   runtime figures off (stats: {runtime: false}): the hooks are there, unused
#   on    runtime figures on from the start (stats: {runtime: true})
#   base  BASE_BUILD_DIR's routerd, same graph (only with BASE_BUILD_DIR)
# The rate is p1's TX packets per second of worker uptime.
#
# Output: one line per run, then
#   RESULT runtime off_mpps=.. on_mpps=.. on_over_off=.. [base_mpps=.. off_over_base=..]
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
me=runtime.sh
build=${1:-$repo/build}
secs=${2:-5}
base=${3:-}
rounds=${ROUNDS:-3}
routerd=$build/bin/routerd
# shellcheck source=lib.sh
source "$here/lib.sh"

[[ -x $routerd ]] || die "no routerd at $routerd (build first, or pass the build dir)"
[[ -z $base || -x $base/bin/routerd ]] || die "no routerd at $base/bin/routerd"
command -v jq >/dev/null || die "jq is needed to read routerd's summary JSON"
[[ $secs =~ ^[0-9]+([.][0-9]+)?$ ]] || die "SECONDS must be a number, got '$secs'"

write_graph() {  # FILE RUNTIME(true|false|none) PREFIX
  local f=$1 figures=$2 prefix=$3
  {
    echo "name: bench-runtime"
    eal_yaml "$prefix"
    [[ $figures == none ]] || echo "stats: {runtime: $figures}"
    # The quickstart graph, from its workers: section on, fed by a null
    # device (as the figures in bench/README.md were measured) instead of its capture.
    sed -n '/^workers:/,$p' "$repo/graphs/quickstart.yaml" |
      sed -e 's|{device: net_pcap0, args: "rx_pcap=quickstart.pcap,infinite_rx=1"}|{device: net_null0, args: "size=64"}|'
  } >"$f"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

modes="off on"
[[ -z $base ]] || modes="base off on"
echo "# runtime figures: graphs/quickstart.yaml, 1 worker core, ${secs}s per run, $rounds round(s) of: $modes"
declare -A rates
main_routerd=$routerd
for ((r = 1; r <= rounds; r++)); do
  for m in $modes; do
    case $m in
      base) routerd=$base/bin/routerd; write_graph "$tmp/$m.yaml" none "weftbench-$$-rt-$m-$r" ;;
      off) routerd=$main_routerd; write_graph "$tmp/$m.yaml" false "weftbench-$$-rt-$m-$r" ;;
      on) routerd=$main_routerd; write_graph "$tmp/$m.yaml" true "weftbench-$$-rt-$m-$r" ;;
    esac
    run_routerd_graph "$tmp/$m.yaml" "$m-$r" "$secs" p1
    rates[$m]+="$RATE "
    printf 'round %d %-4s %7.3f Mpps\n' "$r" "$m" "$RATE"
  done
done
routerd=$main_routerd

off=$(printf '%s\n' ${rates[off]} | median)
on=$(printf '%s\n' ${rates[on]} | median)
line=$(printf 'RESULT runtime off_mpps=%.3f on_mpps=%.3f on_over_off=%.4f' "$off" "$on" \
  "$(awk -v a="$on" -v b="$off" 'BEGIN { print a / b }')")
if [[ -n $base ]]; then
  bm=$(printf '%s\n' ${rates[base]} | median)
  line+=$(printf ' base_mpps=%.3f off_over_base=%.4f' "$bm" "$(awk -v a="$off" -v b="$bm" 'BEGIN { print a / b }')")
fi
echo "$line"

#!/usr/bin/env bash
# bench/runtime.sh — the cost of runtime figures and captures, and of probes when off.
#
#   bench/runtime.sh [BUILD_DIR] [SECONDS] [BASE_BUILD_DIR]
#
#   BUILD_DIR       Weft build tree holding bin/routerd (default: build/ at the repo root)
#   SECONDS         measured time per run (default: 5)
#   BASE_BUILD_DIR  optional: the same source configured with
#                   -DWEFT_PROBE_HOOKS=OFF (the worker loop does not test for
#                   runtime figures; elements never test for probes in any
#                   build); its routerd is run too, and `off` is compared to it
#   ROUNDS=3        the modes are run alternately this many times; medians
#
# The quickstart graph (graphs/quickstart.yaml, fed by net_null0 -> PortRx ->
# Classifier -> Counter -> Merge -> PortTx -> net_null1, one busy-polling
# worker) in the same run, alternately (each round starting one mode further on):
#   base     BASE_BUILD_DIR's routerd, same graph (only with BASE_BUILD_DIR)
#   off      runtime figures off (stats: {runtime: false}): nothing watches
#   on       runtime figures on from the start (stats: {runtime: true})
#   capture  runtime figures off, and `routerctl capture out` (every packet,
#            to a pcapng file in /tmp) running while the rate is sampled
# The rate is p1's TX packets per second of worker uptime (capture: between
# two `routerctl stats` samples SECONDS apart, once the capture runs).
#
# Output: one line per run, then
#   RESULT runtime off_mpps=.. on_mpps=.. on_over_off=.. capture_mpps=.. capture_over_off=..
#          capture_written_per_s=.. [base_mpps=.. off_over_base=..]
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

# capture_rate GRAPH TAG: runs routerd on GRAPH with a capture of every packet
# leaving `out` (Merge, the last element before PortTx) running, and sets
# RATE to p1's TX packets per second while it ran (two `stats` samples SECS
# apart, taken once the capture is on), in Mpps; CAPTURED and CAP_LOST to
# what the capture wrote and lost in that time.
capture_rate() {
  local g=$1 tag=$2 sock=$tmp/$2.sock ctl=${routerd%/routerd}/routerctl
  local js=$tmp/$tag.json log=$tmp/$tag.log pc=$tmp/$tag.pcapng
  "$routerd" -c "$g" -d "$(awk -v s="$secs" 'BEGIN { printf "%d", s + 6 }')" -s "$sock" --summary-json "$js" >"$log" 2>&1 &
  child=$!
  local i
  for ((i = 0; i < 200; i++)); do
    [[ -S $sock ]] && "$ctl" -s "$sock" status >/dev/null 2>&1 && break
    sleep 0.05
  done
  "$ctl" -s "$sock" capture out --count 100000000 -w "$pc" >/dev/null || die "capture ($tag) did not start"
  sleep 0.5
  local t0 t1 tx0 tx1 c0 c1 l0 l1
  t0=$(date +%s.%N); tx0=$("$ctl" -s "$sock" --json stats | jq '.ports[] | select(.name == "p1") | .tx_packets')
  read -r c0 l0 < <("$ctl" -s "$sock" --json capture --list | jq -r '.[0] | "\(.written) \(.lost)"')
  sleep "$secs"
  t1=$(date +%s.%N); tx1=$("$ctl" -s "$sock" --json stats | jq '.ports[] | select(.name == "p1") | .tx_packets')
  read -r c1 l1 < <("$ctl" -s "$sock" --json capture --list | jq -r '.[0] | "\(.written) \(.lost)"')
  "$ctl" -s "$sock" capture --stop 1 >/dev/null || true
  if ! wait_pid "$child" "$(awk -v s="$secs" 'BEGIN { printf "%d", s + 60 }')"; then
    cat "$log" >&2
    die "routerd ($tag) failed"
  fi
  rm -f "$pc"
  RATE=$(awk -v a="$tx0" -v b="$tx1" -v s="$t0" -v e="$t1" 'BEGIN { print (b - a) / (e - s) / 1e6 }')
  CAPTURED=$((c1 - c0))
  CAP_LOST=$((l1 - l0))
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

modes="off on capture"
[[ -z $base ]] || modes="base off on capture"
echo "# runtime figures: graphs/quickstart.yaml, 1 worker core, ${secs}s per run, $rounds round(s) of: $modes"
declare -A rates
main_routerd=$routerd
read -r -a mode_list <<<"$modes"
for ((r = 1; r <= rounds; r++)); do
  # Each round starts one mode further on, so that no mode always follows
  # the same one (a capture's file leaves the page cache busy, say).
  order=("${mode_list[@]:$(((r - 1) % ${#mode_list[@]}))}" "${mode_list[@]:0:$(((r - 1) % ${#mode_list[@]}))}")
  for m in "${order[@]}"; do
    case $m in
      base) routerd=$base/bin/routerd; write_graph "$tmp/$m.yaml" none "weftbench-$$-rt-$m-$r" ;;
      off) routerd=$main_routerd; write_graph "$tmp/$m.yaml" false "weftbench-$$-rt-$m-$r" ;;
      on) routerd=$main_routerd; write_graph "$tmp/$m.yaml" true "weftbench-$$-rt-$m-$r" ;;
      capture) routerd=$main_routerd; write_graph "$tmp/$m.yaml" false "weftbench-$$-rt-$m-$r" ;;
    esac
    if [[ $m == capture ]]; then
      capture_rate "$tmp/$m.yaml" "$m-$r"
      printf 'round %d %-7s %7.3f Mpps (capture of out: %d written, %d lost in %ss)\n' "$r" "$m" "$RATE" "$CAPTURED" "$CAP_LOST" "$secs"
      rates[written]+="$CAPTURED "
    else
      run_routerd_graph "$tmp/$m.yaml" "$m-$r" "$secs" p1
      printf 'round %d %-7s %7.3f Mpps\n' "$r" "$m" "$RATE"
    fi
    rates[$m]+="$RATE "
  done
done
routerd=$main_routerd

off=$(printf '%s\n' ${rates[off]} | median)
on=$(printf '%s\n' ${rates[on]} | median)
cap=$(printf '%s\n' ${rates[capture]} | median)
written=$(printf '%s\n' ${rates[written]} | median)
line=$(printf 'RESULT runtime off_mpps=%.3f on_mpps=%.3f on_over_off=%.4f capture_mpps=%.3f capture_over_off=%.4f capture_written_per_s=%.0f' \
  "$off" "$on" "$(awk -v a="$on" -v b="$off" 'BEGIN { print a / b }')" \
  "$cap" "$(awk -v a="$cap" -v b="$off" 'BEGIN { print a / b }')" "$(awk -v w="$written" -v s="$secs" 'BEGIN { print w / s }')")
if [[ -n $base ]]; then
  bm=$(printf '%s\n' ${rates[base]} | median)
  line+=$(printf ' base_mpps=%.3f off_over_base=%.4f' "$bm" "$(awk -v a="$off" -v b="$bm" 'BEGIN { print a / b }')")
fi
echo "$line"

#!/usr/bin/env bash
# bench/reload.sh — what a hot reload costs while routerd forwards at full rate.
#
#   bench/reload.sh [BUILD_DIR] [RELOADS]
#
# routerd forwards net_null0 -> Counter -> Queue -> net_null1 on one worker;
# the script reloads it RELOADS times (default 100), alternating two graphs
# that differ in an element and a connection, and reports per reload:
# validate, build, swap and total time, the worker pause (the longest time a
# worker did not forward because of the reload) and packets lost; plus the
# forwarding rate with reloads going on against the rate without.
set -euo pipefail
me=reload.sh
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
reloads=${2:-100}
routerd=$build/bin/routerd
routerctl=$build/bin/routerctl
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
command -v jq >/dev/null || die "jq is needed"

graph() {  # graph FILE EXTRA_ELEMENT
  {
    echo "workers: {lcores: [1], idle_sleep_us: 0}"
    eal_yaml "weftbench-$$-reload"
    echo "ports:"
    echo "  p0: {device: net_null0, args: \"size=64\"}"
    echo "  p1: net_null1"
    echo "elements:"
    echo "  rx: {class: PortRx, port: p0}"
    echo "  c: Counter"
    echo "  q: Queue"
    echo "  tx: {class: PortTx, port: p1}"
    if [[ -n $2 ]]; then
      echo "  s: Pass"
      echo "connections: [\"rx -> c -> s -> q -> tx\"]"
    else
      echo "connections: [\"rx -> c -> q -> tx\"]"
    fi
  } >"$1"
}
graph "$tmp/a.yaml" ""
graph "$tmp/b.yaml" "extra"
sock=$tmp/ctl.sock
"$routerd" -c "$tmp/a.yaml" -s "$sock" >"$tmp/routerd.log" 2>&1 &
child=$!
for _ in $(seq 200); do "$routerctl" -s "$sock" status >/dev/null 2>&1 && break; sleep 0.05; done

rate() {  # packets/s out of the counter over about one second
  local a b
  a=$("$routerctl" -s "$sock" --json stats | jq '[.uptime_s, (.elements[] | select(.id=="c") | .total.out)]')
  sleep 1
  b=$("$routerctl" -s "$sock" --json stats | jq '[.uptime_s, (.elements[] | select(.id=="c") | .total.out)]')
  jq -n --argjson a "$a" --argjson b "$b" '($b[1]-$a[1])/($b[0]-$a[0])'
}
quiet=$(rate)

: >"$tmp/replies"
start=$("$routerctl" -s "$sock" --json stats | jq '[.uptime_s, (.elements[] | select(.id=="c") | .total.out)]')
for ((i = 0; i < reloads; i++)); do
  f=$tmp/b.yaml; (( i % 2 )) && f=$tmp/a.yaml
  "$routerctl" -s "$sock" --json reload "$f" | jq -c . >>"$tmp/replies"
done
end=$("$routerctl" -s "$sock" --json stats | jq '[.uptime_s, (.elements[] | select(.id=="c") | .total.out)]')
busy=$(jq -n --argjson a "$start" --argjson b "$end" '($b[1]-$a[1])/($b[0]-$a[0])')
kill -INT "$child"; wait_pid "$child" 20 || true

stat() {  # stat JQ_PATH -> "median max"
  jq -s "[.[] | $1] | sort | \"\(.[length/2|floor]) \(.[-1])\"" -r "$tmp/replies"
}
applied=$(jq -s '[.[] | select(.applied)] | length' "$tmp/replies")
lost=$(jq -s '[.[] | .packets_lost] | add' "$tmp/replies")
printf '# %d reloads while forwarding (net_null, 1 worker), %d applied\n' "$reloads" "$applied"
printf '%-22s %12s %12s\n' "ms per reload" median max
for k in validate build swap worker_pause total; do
  read -r med max <<<"$(stat ".timing_ms.$k")"
  printf '%-22s %12.4f %12.4f\n' "$k" "$med" "$max"
done
printf 'packets lost, all reloads: %s\n' "$lost"
printf 'forwarding rate: %.2f Mpps without reloads, %.2f Mpps during the reloads (%.3f)\n' \
  "$(jq -n "$quiet/1e6")" "$(jq -n "$busy/1e6")" "$(jq -n "$busy/$quiet")"
read -r pmed pmax <<<"$(stat ".timing_ms.worker_pause")"
printf 'RESULT reload reloads=%d applied=%d lost=%s pause_ms_median=%s pause_ms_max=%s rate_ratio=%.3f\n' \
  "$reloads" "$applied" "$lost" "$pmed" "$pmax" "$(jq -n "$busy/$quiet")"

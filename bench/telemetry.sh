#!/usr/bin/env bash
# bench/telemetry.sh — the quickstart graph's forwarding rate with the
# metrics endpoint on and scraped every second, against the same graph with
# telemetry off, in the same run.
#
#   bench/telemetry.sh [BUILD_DIR] [SECONDS]
#
# Environment:
#   ROUNDS=N      N rounds of one off and one on run, the order alternating
#                 (default 3); medians are reported
#   INTERVAL=S    seconds between two scrapes (default 1)
#
# Both runs: graphs/quickstart.yaml (net_null p0 -> rx -> cls -> counters ->
# out -> tx -> net_null p1, one worker on lcore 1), with its own EAL file
# prefix. "on" adds `--metrics 127.0.0.1:PORT` and a scraper (curl) asking
# for /metrics every INTERVAL seconds while routerd runs; each scrape makes
# the control thread (lcore 0) read every counter and render the page.
# The figure is p1's TX packets per second of worker uptime
# (`routerd --summary-json`); ratio = on / off, target >= 0.98.
#
# Output: human-readable lines, then
#   RESULT telemetry off_mpps=.. on_mpps=.. ratio=.. scrapes=..
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
me=telemetry.sh
build=${1:-$repo/build}
secs=${2:-5}
rounds=${ROUNDS:-3}
interval=${INTERVAL:-1}
routerd=$build/bin/routerd
# shellcheck source=lib.sh
source "$here/lib.sh"

[[ -x $routerd ]] || die "no routerd at $routerd (build first, or pass the build dir)"
command -v jq >/dev/null || die "jq is needed to read routerd's summary JSON"
command -v curl >/dev/null || die "curl is needed to scrape"
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer"

scraper=""
_scraper_cleanup() { [[ -n $scraper ]] && kill "$scraper" 2>/dev/null || true; }
trap '_scraper_cleanup; _bench_cleanup' EXIT

# write_graph FILE PREFIX: the quickstart graph with a benchmark EAL section.
write_graph() {
  {
    eal_yaml "$2"
    # Fed by a null device (as measured in bench/README.md), not the capture.
    grep -v '^#' "$repo/graphs/quickstart.yaml" |
      sed -e 's|{device: net_pcap0, args: "rx_pcap=quickstart.pcap,infinite_rx=1"}|{device: net_null0, args: "size=64"}|'
  } >"$1"
}

cpu0=$(python3 -c 'import os; print(min(os.sched_getaffinity(0)))')
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# run TAG on|off -> RATE (Mpps), SCRAPES
run() {
  local tag=$1 mode=$2 g=$tmp/$1.yaml js=$tmp/$1.json log=$tmp/$1.log args=()
  write_graph "$g" "weftbench-$$-$tag"
  SCRAPES=0
  if [[ $mode == on ]]; then
    local port
    port=$(free_port)
    args=(--metrics "127.0.0.1:$port")
    # Scrapes until killed; counts the pages it got. Pinned to the first CPU
    # (routerd's lcore 0, the control thread's): in production the scraper is
    # another host, never the worker's core.
    (
      trap 'kill $! 2>/dev/null; exit 0' TERM
      n=0
      while :; do
        if ms=$(taskset -c "$cpu0" curl -sf -o /dev/null -w '%{time_total}' "http://127.0.0.1:$port/metrics"); then
          n=$((n + 1))
          echo $n >"$tmp/$tag.scrapes"
          awk -v t="$ms" 'BEGIN { printf "%.2f", t * 1000 }' >"$tmp/$tag.scrape_ms"  # the last one
        fi
        sleep "$interval" &
        wait $!  # interruptible: the TERM trap below ends the sleep with the loop
      done
    ) &
    scraper=$!
  fi
  "$routerd" -c "$g" -d "$secs" -s "$tmp/$tag.sock" --summary-json "$js" "${args[@]}" >"$log" 2>&1 &
  child=$!
  if ! wait_pid "$child" $((secs + 60)); then
    cat "$log" >&2
    die "routerd ($tag) failed"
  fi
  if [[ -n $scraper ]]; then
    kill "$scraper" 2>/dev/null || true
    wait "$scraper" 2>/dev/null || true
    scraper=""
    SCRAPES=$(cat "$tmp/$tag.scrapes" 2>/dev/null || echo 0)
  fi
  [[ -s $js ]] || { cat "$log" >&2; die "routerd ($tag) wrote no summary"; }
  RATE=$(jq -r '([.ports[] | select(.name == "p1") | .tx_packets] | add) / .uptime_s / 1e6' "$js")
}

median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

offs=() ons=() scrapes=0
# Odd rounds run off first, even rounds on first: a drift in the machine's load
# over the run does not favour either.
for i in $(seq "$rounds"); do
  order="off on"
  (( i % 2 == 0 )) && order="on off"
  for mode in $order; do
    run "$mode$i" "$mode"
    if [[ $mode == off ]]; then
      offs+=("$RATE")
      echo "round $i: off $RATE Mpps"
    else
      ons+=("$RATE")
      scrapes=$((scrapes + SCRAPES))
      echo "round $i: on  $RATE Mpps ($SCRAPES scrapes, $(cat "$tmp/$mode$i.scrape_ms" 2>/dev/null || echo ?) ms per scrape)"
    fi
  done
done
off=$(printf '%s\n' "${offs[@]}" | median)
on=$(printf '%s\n' "${ons[@]}" | median)
ratio=$(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.3f", a / b }')
echo "median off $off Mpps, on $on Mpps, ratio $ratio (target >= 0.98)"
echo "RESULT telemetry off_mpps=$off on_mpps=$on ratio=$ratio scrapes=$scrapes"

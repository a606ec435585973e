#!/usr/bin/env bash
# bench/chain.sh — per-element cost measured end to end in routerd.
#
#   bench/chain.sh [BUILD_DIR] [SECONDS]
#
#   BUILD_DIR  Weft build tree holding bin/routerd (default: build/ at the repo root)
#   SECONDS    measured time per chain length (default: 5)
#   CHAIN_LENGTHS="0 16 64"   the N to measure (must include 0)
#
# The cross-check of bench_chain (chain.cpp) in the real daemon: for each N,
# routerd forwards  net_null0 -> rx (PortRx) -> p1 -> ... -> pN (Pass) -> tx
# (PortTx) -> net_null1  on one worker core (lcore 1, busy-polling, burst 32),
# and the rate is p1's TX packets per second of worker uptime. Then, for each
# N > 0,
#     ns per packet per element = (1/rate(N) - 1/rate(0)) / N
# The driver's work (net_null allocating on RX, freeing on TX) is in both
# rate(N) and rate(0) and cancels; what remains is the cost of N hops,
# including their effect on the caches in a running router. bench_chain
# measures the same hop without DPDK ports and with less noise.
#
# Output: one line per N, then
#   RESULT chain_routerd ns_per_pkt_per_element=..(largest N) rate0_mpps=.. rateN_mpps=..
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
me=chain.sh
build=${1:-$repo/build}
secs=${2:-5}
lengths=${CHAIN_LENGTHS:-0 16 64}
routerd=$build/bin/routerd
# shellcheck source=lib.sh
source "$here/lib.sh"

[[ -x $routerd ]] || die "no routerd at $routerd (build first, or pass the build dir)"
command -v jq >/dev/null || die "jq is needed to read routerd's summary JSON"
[[ $secs =~ ^[0-9]+([.][0-9]+)?$ ]] || die "SECONDS must be a number, got '$secs'"
[[ " $lengths " == *" 0 "* ]] || die "CHAIN_LENGTHS must include 0"

write_graph() {  # FILE N PREFIX
  local f=$1 n=$2 prefix=$3 path="rx" i
  {
    echo "name: bench-chain-$n"
    eal_yaml "$prefix"
    echo "workers:"
    echo "  lcores: [1]"
    echo "  idle_sleep_us: 0"
    echo "ports:"
    echo "  p0: {device: net_null0}"
    echo "  p1: {device: net_null1}"
    echo "elements:"
    echo "  rx: {class: PortRx, port: p0}"
    echo "  tx: {class: PortTx, port: p1}"
    for ((i = 1; i <= n; i++)); do
      echo "  p$i: Pass"
      path+=" -> p$i"
    done
    echo "connections:"
    echo "  - $path -> tx"
  } >"$f"
}

echo "# chain (routerd): net_null0 -> PortRx -> Pass x N -> PortTx -> net_null1, 1 worker core, ${secs}s per N"
declare -A rate
for n in $lengths; do
  write_graph "$tmp/chain-$n.yaml" "$n" "weftbench-$$-chain-$n"
  run_routerd_graph "$tmp/chain-$n.yaml" "chain-$n" "$secs" p1
  rate[$n]=$RATE
  if ((n == 0)); then
    printf 'N=%-3d %7.2f Mpps\n' "$n" "$RATE"
  else
    printf 'N=%-3d %7.2f Mpps  %.3f ns/pkt/element\n' "$n" "$RATE" \
      "$(awk -v a="${rate[0]:-0}" -v b="$RATE" -v n="$n" 'BEGIN { if (a > 0) print (1e3 / b - 1e3 / a) / n; else print "nan" }')"
  fi
done
# shellcheck disable=SC2086
last=$(printf '%s\n' $lengths | sort -n | tail -1)
per=$(awk -v a="${rate[0]}" -v b="${rate[$last]}" -v n="$last" 'BEGIN { printf "%.3f", (1e3 / b - 1e3 / a) / n }')
printf 'RESULT chain_routerd ns_per_pkt_per_element=%s n=%d rate0_mpps=%.2f rate%d_mpps=%.2f\n' \
  "$per" "$last" "${rate[0]}" "$last" "${rate[$last]}"

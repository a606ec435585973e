#!/usr/bin/env bash
# bench/forwarding.sh — routerd PortRx->PortTx forwarding rate against
# dpdk-testpmd (io mode) on the same virtual devices, in the same run.
#
#   bench/forwarding.sh [BUILD_DIR] [SECONDS]
#
#   BUILD_DIR  Weft build tree holding bin/routerd (default: build/ at the repo root)
#   SECONDS    measured time per program and round (default: 5)
#
# Environment:
#   ROUNDS=N        alternate routerd/testpmd N times (default 1); the reported
#                   figures are the medians over the rounds
#   TESTPMD=PATH    testpmd binary (default: dpdk-testpmd)
#   BENCH_UNI=1     also run routerd with one direction only (p0->p1) and print
#                   its rate (informational: there is no testpmd counterpart)
#   BENCH_FUSED=1   also run routerd with the fused Forward element (one
#                   element doing rx_burst+tx_burst: the worker loop alone)
#
# What is compared (same work on both sides):
#   Two net_null vdevs, p0 and p1, one worker (forwarding) core: lcore 1, on
#   the second CPU; lcore 0 (control / stats) on the first.
#   testpmd --forward-mode=io with two ports runs two streams on its one
#   forwarding core: p0 -> p1 and p1 -> p0. routerd runs the identical work:
#   two PortRx -> PortTx pairs in one graph on one worker,
#       rx0 (PortRx p0) -> tx1 (PortTx p1)
#       rx1 (PortRx p1) -> tx0 (PortTx p0)
#   The figure for both is the total number of packets forwarded per second
#   by the one core, i.e. the sum of the TX rates of both ports:
#     routerd: (p0.tx_packets + p1.tx_packets) / uptime_s, from
#              `routerd --summary-json` (counters read after the worker halts;
#              uptime_s runs from worker launch to halt)
#     testpmd: mean over its --stats-period 1 reports of (Tx-pps p0 + Tx-pps p1),
#              leaving out the first report (it has no previous sample and
#              shows 0) — testpmd computes these from the TSC, so its long
#              EAL start-up (a few s with --no-huge) does not count
#   ratio = routerd / testpmd; the target is >= 0.95.
#
# net_null allocates on RX and frees on TX, so a "packet" costs an mbuf
# alloc+free in the driver on both sides; neither program touches packet data
# (routerd does read each mbuf's pkt_len, for its per-output byte counters).
#
# The machine this was written on has 2 cores: absolute rates move with the
# neighbours' load (routerd more than testpmd), the ratio of back-to-back runs
# less. Run with ROUNDS=3 (or more) for a steadier figure.
#
# Output: human-readable lines, then one machine-readable line
#   RESULT forwarding routerd_mpps=.. testpmd_mpps=.. ratio=..
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
me=forwarding.sh
build=${1:-$repo/build}
secs=${2:-5}
rounds=${ROUNDS:-1}
testpmd=${TESTPMD:-dpdk-testpmd}
routerd=$build/bin/routerd
# shellcheck source=lib.sh
source "$here/lib.sh"

[[ -x $routerd ]] || die "no routerd at $routerd (build first, or pass the build dir)"
command -v "$testpmd" >/dev/null || die "no $testpmd in PATH (apt install dpdk)"
command -v jq >/dev/null || die "jq is needed to read routerd's summary JSON"
[[ $secs =~ ^[0-9]+([.][0-9]+)?$ ]] || die "SECONDS must be a number, got '$secs'"
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer"

# --- routerd ------------------------------------------------------------------

# write_graph FILE MODE PREFIX   MODE: bidir | uni | fused
write_graph() {
  local f=$1 mode=$2 prefix=$3
  {
    echo "name: bench-forwarding-$mode"
    eal_yaml "$prefix"
    echo "workers:"
    echo "  lcores: [1]"
    echo "  idle_sleep_us: 0"
    # Same buffer layout as testpmd's pool (one mbuf per page without
    # hugepages) unless PACKED=auto: the comparison is then like for like.
    echo "mempool: {packed: ${PACKED:-false}}"
    echo "stats: {bytes: ${BYTES:-true}}"
    echo "ports:"
    echo "  p0: {device: net_null0}"
    echo "  p1: {device: net_null1}"
    echo "elements:"
    case $mode in
      bidir)
        echo "  rx0: {class: PortRx, port: p0}"
        echo "  tx1: {class: PortTx, port: p1}"
        echo "  rx1: {class: PortRx, port: p1}"
        echo "  tx0: {class: PortTx, port: p0}"
        echo "connections:"
        echo "  - rx0 -> tx1"
        echo "  - rx1 -> tx0"
        ;;
      uni)
        echo "  rx: {class: PortRx, port: p0}"
        echo "  tx: {class: PortTx, port: p1}"
        echo "connections:"
        echo "  - rx -> tx"
        ;;
      fused)
        echo "  f01: {class: Forward, from: p0, to: p1}"
        echo "  f10: {class: Forward, from: p1, to: p0}"
        ;;
    esac
  } >"$f"
}

# run_routerd MODE TAG -> sets RATE to Mpps (TX of both ports, summed)
run_routerd() {
  write_graph "$tmp/$2.yaml" "$1" "weftbench-$$-$2"
  run_routerd_graph "$tmp/$2.yaml" "$2" "$secs"
}

# --- testpmd ------------------------------------------------------------------

# run_testpmd TAG -> sets RATE to Mpps (mean of Tx-pps p0 + p1 over the reports)
run_testpmd() {
  local tag=$1 log=$tmp/$1.log
  "$testpmd" --no-huge -m 512 --no-shconf --no-pci -l 0,1 --file-prefix="weftbench-$$-$tag" \
    --log-level='*:warning' --vdev net_null0 --vdev net_null1 -- \
    --forward-mode=io --total-num-mbufs=8192 --stats-period 1 </dev/null >"$log" 2>&1 &
  child=$!
  # Start-up (EAL without hugepages) takes a few seconds: wait for the first
  # report, which testpmd prints a second after forwarding starts.
  local t=0
  until grep -qs 'Tx-pps' "$log"; do
    kill -0 "$child" 2>/dev/null || { cat "$log" >&2; die "testpmd exited early"; }
    (( t++ < 600 )) || die "testpmd printed no statistics within 60 s"
    sleep 0.1
  done
  # Reports 2..secs+1 are the measured ones; stop half a second after the last.
  sleep "$(awk -v s="$secs" 'BEGIN { print s + 0.5 }')"
  kill -INT "$child"
  wait_pid "$child" 30 || true
  # Each report has one "Tx-pps:" line per port (port 0 then port 1); sum the
  # pairs, drop the first report (no previous sample), average the rest.
  RATE=$(awk '/Tx-pps:/ { v[n++] = $2 }
       END {
         reports = int(n / 2); sum = 0; k = 0
         for (r = 1; r < reports; r++) { sum += v[2*r] + v[2*r+1]; k++ }
         if (k == 0) exit 1
         printf "%.6f\n", sum / k / 1e6
       }' "$log") || { cat "$log" >&2; die "could not read testpmd's rates"; }
}

# --- run ----------------------------------------------------------------------

median() { sort -g | awk '{ a[n++] = $1 } END { if (n % 2) print a[int(n/2)]; else print (a[n/2-1] + a[n/2]) / 2 }'; }

echo "# forwarding: 2x net_null, 1 worker core, ${secs}s per run, $rounds round(s)"
echo "# routerd: $routerd"
echo "# testpmd: $(command -v "$testpmd") --forward-mode=io"
r_all=() t_all=() x_all=()
for ((i = 1; i <= rounds; i++)); do
  run_routerd bidir "routerd-$i"; r=$RATE
  run_testpmd "testpmd-$i"; t=$RATE
  x=$(awk -v r="$r" -v t="$t" 'BEGIN { printf "%.4f", r / t }')
  printf 'round %d: routerd %.2f Mpps  testpmd %.2f Mpps  ratio %.3f\n' "$i" "$r" "$t" "$x"
  r_all+=("$r"); t_all+=("$t"); x_all+=("$x")
done
r=$(printf '%s\n' "${r_all[@]}" | median)
t=$(printf '%s\n' "${t_all[@]}" | median)
x=$(printf '%s\n' "${x_all[@]}" | median)
printf 'routerd (2x PortRx->PortTx, p0<->p1): %.2f Mpps\n' "$r"
printf 'testpmd (io, p0<->p1):                %.2f Mpps\n' "$t"
printf 'ratio routerd/testpmd:                %.3f  (target >= 0.95)\n' "$x"

extra=""
# Informational: Weft's default without hugepages packs buffers across pages
# (mempool.packed: auto), which testpmd's pool does not do.
PACKED=auto run_routerd bidir routerd-packed; pk=$RATE
printf 'routerd, default packed pool:         %.2f Mpps  (%.3f of testpmd; layouts differ)\n' "$pk" \
  "$(awk -v p="$pk" -v t="$t" 'BEGIN { print p / t }')"
extra+=" routerd_packed_mpps=$(printf '%.2f' "$pk")"
# Informational: the same layout as testpmd, counting packets but not bytes
# on element outputs (stats.bytes: false), which is all testpmd's io mode counts.
BYTES=false run_routerd bidir routerd-nobytes; nb=$RATE
printf 'routerd, stats.bytes false:           %.2f Mpps  (%.3f of testpmd, same layout)\n' "$nb" \
  "$(awk -v p="$nb" -v t="$t" 'BEGIN { print p / t }')"
extra+=" routerd_nobytes_mpps=$(printf '%.2f' "$nb") ratio_nobytes=$(awk -v p="$nb" -v t="$t" 'BEGIN { printf "%.3f", p / t }')"
if [[ ${BENCH_UNI:-0} == 1 ]]; then
  run_routerd uni routerd-uni; u=$RATE
  printf 'routerd one direction (p0->p1):       %.2f Mpps\n' "$u"
  extra+=" routerd_uni_mpps=$(printf '%.2f' "$u")"
fi
if [[ ${BENCH_FUSED:-0} == 1 ]]; then
  run_routerd fused routerd-fused; f=$RATE
  printf 'routerd fused Forward (p0<->p1):      %.2f Mpps  (%.3f of testpmd)\n' "$f" \
    "$(awk -v f="$f" -v t="$t" 'BEGIN { print f / t }')"
  extra+=" routerd_fused_mpps=$(printf '%.2f' "$f")"
fi
printf 'RESULT forwarding routerd_mpps=%.2f testpmd_mpps=%.2f ratio=%.3f%s\n' "$r" "$t" "$x" "$extra"

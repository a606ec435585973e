#!/usr/bin/env bash
# bench/fleet.sh — time from a put in etcd to every router of a fleet running
# the new graph, against etcd's own put latency measured in the same run.
#
#   bench/fleet.sh [BUILD_DIR] [ROUTERS] [ROUNDS]
#
# Starts one etcd member (loopback, data in a temp dir) and ROUTERS routerd
# instances (default 10; net_ring ports, idle), then ROUNDS times (default 20)
# puts a new graph for all of them in one transaction with
# `routerctl fleet put --wait`, alternating two graphs that differ in one
# element. Per round:
#   put_ms  the put's round trip to etcd (etcd's own latency, the reference)
#   all_ms  from sending the put until the last router's status shows the
#           new revision applied (watch on the status keys): propagation,
#           validation, reload and the status write, for every router
# Reports medians and the ratio all/put.
set -euo pipefail
me=fleet.sh
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
n=${2:-10}
rounds=${3:-20}
routerd=$build/bin/routerd
routerctl=$build/bin/routerctl
die() { echo "$me: $*" >&2; exit 1; }
command -v jq >/dev/null || die "jq is needed"
command -v etcd >/dev/null || die "etcd is needed (Debian: etcd-server)"
[[ -x $routerd && -x $routerctl ]] || die "build routerd and routerctl first"

tmp=$(mktemp -d "/tmp/weft-bench-fleet.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cport=$(port)
pport=$(port)
url=http://127.0.0.1:$cport
etcd --name b1 --data-dir "$tmp/etcd" --listen-client-urls "$url" --advertise-client-urls "$url" \
  --listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
  --initial-cluster "b1=http://127.0.0.1:$pport" --logger zap --log-outputs "$tmp/etcd.log" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf "$url/health" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf "$url/health" >/dev/null || die "etcd did not start"

graph() {  # graph NAME EXTRA
  cat <<G
name: $1
eal: {args: [--no-huge, --no-shconf, --no-pci, -m, "96"], log_level: "*:warning"}
workers: {lcores: [1], idle_sleep_us: 1000}
ports:
  p0: net_ring0
  p1: net_ring1
elements:
  rx: {class: PortRx, port: p0}
  c: Counter
$2  tx: {class: PortTx, port: p1}
connections:
  - rx -> c -> tx
G
}
graph boot "" >"$tmp/boot.yaml"
graph a "" >"$tmp/a.yaml"
graph b "  s: Pass
" >"$tmp/b.yaml"
sed -i 's/rx -> c -> tx/rx -> c -> s -> tx/' "$tmp/b.yaml"

nodes=()
for i in $(seq 1 "$n"); do
  nodes+=("r$i")
  "$routerd" -c "$tmp/boot.yaml" -s "$tmp/r$i.sock" --etcd "$url" --node "r$i" >"$tmp/r$i.log" 2>&1 &
  pids+=($!)
done
for i in $(seq 1 "$n"); do
  for _ in $(seq 300); do
    [[ $("$routerctl" -s "$tmp/r$i.sock" --json status 2>/dev/null | jq -r '.fleet.connected // false') == true ]] && break
    sleep 0.1
  done
  [[ $("$routerctl" -s "$tmp/r$i.sock" --json status | jq -r .fleet.connected) == true ]] || die "r$i did not connect"
done

puts=() alls=()
for r in $(seq 1 "$rounds"); do
  f=$tmp/a.yaml
  ((r % 2)) || f=$tmp/b.yaml
  out=$("$routerctl" --json fleet --etcd "$url" put -f "$f" "${nodes[@]}" --wait 30) || die "round $r: $out"
  puts+=("$(jq -r .put_ms <<<"$out")")
  alls+=("$(jq -r .all_ms <<<"$out")")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
pm=$(median "${puts[@]}")
am=$(median "${alls[@]}")
amax=$(printf '%s\n' "${alls[@]}" | sort -g | tail -1)
echo "fleet of $n routers, $rounds rounds (one etcd member, loopback)"
printf '  etcd put (txn of %d keys) round trip: median %.2f ms\n' "$n" "$pm"
printf '  put -> all %d routers running the new graph: median %.2f ms, max %.2f ms\n' "$n" "$am" "$amax"
printf 'RESULT fleet routers=%d rounds=%d put_ms_median=%.2f all_applied_ms_median=%.2f all_applied_ms_max=%.2f ratio=%.1f\n' \
  "$n" "$rounds" "$pm" "$am" "$amax" "$(awk -v a="$am" -v p="$pm" 'BEGIN {print a / p}')"

# shellcheck shell=bash
# bench/lib.sh — shared by the benchmark scripts (sourced, not run).
#
# Provides: die, $tmp (removed on exit), $child (the DPDK process running
# now, stopped on exit), wait_pid, eal_yaml, run_routerd_graph.
# The sourcing script sets `me` (its name, for messages) and `routerd` (the
# binary) first.
# shellcheck disable=SC2034,SC2154  # RATE is read, routerd set, by the sourcing script

die() { echo "${me:-bench}: $*" >&2; exit 1; }

tmp=$(mktemp -d "/tmp/weft-bench-${me%.sh}.XXXXXX")
child=""  # pid of the DPDK process running now, if any

_bench_cleanup() {
  if [[ -n $child ]] && kill -0 "$child" 2>/dev/null; then
    kill -INT "$child" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$child" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$child" 2>/dev/null || true
    wait "$child" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap _bench_cleanup EXIT
trap 'exit 130' INT TERM

# wait_pid PID LIMIT_S: waits for PID (a child of this shell); after LIMIT_S
# seconds sends SIGINT, then SIGKILL. Returns the process's exit status.
wait_pid() {
  local pid=$1 limit=$2 t=0
  while kill -0 "$pid" 2>/dev/null; do
    if (( t >= limit * 10 )); then
      echo "${me:-bench}: pid $pid still running after ${limit}s, stopping it" >&2
      kill -INT "$pid" 2>/dev/null || true
      sleep 2
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.1
    t=$((t + 1))
  done
  local rc=0
  wait "$pid" || rc=$?
  child=""
  return $rc
}

# eal_yaml PREFIX: the eal: section of a benchmark graph (a unique file prefix
# per DPDK process; routerd still adds --lcores from workers.lcores).
eal_yaml() {
  cat <<EOF
eal:
  args: [--no-huge, --no-shconf, --no-pci, -m, "256", --file-prefix=$1]
  log_level: "*:warning"
EOF
}

# run_routerd_graph GRAPH TAG SECS PORTS...: runs routerd on GRAPH for SECS
# seconds and sets RATE to the TX packets of the listed ports (all ports if
# none listed), summed, per second of worker uptime, in Mpps. Results go
# through a global, not $(...), so the EXIT trap always knows `child`.
run_routerd_graph() {
  local g=$1 tag=$2 secs=$3
  shift 3
  local js=$tmp/$tag.json log=$tmp/$tag.log sel='.ports[]'
  if (($#)); then
    sel='.ports[] | select(.name == ('$(printf '"%s",' "$@" | sed 's/,$//')'))'
  fi
  "$routerd" -c "$g" -d "$secs" -s "$tmp/$tag.sock" --summary-json "$js" >"$log" 2>&1 &
  child=$!
  if ! wait_pid "$child" "$(awk -v s="$secs" 'BEGIN { printf "%d", s + 60 }')"; then
    cat "$log" >&2
    die "routerd ($tag) failed"
  fi
  [[ -s $js ]] || { cat "$log" >&2; die "routerd ($tag) wrote no summary"; }
  RATE=$(jq -r "([$sel | .tx_packets] | add) / .uptime_s / 1e6" "$js")
  # Sanity: nothing dropped on the way (tx_full or any other reason).
  local dropped
  dropped=$(jq -r '[.elements[].total.dropped] | add' "$js")
  [[ $dropped == 0 ]] || echo "${me:-bench}: warning: routerd ($tag) dropped $dropped packets" >&2
}

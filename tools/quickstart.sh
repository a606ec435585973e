#!/usr/bin/env bash
# Sets up a Debian 12 machine, builds Weft, and runs routerd on the
# quickstart graph (DPDK null devices: no NIC, no hugepages) for a few
# seconds, asking it for its live statistics while it forwards, then prints
# the summary routerd writes when it stops.
#
#   sudo bash tools/quickstart.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-6}

bash tools/setup-debian.sh
umask 022  # plugins load only from directories nobody else can write to (docs/security.md)
cmake --preset default >/dev/null
cmake --build --preset default --target routerd routerctl weft_basic

sock=$(mktemp -u /tmp/weft-quickstart-XXXXXX.sock)
echo
echo "== routerd -c graphs/quickstart.yaml (runs ${secs} s)"
build/bin/routerd -c graphs/quickstart.yaml -s "$sock" -d "$secs" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT

# Wait until the control socket answers (no fixed sleep).
for _ in $(seq 200); do
  build/bin/routerctl -s "$sock" status >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.05
done

echo
echo "== routerctl status"
build/bin/routerctl -s "$sock" status
echo
echo "== routerctl stats --rate 1   (live rates while it forwards)"
build/bin/routerctl -s "$sock" stats --rate 1
echo
echo "== routerctl graph"
build/bin/routerctl -s "$sock" graph

wait "$pid"
trap - EXIT

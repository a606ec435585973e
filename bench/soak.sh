#!/usr/bin/env bash
# bench/soak.sh — a long run of one router with everything moving at once:
# forwarding, a hot reload every second (a fleet router: each graph put in
# etcd), route churn over FPM, SVP server flaps, etcd restarts. Reports
# resident memory, file descriptors and DPDK memory at the start and the end,
# packets lost to reloads and crashes. Not part of CI.
#
#   SOAK_SECONDS=3600 bench/soak.sh [BUILD_DIR]
#
# Settings (environment): SOAK_SECONDS (3600), SOAK_RELOAD_EVERY (1),
# SOAK_SVP_EVERY (30), SOAK_ETCD_EVERY (120), SOAK_FPM_RECONNECT_EVERY (60),
# SOAK_SAMPLE_EVERY (10), SOAK_WARMUP (30), SOAK_ROUTES (1000), SOAK_OUT (a
# directory for samples.csv, summary.json and routerd.log), SOAK_KEEP=1
# (keep the work files). bench/soak.py says what each step does.
set -euo pipefail
me=soak.sh
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
die() { echo "$me: $*" >&2; exit 1; }
command -v etcd >/dev/null || die "etcd is needed (Debian: etcd-server)"
for b in routerd routerctl svp-server; do
  [[ -x $build/bin/$b ]] || die "$build/bin/$b is missing: build first (cmake --build --preset default)"
done
exec /usr/bin/python3 "$root/bench/soak.py" "$build"

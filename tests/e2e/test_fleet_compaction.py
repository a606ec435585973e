#!/usr/bin/env python3
"""Compaction while a router is cut off from etcd: on reconnecting, its watch
cannot resume (the revisions it missed are compacted away), so it reads the
whole state again and applies the latest graph, not anything in between.

    etcd e1 <── proxy (the test cuts and restores it) <── r1
        ^───────────────────────────────────────────────── r2 (direct)

Usage: test_fleet_compaction.py --bin build/bin
"""
import argparse
import os
import signal
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fleet  # noqa: E402
from fleet import Proxy, Router, check, fleet_put, graph, start_cluster, summary, wait_for  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    a, _ = ap.parse_known_args()
    bindir = os.path.abspath(a.bin)
    routers, members, proxy = [], [], None
    with tempfile.TemporaryDirectory(prefix=f"weft-fleet-compact-{os.getpid()}-") as tmp:
        try:
            members = start_cluster(tmp, ["e1"])
            etcd = members[0]
            eargs = ["--etcd", etcd.url]
            proxy = Proxy(etcd.client_port)
            # A long periodic sync: the resync below must come from the compacted watch.
            r1 = Router(bindir, tmp, "r1", [f"http://127.0.0.1:{proxy.port}"], boot_graph=True, sync_interval=60)
            r2 = Router(bindir, tmp, "r2", [etcd.url], boot_graph=True)
            routers = [r1, r2]
            check(r1.ready() and r2.ready(), "r1 (through the proxy) and r2 connected")
            rc, out, _ = fleet_put(bindir, eargs, ["r1", "r2"], graph("g1"), tmp)
            check(rc == 0, "g1 applied by both")
            rev1 = out["revision"]

            proxy.cut()
            check(wait_for(lambda: r1.fleet()["stale"], timeout=20), "proxy cut: r1 reports stale")
            revs = []
            for name in ("g2", "g3", "g4"):
                rc, out, _ = fleet_put(bindir, eargs, ["r1", "r2"], graph(name), tmp, wait=0)
                revs.append(out["revision"])
            check(wait_for(lambda: r2.fleet()["applied_revision"] == revs[-1], timeout=20),
                  "r2 (connected) follows every revision")
            check(r1.graph_name() == "g1" and r1.fleet()["applied_revision"] == rev1,
                  "r1 (cut off) keeps running g1")
            etcd.gateway("/v3/kv/compaction", {"revision": str(revs[-1]), "physical": True})
            check(etcd.etcdctl("get", "/weft/desired/nodes/r1", "--rev", str(rev1)).returncode != 0,
                  "the revisions r1 missed are compacted away")

            proxy.restore()
            check(wait_for(lambda: r1.fleet()["applied_revision"] == revs[-1], timeout=30),
                  "proxy restored: r1 applies the latest revision")
            f = r1.fleet()
            check(f["compaction_resyncs"] >= 1, "r1's watch found its revision compacted and read everything again")
            check(r1.graph_name() == "g4" and not f["stale"], "r1 runs g4 and is no longer stale")
            log = open(r1.log).read()
            check("applied revision %d " % revs[0] not in log and "applied revision %d " % revs[1] not in log,
                  "r1 never applied the intermediate revisions")
        finally:
            for r in routers:
                r.stop(signal.SIGKILL)
            if proxy:
                proxy.cut()
            for m in members:
                m.stop()
            if fleet.failures:
                for r in routers:
                    print(f"--- {r.node} log ---")
                    print(open(r.log).read()[-2500:])
    return summary()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Compaction while a router is cut off from etcd: on reconnecting, its watch
cannot resume (the revisions it missed are compacted away), so it reads the
whole state again and applies the latest graph, not anything in between.

    etcd e1 <── proxy (the test cuts and restores it) <── r1
        ^───────────────────────────────────────────────── r2 (direct)

Usage: test_fleet_compaction.py --bin build/bin
"""
import harness
from fleet import Proxy, Router, fleet_put, graph, start_cluster
from harness import wait_until


def main(t):
    members = start_cluster(t, ["e1"])
    etcd = members[0]
    eargs = ["--etcd", etcd.url]
    proxy = Proxy(t, etcd.client_port)
    # A long periodic sync: the resync below must come from the compacted watch.
    r1 = Router(t, "r1", [f"http://127.0.0.1:{proxy.port}"], boot_graph=True, sync_interval=60)
    r2 = Router(t, "r2", [etcd.url], boot_graph=True)
    t.check(r1.ready() and r2.ready(), "r1 (through the proxy) and r2 connected")
    rc, out, _ = fleet_put(t, eargs, ["r1", "r2"], graph("g1"))
    t.require(rc == 0, "g1 applied by both")
    rev1 = out["revision"]

    proxy.cut()
    t.check(wait_until(lambda: r1.fleet()["stale"], timeout=20), "proxy cut: r1 reports stale")
    revs = []
    for name in ("g2", "g3", "g4"):
        rc, out, _ = fleet_put(t, eargs, ["r1", "r2"], graph(name), wait=0)
        revs.append(out["revision"])
    t.check(wait_until(lambda: r2.fleet()["applied_revision"] == revs[-1], timeout=20),
            "r2 (connected) follows every revision")
    t.check(r1.graph_name() == "g1" and r1.fleet()["applied_revision"] == rev1, "r1 (cut off) keeps running g1")
    etcd.gateway("/v3/kv/compaction", {"revision": str(revs[-1]), "physical": True})
    t.check(etcd.etcdctl("get", "/weft/desired/nodes/r1", "--rev", str(rev1)).returncode != 0,
            "the revisions r1 missed are compacted away")

    proxy.restore()
    t.check(wait_until(lambda: r1.fleet()["applied_revision"] == revs[-1], timeout=30),
            "proxy restored: r1 applies the latest revision")
    f = r1.fleet()
    t.check(f["compaction_resyncs"] >= 1, "r1's watch found its revision compacted and read everything again")
    t.check(r1.graph_name() == "g4" and not f["stale"], "r1 runs g4 and is no longer stale")
    log = r1.output()
    t.check("applied revision %d " % revs[0] not in log and "applied revision %d " % revs[1] not in log,
            "r1 never applied the intermediate revisions")


if __name__ == "__main__":
    harness.run(main)

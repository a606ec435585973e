#!/usr/bin/env python3
"""A fleet on a three-member etcd cluster: losing one member changes nothing,
losing two (no quorum) leaves the routers forwarding on their last good graph
and reporting stale, and bringing the members back lets them catch up. `routerctl status`'s
health section reports the lost etcd (degraded, with its error) and its
return.

    e1  e2  e3      (etcd members, loopback)
     \\  |  /
    r1 r2 r3        (routerd; r1 forwards on net_null, r2 and r3 idle on net_ring)

Usage: test_fleet_quorum.py --bin build/bin
"""
import harness
from fleet import Router, fleet_put, graph, start_cluster
from harness import wait_until

NODES = ["r1", "r2", "r3"]


def main(t):
    members = start_cluster(t, ["e1", "e2", "e3"])
    urls = [m.url for m in members]
    eargs = ["--etcd", ",".join(urls)]
    routers = [Router(t, "r1", urls, boot_graph=True, device="lo"),
               Router(t, "r2", urls, boot_graph=True),
               Router(t, "r3", urls, boot_graph=True)]
    r1 = routers[0]
    t.check(all(r.ready() for r in routers), "three routers connected to the three-member cluster")

    def put(name):
        # r1 keeps reading loopback; the others idle on rings.
        rc, out, err = fleet_put(t, eargs, ["r1"], graph(name, device="lo"), wait=0)
        if rc != 0:
            return rc, None
        rc2, out2, err2 = fleet_put(t, eargs, ["r2", "r3"], graph(name), wait=0)
        return rc2, {"r1": out["revision"], "r2": out2["revision"], "r3": out2["revision"]} if out2 else None

    def all_run(name, revs):
        return wait_until(lambda: all(r.graph_name() == name and r.fleet()["applied_revision"] == revs[r.node]
                                      for r in routers), timeout=30)

    rc, rev = put("g1")
    t.check(rc == 0 and all_run("g1", rev), "g1 applied by every router")

    # One member down: the cluster keeps its quorum, nothing changes.
    members[2].stop()
    rc, rev = put("g2")
    t.check(rc == 0 and all_run("g2", rev), "e3 stopped: g2 is still put and applied everywhere")
    t.check(wait_until(lambda: all(r.fleet()["connected"] for r in routers), timeout=30),
            "every router is connected (those on e3 moved to another member)")

    # Two members down: no quorum. Keep forwarding, report stale, change nothing.
    members[1].stop()
    t.check(wait_until(lambda: all(r.fleet()["stale"] for r in routers), timeout=40),
            "e2 stopped too (no quorum): every router reports stale")
    s = r1.ctl("status").stdout
    t.check("NOT CONNECTED, STALE" in s, "routerctl status says stale")
    # Stale comes first (the watch stream lost its leader); the error is
    # counted when a request to the member fails, up to a request timeout later.
    def health():
        return (r1.fleet_status() or {}).get("health", {})
    def named(h):
        return (h.get("state") == "degraded" and h.get("fleet", {}).get("state") == "degraded"
                and "stale" in h["fleet"].get("detail", "") and h["fleet"].get("errors", 0) >= 1
                and any(p.startswith("fleet ") for p in h.get("problems", [])))
    t.check(wait_until(lambda: named(health()), timeout=20),
            "routerctl status: health degraded, the fleet's etcd named with its error", str(health().get("fleet")))
    c0 = r1.count()
    t.check(wait_until(lambda: r1.poke() or r1.count() > c0, timeout=10), "r1 keeps forwarding on its last good graph")
    t.check(all(r.graph_name() == "g2" for r in routers), "every router still runs g2")
    r = t.routerctl("fleet", *eargs, "--etcd-timeout", "1", "put", "-f", routers[1].file, "r2", timeout=60)
    t.check(r.returncode != 0 and "etcd" in r.stderr, "a put without quorum fails: " + r.stderr.strip()[:120])

    # Members back: the routers catch up to the latest revision.
    members[1].start()
    members[2].start()
    t.check(wait_until(lambda: members[0].healthy() and members[1].healthy(), timeout=30, step=0.2),
            "e2 and e3 are back; the cluster has a quorum")
    rc, rev = put("g3")
    t.check(rc == 0 and all_run("g3", rev), "g3 put after the outage is applied everywhere")
    t.check(wait_until(lambda: all(not r.fleet()["stale"] and r.fleet()["seen_revision"] >= rev["r3"]
                                   for r in routers), timeout=30),
            "every router is connected again, not stale, at the latest revision")
    h = (r1.fleet_status() or {}).get("health", {})
    t.check(h.get("fleet", {}).get("state") == "ok" and h.get("state") == "ok" and h["fleet"].get("last_error"),
            "health: ok again, the fleet's last error kept", str(h.get("fleet")))
    lst = t.routerctl("fleet", *eargs, "list", timeout=60).stdout
    t.check(lst.count(" ok ") == 3, "fleet list: three healthy nodes")


if __name__ == "__main__":
    harness.run(main)

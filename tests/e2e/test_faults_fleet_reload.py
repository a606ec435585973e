#!/usr/bin/env python3
"""etcd loses its quorum while a reload from the fleet is in progress: the
router keeps forwarding on its last good graph, reports itself stale with the
refused revision pending, and applies the desired graph once the quorum is
back.

    e1  e2  e3      (etcd members, loopback)
     \\  |  /
       r1           (routerd --etcd ... --node r1, plugin testkit)
    p0 (net_null) -> rx -> s (TestStall) -> c (Counter) -> tx -> p1 (net_null)

1. the three members; r1 boots on a local graph and applies g1 from etcd;
   traffic crosses c;
2. s is told to sleep 6 s in its next push (the worker stalls); g2 is put
   for r1: r1's reload of it misses the worker swap (2 s timeout) and is
   rolled back; meanwhile e2 and e3 are killed: no quorum, so the retry
   that follows a rolled-back reload (at the next successful sync) cannot
   happen;
3. during the outage: r1 runs g1, reports `stale` and the desired revision
   refused (`routerctl status`: fleet state, health degraded, the fleet's
   etcd error), the log says so; once the worker loops again, traffic
   crosses c (measured) and g1 stays;
4. e2 and e3 come back: r1 syncs, applies g2 (the revision put during the
   outage), is connected, not stale, health ok, and forwards.

etcd members are killed by pid (SIGKILL) and routerd stopped by pid.
Usage: test_faults_fleet_reload.py --bin build/bin
"""
import os

import harness
from fleet import Router, fleet_put, start_cluster
from harness import wait_until

STALL_MS = 6000

GRAPH = """name: {name}
eal: {{args: [--no-huge, --no-shconf, --no-pci, -m, "96"]}}
workers: {{lcores: [1]}}
ports:
  p0: {{device: net_null0, args: "size=64"}}
  p1: net_null1
elements:
  rx: {{class: PortRx, port: p0}}
  s: TestStall
  c: Counter
  tx: {{class: PortTx, port: p1}}
connections:
  - rx -> s -> c -> tx
"""


def main(t):
    t.needs("etcd", t.exe("routerd"), t.exe("routerctl"))
    members = start_cluster(t, ["e1", "e2", "e3"])
    urls = [m.url for m in members]
    eargs = ["--etcd", ",".join(urls)]
    r1 = Router(t, "r1", urls, boot_graph=GRAPH.format(name="boot"),
                extra_args=["--plugin-path", os.path.join(t.test_plugins, "testkit")])
    t.require(r1.ready(), "r1 connected to the three-member cluster")

    def flows(timeout=5):
        c0 = r1.count()
        return wait_until(lambda: r1.count() > c0 >= 0, timeout=timeout)

    def health():
        return (r1.fleet_status() or {}).get("health", {})

    # 1. g1 from etcd.
    rc, out, err = fleet_put(t, eargs, ["r1"], GRAPH.format(name="g1"), wait=0)
    t.require(rc == 0, "g1 put for r1", err)
    rev1 = out["revision"]
    t.require(wait_until(lambda: r1.graph_name() == "g1" and r1.fleet()["applied_revision"] == rev1, 30),
              f"r1 applied g1 (revision {rev1})")
    t.check(flows(), "traffic crosses c on g1")

    # 2. A reload in progress (the worker stalled) when the quorum goes.
    t.require(r1.write_handler("s", "stall_ms", STALL_MS).ok, f"s will sleep {STALL_MS} ms in its next push")
    t.require(wait_until(lambda: health().get("workers", [{}])[0].get("state") == "stalled", 4),
              "the worker is stalled")
    rc, out, err = fleet_put(t, eargs, ["r1"], GRAPH.format(name="g2"), wait=0)
    t.require(rc == 0, "g2 put for r1 while its worker is stalled", err)
    rev2 = out["revision"]
    # (routerctl status waits while the control thread reloads: the log is the signal here.)
    t.require(r1.wait_output(f"fleet: revision {rev2} refused", timeout=10),
              f"r1's reload of revision {rev2} missed the swap: refused, rolled back (logged)")
    members[1].stop()
    members[2].stop()
    t.info(f"e2 and e3 killed: the cluster has no quorum (the {STALL_MS} ms stall still under way)")
    f = r1.fleet()
    t.check(f["result"] == "refused" and f.get("refused_revision") == rev2 and f["desired_revision"] == rev2,
            "routerctl status: the desired revision refused", str(f))

    # 3. The outage: last good graph, traffic measured, the fault reported.
    t.check(wait_until(lambda: r1.fleet()["stale"], 20), "r1 reports itself stale (no quorum)")
    t.check(r1.wait_output("is looping again", timeout=STALL_MS / 1000 + 10), "the worker loops again")
    t.check(all(flows() for _ in range(3)) and r1.graph_name() == "g1",
            "r1 forwards on g1, its last good graph, while etcd has no quorum")
    s = r1.ctl("status").stdout
    t.check("STALE" in s, "routerctl status says stale", s)
    h = health()
    fl = h.get("fleet", {})
    t.check(h.get("state") == "degraded" and fl.get("state") == "degraded" and fl.get("errors", 0) >= 1
            and "stale" in fl.get("detail", "") and f"desired revision {rev2} refused" in fl.get("detail", "")
            and any(p.startswith("fleet ") for p in h.get("problems", [])),
            "health: degraded, the fleet stale with the refused revision pending", str(h.get("problems")) + str(fl))
    t.check(r1.wait_output("keeping the running graph"), "the log reports etcd's failure, keeping the running graph")
    f = r1.fleet()
    t.check(f["applied_revision"] == rev1 and f["desired_revision"] == rev2 and r1.graph_name() == "g1",
            f"still g1 (revision {rev1}) with revision {rev2} pending", str(f))

    # 4. The quorum is back: the pending revision is applied.
    members[1].start()
    members[2].start()
    t.check(wait_until(lambda: members[1].healthy() and members[2].healthy(), timeout=30, step=0.2),
            "e2 and e3 are back; the cluster has a quorum")
    t.check(wait_until(lambda: r1.graph_name() == "g2" and r1.fleet()["applied_revision"] == rev2, 30),
            f"r1 applied g2 (revision {rev2}), put during the outage", str(r1.fleet()))
    t.check(wait_until(lambda: not r1.fleet()["stale"] and health().get("state") == "ok", 30),
            "r1 is connected, not stale, health ok", str(health()))
    t.check(flows(), "traffic crosses c on g2")
    t.check(r1.stop() == 0, "routerd exits 0 on SIGTERM")


if __name__ == "__main__":
    harness.run(main)

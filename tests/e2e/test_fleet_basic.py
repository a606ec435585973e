#!/usr/bin/env python3
"""A fleet of three routers configured through one real etcd.

    etcd (1 member, loopback) <── watch / status ── r1, r2 (booted from a file)
          ▲                                     └── r3 (booted from etcd: no -c)
          └── routerctl fleet put / list / show

Steps: put a graph for all three (each applies and reports the revision);
put a bad graph (each refuses, reports FILE:LINE:COL naming the key, keeps
the old graph); a graph with a shared fragment, then a change to the
fragment alone, then a broken fragment (errors name the fragment's key);
kill -9 one router (its status disappears when its lease expires) and stop
one cleanly (its status disappears at once: the lease is revoked).

Usage: test_fleet_basic.py --bin build/bin
"""
import base64
import signal

import harness
from fleet import Router, fleet_put, graph, start_cluster
from harness import wait_until

FRAG_GRAPH = """name: {name}
eal: {{args: [--no-huge, --no-shconf, --no-pci, -m, "96"]}}
workers: {{lcores: [1], idle_sleep_us: 1000}}
include: [mon]
ports:
  p0: net_ring0
  p1: net_ring1
elements:
  rx: {{class: PortRx, port: p0}}
  c: Counter
  tx: {{class: PortTx, port: p1}}
connections:
  - rx -> c -> m -> tx
"""


def main(t):
    members = start_cluster(t, ["e1"])
    etcd = members[0]
    eargs = ["--etcd", etcd.url]
    r1 = Router(t, "r1", [etcd.url], boot_graph=True)
    r2 = Router(t, "r2", [etcd.url], boot_graph=True)
    r3 = Router(t, "r3", [etcd.url])  # no -c: waits for its graph in etcd
    routers = [r1, r2, r3]
    t.check(r1.ready() and r2.ready(), "r1 and r2 start from their files and connect to etcd")
    f = r1.fleet()
    t.check(f["result"] == "no-graph" and not f["stale"], "routerctl status: connected, no graph in etcd yet")

    # 1. One graph for every node, in one transaction.
    rc, out, err = fleet_put(t, eargs, ["r1", "r2", "r3"], graph("g1"), wait=40)
    t.check(rc == 0 and out and all(out["nodes"][n]["result"] == "applied" for n in ("r1", "r2", "r3")),
            "put g1 for r1..r3: every node reports it applied " + (err or ""))
    rev1 = out["revision"] if out else -1
    t.check(r3.ready(), "r3 booted from its graph in etcd")
    t.check(all(r.graph_name() == "g1" for r in routers), "every router runs g1")
    t.check(all(r.fleet()["applied_revision"] == rev1 for r in routers),
            "routerctl status: applied revision is the put's")
    s = r1.ctl("status").stdout
    t.check("connected" in s and f"applied revision {rev1}" in s, "human status shows the etcd state")
    lst = t.routerctl("fleet", *eargs, "list", timeout=60)
    t.check(lst.returncode == 0 and all(f"r{i}" in lst.stdout for i in (1, 2, 3))
            and lst.stdout.count(" ok ") == 3, "fleet list: three healthy nodes")

    # 2. A bad graph: refused everywhere, errors reported, g1 keeps running.
    rc, out, _ = fleet_put(t, eargs, ["r1", "r2", "r3"], graph("bad", counter="Countr"))
    t.check(rc == 1 and out and all(out["nodes"][n]["result"] == "refused" for n in ("r1", "r2", "r3")),
            "a bad graph is refused by every node")
    want = "/weft/desired/nodes/r2:9:6: error: element 'c': unknown class 'Countr'"
    show = t.routerctl("fleet", *eargs, "show", "r2", timeout=60)
    t.check(want in show.stdout, "fleet show r2: the error names the key, line and column")
    t.check(all(r.graph_name() == "g1" for r in routers), "every router still runs g1")
    f = r2.fleet()
    t.check(f["applied_revision"] == rev1 and f["result"] == "refused" and any(want in e for e in f["errors"]),
            "routerctl status: refused, applied revision unchanged")
    lst = t.routerctl("fleet", *eargs, "list", timeout=60)
    t.check(lst.stdout.count(" error ") == 3, "fleet list: three nodes in error")

    # 3. A shared fragment: the graph and the fragment in one transaction.
    mon = "elements:\n  m: Pass\n"
    rc, out, _ = fleet_put(t, eargs, ["r1", "r2", "r3"], FRAG_GRAPH.format(name="g2"), fragments=[("mon", mon)])
    t.check(rc == 0 and all(r.graph_name() == "g2" for r in routers), "g2 with fragment 'mon' applied")
    g = r1.ctl("--json", "graph").stdout
    t.check('"Pass"' in g, "the fragment's element runs")
    # Change only the fragment: every node that includes it reloads.
    r = t.routerctl("--json", "fleet", *eargs, "put", "--fragment",
                    "mon=" + t.write("mon2.yaml", "elements:\n  m: Counter\n"), timeout=60)
    frev = int(r.json()["revision"]) if r.returncode == 0 else -1
    t.check(wait_until(lambda: all(x.fleet()["applied_revision"] == frev for x in routers), timeout=20),
            "a fragment change alone is applied by every node (at the fragment's revision)")
    t.check('"m", "class": "Counter"' in r2.ctl("--json", "graph").stdout.replace("\n", "").replace("  ", "")
            or "Counter" in r2.ctl("graph").stdout, "the new fragment runs")
    r = t.routerctl("fleet", *eargs, "put", "--fragment", "mon=" + t.write("mon3.yaml", "elements:\n  m: Passs\n"),
                    timeout=60)
    t.check(wait_until(lambda: all(x.fleet()["result"] == "refused" for x in routers), timeout=20),
            "a broken fragment is refused everywhere")
    errs = r3.fleet()["errors"]
    t.check(any("/weft/desired/fragments/mon:2:6: error: element 'm': unknown class 'Passs'" in e for e in errs),
            "the error names the fragment's key, line and column")

    # 4. Leases: a killed router disappears after its TTL, a stopped one at once.
    r2.stop(signal.SIGKILL)

    def health(node):
        for ln in t.routerctl("fleet", *eargs, "list", timeout=60).stdout.splitlines():
            if ln.split()[:1] == [node]:
                return ln.split()[1]
        return None
    t.check(wait_until(lambda: health("r2") == "down", timeout=20),
            "r2 killed: fleet list shows it down once its lease expired")
    r3.stop()
    t.check(r3.returncode == 0, "r3 stops cleanly")
    st = etcd.gateway("/v3/kv/range", {"key": base64.b64encode(b"/weft/status/r3").decode()})
    t.check(int(st.get("count", 0)) == 0, "r3's status key is gone as soon as it stopped (lease revoked)")
    t.check(r1.fleet()["connected"], "r1 is still connected")


if __name__ == "__main__":
    harness.run(main)

#!/usr/bin/env python3
"""A worker stalled past the reload timeout: reported, the reload refused and
rolled back, the running graph kept; all well again once the worker loops.

    p0 (net_null) -> rx -> s (TestStall) -> c (Counter) -> tx -> p1 (net_null)

Steps: traffic crosses c; s is told to sleep 10 s in its next push (its
`stall_ms` handler, tests/plugins/testkit.cpp); `routerctl status` reports
the worker stalled (health) and the log says so; a reload meanwhile misses
the swap (2 s timeout) and is refused, the graph unchanged; once s returns,
the log says the worker loops again, health is ok, c counts again and the
same reload is applied.
"""
import os

import harness
from harness import wait_until

A = """
name: stall-a
workers: {lcores: [1]}
ports:
  p0: {device: net_null0, args: "size=64"}
  p1: net_null1
elements:
  rx: {class: PortRx, port: p0}
  s: TestStall
  c: Counter
  tx: {class: PortTx, port: p1}
connections:
  - rx -> s -> c -> tx
"""

B = A.replace("stall-a", "stall-b").replace("  c: Counter\n", "  c: Counter\n  p: Pass\n").replace(
    "s -> c -> tx", "s -> c -> p -> tx")

STALL_MS = 10000


def main(t):
    plugins = os.path.join(t.test_plugins, "testkit")
    r = t.routerd(A, args=["--plugin-path", plugins], check="routerd runs a graph with TestStall")
    t.require(r.alive(), "routerd is up")

    def count():
        h = r.read_handler("c", "count")
        return int(h.stdout.strip()) if h.ok else -1

    def flows(timeout=5):
        c0 = count()
        return wait_until(lambda: count() > c0 >= 0, timeout=timeout)

    def worker():
        return r.status()["health"]["workers"][0]

    t.require(flows(), "traffic crosses c")
    h = r.status()["health"]
    t.check(h["state"] == "ok" and worker()["state"] == "ok", "health is ok before", str(h))

    t.require(r.write_handler("s", "stall_ms", STALL_MS).ok, f"s will sleep {STALL_MS} ms in its next push")
    w = r.wait_for(lambda: (lambda x: x if x["state"] == "stalled" else None)(worker()), "the worker reported stalled",
                   timeout=4)
    t.check(w["stalls"] == 1 and w["stalled_for_s"] > 0, "health: worker 0 stalled, one stall so far", str(w))
    h = r.status()["health"]
    t.check(h["state"] == "degraded" and any("has not finished a loop" in p for p in h["problems"]),
            "health is degraded, the problem named", str(h["problems"]))
    t.check(r.wait_output("has not finished a loop"), "the log reports the stall")

    res = r.reload(t.write("b.yaml", B), json=True)
    rep = res.json() if res.stdout.strip().startswith("{") else {}
    t.check(res.returncode == 1 and not rep.get("applied", True),
            "a reload while the worker is stalled is refused", res.stdout + res.stderr)
    st = r.status()
    t.check(st["graph"]["name"] == "stall-a", "the running graph is unchanged")
    t.check(st["health"]["reloads"]["refused"] == 1, "health counts the refused reload", str(st["health"]["reloads"]))

    t.check(r.wait_output("is looping again", timeout=STALL_MS / 1000 + 10), "the log reports the worker loops again")
    t.check(r.wait_for(lambda: worker()["state"] == "ok", "the worker ok again", timeout=5), "health: worker ok again")
    t.check(r.status()["health"]["state"] == "ok", "health is ok")
    t.check(flows(), "c counts again")

    res = r.reload(t.write("b2.yaml", B), json=True)
    t.check(res.ok and res.json()["applied"], "the same reload is applied now", res.stdout + res.stderr)
    t.check(flows(), "traffic crosses the new graph")
    t.check(r.stop() == 0, "routerd exits 0 on SIGTERM")


if __name__ == "__main__":
    harness.run(main)

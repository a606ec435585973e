#!/usr/bin/env python3
"""routerctl reload and SIGHUP, end to end, on DPDK null devices.

    p0 (net_null) -> rx -> c (Counter) -> q (Queue) -> tx -> p1 (net_null)
    p2 (net_null) -> f (Forward) -> p3           (B: f -> p4, a port added by the reload)

Checks the reply (human and --json), that kept elements keep counting, that a
parameter change resets an element's state and says why, that a broken
reload changes nothing, and that SIGHUP reloads the file routerd started with.

Usage: test_reload.py --bin build/bin
"""
import signal

import harness
from harness import wait_until

A = """
name: reload-a
workers: {lcores: [1]}
ports:
  p0: {device: net_null0, args: "size=64"}
  p1: net_null1
  p2: net_null2
  p3: net_null3
elements:
  rx: {class: PortRx, port: p0}
  c: Counter
  q: Queue
  tx: {class: PortTx, port: p1}
  f: {class: Forward, from: p2, to: p3}
connections:
  - rx -> c -> q -> tx
"""

B = """
name: reload-b
workers: {lcores: [1]}
ports:
  p0: {device: net_null0, args: "size=64"}
  p1: net_null1
  p2: net_null2
  p3: net_null3
  p4: net_null4
elements:
  rx: {class: PortRx, port: p0}
  c: Counter
  s: Pass
  q: Queue
  tx: {class: PortTx, port: p1}
  f: {class: Forward, from: p2, to: p4}
connections:
  - rx -> c -> s -> q -> tx
"""


def main(t):
    ga, gb = t.write("a.yaml", A), t.write("b.yaml", B)
    live = t.write("live.yaml", A)
    r = t.routerd(file=live, check="routerd is running")

    def count():
        h = r.read_handler("c", "count")
        return int(h.stdout.strip()) if h.ok else -1
    before = count()

    res = r.reload(gb, json=True)
    rep = res.json()
    t.check(res.ok and rep["applied"], "reload to B applied")
    t.check(rep["elements"]["added"] == ["s"] and rep["elements"]["removed"] == [], "B adds s")
    kept = {k["id"]: k for k in rep["elements"]["kept"]}
    t.check(kept["c"]["state"] == "carried" and kept["q"]["state"] == "carried", "c and q carry state")
    t.check(kept["f"]["state"] == "reset" and "'to' changed" in kept["f"]["why"],
            "f's changed parameter resets its state, and says why")
    t.check(kept["rx"]["state"] == "none", "stateless elements say so")
    t.check(rep["ports"]["added"] == ["p4"] and "p0" in rep["ports"]["unchanged"], "port p4 added")
    t.check(rep["packets_lost"] == 0, "no packet lost")
    t.check(all(k in rep["timing_ms"] for k in ("validate", "build", "swap", "worker_pause", "total")),
            "timings reported")
    t.check(count() >= before > 0, "the kept Counter keeps counting")

    res = r.reload(ga)
    t.check(res.ok and "applied (" in res.stdout and "elements removed: s" in res.stdout
            and "ports added: -; removed: p4" in res.stdout, "reload back to A (human reply)")

    broken = t.write("broken.yaml", A.replace("c: Counter", "c: Countr"))
    st0 = r.status()
    res = r.reload(broken)
    t.check(res.returncode == 1 and "broken.yaml:11:6: error: element 'c': unknown class 'Countr'" in res.stderr
            and "refused, the running graph is unchanged" in res.stderr,
            "a broken reload is refused with FILE:LINE:COL")
    st1 = r.status()
    t.check(st1["reloads"] == st0["reloads"] and st1["graph"]["name"] == "reload-a", "nothing changed")
    c0 = count()
    t.check(wait_until(lambda: count() > c0, timeout=5), "the old graph keeps forwarding")

    # SIGHUP reloads the file routerd was started with.
    t.write("live.yaml", B)
    r.signal(signal.SIGHUP)
    t.check(r.wait_output("SIGHUP: reloaded"), "SIGHUP reloads the start-up file")
    t.check('"s"' in r.ctl("--json", "graph").stdout, "the new graph runs after SIGHUP")
    t.write("live.yaml", "elements: [\n")
    r.signal(signal.SIGHUP)
    t.check(r.wait_output("SIGHUP: reload of"), "a broken file on SIGHUP is refused and logged")
    t.check(r.alive() and r.ctl("status").ok, "routerd still runs")
    t.check(r.stop() == 0, "routerd stops cleanly")


if __name__ == "__main__":
    harness.run(main)

#!/usr/bin/env python3
"""routerctl reload and SIGHUP, end to end, on DPDK null devices.

    p0 (net_null) -> rx -> c (Counter) -> q (Queue) -> tx -> p1 (net_null)
    p2 (net_null) -> f (Forward) -> p3           (B: f -> p4, a port added by the reload)

Checks the reply (human and --json), that kept elements keep counting, that a
parameter change resets an element's state and says why, that a broken
reload changes nothing, and that SIGHUP reloads the file routerd started with.

Usage: test_reload.py --bin build/bin
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

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

passes, failures = [], []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    (passes if cond else failures).append(what)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    a, _ = ap.parse_known_args()  # the test runner also passes --test-plugins
    bindir = os.path.abspath(a.bin)
    proc = None
    with tempfile.TemporaryDirectory(prefix="weft-reload-") as tmp:
        sock = os.path.join(tmp, "ctl.sock")
        ga, gb, live = (os.path.join(tmp, n) for n in ("a.yaml", "b.yaml", "live.yaml"))
        for path, text in ((ga, A), (gb, B), (live, A)):
            with open(path, "w") as f:
                f.write(text)

        def ctl(*args):
            return subprocess.run([os.path.join(bindir, "routerctl"), "-s", sock, *args],
                                  capture_output=True, text=True, timeout=30)

        def count():
            r = ctl("handler", "read", "c", "count")
            return int(r.stdout.strip()) if r.returncode == 0 else -1

        def log_until(text, timeout=20):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                with open(logfile) as f:
                    if text in f.read():
                        return True
                time.sleep(0.05)
            return False

        logfile = os.path.join(tmp, "routerd.log")
        try:
            with open(logfile, "w") as log:
                proc = subprocess.Popen([os.path.join(bindir, "routerd"), "-c", live, "-s", sock],
                                        stdout=log, stderr=subprocess.STDOUT)
            deadline = time.monotonic() + 20
            while ctl("status").returncode != 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            check(proc.poll() is None, "routerd is running")
            before = count()

            r = ctl("--json", "reload", gb)
            rep = json.loads(r.stdout)
            check(r.returncode == 0 and rep["applied"], "reload to B applied")
            check(rep["elements"]["added"] == ["s"] and rep["elements"]["removed"] == [], "B adds s")
            kept = {k["id"]: k for k in rep["elements"]["kept"]}
            check(kept["c"]["state"] == "carried" and kept["q"]["state"] == "carried", "c and q carry state")
            check(kept["f"]["state"] == "reset" and "'to' changed" in kept["f"]["why"],
                  "f's changed parameter resets its state, and says why")
            check(kept["rx"]["state"] == "none", "stateless elements say so")
            check(rep["ports"]["added"] == ["p4"] and "p0" in rep["ports"]["unchanged"], "port p4 added")
            check(rep["packets_lost"] == 0, "no packet lost")
            check(all(k in rep["timing_ms"] for k in ("validate", "build", "swap", "worker_pause", "total")),
                  "timings reported")
            check(count() >= before > 0, "the kept Counter keeps counting")

            r = ctl("reload", ga)
            check(r.returncode == 0 and "applied (" in r.stdout and "elements removed: s" in r.stdout
                  and "ports added: -; removed: p4" in r.stdout, "reload back to A (human reply)")

            with open(os.path.join(tmp, "broken.yaml"), "w") as f:
                f.write(A.replace("c: Counter", "c: Countr"))
            st0 = json.loads(ctl("--json", "status").stdout)
            r = ctl("reload", os.path.join(tmp, "broken.yaml"))
            check(r.returncode == 1 and "broken.yaml:11:6: error: element 'c': unknown class 'Countr'" in r.stderr
                  and "refused, the running graph is unchanged" in r.stderr, "a broken reload is refused with FILE:LINE:COL")
            st1 = json.loads(ctl("--json", "status").stdout)
            check(st1["reloads"] == st0["reloads"] and st1["graph"]["name"] == "reload-a", "nothing changed")
            c0 = count()
            time.sleep(0.2)
            check(count() > c0, "the old graph keeps forwarding")

            # SIGHUP reloads the file routerd was started with.
            with open(live, "w") as f:
                f.write(B)
            proc.send_signal(signal.SIGHUP)
            check(log_until("SIGHUP: reloaded"), "SIGHUP reloads the start-up file")
            check('"s"' in ctl("--json", "graph").stdout, "the new graph runs after SIGHUP")
            with open(live, "w") as f:
                f.write("elements: [\n")
            proc.send_signal(signal.SIGHUP)
            check(log_until("SIGHUP: reload of"), "a broken file on SIGHUP is refused and logged")
            check(proc.poll() is None and ctl("status").returncode == 0, "routerd still runs")

            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)
            check(proc.returncode == 0, "routerd stops cleanly")
        finally:
            if proc and proc.poll() is None:
                proc.kill()
                proc.wait()
    print(f"{len(passes)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

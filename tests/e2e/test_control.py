#!/usr/bin/env python3
"""routerd + routerctl end to end, on DPDK null devices.

    routerctl ──unix socket──► routerd ── p0 (net_null) ─► rx ─► cls ─► c ─► tx ─► p1 (net_null)

Checks: every routerctl command answers while traffic flows (status, stats
--json, graph, graph --dot, elements, elements --doc, plugins, handler
read/write); routerd stops cleanly on SIGTERM and on SIGINT and removes its
socket; routerctl with no daemon says so and exits 2; a graph error or a
refused plugin stops routerd before anything starts (exit 1, the reason on
stderr).

Usage: test_control.py --bin build/bin --test-plugins build/test-plugins
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

GRAPH = """
name: control-test
workers: {lcores: [1]}
ports:
  p0: {device: net_null0, args: "size=64"}
  p1: net_null1
elements:
  rx: {class: PortRx, port: p0}
  cls: {class: Classifier, rules: [{output: arp, ethertype: arp}]}
  c: Counter
  tx: {class: PortTx, port: p1}
  bin: Discard
connections:
  - rx -> cls
  - cls[default] -> c -> tx
  - cls[arp] -> bin
"""

failures = []
passes = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    (passes if cond else failures).append(what)


def ctl(bindir, sock, *args, timeout=20):
    return subprocess.run([os.path.join(bindir, "routerctl"), "-s", sock, *args],
                          capture_output=True, text=True, timeout=timeout)


def wait_ready(bindir, sock, proc, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if ctl(bindir, sock, "status").returncode == 0:
            return True
        time.sleep(0.05)
    return False


def run_daemon(bindir, graph, sock, extra=()):
    return subprocess.Popen([os.path.join(bindir, "routerd"), "-c", graph, "-s", sock, *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stop(proc, sig):
    proc.send_signal(sig)
    try:
        out, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return proc.returncode, out, err


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--test-plugins", required=True)
    a = ap.parse_args()
    bindir = os.path.abspath(a.bin)
    procs = []
    with tempfile.TemporaryDirectory(prefix="weft-control-") as tmp:
        graph = os.path.join(tmp, "g.yaml")
        with open(graph, "w") as f:
            f.write(GRAPH)
        sock = os.path.join(tmp, "ctl.sock")
        try:
            # No daemon yet: exit 2, clearly.
            r = ctl(bindir, sock, "status")
            check(r.returncode == 2 and "no routerd is running" in r.stderr, "routerctl without a daemon exits 2")

            for sig in (signal.SIGTERM, signal.SIGINT):
                p = run_daemon(bindir, graph, sock)
                procs.append(p)
                check(wait_ready(bindir, sock, p), f"routerd answers ({signal.Signals(sig).name} run)")
                if sig == signal.SIGTERM:
                    r = ctl(bindir, sock, "status")
                    check("graph 'control-test'" in r.stdout and "worker 0 on lcore 1" in r.stdout, "status")
                    # Wait for traffic through the counter.
                    deadline = time.monotonic() + 10
                    stats = {}
                    while time.monotonic() < deadline:
                        stats = json.loads(ctl(bindir, sock, "stats", "--json").stdout)
                        if stats["elements"][2]["total"]["out"] > 1000:
                            break
                        time.sleep(0.05)
                    c = stats["elements"][2]
                    check(c["id"] == "c" and c["total"]["out"] > 1000, "stats --json shows traffic through c")
                    check(c["workers"][0]["lcore"] == 1, "stats are per lcore")
                    check(stats["ports"][0]["rx_packets"] > 0 and "queues" in stats["ports"][0], "port stats")
                    r = ctl(bindir, sock, "graph", "--dot")
                    check(r.returncode == 0 and r.stdout.startswith("digraph") and '"cls" -> "c"' in r.stdout,
                          "graph --dot")
                    r = ctl(bindir, sock, "graph")
                    check("cls :: Classifier" in r.stdout, "graph (text)")
                    r = ctl(bindir, sock, "elements")
                    check(r.returncode == 0 and "Classifier" in r.stdout and "PortRx" in r.stdout, "elements")
                    r = ctl(bindir, sock, "elements", "--doc", "PortTx")
                    check("retries" in r.stdout and "tx_full" in r.stdout, "elements --doc PortTx")
                    r = ctl(bindir, sock, "plugins")
                    # A plugin's classes are its exports, listed by name.
                    check("weft_basic.so" in r.stdout and "classes: Classifier Counter" in r.stdout
                          and "PortRx PortTx" in r.stdout, "plugins")
                    r = ctl(bindir, sock, "handler", "read", "c", "count")
                    check(r.returncode == 0 and int(r.stdout.strip()) > 0, "handler read c count")
                    r = ctl(bindir, sock, "handler", "read", "c")
                    check("reset" in r.stdout and "config" in r.stdout, "handler list")
                    r = ctl(bindir, sock, "handler", "write", "c", "reset", "1")
                    check(r.returncode == 0, "handler write c reset")
                    r = ctl(bindir, sock, "handler", "read", "c", "nope")
                    check(r.returncode == 1 and "has no handler 'nope'" in r.stderr, "unknown handler is an error")
                    r = ctl(bindir, sock, "handler", "read", "cls", "config")
                    check("default: default" in r.stdout, "framework handler config")
                    r = ctl(bindir, sock, "stats", "--rate", "0.3")
                    check(r.returncode == 0 and "out pps" in r.stdout, "stats --rate")
                code, out, err = stop(p, sig)
                check(code == 0, f"routerd exits 0 on {signal.Signals(sig).name}")
                check("routerd summary" in out and "rx packets" in out, "routerd prints a summary")
                check(not os.path.exists(sock), "socket removed on exit")

            # A graph error starts nothing.
            bad = os.path.join(tmp, "bad.yaml")
            with open(bad, "w") as f:
                f.write(GRAPH.replace("class: Counter", "class: Countr").replace("c: Counter", "c: Countr"))
            p = run_daemon(bindir, bad, sock)
            procs.append(p)
            out, err = p.communicate(timeout=20)
            check(p.returncode == 1 and "unknown class 'Countr' (did you mean 'Counter'?)" in err
                  and "EAL" not in err, "a YAML error starts nothing")

            # A refused plugin stops routerd before any worker starts.
            p = run_daemon(bindir, graph, sock, ["--plugin-path", os.path.join(a.test_plugins, "bad_abi")])
            procs.append(p)
            out, err = p.communicate(timeout=20)
            check(p.returncode == 1 and "refused: plugin ABI 99.0" in err and "EAL" not in err,
                  "a refused plugin stops routerd with the reason")
            env = dict(os.environ, WEFT_PLUGIN_PATH=os.path.join(a.test_plugins, "good_extra"))
            r = subprocess.run([os.path.join(bindir, "routerctl"), "-s", sock, "elements", "--doc", "TestPassthrough"],
                               capture_output=True, text=True, env=env, timeout=20)
            check(r.returncode == 0 and "label" in r.stdout, "WEFT_PLUGIN_PATH adds a plugin directory")
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
    print(f"{len(passes)} passed, {len(failures)} failed")
    if failures:
        print("failed: " + "; ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

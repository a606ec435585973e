#!/usr/bin/env python3
"""routerd + routerctl end to end, on DPDK null devices.

    routerctl ──unix socket──► routerd ── p0 (net_null) ─► rx ─► cls ─► c ─► tx ─► p1 (net_null)

Checks: every routerctl command answers while traffic flows (status, stats
--json, graph, graph --dot, elements, elements --doc, plugins, handler
read/write, memory against /proc); routerd stops cleanly on SIGTERM and on SIGINT and removes its
socket; routerctl with no daemon says so and exits 2; a graph error or a
refused plugin stops routerd before anything starts (exit 1, the reason on
stderr).

Usage: test_control.py --bin build/bin --test-plugins build/test-plugins
"""
import os
import signal

import harness
from harness import wait_until

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


def commands(t, r):
    """Every routerctl command, against a routerd forwarding traffic."""
    s = r.ctl("status")
    t.check("graph 'control-test'" in s.stdout and "worker 0 on lcore 1" in s.stdout, "status")
    # Wait for traffic through the counter (stats --json: the flag after the command works too).
    stats = {}

    def traffic():
        nonlocal stats
        stats = r.ctl("stats", "--json").json()
        return stats["elements"][2]["total"]["out"] > 1000
    wait_until(traffic, timeout=10)
    c = stats["elements"][2]
    t.check(c["id"] == "c" and c["total"]["out"] > 1000, "stats --json shows traffic through c")
    t.check(c["workers"][0]["lcore"] == 1, "stats are per lcore")
    t.check(stats["ports"][0]["rx_packets"] > 0 and "queues" in stats["ports"][0], "port stats")
    g = r.ctl("graph", "--dot")
    t.check(g.ok and g.stdout.startswith("digraph") and '"cls" -> "c"' in g.stdout, "graph --dot")
    t.check("cls :: Classifier" in r.ctl("graph").stdout, "graph (text)")
    e = r.ctl("elements")
    t.check(e.ok and "Classifier" in e.stdout and "PortRx" in e.stdout, "elements")
    e = r.ctl("elements", "--doc", "PortTx")
    t.check("retries" in e.stdout and "tx_full" in e.stdout, "elements --doc PortTx")
    p = r.ctl("plugins")
    # A plugin's classes are its exports, listed by name.
    t.check("weft_basic.so" in p.stdout and "classes: Classifier Counter" in p.stdout and "PortRx PortTx" in p.stdout,
            "plugins")
    h = r.read_handler("c", "count")
    t.check(h.ok and int(h.stdout.strip()) > 0, "handler read c count")
    h = r.ctl("handler", "read", "c")
    t.check("reset" in h.stdout and "config" in h.stdout, "handler list")
    t.check(r.write_handler("c", "reset", 1).ok, "handler write c reset")
    h = r.read_handler("c", "nope")
    t.check(h.returncode == 1 and "has no handler 'nope'" in h.stderr, "unknown handler is an error")
    t.check("default: default" in r.read_handler("cls", "config").stdout, "framework handler config")
    s = r.ctl("stats", "--rate", "0.3")
    t.check(s.ok and "out pps" in s.stdout, "stats --rate")
    memory(t, r)


def proc_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def proc_rss(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))


def memory(t, r):
    """routerctl memory, against what /proc says of routerd and what DPDK must hold."""
    m = r.json("memory")
    rss, fds = proc_rss(r.pid), proc_fds(r.pid)
    t.check(abs(m["rss_bytes"] - rss) < 0.2 * rss, f"memory: resident {m['rss_bytes'] >> 20} MiB "
            f"(/proc: {rss >> 20} MiB)", str(m))
    # routerd counts while it serves the request: its connection is one more descriptor.
    t.check(abs(m["fds"] - fds) <= 2, f"memory: {m['fds']} file descriptors (/proc: {fds})", str(m))
    heap = m["dpdk_heaps"][0] if m["dpdk_heaps"] else {}
    t.check(heap.get("allocated_bytes", 0) > 0 and heap["allocations"] > 0 and
            heap["allocated_bytes"] + heap["free_bytes"] == heap["heap_bytes"],
            f"memory: DPDK heap {heap.get('allocated_bytes', 0) >> 20} MiB allocated in "
            f"{heap.get('allocations')} blocks", str(m))
    pool = m.get("packet_pool", {})
    t.check(pool.get("size", 0) > 0 and pool["in_use"] + pool["available"] == pool["size"] and m["dpdk_memzones"] > 0,
            f"memory: packet pool of {pool.get('size')} buffers, {m['dpdk_memzones']} memzones", str(m))
    text = r.ctl("memory").stdout
    t.check("resident" in text and "DPDK heap, socket" in text and "packet pool" in text, "memory (text)", text)
    t.check(r.status()["reload_packets_lost"] == 0, "status: reload_packets_lost")


def main(t):
    graph = t.write("g.yaml", GRAPH)

    # No daemon yet: exit 2, clearly.
    r = t.routerctl("status", sock=t.path("nobody.sock"))
    t.check(r.returncode == 2 and "no routerd is running" in r.stderr, "routerctl without a daemon exits 2")

    for sig in (signal.SIGTERM, signal.SIGINT):
        name = signal.Signals(sig).name
        r = t.routerd(file=graph, check=f"routerd answers ({name} run)")
        if sig == signal.SIGTERM:
            commands(t, r)
        t.check(r.stop(sig) == 0, f"routerd exits 0 on {name}")
        out = r.stdout()
        t.check("routerd summary" in out and "rx packets" in out, "routerd prints a summary")
        t.check(not os.path.exists(r.sock), "socket removed on exit")

    # A graph error starts nothing.
    bad = t.write("bad.yaml", GRAPH.replace("class: Counter", "class: Countr").replace("c: Counter", "c: Countr"))
    sock = t.path("refused.sock")
    p = t.run([t.exe("routerd"), "-c", bad, "-s", sock], timeout=20)
    t.check(p.returncode == 1 and "unknown class 'Countr' (did you mean 'Counter'?)" in p.stderr
            and "EAL" not in p.stderr, "a YAML error starts nothing")

    # A refused plugin stops routerd before any worker starts.
    p = t.run([t.exe("routerd"), "-c", graph, "-s", sock, "--plugin-path", os.path.join(t.test_plugins, "bad_abi")],
              timeout=20)
    t.check(p.returncode == 1 and "refused: plugin ABI 99.0" in p.stderr and "EAL" not in p.stderr,
            "a refused plugin stops routerd with the reason")
    env = dict(os.environ, WEFT_PLUGIN_PATH=os.path.join(t.test_plugins, "good_extra"))
    e = t.routerctl("elements", "--doc", "TestPassthrough", sock=sock, env=env, timeout=20)
    t.check(e.ok and "label" in e.stdout, "WEFT_PLUGIN_PATH adds a plugin directory")


if __name__ == "__main__":
    harness.run(main)

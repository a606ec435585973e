#!/usr/bin/env python3
"""Kernel neighbour misses answered from a Portolan-compatible server, over
netlink, through routerd's NeighborSink — with Portolan down at the start.

    network namespace wns<pid> (created here, deleted at the end)
    ┌──────────────────────────────────────────────────────────────────────┐
    │ kernel: vA 10.77.0.1/24, app_solicit=1 ══ vB     vx0 (VXLAN, vni 100)│
    │   │ RTM_GETNEIGH (miss)        ▲ RTM_NEWNEIGH / FDB (AF_BRIDGE)      │
    │   ▼                            │                                     │
    │ routerd: NeighborSink{vA, vni 100, fdb vx0} ── Svp ──TCP──► svp-server│
    │                                                   127.0.0.1:P (YAML) │
    └──────────────────────────────────────────────────────────────────────┘

 1. routerd starts first, Svp pointing at a port where nothing listens yet:
    it runs, `routerctl overlay` says Portolan is not up;
 2. svp-server starts there with a mapping 10.77.0.9 -> 02:77:00:00:00:09
    (underlay 192.0.2.9:4789); the session comes up;
 3. a UDP packet to 10.77.0.9 from the namespace makes the kernel ask; the
    entry becomes REACHABLE with Portolan's MAC, and vx0's bridge FDB gets
    02:77:00:00:00:09 -> 192.0.2.9 — no `ip neigh`/`bridge` command writes
    anything (they only read here);
 4. 10.77.0.10 is unknown to Portolan: a negative cache entry, no neighbour;
 5. the mapping changes (new MAC) and svp-server reloads on SIGHUP: routerd's
    change-log poller drops the entry and NeighborSink installs the new MAC;
 6. `routerctl overlay` shows cache, pending lookups and counters;
 7. vA is deleted: NeighborSink forgets the link (RTM_DELLINK);
 8. routerd and svp-server stop cleanly (by pid).

Usage: test_neighbor_sink.py --bin build/bin
"""
import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from netns import Lab, wait_until  # noqa: E402

passes, failures = [], []


def check(cond, what, detail=""):
    print(("ok   " if cond else "FAIL ") + what + ("" if cond or not detail else f"\n     {detail}"))
    (passes if cond else failures).append(what)
    return cond


MAPPINGS = """vl2:
  - {{mac: "{mac}", vni: 100, ip: 192.0.2.9, port: 4789}}
vl3:
  - {{ip: 10.77.0.9, vni: 100, mac: "{mac}"}}
cns: [192.0.2.1]
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    a, _ = ap.parse_known_args()
    bindir = os.path.abspath(a.bin)
    routerd, routerctl, server = (os.path.join(bindir, p) for p in ("routerd", "routerctl", "svp-server"))
    for prog in (routerd, routerctl, server):
        if not os.access(prog, os.X_OK):
            print(f"SKIP: {prog} is not built")
            return 0
    tmp = tempfile.mkdtemp(prefix="weft-neighbor-sink-")
    os.chmod(tmp, 0o755)
    try:
        with Lab("ns") as lab:
            ns = lab.namespace("n")
            va, vb = lab.veth(ns, ns)
            lab.sh(ns, f"ip addr add 10.77.0.1/24 dev {va}")
            lab.sh(ns, f"sysctl -qw net.ipv4.neigh.{va}.app_solicit=1")
            lab.sh(ns, "ip link add vx0 type vxlan id 100 dstport 4789 local 127.0.0.1 nolearning")
            lab.sh(ns, "ip link set vx0 up")
            port = random.randint(20000, 60000)  # a fresh namespace: any port is free
            sock = os.path.join(tmp, "ctl.sock")
            graph = os.path.join(tmp, "g.yaml")
            with open(graph, "w") as f:
                f.write(f"""name: neighbor-sink
eal: {{memory_mb: 512}}
workers: {{lcores: [1], idle_sleep_us: 200}}
services:
  portolan:
    class: Svp
    servers: ["127.0.0.1:{port}"]
    timeout: 0.5
    backoff_min: 0.1
    backoff_max: 0.5
    log_ip: 192.0.2.1
    log_interval: 0.2
    negative_ttl: 60
  neigh:
    class: NeighborSink
    svp: portolan
    links: [{{ifname: {va}, vni: 100, fdb: vx0}}]
elements: {{}}
""")
            log = open(os.path.join(tmp, "routerd.log"), "w")
            rd = lab.spawn(ns, [routerd, "-c", graph, "-s", sock], stdout=log, stderr=subprocess.STDOUT)

            def overlay():
                r = subprocess.run([routerctl, "-s", sock, "--json", "overlay"], capture_output=True, text=True,
                                   timeout=30)
                if r.returncode != 0 or not r.stdout.strip():
                    if "No such file" not in r.stderr:  # not listening yet, at the start
                        print(f"     (routerctl overlay: status {r.returncode}: {r.stderr.strip()})")
                    return None
                return json.loads(r.stdout)[0]

            def neigh_status():
                r = subprocess.run([routerctl, "-s", sock, "--json", "service", "neigh", "status"],
                                   capture_output=True, text=True, timeout=30)
                return json.loads(r.stdout)[0]["result"] if r.returncode == 0 else None

            # 1. Portolan down at the start.
            ok = wait_until(lambda: (overlay() or {}).get("status", {}).get("portolan") is not None, 30)
            st = overlay()
            check(ok and st["status"]["state"] != "up" and rd.poll() is None,
                  f"routerd runs with Portolan down (state {st['status']['state'] if st else None})")
            check(wait_until(lambda: (overlay() or {})["status"]["portolan"]["counters"]["connect_failures"] >= 2, 10),
                  "it keeps trying to connect (with backoff)")

            # 2. Portolan comes up.
            mfile = os.path.join(tmp, "mappings.yaml")
            with open(mfile, "w") as f:
                f.write(MAPPINGS.format(mac="02:77:00:00:00:09"))
            slog = open(os.path.join(tmp, "svp-server.log"), "w")
            srv = lab.spawn(ns, [server, "-c", mfile, "-l", f"127.0.0.1:{port}"], stdout=slog, stderr=subprocess.STDOUT)
            check(wait_until(lambda: overlay()["status"]["state"] == "up", 20),
                  f"the SVP session comes up once svp-server (pid {srv.pid}) listens on 127.0.0.1:{port}")

            # 3. A neighbour miss, answered over netlink.
            def send_udp(ip):
                lab.run(ns, [sys.executable, "-c",
                             f"import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
                             f"s.sendto(b'weft', ('{ip}', 9))"])

            def neighbour(ip):
                out = lab.sh(ns, f"ip -j neigh show {ip} dev {va}")
                entries = json.loads(out) if out.strip() else []
                return entries[0] if entries else None

            send_udp("10.77.0.9")
            ok = wait_until(lambda: (neighbour("10.77.0.9") or {}).get("lladdr") == "02:77:00:00:00:09", 20)
            n = neighbour("10.77.0.9")
            check(ok and "REACHABLE" in n.get("state", []),
                  "the kernel's entry for 10.77.0.9 is REACHABLE with Portolan's MAC 02:77:00:00:00:09", str(n))

            def fdb():
                out = lab.sh(ns, "bridge -j fdb show dev vx0")
                return json.loads(out) if out.strip() else []
            ok = wait_until(lambda: any(e.get("mac") == "02:77:00:00:00:09" and e.get("dst") == "192.0.2.9"
                                        for e in fdb()), 10)
            check(ok, "vx0's bridge FDB has 02:77:00:00:00:09 -> 192.0.2.9", str(fdb()))
            ns_st = neigh_status()
            check(ns_st["counters"]["installed"] >= 1 and ns_st["counters"]["install_errors"] == 0,
                  "NeighborSink counted the install, no netlink error", str(ns_st["counters"]))

            # 4. An address Portolan does not know.
            send_udp("10.77.0.10")
            ok = wait_until(lambda: any(e["key"] == "vl3 10.77.0.10 vni 100" and e["state"] == "notfound"
                                        for e in overlay()["cache"]), 20)
            check(ok, "10.77.0.10: NOTFOUND is cached as a negative entry")
            n10 = neighbour("10.77.0.10")
            check(not n10 or not n10.get("lladdr"), "and no MAC is installed for it", str(n10))

            # 5. The mapping changes; the change log carries it to routerd.
            with open(mfile, "w") as f:
                f.write(MAPPINGS.format(mac="02:77:00:00:00:99"))
            srv.send_signal(signal.SIGHUP)
            ok = wait_until(lambda: (neighbour("10.77.0.9") or {}).get("lladdr") == "02:77:00:00:00:99", 20)
            check(ok, "after svp-server's reload the entry moved to 02:77:00:00:00:99 (change log -> re-resolve)",
                  str(neighbour("10.77.0.9")))

            def log_done():
                s = overlay()
                return s is not None and s["status"]["log"]["records"] >= 2 and s["status"]["log"]["removed"] >= 2
            check(wait_until(log_done, 10), f"routerd applied the log records and removed them with LOG_RM "
                                            f"({(overlay() or {}).get('status', {}).get('log')})")

            # 6. routerctl overlay, human form.
            r = subprocess.run([routerctl, "-s", sock, "overlay"], capture_output=True, text=True, timeout=30)
            check(r.returncode == 0 and "vl3 10.77.0.9 vni 100" in r.stdout and "Portolan: up" in r.stdout,
                  "`routerctl overlay` lists the cache and the session", r.stdout + r.stderr)
            print("     " + r.stdout.strip().replace("\n", "\n     "))

            # 7. The link goes away.
            lab.sh(ns, f"ip link del {va}")
            ok = wait_until(lambda: neigh_status()["counters"]["dellinks"] == 1, 10)
            ns_st = neigh_status()
            check(ok and ns_st["links"][0]["ifindex"] == 0 and ns_st["links"][0]["installed"] == 0,
                  "RTM_DELLINK: NeighborSink forgot the link's state", str(ns_st["links"]))

            # 8. Clean stop.
            rd.send_signal(signal.SIGTERM)
            check(rd.wait(timeout=30) == 0, "routerd stopped cleanly (exit status 0)", f"status {rd.returncode}")
            srv.send_signal(signal.SIGTERM)
            check(srv.wait(timeout=10) == 0, "svp-server stopped cleanly (exit status 0)", f"status {srv.returncode}")
            print(f"PASS: {len(passes)} checks" if not failures else f"FAIL: {len(failures)} of "
                  f"{len(passes) + len(failures)} checks failed")
    finally:
        if failures:
            for name in ("routerd.log", "svp-server.log"):
                p = os.path.join(tmp, name)
                if os.path.exists(p):
                    print(f"--- {name}")
                    print(open(p).read()[-4000:])
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

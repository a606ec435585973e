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
 6b. svp-server stops; a server in its place answers with garbage and goes
    away: the client counts the protocol error, `routerctl status` reports
    the Svp service degraded, the cache and the installed entry stay;
    svp-server comes back: the session is up, the health ok again;
 7. vA is deleted: NeighborSink forgets the link (RTM_DELLINK);
 8. routerd and svp-server stop cleanly (by pid).

Usage: test_neighbor_sink.py --bin build/bin
"""
import json
import random
import signal
import subprocess
import sys

import harness
from harness import GARBAGE_SVP_SERVER, wait_until

MAPPINGS = """vl2:
  - {{mac: "{mac}", vni: 100, ip: 192.0.2.9, port: 4789}}
vl3:
  - {{ip: 10.77.0.9, vni: 100, mac: "{mac}"}}
cns: [192.0.2.1]
"""


def main(t):
    server = t.exe("svp-server")
    t.needs(t.exe("routerd"), t.exe("routerctl"), server)
    with t.lab("ns") as lab:
        ns = lab.namespace("n")
        va, vb = lab.veth(ns, ns)
        lab.sh(ns, f"ip addr add 10.77.0.1/24 dev {va}")
        lab.sh(ns, f"sysctl -qw net.ipv4.neigh.{va}.app_solicit=1")
        lab.sh(ns, "ip link add vx0 type vxlan id 100 dstport 4789 local 127.0.0.1 nolearning")
        lab.sh(ns, "ip link set vx0 up")
        port = random.randint(20000, 60000)  # a fresh namespace: any port is free
        graph = f"""name: neighbor-sink
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
"""
        r = t.routerd(graph, lab=lab, ns=ns)

        def overlay():
            res = r.ctl("--json", "overlay")
            if res.returncode != 0 or not res.stdout.strip():
                if "No such file" not in res.stderr:  # not listening yet, at the start
                    t.info(f"(routerctl overlay: status {res.returncode}: {res.stderr.strip()})")
                return None
            return res.json()[0]

        def service_health(name):
            res = r.ctl("--json", "status")
            if res.returncode != 0:
                return {}
            return next((x for x in res.json()["health"]["services"] if x["name"] == name), {})

        def neigh_status():
            res = r.ctl("--json", "service", "neigh", "status")
            return res.json()[0]["result"] if res.returncode == 0 else None

        # 1. Portolan down at the start.
        ok = wait_until(lambda: (overlay() or {}).get("status", {}).get("portolan") is not None, 30)
        st = overlay()
        t.check(ok and st["status"]["state"] != "up" and r.alive(),
                f"routerd runs with Portolan down (state {st['status']['state'] if st else None})")
        t.check(wait_until(lambda: (overlay() or {})["status"]["portolan"]["counters"]["connect_failures"] >= 2, 10),
                "it keeps trying to connect (with backoff)")

        # 2. Portolan comes up.
        mfile = t.write("mappings.yaml", MAPPINGS.format(mac="02:77:00:00:00:09"))
        t.log_on_failure(t.path("svp-server.log"))
        with open(t.path("svp-server.log"), "w") as slog:
            srv = lab.spawn(ns, [server, "-c", mfile, "-l", f"127.0.0.1:{port}"], stdout=slog,
                            stderr=subprocess.STDOUT)
        t.check(wait_until(lambda: overlay()["status"]["state"] == "up", 20),
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
        t.check(ok and "REACHABLE" in n.get("state", []),
                "the kernel's entry for 10.77.0.9 is REACHABLE with Portolan's MAC 02:77:00:00:00:09", str(n))

        def fdb():
            out = lab.sh(ns, "bridge -j fdb show dev vx0")
            return json.loads(out) if out.strip() else []
        ok = wait_until(lambda: any(e.get("mac") == "02:77:00:00:00:09" and e.get("dst") == "192.0.2.9"
                                    for e in fdb()), 10)
        t.check(ok, "vx0's bridge FDB has 02:77:00:00:00:09 -> 192.0.2.9", str(fdb()))
        ns_st = neigh_status()
        t.check(ns_st["counters"]["installed"] >= 1 and ns_st["counters"]["install_errors"] == 0,
                "NeighborSink counted the install, no netlink error", str(ns_st["counters"]))

        # 4. An address Portolan does not know.
        send_udp("10.77.0.10")
        ok = wait_until(lambda: any(e["key"] == "vl3 10.77.0.10 vni 100" and e["state"] == "notfound"
                                    for e in overlay()["cache"]), 20)
        t.check(ok, "10.77.0.10: NOTFOUND is cached as a negative entry")
        n10 = neighbour("10.77.0.10")
        t.check(not n10 or not n10.get("lladdr"), "and no MAC is installed for it", str(n10))

        # 5. The mapping changes; the change log carries it to routerd.
        t.write("mappings.yaml", MAPPINGS.format(mac="02:77:00:00:00:99"))
        srv.send_signal(signal.SIGHUP)
        ok = wait_until(lambda: (neighbour("10.77.0.9") or {}).get("lladdr") == "02:77:00:00:00:99", 20)
        t.check(ok, "after svp-server's reload the entry moved to 02:77:00:00:00:99 (change log -> re-resolve)",
                str(neighbour("10.77.0.9")))

        def log_done():
            s = overlay()
            return s is not None and s["status"]["log"]["records"] >= 2 and s["status"]["log"]["removed"] >= 2
        t.check(wait_until(log_done, 10), f"routerd applied the log records and removed them with LOG_RM "
                                          f"({(overlay() or {}).get('status', {}).get('log')})")

        # 6. routerctl overlay, human form.
        res = r.ctl("overlay")
        t.check(res.returncode == 0 and "vl3 10.77.0.9 vni 100" in res.stdout and "Portolan: up" in res.stdout,
                "`routerctl overlay` lists the cache and the session", res.stdout + res.stderr)
        t.info(res.stdout)

        # 6b. Portolan sends garbage and disappears, then comes back.
        srv.send_signal(signal.SIGTERM)
        srv.wait(timeout=10)
        t.check(srv.returncode == 0, "svp-server stopped (exit status 0)", f"status {srv.returncode}")
        garbage = lab.spawn(ns, ["python3", "-c", GARBAGE_SVP_SERVER, str(port)])

        def protocol_errors():
            c = (overlay() or {}).get("status", {}).get("portolan", {}).get("counters", {}).get("malformed", {})
            return sum(c.values())
        t.check(wait_until(lambda: protocol_errors() >= 1, 20),
                "a server sending garbage: the SVP client counts a protocol error and drops the connection",
                str((overlay() or {}).get("status")))
        garbage.wait(timeout=10)
        svp_h = service_health("portolan")
        t.check(svp_h.get("state") == "degraded" and svp_h.get("errors", 0) >= 1 and svp_h.get("last_error"),
                "health: the Svp service is degraded, with the error", str(svp_h))
        res = r.ctl("overlay")
        t.check(res.returncode == 0 and "vl3 10.77.0.9 vni 100" in res.stdout,
                "the overlay cache keeps its entries while Portolan is away", res.stdout + res.stderr)
        t.check((neighbour("10.77.0.9") or {}).get("lladdr") == "02:77:00:00:00:99",
                "the installed neighbour entry stays", str(neighbour("10.77.0.9")))
        with open(t.path("svp-server.log"), "a") as slog:
            srv = lab.spawn(ns, [server, "-c", mfile, "-l", f"127.0.0.1:{port}"], stdout=slog,
                            stderr=subprocess.STDOUT)
        t.check(wait_until(lambda: overlay()["status"]["state"] == "up", 20),
                f"the session comes up again once svp-server (pid {srv.pid}) is back")
        svp_h = service_health("portolan")
        t.check(svp_h.get("state") == "ok" and svp_h.get("errors", 0) >= 1,
                "health: the Svp service is ok again, its past errors still counted", str(svp_h))

        # 7. The link goes away.
        lab.sh(ns, f"ip link del {va}")
        ok = wait_until(lambda: neigh_status()["counters"]["dellinks"] == 1, 10)
        ns_st = neigh_status()
        t.check(ok and ns_st["links"][0]["ifindex"] == 0 and ns_st["links"][0]["installed"] == 0,
                "RTM_DELLINK: NeighborSink forgot the link's state", str(ns_st["links"]))

        # 8. Clean stop.
        t.check(r.stop(timeout=30) == 0, "routerd stopped cleanly (exit status 0)", f"status {r.returncode}")
        srv.send_signal(signal.SIGTERM)
        try:
            srv.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass  # the lab kills it
        t.check(srv.returncode == 0, "svp-server stopped cleanly (exit status 0)", f"status {srv.returncode}")


if __name__ == "__main__":
    harness.run(main)

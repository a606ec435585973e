#!/usr/bin/env python3
"""Routes from a real FRR zebra (Debian's FRR 8.4, dplane_fpm_nl) into
routerd's FIB, through a zebra restart.

    network namespace wfz<pid> (created here, deleted at the end)
    ┌───────────────────────────────────────────────────────────────────┐
    │ staticd ──zserv──► zebra -M dplane_fpm_nl ──FPM/TCP 127.0.0.1:P──►│ routerd: Fib (listen 127.0.0.1:P)
    │ (static routes)       │                                           │          `routerctl routes`
    │                       vA: 192.0.2.254/24, 2001:db8::fe/64 ══ vB   │
    └───────────────────────────────────────────────────────────────────┘

 1. a namespace with a veth pair (the connected subnet the gateways sit on);
    routerd with a Fib element listening on 127.0.0.1:P inside it, P a free
    port; zebra and staticd started exactly as ARCHITECTURE.md's recipe,
    zebra.conf saying `fpm address 127.0.0.1 port P`;
 2. static routes in staticd.conf: IPv4, IPv6, ECMP, blackhole, one more;
    `routerctl routes` must converge (polled, no fixed sleeps) to exactly
    zebra's own view (`vtysh -c 'show ip route json'` and `show ipv6 route
    json`: selected, installed routes), next hops included;
 3. routes deleted with vtysh disappear from the FIB (an ECMP member, a
    whole route, an IPv6 route);
 4. zebra is killed (SIGKILL, by pid) and, while it is down, one route is
    removed from staticd; zebra is started again. Meanwhile a poller reads
    `routerctl routes` continuously: no route present before may vanish
    while zebra replays; afterwards the FIB equals zebra's table exactly
    again (the route removed while zebra was down is withdrawn as stale)
    and the service reports a second, finished replay.

Every process is stopped by pid, the namespace deleted by name.
Usage: test_fpm_zebra.py --bin build/bin
"""
import argparse
import ipaddress
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from netns import Lab, wait_until  # noqa: E402
from weftlab.frr import Frr, ZEBRA, STATICD  # noqa: E402  (netns put tools/lab on the path)
passes, failures = [], []


def check(cond, what, detail=""):
    print(("ok   " if cond else "FAIL ") + what + ("" if cond or not detail else f"\n     {detail}"))
    (passes if cond else failures).append(what)
    return cond


STATIC_ROUTES = [
    "ip route 10.10.0.0/16 192.0.2.1",
    "ip route 10.20.0.0/16 192.0.2.1",
    "ip route 10.20.0.0/16 192.0.2.2",          # ECMP
    "ip route 10.30.0.0/16 blackhole",
    "ip route 10.40.0.0/16 192.0.2.3",
    "ip route 10.50.0.0/24 192.0.2.2",
    "ipv6 route 2001:db8:10::/48 2001:db8::1",
    "ipv6 route 2001:db8:20::/48 2001:db8::1",
    "ipv6 route 2001:db8:20::/48 2001:db8::2",  # IPv6 ECMP
]


class ZebraLab(Frr):
    """The lab's FRR (zebra + staticd, shared with the lab runner) and zebra's table."""

    def table(self):
        """zebra's view: {prefix: sorted next hops}, selected+installed routes only,
        in the words the FIB uses (gateway address, 'direct', 'blackhole')."""
        out = {}
        for cmd in ("show ip route json", "show ipv6 route json"):
            r = self.vtysh(cmd)
            if r.returncode != 0 or not r.stdout.strip():
                return None
            for prefix, entries in json.loads(r.stdout).items():
                for e in entries:
                    if not (e.get("selected") and e.get("installed")):
                        continue
                    nhs = []
                    for nh in e.get("nexthops", []):
                        if nh.get("blackhole") or nh.get("unreachable") or nh.get("reject"):
                            nhs.append("blackhole")
                        elif not nh.get("fib", True) or not nh.get("active", True):
                            continue
                        elif nh.get("ip"):
                            nhs.append(nh["ip"])
                        else:
                            nhs.append("direct")
                    out[str(ipaddress.ip_network(prefix))] = sorted(set(nhs))
        return out


def fib_table(routerctl, sock):
    """routerd's view in the same words, from `routerctl routes` (table 254)."""
    r = subprocess.run([routerctl, "-s", sock, "--json", "routes"], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        return None
    out = {}
    for fib in json.loads(r.stdout):
        for rt in fib["result"]["routes"]:
            if rt["table"] != 254 or not rt.get("installed"):
                continue
            if rt["type"] != "unicast":
                nhs = ["blackhole"]
            else:
                nhs = []
                for t in rt["nexthops"]:
                    m = re.match(r"via (\S+)", t)
                    nhs.append(m.group(1) if m else "direct")
            out[str(ipaddress.ip_network(rt["prefix"]))] = sorted(set(nhs))
    return out


def status(routerctl, sock):
    r = subprocess.run([routerctl, "-s", sock, "--json", "service", "fib:fib", "status"], capture_output=True,
                       text=True, timeout=30)
    return json.loads(r.stdout)[0]["result"] if r.returncode == 0 else None


def diff(a, b):
    keys = sorted(set(a or {}) | set(b or {}))
    return "; ".join(f"{k}: fib {a.get(k) if a else None} zebra {b.get(k) if b else None}"
                     for k in keys if (a or {}).get(k) != (b or {}).get(k))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    a, _ = ap.parse_known_args()
    bindir = os.path.abspath(a.bin)
    routerd, routerctl = os.path.join(bindir, "routerd"), os.path.join(bindir, "routerctl")
    for prog in (ZEBRA, STATICD, routerd, routerctl):
        if not os.access(prog, os.X_OK):
            print(f"SKIP: {prog} is not installed or built")
            return 0
    tmp = tempfile.mkdtemp(prefix="weft-fpm-zebra-")
    rundir = os.path.join(tmp, "frr")
    os.makedirs(rundir)
    os.chmod(tmp, 0o755)
    shutil.chown(rundir, "frr", "frr")
    frr = None
    try:
        with Lab("fz") as lab:
            ns = lab.namespace("z")
            va, vb = lab.veth(ns, ns)
            lab.sh(ns, f"ip addr add 192.0.2.254/24 dev {va}")
            lab.sh(ns, f"ip addr add 2001:db8::fe/64 dev {va} nodad")
            port = random.randint(20000, 60000)  # a fresh namespace: any port is free
            sock = os.path.join(tmp, "ctl.sock")
            graph = os.path.join(tmp, "g.yaml")
            with open(graph, "w") as f:
                f.write(f"""name: fpm-zebra
eal: {{memory_mb: 512}}
workers: {{lcores: [1], idle_sleep_us: 200}}
elements:
  fib:
    class: Fib
    listen: "127.0.0.1:{port}"
    # A restarted zebra re-sends some of its own leftover static routes at
    # once and staticd's ~6 s later (staticd's reconnect timer): the quiet
    # period that ends a protocol's replay must be longer than that gap.
    grace: 40
    quiet: 8
    tbl8: 1024
    max_routes6: 1024
    tbl8_6: 1024
    interfaces: [{{ifname: {va}, output: lan, mac: "02:00:00:00:0f:01"}}]
    neighbors: [{{ip: 192.0.2.1, mac: "02:00:00:00:00:01"}}, {{ip: 192.0.2.2, mac: "02:00:00:00:00:02"}},
                {{ip: "2001:db8::1", mac: "02:00:00:00:06:01"}}]
""")
            log = open(os.path.join(tmp, "routerd.log"), "w")
            rd = lab.spawn(ns, [routerd, "-c", graph, "-s", sock], stdout=log, stderr=subprocess.STDOUT)
            if not check(wait_until(lambda: (status(routerctl, sock) or {}).get("state") == "listening", 30),
                         f"routerd's Fib listens on 127.0.0.1:{port} in namespace {ns}"):
                return 1

            # 1-2. FRR and the first replay.
            frr = ZebraLab(lab, ns, rundir, port, STATIC_ROUTES)
            frr.start_zebra()
            frr.start_staticd()
            check(frr.alive("zebra") and frr.alive("staticd"), f"zebra (pid {frr.pid('zebra')}) and staticd "
                  f"(pid {frr.pid('staticd')}) running")

            def converged():
                z, f = frr.table(), fib_table(routerctl, sock)
                return z is not None and f is not None and z == f and len(z) > 0
            ok = wait_until(converged, timeout=60, step=0.2)
            z, f = frr.table(), fib_table(routerctl, sock)
            check(ok, f"the FIB equals zebra's table ({len(z or {})} routes)", diff(f, z))
            check(f.get("10.20.0.0/16") == ["192.0.2.1", "192.0.2.2"], "ECMP route with both next hops", str(f))
            check(f.get("10.30.0.0/16") == ["blackhole"], "blackhole route", str(f))
            check(f.get("2001:db8:10::/48") == ["2001:db8::1"], "IPv6 route", str(f))
            check(f.get("192.0.2.0/24") == ["direct"], "zebra's connected route (direct)", str(f))
            st = status(routerctl, sock)
            check(st["state"] == "connected" and st["connections"] == 1, "one FPM connection from zebra", str(st))
            r = subprocess.run([routerctl, "-s", sock, "routes", "10.0.0.0/8"], capture_output=True, text=True)
            print("     " + r.stdout.strip().replace("\n", "\n     "))

            # 3. Deletions with vtysh.
            frr.vtysh("conf t", "no ip route 10.20.0.0/16 192.0.2.2", "no ip route 10.50.0.0/24 192.0.2.2",
                      "no ipv6 route 2001:db8:10::/48 2001:db8::1")
            ok = wait_until(lambda: (lambda f: f is not None and "10.50.0.0/24" not in f
                                     and "2001:db8:10::/48" not in f
                                     and f.get("10.20.0.0/16") == ["192.0.2.1"])(fib_table(routerctl, sock)), 30)
            f = fib_table(routerctl, sock)
            check(ok, "routes deleted with vtysh left the FIB (a route, an IPv6 route, an ECMP member)", str(f))
            check(wait_until(converged, 30), "the FIB equals zebra's table again", diff(fib_table(routerctl, sock),
                                                                                          frr.table()))

            # 4. zebra dies and comes back; nothing may vanish meanwhile.
            before = fib_table(routerctl, sock)
            st0 = status(routerctl, sock)
            vanished, polls = [], [0]
            stop = threading.Event()
            removed_while_down = "10.40.0.0/16"

            def poller():
                while not stop.is_set():
                    cur = fib_table(routerctl, sock)
                    if cur is not None:
                        polls[0] += 1
                        gone = [p for p in before if p not in cur and p != removed_while_down]
                        if gone:
                            vanished.append((time.monotonic(), gone))
                    time.sleep(0.02)
            t = threading.Thread(target=poller)
            t.start()
            zpid = frr.pid("zebra")
            frr.kill("zebra", signal.SIGKILL)
            check(not frr.alive("zebra"), f"zebra killed (SIGKILL, pid {zpid})")
            check(wait_until(lambda: (status(routerctl, sock) or {}).get("state") == "listening", 10),
                  "routerd saw the connection close and kept listening")
            r = frr.vtysh("conf t", f"no ip route {removed_while_down} 192.0.2.3", daemon="staticd")
            check(r.returncode == 0, f"{removed_while_down} removed from staticd while zebra is down",
                  r.stderr + r.stdout)
            frr.start_zebra()
            t_restart = time.monotonic()

            def replayed():
                s = status(routerctl, sock)
                return s and s["resyncs"] == st0["resyncs"] + 1 and not s["resyncing"] and converged()
            ok = wait_until(replayed, timeout=60, step=0.2)
            stop.set()
            t.join()
            took = time.monotonic() - t_restart
            st = status(routerctl, sock)
            f, z = fib_table(routerctl, sock), frr.table()
            check(ok, f"after the restart the FIB equals zebra's table exactly ({len(z or {})} routes, "
                      f"{took:.1f} s after zebra started)", diff(f, z))
            check(removed_while_down not in f, f"{removed_while_down}, not re-sent by the new zebra, was withdrawn")
            check(not vanished and polls[0] > 10,
                  f"no route vanished while zebra was away and replaying ({polls[0]} polls)",
                  f"vanished: {vanished[:3]}")
            lr = (st or {}).get("last_resync", {})
            check(lr.get("ended_by") == "quiet" and lr.get("withdrawn") == 1,
                  f"the replay ended by 'quiet' per protocol and withdrew 1 stale route ({lr})")
            frr.kill("staticd")
            frr.kill("zebra")
            rd.send_signal(signal.SIGTERM)
            check(rd.wait(timeout=30) == 0, "routerd stopped cleanly (exit status 0)", f"status {rd.returncode}")
            print(f"PASS: {len(passes)} checks" if not failures else f"FAIL: {len(failures)} of "
                  f"{len(passes) + len(failures)} checks failed")
    finally:
        if frr:  # normally stopped above; by pid in any case
            for d in ("staticd", "zebra"):
                if frr.alive(d):
                    frr.kill(d, signal.SIGKILL)
        if failures:
            for name in ("routerd.log", "frr/zebra.log", "frr/staticd.log"):
                p = os.path.join(tmp, name)
                if os.path.exists(p):
                    with open(p) as fh:
                        print(f"--- {name} (last lines) ---\n" + "".join(fh.readlines()[-40:]))
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

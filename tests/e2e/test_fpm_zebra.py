#!/usr/bin/env python3
"""Routes from a real FRR zebra (Debian's FRR 8.4, dplane_fpm_nl) into
routerd's FIB, through a zebra restart.

    network namespace wfz<pid> (created here, deleted at the end)
    ┌───────────────────────────────────────────────────────────────────┐
    │ staticd ──zserv──► zebra -M dplane_fpm_nl ──FPM/TCP 127.0.0.1:P──►│ routerd: Fib (listen 127.0.0.1:P)
    │ (static routes)       │                                           │          `routerctl routes`
    │                       vA: 192.0.2.254/24, 2001:db8::fe/64 ══ vB   │
    └───────────────────────────────────────────────────────────────────┘
    traffic, on routerd's worker (pcaps looped by net_pcap, out to net_null):
      pa: UDP to 10.10.0.1 ─► rxa ─► la (IpLookup, fib) ─[lan]─► ca (Counter) ─► txa
      pb: UDP to 10.40.0.1 ─► rxb ─► lb (IpLookup, fib) ─[lan]─► cb (Counter) ─► txb

 1. a namespace with a veth pair (the connected subnet the gateways sit on);
    routerd with a Fib service listening on 127.0.0.1:P inside it, P a free
    port; zebra and staticd started exactly as ARCHITECTURE.md's recipe,
    zebra.conf saying `fpm address 127.0.0.1 port P`;
 2. static routes in staticd.conf: IPv4, IPv6, ECMP, blackhole, one more;
    `routerctl routes` must converge (polled, no fixed sleeps) to exactly
    zebra's own view (`vtysh -c 'show ip route json'` and `show ipv6 route
    json`: selected, installed routes), next hops included;
 3. routes deleted with vtysh disappear from the FIB (an ECMP member, a
    whole route, an IPv6 route);
 4. zebra is killed (SIGKILL, by pid): `routerctl status` reports the Fib
    service degraded; a peer that dies inside a frame (40 bytes of a 256-byte
    FPM frame, then the end) is counted and reported, and changes no route;
    while zebra is down, one route is removed from staticd; zebra is started
    again. Traffic is measured through ca and cb while zebra is away: both
    routes keep forwarding. Meanwhile a poller reads
    `routerctl routes` continuously: no route present before may vanish
    while zebra replays; afterwards the FIB equals zebra's table exactly
    again (the route removed while zebra was down is withdrawn as stale:
    cb stops, lb drops its packets as no_route; ca forwards on) and the
    service reports a second, finished replay; its health is ok again, the
    past errors still counted.

Every process is stopped by pid, the namespace deleted by name.
Usage: test_fpm_zebra.py --bin build/bin
"""
import ipaddress
import json
import os
import random
import re
import signal
import threading
import time

import harness
from harness import drops_of, element, wait_until, write_pcap
from scapy.all import IP, UDP, Ether, Raw
from weftlab.frr import Frr, STATICD, ZEBRA  # harness put tools/lab on the path

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


LINK_LOCAL = (ipaddress.ip_network("fe80::/10"), ipaddress.ip_network("169.254.0.0/16"))


class ZebraLab(Frr):
    """The lab's FRR (zebra + staticd, shared with the lab runner) and zebra's table."""

    def table(self):
        """zebra's view: {prefix: sorted next hops}, selected+installed routes only,
        in the words the FIB uses (gateway address, 'direct', 'blackhole'). Routes
        inside fe80::/10 and 169.254.0.0/16 are left out: the Fib ignores them
        (link-local destinations are never routed; docs/routing.md)."""
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
                    net = ipaddress.ip_network(prefix)
                    if any(net.subnet_of(ll) for ll in LINK_LOCAL if ll.version == net.version):
                        continue
                    out[str(net)] = sorted(set(nhs))
        return out


def fib_table(r):
    """routerd's view in the same words, from `routerctl routes` (table 254)."""
    res = r.ctl("--json", "routes")
    if res.returncode != 0:
        return None
    out = {}
    for fib in res.json():
        for rt in fib["result"]["routes"]:
            if rt["table"] != 254 or not rt.get("installed"):
                continue
            if rt["type"] != "unicast":
                nhs = ["blackhole"]
            else:
                nhs = []
                for nh in rt["nexthops"]:
                    m = re.match(r"via (\S+)", nh)
                    nhs.append(m.group(1) if m else "direct")
            out[str(ipaddress.ip_network(rt["prefix"]))] = sorted(set(nhs))
    return out


def fib_health(r):
    """The Fib service's entry of `routerctl status`'s health section."""
    res = r.ctl("--json", "status")
    if res.returncode != 0:
        return {}
    return next((s for s in res.json()["health"]["services"] if s["name"] == "fib"), {})


# Connects to 127.0.0.1:argv[1], sends the first 40 bytes of a 256-byte FPM
# frame (version 1, type 1: netlink) and closes: a zebra killed mid-frame.
PARTIAL_FRAME = """
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(bytes([1, 1, 1, 0]) + bytes(36))
s.close()
"""


def status(r):
    res = r.ctl("--json", "service", "fib", "status")
    return res.json()[0]["result"] if res.returncode == 0 else None


def diff(a, b):
    keys = sorted(set(a or {}) | set(b or {}))
    return "; ".join(f"{k}: fib {a.get(k) if a else None} zebra {b.get(k) if b else None}"
                     for k in keys if (a or {}).get(k) != (b or {}).get(k))


def main(t):
    def count(eid):
        h = r.read_handler(eid, "count")
        return int(h.stdout.strip()) if h.ok else -1

    def flows(eid, timeout=5):
        c0 = count(eid)
        return wait_until(lambda: count(eid) > c0 >= 0, timeout=timeout)

    t.needs(ZEBRA, STATICD, t.exe("routerd"), t.exe("routerctl"))
    rundir = t.path("frr")
    os.makedirs(rundir)
    for name in ("zebra.log", "staticd.log"):
        t.log_on_failure(os.path.join(rundir, name), "frr/" + name)
    with t.lab("fz") as lab:
        ns = lab.namespace("z")
        va, vb = lab.veth(ns, ns)
        lab.sh(ns, f"ip addr add 192.0.2.254/24 dev {va}")
        lab.sh(ns, f"ip addr add 2001:db8::fe/64 dev {va} nodad")
        port = random.randint(20000, 60000)  # a fresh namespace: any port is free
        pcaps = {}
        for flow, dst in (("a", "10.10.0.1"), ("b", "10.40.0.1")):
            pcaps[flow] = t.path(f"in-{flow}.pcap")
            write_pcap(pcaps[flow], [bytes(Ether(dst="02:00:00:00:0f:01", src="02:00:00:00:0a:01")
                                           / IP(src="198.18.0.1", dst=dst) / UDP(sport=1000 + i, dport=7)
                                           / Raw(b"x" * 18)) for i in range(4)])
        graph = f"""name: fpm-zebra
eal: {{memory_mb: 512}}
workers: {{lcores: [1], idle_sleep_us: 200}}
ports:
  pa: {{device: net_pcap0, args: "rx_pcap={pcaps['a']},infinite_rx=1"}}
  pb: {{device: net_pcap1, args: "rx_pcap={pcaps['b']},infinite_rx=1"}}
  oa: net_null0
  ob: net_null1
elements:
  rxa: {{class: PortRx, port: pa}}
  la: {{class: IpLookup, fib: fib, outputs: [lan]}}
  ca: Counter
  txa: {{class: PortTx, port: oa}}
  rxb: {{class: PortRx, port: pb}}
  lb: {{class: IpLookup, fib: fib, outputs: [lan]}}
  cb: Counter
  txb: {{class: PortTx, port: ob}}
connections:
  - rxa -> la -> ca -> txa
  - rxb -> lb -> cb -> txb
services:
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
                {{ip: 192.0.2.3, mac: "02:00:00:00:00:03"}}, {{ip: "2001:db8::1", mac: "02:00:00:00:06:01"}}]
"""
        r = t.routerd(graph, lab=lab, ns=ns)
        t.require(wait_until(lambda: (status(r) or {}).get("state") == "listening", 30),
                  f"routerd's Fib listens on 127.0.0.1:{port} in namespace {ns}")

        # 1-2. FRR and the first replay.
        frr = ZebraLab(lab, ns, rundir, port, STATIC_ROUTES)
        frr.start_zebra()
        frr.start_staticd()
        t.check(frr.alive("zebra") and frr.alive("staticd"), f"zebra (pid {frr.pid('zebra')}) and staticd "
                f"(pid {frr.pid('staticd')}) running")

        def converged():
            z, f = frr.table(), fib_table(r)
            return z is not None and f is not None and z == f and len(z) > 0
        ok = wait_until(converged, timeout=60, step=0.2)
        z, f = frr.table(), fib_table(r)
        t.check(ok, f"the FIB equals zebra's table ({len(z or {})} routes)", diff(f, z))
        t.check(f.get("10.20.0.0/16") == ["192.0.2.1", "192.0.2.2"], "ECMP route with both next hops", str(f))
        t.check(f.get("10.30.0.0/16") == ["blackhole"], "blackhole route", str(f))
        t.check(f.get("2001:db8:10::/48") == ["2001:db8::1"], "IPv6 route", str(f))
        t.check(f.get("192.0.2.0/24") == ["direct"], "zebra's connected route (direct)", str(f))
        # zebra's connected fe80::/64 (one per interface) reaches the Fib and is ignored, counted.
        raw6 = json.loads(frr.vtysh("show ipv6 route json").stdout or "{}")
        ignored = ((status(r) or {}).get("fib") or {}).get("ignored", {}).get("link_local", 0)
        t.check("fe80::/64" in raw6 and "fe80::/64" not in f and ignored > 0,
                "zebra's connected fe80::/64 is not in the FIB (ignored as link_local, counted)",
                f"in zebra: {'fe80::/64' in raw6}, in the FIB: {'fe80::/64' in f}, ignored: {ignored}")
        st = status(r)
        t.check(st["state"] == "connected" and st["connections"] == 1, "one FPM connection from zebra", str(st))
        t.info(r.ctl("routes", "10.0.0.0/8").stdout)
        t.check(flows("ca") and flows("cb"), "traffic to 10.10.0.1 and 10.40.0.1 crosses ca and cb (routes from zebra)")

        # 3. Deletions with vtysh.
        frr.vtysh("conf t", "no ip route 10.20.0.0/16 192.0.2.2", "no ip route 10.50.0.0/24 192.0.2.2",
                  "no ipv6 route 2001:db8:10::/48 2001:db8::1")
        ok = wait_until(lambda: (lambda f: f is not None and "10.50.0.0/24" not in f
                                 and "2001:db8:10::/48" not in f
                                 and f.get("10.20.0.0/16") == ["192.0.2.1"])(fib_table(r)), 30)
        f = fib_table(r)
        t.check(ok, "routes deleted with vtysh left the FIB (a route, an IPv6 route, an ECMP member)", str(f))
        t.check(wait_until(converged, 30), "the FIB equals zebra's table again", diff(fib_table(r), frr.table()))

        # 4. zebra dies and comes back; nothing may vanish meanwhile.
        before = fib_table(r)
        st0 = status(r)
        vanished, polls = [], [0]
        stop = threading.Event()
        removed_while_down = "10.40.0.0/16"

        def poller():
            while not stop.is_set():
                cur = fib_table(r)
                if cur is not None:
                    polls[0] += 1
                    gone = [p for p in before if p not in cur and p != removed_while_down]
                    if gone:
                        vanished.append((time.monotonic(), gone))
                time.sleep(0.02)
        th = threading.Thread(target=poller)
        th.start()
        t.at_cleanup(lambda: (stop.set(), th.join()))
        zpid = frr.pid("zebra")
        frr.kill("zebra", signal.SIGKILL)
        t.check(not frr.alive("zebra"), f"zebra killed (SIGKILL, pid {zpid})")
        t.check(wait_until(lambda: (status(r) or {}).get("state") == "listening", 10),
                "routerd saw the connection close and kept listening")
        fib_h = fib_health(r)
        t.check(fib_h.get("state") == "degraded" and "zebra is away" in fib_h.get("detail", ""),
                "health: the Fib service is degraded while zebra is away", str(fib_h))

        # A peer that dies inside a frame: an FPM header announcing 256 bytes, 40 sent, then the end.
        lab.run(ns, ["python3", "-c", PARTIAL_FRAME, str(port)], timeout=10)
        t.check(wait_until(lambda: ((status(r) or {}).get("fpm", {}).get("errors", {}).get("truncated") == 1
                                    and status(r)["state"] == "listening"), 10),
                "a frame cut by the end of its connection is counted (fpm.errors.truncated)", str(status(r)))
        fib_h = fib_health(r)
        t.check(fib_h.get("state") == "degraded" and "incomplete FPM frame" in fib_h.get("last_error", ""),
                "health: still degraded, the last error names the incomplete frame", str(fib_h))
        t.check(r.wait_output("ended inside a frame"), "the log reports the cut frame")
        t.check(fib_table(r) == before, "the FIB keeps every route")
        t.check(wait_until(lambda: re.search(r"FPM: connection from \S+ closed", r.output()), 10),
                "the log reports zebra's connection closed")
        outage = {c: count(c) for c in ("ca", "cb")}
        no_route0 = {e: drops_of(element(r.stats(), e)).get("no_route", 0) for e in ("la", "lb")}
        t.check(all(flows("ca") and flows("cb") for _ in range(3)),
                "traffic through both routes keeps flowing while zebra is away "
                f"(ca +{count('ca') - outage['ca']}, cb +{count('cb') - outage['cb']} packets)")
        t.check(all(drops_of(element(r.stats(), e)).get("no_route", 0) == no_route0[e] for e in ("la", "lb")),
                "meanwhile la and lb drop nothing as no_route")
        st0 = status(r)
        res = frr.vtysh("conf t", f"no ip route {removed_while_down} 192.0.2.3", daemon="staticd")
        t.check(res.returncode == 0, f"{removed_while_down} removed from staticd while zebra is down",
                res.stderr + res.stdout)
        frr.start_zebra()
        t_restart = time.monotonic()

        def replayed():
            s = status(r)
            return s and s["resyncs"] == st0["resyncs"] + 1 and not s["resyncing"] and converged()
        ok = wait_until(replayed, timeout=60, step=0.2)
        stop.set()
        th.join()
        took = time.monotonic() - t_restart
        st = status(r)
        f, z = fib_table(r), frr.table()
        t.check(ok, f"after the restart the FIB equals zebra's table exactly ({len(z or {})} routes, "
                    f"{took:.1f} s after zebra started)", diff(f, z))
        t.check(removed_while_down not in f, f"{removed_while_down}, not re-sent by the new zebra, was withdrawn")
        nr0 = drops_of(element(r.stats(), "lb")).get("no_route", 0)
        cb0 = count("cb")
        t.check(flows("ca") and wait_until(lambda: drops_of(element(r.stats(), "lb")).get("no_route", 0) > nr0, 5)
                and count("cb") == cb0,
                "after the replay traffic to 10.10.0.1 flows on; traffic to 10.40.0.1 is dropped as no_route")
        t.check(not vanished and polls[0] > 10,
                f"no route vanished while zebra was away and replaying ({polls[0]} polls)",
                f"vanished: {vanished[:3]}")
        lr = (st or {}).get("last_resync", {})
        t.check(lr.get("ended_by") == "quiet" and lr.get("withdrawn") == 1,
                f"the replay ended by 'quiet' per protocol and withdrew 1 stale route ({lr})")
        fib_h = fib_health(r)
        t.check(fib_h.get("state") == "ok" and fib_h.get("errors", 0) >= 3
                and "incomplete FPM frame" in fib_h.get("last_error", ""),
                "health: the Fib service is ok again, its past errors still counted", str(fib_h))
        frr.kill("staticd")
        frr.kill("zebra")
        t.check(r.stop(timeout=30) == 0, "routerd stopped cleanly (exit status 0)", f"status {r.returncode}")


if __name__ == "__main__":
    harness.run(main)

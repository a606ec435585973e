#!/usr/bin/env python3
"""The host path's kernel side: the HostPath service gives a net_tap port's
kernel interface the MAC, MTU and addresses of the router interface, keeps
it so across a reload, survives the interface's deletion and recovers when
the port is re-plugged. The kernel, read with `ip -j`, is the judge.

    network namespace (made here, deleted at the end)
    ┌───────────────────────────────────────────────────────────────────┐
    │ routerd: Interfaces{wan on p0, host: hpN} ── HostPath ──netlink─┐ │
    │   p0 (net_null) ─► rx ─► c (Counter) ─► d     forwarding goes on │ │
    │   tp (net_tap, iface=hpN) ═══ kernel interface hpN ◄────────────┘ │
    └───────────────────────────────────────────────────────────────────┘

 1. routerd starts; hpN gets 02:00:00:00:0a:01, mtu 1500, 192.0.2.1/24 and
    2001:db8::1/64, is up, and keeps the kernel's own fe80:: link-local
    (EUI-64 of that MAC); `routerctl service host links` names its ifindex;
 2. a reload changes the address (192.0.2.7/24) and the MTU (1400): the
    kernel shows exactly that, the IPv6 address untouched;
 3. `ip link del hpN`: routerd logs it, `routerctl status` shows HostPath
    degraded with the reason, c keeps counting;
 4. `ip tuntap add hpN mode tap`: the settings are applied to it, but it is
    not the port's (no queue attached: no carrier) and HostPath says so;
 5. the port is re-plugged (a reload naming a new net_tap device with the
    same iface): the new hpN gets the settings, HostPath is ok again.

Usage: test_host_path.py --bin build/bin
"""
import json
import os

import harness
from harness import wait_until

GRAPH = """
name: host-path
workers: {{lcores: [1], idle_sleep_us: 100}}
ports:
  p0: {{device: net_null_{tag}, args: "size=64"}}
  tp: {{device: {tapdev}, args: "iface={tap}"}}
services:
  ifaces:
    class: Interfaces
    interfaces:
      - {{name: wan, port: p0, mac: "02:00:00:00:0a:01", addresses: [{addr4}, "2001:db8::1/64"], mtu: {mtu}, host: {tap}}}
  host:
    class: HostPath
    interfaces: ifaces
elements:
  rx: {{class: PortRx, port: p0}}
  c: Counter
  lim: {{class: RateLimiter, unit: pps, rate: 1k, burst: 100, action: mark, dscp_yellow: keep, red: drop}}
  ttx: {{class: PortTx, port: tp, deferred: true}}
  trx: {{class: PortRx, port: tp}}
  td: Discard
connections:
  - rx -> c -> lim -> ttx
  - trx -> td
"""


def main(t):
    t.needs(t.exe("routerd"), t.exe("routerctl"), "/usr/sbin/ip")
    tag = os.getpid() % 100000
    with t.lab("hp") as lab:
        ns = lab.namespace("h")
        tap = lab.name("hp")

        def graph(tapdev, addr4="192.0.2.1/24", mtu=1500):
            return GRAPH.format(tag=tag, tapdev=tapdev, tap=tap, addr4=addr4, mtu=mtu)

        def kernel():
            out = lab.sh(ns, f"ip -j addr show dev {tap}", check=False)
            try:
                j = json.loads(out)
            except ValueError:
                return None
            return j[0] if j else None

        def addrs(k):
            return {f"{a['local']}/{a['prefixlen']}" for a in (k or {}).get("addr_info", [])}

        def links():
            res = r.ctl("--json", "service", "host", "links")
            return res.json()[0]["result"]["links"] if res.returncode == 0 else []

        def host_health():
            res = r.ctl("--json", "status")
            if res.returncode != 0:
                return {}
            return next((x for x in res.json()["health"]["services"] if x["name"] == "host"), {})

        def counted():
            return harness.element(r.stats(), "c")["total"]["out"]

        r = t.routerd(graph(f"net_tap_{tag}a"), lab=lab, ns=ns, check="routerd runs with Interfaces and HostPath")

        # 1. The kernel interface carries the router interface's settings.
        want = {"192.0.2.1/24", "2001:db8::1/64", "fe80::ff:fe00:a01/64"}
        t.check(wait_until(lambda: want <= addrs(kernel()), 10),
                f"{tap} has 192.0.2.1/24, 2001:db8::1/64 and the kernel's fe80::ff:fe00:a01", str(kernel()))
        k = kernel()
        t.check(k["address"] == "02:00:00:00:0a:01", f"{tap} has the interface's MAC", k["address"])
        t.check(k["mtu"] == 1500 and "UP" in k["flags"] and "LOWER_UP" in k["flags"], f"{tap} is up, mtu 1500",
                str(k["flags"]))
        ls = links()
        t.check(len(ls) == 1 and ls[0]["interface"] == "wan" and ls[0]["ifindex"] == k["ifindex"]
                and ls[0]["state"] == "ok", "routerctl service host links: wan, its ifindex, ok", str(ls))
        t.check(host_health().get("state") == "ok", "routerctl status: HostPath ok", str(host_health()))

        # 2. A reload changes an address and the MTU.
        f = t.write("reload.yaml", graph(f"net_tap_{tag}a", addr4="192.0.2.7/24", mtu=1400))
        res = r.reload(f)
        t.check(res.ok, "reload with a new address and MTU", res.stdout + res.stderr)
        k = kernel()
        got = addrs(k)
        t.check("192.0.2.7/24" in got and "192.0.2.1/24" not in got and "2001:db8::1/64" in got,
                "the kernel has the new address, not the old one; the IPv6 one untouched", str(sorted(got)))
        t.check(k["mtu"] == 1400, "the kernel has mtu 1400", str(k["mtu"]))

        # 3. The kernel interface is deleted underneath routerd.
        lab.sh(ns, f"ip link del {tap}")
        h = r.wait_for(lambda: host_health().get("state") == "degraded" and host_health(), "HostPath degraded")
        t.check("was deleted" in h.get("detail", "") and tap in h.get("detail", ""),
                "routerctl status: HostPath degraded, naming the deleted interface", str(h))
        t.check(r.wait_output(f"HostPath: {tap} (wan): the kernel interface {tap} was deleted", timeout=10),
                "routerd logs the deletion")
        c0 = counted()
        t.check(wait_until(lambda: counted() > c0, 10) and r.alive(), "routerd keeps forwarding")

        # 4. An interface of that name made by hand: the settings, but no carrier.
        lab.sh(ns, f"ip tuntap add {tap} mode tap")
        t.check(wait_until(lambda: "192.0.2.7/24" in addrs(kernel()), 10)
                and kernel()["address"] == "02:00:00:00:0a:01" and kernel()["mtu"] == 1400,
                "a tap made by hand gets the settings", str(kernel()))
        h = r.wait_for(lambda: "no carrier" in host_health().get("detail", "") and host_health(),
                       "HostPath reports no carrier")
        t.check(h.get("state") == "degraded", "it is not the port's: HostPath degraded, no carrier", str(h))
        lab.sh(ns, f"ip link del {tap}")

        # 5. The port re-plugged: a new net_tap device with the same iface.
        f = t.write("replug.yaml", graph(f"net_tap_{tag}b", addr4="192.0.2.7/24", mtu=1400))
        res = r.reload(f)
        t.check(res.ok, "reload re-plugging the tap port under a new device name", res.stdout + res.stderr)
        t.check(r.wait_for(lambda: host_health().get("state") == "ok", "HostPath ok again"), "HostPath ok again")
        k = kernel()
        t.check(k and k["address"] == "02:00:00:00:0a:01" and k["mtu"] == 1400 and "LOWER_UP" in k["flags"]
                and {"192.0.2.7/24", "2001:db8::1/64"} <= addrs(k),
                "the re-plugged interface has the MAC, MTU, addresses and a carrier", str(k))
        ls = links()
        t.check(ls and ls[0]["ifindex"] == k["ifindex"], "links: the new ifindex", str(ls))
        # The tap's PortTx is deferred: its thread wrote through the deletion
        # and the re-plug (the old device's ring went with the old graph,
        # before the old port closed) and writes to the new device.
        def tap_sent():
            h = r.read_handler("ttx", "deferred")
            f = h.stdout.split()
            return int(f[f.index("sent") + 1]) if h.ok and "sent" in f else -1
        s0 = tap_sent()
        t.check(s0 >= 0 and wait_until(lambda: tap_sent() > s0, 10) and r.alive(),
                "the deferred PortTx writes to the re-plugged tap", r.read_handler("ttx", "deferred").stdout)
        t.check(r.stop() == 0, "routerd stops cleanly")


if __name__ == "__main__":
    harness.run(main)

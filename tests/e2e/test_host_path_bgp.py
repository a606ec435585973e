#!/usr/bin/env python3
"""The host path: FRR's bgpd on routerd's host, peering through Weft's data
port with a plain FRR on Linux, and the routes it learns forwarded by Weft.

    ns H (host)              ns R (router)                                   ns P (peer: plain FRR on Linux)   ns Q
    10.202.2.2/24 ══veth══ p1 ┐  routerd: ArpNd, IpLocal, IpLookup ┌ p0 ══veth══ 10.202.1.2/24             10.99.0.2/24
                              │  (Interfaces, HostPath, Fib)        │            bgpd AS 65002 ── 10.99.0.1/24 ══veth══
                              └─ t1 (net_tap)    t0 (net_tap) ──────┘            network 10.99.0.0/24
                                 kernel: wt1 10.202.2.1/24, wt0 10.202.1.1/24
                                 zebra -M dplane_fpm_nl ──FPM──► routerd's Fib
                                 bgpd AS 65001, neighbour 10.202.1.2, redistribute connected

No static MAC and no static neighbour anywhere. Checks:
 1. HostPath gave the taps the interfaces' MACs and addresses;
 2. P pings the router's address 10.202.1.1: the kernel answers through the host path;
 3. the BGP session between R's bgpd (through Weft) and P's is Established;
 4. P's route 10.99.0.0/24 reaches Weft's FIB over FPM, its zebra interface
    (wt0) mapped to the output `up` without an `interfaces:` table;
 5. H pings Q: Weft forwards with the BGP route and resolves P dynamically;
 6. traceroute-like: H's packet with TTL 1 gets time exceeded from 10.202.2.1
    (IcmpError, routed back by a second IpLookup);
 7. withdrawing the prefix on P removes it from Weft's FIB and H's ping gets
    "Destination Net Unreachable" from 10.202.2.1.

Usage: test_host_path_bgp.py --bin build/bin
"""
import json
import os
import random

import harness
from harness import wait_until
from weftlab.frr import BGPD, Frr, ZEBRA

GRAPH = """
name: hostpath-bgp
eal: {{memory_mb: 512}}
workers: {{lcores: [1], idle_sleep_us: 100}}
ports:
  p0: {{device: net_af_packet_{tag}0, args: "iface={r0}"}}
  p1: {{device: net_af_packet_{tag}1, args: "iface={r1}"}}
  t0: {{device: net_tap_{tag}0, args: "iface={wt0}"}}
  t1: {{device: net_tap_{tag}1, args: "iface={wt1}"}}
services:
  ifaces:
    class: Interfaces
    interfaces:
      - {{name: up, port: p0, addresses: [10.202.1.1/24, "2001:db8:202:1::1/64"], host: {wt0}}}
      - {{name: down, port: p1, addresses: [10.202.2.1/24, "2001:db8:202:2::1/64"], host: {wt1}}}
  host: {{class: HostPath, interfaces: ifaces}}
  fib: {{class: Fib, listen: "127.0.0.1:{port}", interfaces_from: ifaces, grace: 30, quiet: 3,
         max_routes: 1024, tbl8: 64, max_routes6: 1024, tbl8_6: 64}}
elements:
  rx0: {{class: PortRx, port: p0}}
  rx1: {{class: PortRx, port: p1}}
  rxt0: {{class: PortRx, port: t0}}
  rxt1: {{class: PortRx, port: t1}}
  nd0: {{class: ArpNd, interfaces: ifaces, interface: up, host: true}}
  nd1: {{class: ArpNd, interfaces: ifaces, interface: down, host: true}}
  loc0: {{class: IpLocal, interfaces: ifaces}}
  loc1: {{class: IpLocal, interfaces: ifaces}}
  h0: Merge
  h1: Merge
  in: Merge
  lookup: {{class: IpLookup, fib: fib, interfaces: ifaces, outputs: [up, down], icmp: true}}
  err: {{class: IcmpError, interfaces: ifaces}}
  lookup_err: {{class: IpLookup, fib: fib, interfaces: ifaces, outputs: [up, down]}}
  m0: Merge
  m1: Merge
  tx0: {{class: PortTx, port: p0}}
  tx1: {{class: PortTx, port: p1}}
  txt0: {{class: PortTx, port: t0, deferred: true}}
  txt1: {{class: PortTx, port: t1, deferred: true}}
connections:
  - rx0 -> nd0
  - nd0[other] -> loc0
  - nd0[host] -> h0
  - nd0[out] -> m0
  - loc0[forward] -> in
  - loc0[local] -> h0
  - loc0[control] -> h0
  - h0 -> txt0
  - rxt0 -> m0
  - rx1 -> nd1
  - nd1[other] -> loc1
  - nd1[host] -> h1
  - nd1[out] -> m1
  - loc1[forward] -> in
  - loc1[local] -> h1
  - loc1[control] -> h1
  - h1 -> txt1
  - rxt1 -> m1
  - in -> lookup
  - lookup[up] -> m0
  - lookup[down] -> m1
  - lookup[icmp] -> err -> lookup_err
  - lookup_err[up] -> m0
  - lookup_err[down] -> m1
  - m0 -> tx0
  - m1 -> tx1
"""

BGP_R = """hostname weft-r-bgpd
router bgp 65001
 bgp router-id 10.202.1.1
 no bgp ebgp-requires-policy
 timers bgp 3 9
 neighbor 10.202.1.2 remote-as 65002
 neighbor 10.202.1.2 timers connect 1
 neighbor 2001:db8:202:1::2 remote-as 65002
 neighbor 2001:db8:202:1::2 timers connect 1
 address-family ipv4 unicast
  redistribute connected
  no neighbor 2001:db8:202:1::2 activate
 exit-address-family
 address-family ipv6 unicast
  redistribute connected
  neighbor 2001:db8:202:1::2 activate
 exit-address-family
"""

BGP_P = """hostname weft-p-bgpd
router bgp 65002
 bgp router-id 10.202.1.2
 no bgp ebgp-requires-policy
 timers bgp 3 9
 neighbor 10.202.1.1 remote-as 65001
 neighbor 10.202.1.1 timers connect 1
 neighbor 2001:db8:202:1::1 remote-as 65001
 neighbor 2001:db8:202:1::1 timers connect 1
 address-family ipv4 unicast
  network 10.99.0.0/24
  no neighbor 2001:db8:202:1::1 activate
 exit-address-family
 address-family ipv6 unicast
  network 2001:db8:99::/64
  neighbor 2001:db8:202:1::1 activate
 exit-address-family
"""


# From P: an ARP request for 10.202.1.1 and a neighbour solicitation for
# 2001:db8:202:1::1; prints how many answers each got, and their MAC.
ASK_ONCE = r"""
import sys
from scapy.all import ARP, Ether, ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptSrcLLAddr, IPv6, get_if_hwaddr, srp
iface = sys.argv[1]
me = get_if_hwaddr(iface)
arp, _ = srp(Ether(dst="ff:ff:ff:ff:ff:ff", src=me) / ARP(op=1, hwsrc=me, psrc="10.202.1.2", pdst="10.202.1.1"),
             iface=iface, timeout=2, multi=True, verbose=False)
arp = [r for _, r in arp if ARP in r and r[ARP].op == 2 and r[ARP].psrc == "10.202.1.1"]
ns = (Ether(dst="33:33:ff:00:00:01", src=me) / IPv6(src="2001:db8:202:1::2", dst="ff02::1:ff00:1", hlim=255)
      / ICMPv6ND_NS(tgt="2001:db8:202:1::1") / ICMPv6NDOptSrcLLAddr(lladdr=me))
na, _ = srp(ns, iface=iface, timeout=2, multi=True, verbose=False)
na = [r for _, r in na if ICMPv6ND_NA in r and r[ICMPv6ND_NA].tgt == "2001:db8:202:1::1"]
print("arp", len(arp), ",".join(sorted({r[ARP].hwsrc for r in arp})),
      "na", len(na), ",".join(sorted({r[Ether].src for r in na})))
"""


def topology(lab):
    """H, R, P and Q of the picture above, addressed; R's data-port ends
    quiet. Returns the namespaces (r, p, h, q) and the veth ends (r0, r1: R's
    to P and H, for its af_packet ports; p_if: P's towards R)."""
    nr, np_, nh, nq = lab.namespace("r"), lab.namespace("p"), lab.namespace("h"), lab.namespace("q")
    r0, p_if = lab.veth(nr, np_)
    r1, h_if = lab.veth(nr, nh)
    pq, q_if = lab.veth(np_, nq)
    for dev in (r0, r1):  # routerd's data ports (af_packet)
        lab.sh(nr, lab.routerd_port_sysctls(dev))
    lab.sh(np_, f"ip addr add 10.202.1.2/24 dev {p_if} && ip addr add 10.99.0.1/24 dev {pq} && "
                f"ip -6 addr add 2001:db8:202:1::2/64 dev {p_if} nodad && "
                f"ip -6 addr add 2001:db8:99::1/64 dev {pq} nodad && "
                f"sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1")
    lab.sh(nq, f"ip addr add 10.99.0.2/24 dev {q_if} && ip route add default via 10.99.0.1 && "
               f"ip -6 addr add 2001:db8:99::2/64 dev {q_if} nodad && ip -6 route add default via 2001:db8:99::1")
    lab.sh(nh, f"ip addr add 10.202.2.2/24 dev {h_if} && ip route add default via 10.202.2.1 && "
               f"ip -6 addr add 2001:db8:202:2::2/64 dev {h_if} nodad && "
               f"ip -6 route add default via 2001:db8:202:2::1")
    return nr, np_, nh, nq, r0, r1, p_if


def main(t):
    t.needs(ZEBRA, BGPD, "ping", "vtysh")
    tag = os.getpid() % 100000
    with t.lab("hb") as lab:
        nr, np_, nh, nq, r0, r1, p_if = topology(lab)
        wt0, wt1 = f"wt{tag}a", f"wt{tag}b"
        port = random.randint(20000, 60000)
        r = t.routerd(GRAPH.format(tag=tag, r0=r0, r1=r1, wt0=wt0, wt1=wt1, port=port), lab=lab, ns=nr,
                      check="routerd runs in R with two data ports and their host paths")

        t.step("1. the host path's kernel side")
        def kernel(dev):
            return json.loads(lab.sh(nr, f"ip -j addr show dev {dev}"))[0]
        ifs = {i["name"]: i for i in r.json("interfaces")[0]["result"]}
        ok = wait_until(lambda: any(a.get("local") == "10.202.1.1" for a in kernel(wt0)["addr_info"]), 10)
        t.check(ok and kernel(wt0)["address"] == ifs["up"]["mac"],
                f"{wt0} has 10.202.1.1/24 and the interface's MAC {ifs['up']['mac']}", str(kernel(wt0)))

        t.step("2. ping the router through the host path")
        p = lab.run(np_, ["ping", "-c", "3", "-i", "0.2", "-W", "2", "10.202.1.1"])
        t.check(p.returncode == 0 and " 0% packet loss" in p.stdout, "P pings 10.202.1.1 (R's kernel answers)", p.stdout)

        t.step("3. BGP through Weft")
        rdir, pdir = t.path("frr-r"), t.path("frr-p")
        os.makedirs(rdir)
        os.makedirs(pdir)
        for d in (rdir, pdir):
            for n in ("zebra.log", "bgpd.log"):
                t.log_on_failure(os.path.join(d, n), os.path.basename(d) + "/" + n)
        fr = Frr(lab, nr, rdir, port, bgpd=BGP_R)       # on the host path: zebra feeds the Fib
        fr.start_zebra()
        fr.start_bgpd()
        fp = Frr(lab, np_, pdir, None, bgpd=BGP_P)      # plain FRR: zebra feeds P's kernel
        fp.start_zebra()
        fp.start_bgpd()

        def state(peer):
            out = fr.vtysh(f"show bgp neighbors {peer} json").stdout
            try:
                return json.loads(out).get(peer, {}).get("bgpState")
            except ValueError:
                return None
        t.check(wait_until(lambda: state("10.202.1.2") == "Established", 60),
                "R's bgpd and P's bgpd over IPv4: Established", str(state("10.202.1.2")))
        t.check(wait_until(lambda: state("2001:db8:202:1::2") == "Established", 60),
                "R's bgpd and P's bgpd over IPv6: Established", str(state("2001:db8:202:1::2")))

        t.step("4. the learned route in Weft's FIB")
        def fib_route(prefix="10.99.0.0/24"):
            for f in r.json("routes"):
                for rt in f["result"]["routes"]:
                    if rt["prefix"] == prefix:
                        return rt
            return None
        t.check(wait_until(lambda: (fib_route() or {}).get("installed"), 30),
                "10.99.0.0/24 from P reached the FIB over FPM, installed", json.dumps(fib_route()))
        t.check(wait_until(lambda: (fib_route("2001:db8:99::/64") or {}).get("installed"), 30),
                "2001:db8:99::/64 from P reached the FIB over FPM, installed", json.dumps(fib_route("2001:db8:99::/64")))
        look = r.json("service", "fib", "lookup", "address=10.99.0.2")
        t.check("up" in json.dumps(look), "its next hop leaves by output up (zebra's wt0 mapped)", json.dumps(look))

        t.step("5. forwarding with the BGP route")
        # The way back: P's kernel has H's subnets from R's bgpd (R's
        # redistributed connected routes, which may follow Established).
        for pfx, fam in (("10.202.2.0/24", "-4"), ("2001:db8:202:2::/64", "-6")):
            t.check(wait_until(lambda: pfx in lab.sh(np_, f"ip {fam} route show {pfx}"), 30),
                    f"P's kernel learned H's {pfx} from R's bgpd (the way back)", lab.sh(np_, f"ip {fam} route"))
        p = lab.run(nh, ["ping", "-c", "3", "-i", "0.2", "-W", "2", "10.99.0.2"])
        t.check(p.returncode == 0 and " 0% packet loss" in p.stdout, "H pings Q through Weft and P", p.stdout)
        n = {x["address"]: x for svc in r.json("neighbors") for x in svc["result"]}
        t.check(n.get("10.202.1.2", {}).get("state") in ("reachable", "stale", "delay", "probe"),
                "Weft resolved P (10.202.1.2) itself", json.dumps(n.get("10.202.1.2")))
        p = lab.run(nh, ["ping", "-6", "-c", "3", "-i", "0.2", "-W", "2", "2001:db8:99::2"])
        t.check(p.returncode == 0 and " 0% packet loss" in p.stdout, "H pings Q over IPv6 through Weft and P", p.stdout)
        nh6 = json.dumps(fib_route("2001:db8:99::/64"))
        n = {x["address"]: x for svc in r.json("neighbors") for x in svc["result"]}
        ll = [a for a in n if a.startswith("fe80:") and n[a]["interface"] == "up"]
        t.check("fe80:" not in nh6 or (ll and n[ll[0]]["state"] in ("reachable", "stale", "delay", "probe")),
                "the IPv6 route's next hop (link-local if zebra gave one) was resolved with ND", nh6 + " " + str(ll))

        t.step("5b. one source of truth for neighbours")
        # Weft resolves for forwarding; the kernel behind the tap learns from
        # the same packets (ArpNd's host copies) for its own traffic (bgpd's).
        kn = json.loads(lab.sh(nr, f"ip -j neigh show dev {wt0} to 10.202.1.2") or "[]")
        wn = {x["address"]: x for svc in r.json("neighbors") for x in svc["result"]}.get("10.202.1.2", {})
        t.check(kn and wn and kn[0].get("lladdr") == wn.get("mac"),
                "R's kernel and Weft hold the same MAC for P", f"kernel {kn} weft {wn}")
        # One answer per question: Weft answers for the router's addresses and
        # the kernel behind the tap does not (it would answer with the same
        # MAC, twice).
        p = lab.run(np_, ["/usr/bin/python3", "-c", ASK_ONCE, p_if], timeout=30)
        t.check(p.returncode == 0 and p.stdout.split() == ["arp", "1", ifs["up"]["mac"], "na", "1", ifs["up"]["mac"]],
                "P's ARP request and neighbour solicitation for R each get exactly one answer, with R's MAC",
                p.stdout + p.stderr)

        t.step("6. time exceeded")
        p = lab.run(nh, ["ping", "-c", "1", "-t", "1", "-W", "2", "10.99.0.2"])
        t.check("Time to live exceeded" in p.stdout and "10.202.2.1" in p.stdout,
                "TTL 1 through Weft: time exceeded from 10.202.2.1", p.stdout)

        t.step("7. a withdrawn prefix")
        fp.vtysh("conf t", "router bgp 65002", "address-family ipv4 unicast", "no network 10.99.0.0/24")
        t.check(wait_until(lambda: fib_route() is None, 30), "10.99.0.0/24 left Weft's FIB")
        p = lab.run(nh, ["ping", "-c", "1", "-W", "2", "10.99.0.2"])
        t.check("Unreachable" in p.stdout and "10.202.2.1" in p.stdout,
                "H's ping gets destination unreachable from 10.202.2.1", p.stdout)
        t.check(r.stop() == 0, "routerd stops cleanly")


if __name__ == "__main__":
    harness.run(main)

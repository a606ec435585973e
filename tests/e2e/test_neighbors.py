#!/usr/bin/env python3
"""Interfaces and dynamic neighbours: routerd routes between two Linux hosts
(network namespaces) with no static MAC and no static neighbour anywhere.

    ns A: 10.201.1.2/24 2001:db8:201:1::2/64 ══veth══ pa ─► ArpNd a ─[other]─┐
                                                       ◄── Merge ◄─[out]────┤
                                                                            IpLookup (interfaces: ifaces) ─► a / b
    ns B: 10.201.2.2/24 2001:db8:201:2::2/64 ══veth══ pb ─► ArpNd b ─[other]─┘

The Interfaces service declares a (10.201.1.1/24, 2001:db8:201:1::1/64) and
b; its subnets are the Fib's connected routes (no zebra here). The Linux
kernels of A and B are the independent ARP/ND implementations:

 1. ping A -> B (IPv4, IPv6) passes: routerd answered A's ARP request and
    neighbour solicitation for its gateway address, resolved B itself (the
    first packets waited in the service), and A's kernel has the router's
    port MAC for 10.201.1.1 (REACHABLE), learned from routerd's replies;
 2. `routerctl neighbors` lists A and B (both families) with their kernels' MACs;
 3. a next hop nobody answers for: A's ping gets "Destination Host
    Unreachable" from 10.201.1.1, the neighbour is failed, counters say so;
 4. bad input from A (scapy): ARP with a bad hardware length, a truncated
    ARP, a neighbour advertisement with hop limit 64, an unsolicited NA for an
    address routerd never asked about, a gratuitous ARP claiming the router's
    address: named drops, nothing poisoned, the conflict counted and logged;
 5. a reload adding an address to b keeps a's neighbours;
 6. static neighbours (`neighbors:`) are listed as static.

Usage: test_neighbors.py --bin build/bin
"""
import json
import os
import re

import harness
from harness import drops_of, element

GRAPH = """
name: neighbors
workers: {{lcores: [1]}}
ports:
  pa: {{device: net_af_packet_{tag}a, args: "iface={ra}"}}
  pb: {{device: net_af_packet_{tag}b, args: "iface={rb}"}}
services:
  ifaces:
    class: Interfaces
    retrans_time: 0.3
    interfaces:
      - {{name: a, port: pa, addresses: [10.201.1.1/24, "2001:db8:201:1::1/64"]}}
      - {{name: b, port: pb, addresses: [{b_addresses}]}}
    neighbors: [{statics}]
  fib: {{class: Fib, listen: "127.0.0.1:0", interfaces_from: ifaces, max_routes: 1024, tbl8: 64, max_routes6: 1024,
         tbl8_6: 64}}
elements:
  rxa: {{class: PortRx, port: pa}}
  rxb: {{class: PortRx, port: pb}}
  nda: {{class: ArpNd, interfaces: ifaces, interface: a}}
  ndb: {{class: ArpNd, interfaces: ifaces, interface: b}}
  in: Merge
  lookup: {{class: IpLookup, fib: fib, interfaces: ifaces, outputs: [a, b]}}
  ma: Merge
  mb: Merge
  txa: {{class: PortTx, port: pa}}
  txb: {{class: PortTx, port: pb}}
connections:
  - rxa -> nda
  - rxb -> ndb
  - nda[other] -> in
  - ndb[other] -> in
  - in -> lookup
  - lookup[a] -> ma
  - nda[out] -> ma
  - ma -> txa
  - lookup[b] -> mb
  - ndb[out] -> mb
  - mb -> txb
"""

BAD_INPUT = r"""
import sys
from scapy.all import Ether, ARP, IPv6, ICMPv6ND_NA, ICMPv6NDOptDstLLAddr, sendp, raw
iface, rmac, mymac = sys.argv[1], sys.argv[2], sys.argv[3]
frames = [
    # ARP with hardware length 7
    Ether(dst="ff:ff:ff:ff:ff:ff", src=mymac) / ARP(hwlen=7, op=1, psrc="10.201.1.2", pdst="10.201.1.1"),
    # ARP cut short (an Ethernet header and 10 bytes)
    raw(Ether(dst="ff:ff:ff:ff:ff:ff", src=mymac, type=0x0806))[:14] + b"\x00\x01\x08\x00\x06\x04\x00\x01\x00\x00",
    # NA with hop limit 64 (RFC 4861 7.1.2: must be 255)
    Ether(dst=rmac, src=mymac) / IPv6(src="2001:db8:201:1::2", dst="2001:db8:201:1::1", hlim=64)
        / ICMPv6ND_NA(tgt="2001:db8:201:1::2", R=0, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=mymac),
    # an unsolicited NA for an address routerd never asked about
    Ether(dst="33:33:00:00:00:01", src=mymac) / IPv6(src="2001:db8:201:1::77", dst="ff02::1", hlim=255)
        / ICMPv6ND_NA(tgt="2001:db8:201:1::77", R=0, S=0, O=1) / ICMPv6NDOptDstLLAddr(lladdr="02:66:66:66:66:66"),
    # a gratuitous ARP claiming the router's own address
    Ether(dst="ff:ff:ff:ff:ff:ff", src=mymac) / ARP(op=1, hwsrc="02:66:66:66:66:66", psrc="10.201.1.1",
                                                    hwdst="00:00:00:00:00:00", pdst="10.201.1.1"),
]
for f in frames:
    sendp(f if isinstance(f, bytes) else f, iface=iface, verbose=False)
print("sent", len(frames))
"""


def mac_of(lab, ns, dev):
    out = lab.sh(ns, f"ip -j link show dev {dev}")
    return json.loads(out)[0]["address"]


def service_status(r):
    j = r.json("service", "ifaces")
    if isinstance(j, list):
        j = j[0]
    for key in ("result", "status"):
        if isinstance(j, dict) and key in j:
            j = j[key]
    return j


def neigh(r):
    res = r.json("neighbors")
    return {n["address"]: n for svc in res for n in svc["result"]}


def main(t):
    t.needs("ping")
    with t.lab("nb") as lab:
        ha, hb = lab.namespace("a"), lab.namespace("b")
        a_if, ra = lab.veth(ha, None)
        b_if, rb = lab.veth(hb, None)
        lab.sh(ha, f"ip addr add 10.201.1.2/24 dev {a_if} && ip -6 addr add 2001:db8:201:1::2/64 dev {a_if} nodad"
                   f" && ip route add default via 10.201.1.1 && ip -6 route add default via 2001:db8:201:1::1")
        lab.sh(hb, f"ip addr add 10.201.2.2/24 dev {b_if} && ip -6 addr add 2001:db8:201:2::2/64 dev {b_if} nodad"
                   f" && ip route add default via 10.201.2.1 && ip -6 route add default via 2001:db8:201:2::1")
        mac_a, mac_b = mac_of(lab, ha, a_if), mac_of(lab, hb, b_if)
        mac_ra = mac_of(lab, None, ra)
        tag = os.getpid() % 100000

        def graph(b_addresses='10.201.2.1/24, "2001:db8:201:2::1/64"', statics=""):
            return GRAPH.format(tag=tag, ra=ra, rb=rb, b_addresses=b_addresses, statics=statics)

        r = t.routerd(graph(), lab=lab, check="routerd runs with an Interfaces service and no static MAC")

        t.step("1. forwarding with dynamic neighbours")
        p = lab.run(ha, ["ping", "-c", "3", "-i", "0.2", "-W", "2", "10.201.2.2"])
        t.check(p.returncode == 0 and " 0% packet loss" in p.stdout, "ping A -> B (IPv4): 3 of 3", p.stdout)
        p = lab.run(ha, ["ping", "-6", "-c", "3", "-i", "0.2", "-W", "2", "2001:db8:201:2::2"])
        t.check(p.returncode == 0 and " 0% packet loss" in p.stdout, "ping A -> B (IPv6): 3 of 3", p.stdout)
        kn = json.loads(lab.sh(ha, f"ip -j neigh show dev {a_if}"))
        gw4 = [n for n in kn if n.get("dst") == "10.201.1.1"]
        t.check(gw4 and gw4[0].get("lladdr") == mac_ra,
                f"A's kernel learned the router's MAC {mac_ra} for 10.201.1.1 from routerd's ARP reply", str(kn))
        gw6 = [n for n in kn if n.get("dst") == "2001:db8:201:1::1"]
        t.check(gw6 and gw6[0].get("lladdr") == mac_ra,
                "A's kernel learned the router's MAC for 2001:db8:201:1::1 from routerd's advertisement", str(kn))

        t.step("2. routerctl neighbors")
        n = neigh(r)
        for addr, mac, what in (("10.201.2.2", mac_b, "B (IPv4)"), ("2001:db8:201:2::2", mac_b, "B (IPv6)"),
                                ("10.201.1.2", mac_a, "A (IPv4)"), ("2001:db8:201:1::2", mac_a, "A (IPv6)")):
            e = n.get(addr)
            t.check(e is not None and e["mac"] == mac and e["state"] in ("reachable", "stale", "delay", "probe"),
                    f"neighbour {what} {addr} is {mac}", json.dumps(e))
        human = r.ctl("neighbors")
        t.check(human.ok and "10.201.2.2" in human.stdout and "reachable" in human.stdout, "routerctl neighbors (human)",
                human.stdout)
        human = r.ctl("interfaces")
        t.check(human.ok and "10.201.1.1/24" in human.stdout and mac_ra in human.stdout and "link up" in human.stdout,
                "routerctl interfaces shows addresses, MAC and link", human.stdout)
        # Its counters are the port's: ten pings A -> B add at least ten
        # packets each way on both interfaces.
        def counters():
            return {i["name"]: i.get("counters", {}) for i in r.json("interfaces")[0]["result"]}
        c0 = counters()
        p = lab.run(ha, ["ping", "-c", "10", "-i", "0.05", "-W", "2", "10.201.2.2"])
        c1 = counters()
        grew = {n: {k: c1[n].get(k, 0) - c0[n].get(k, 0) for k in ("rx_packets", "tx_packets")} for n in ("a", "b")}
        t.check(p.returncode == 0 and all(v >= 10 for g in grew.values() for v in g.values()),
                "routerctl interfaces --json counts the pings on a and b, both ways", json.dumps(grew))

        t.step("3. a next hop nobody answers for")
        p = lab.run(ha, ["ping", "-c", "1", "-W", "4", "10.201.2.99"])
        t.check("Destination Host Unreachable" in p.stdout and "10.201.1.1" in p.stdout,
                "A gets ICMP host unreachable from 10.201.1.1", p.stdout)
        n = neigh(r)
        t.check(n.get("10.201.2.99", {}).get("state") == "failed", "10.201.2.99 is failed",
                json.dumps(n.get("10.201.2.99")))
        c = service_status(r)["counters"]
        t.check(c.get("failed", 0) >= 1 and c.get("unreachable_sent", 0) >= 1,
                f"counters: failed {c.get('failed')}, unreachable_sent {c.get('unreachable_sent')}", json.dumps(c))

        t.step("4. bad input")
        before = drops_of(element(r.stats(), "nda"))
        s = lab.run(ha, ["/usr/bin/python3", "-c", BAD_INPUT, a_if, mac_ra, mac_a])
        t.require(s.returncode == 0 and "sent 5" in s.stdout, "scapy sent 5 bad frames from A", s.stderr)
        after = r.wait_stats(lambda st: drops_of(element(st, "nda")).get("bad_nd", 0) > before.get("bad_nd", 0)
                             and drops_of(element(st, "nda")).get("bad_arp", 0) > before.get("bad_arp", 0)
                             and drops_of(element(st, "nda")).get("truncated", 0) > before.get("truncated", 0))
        d = drops_of(element(after, "nda"))
        t.check(True, f"ArpNd drops: bad_arp {d.get('bad_arp')}, truncated {d.get('truncated')}, bad_nd {d.get('bad_nd')}")
        n = neigh(r)
        t.check("2001:db8:201:1::77" not in n, "the unsolicited NA created no neighbour")
        t.check(n.get("2001:db8:201:1::2", {}).get("mac") == mac_a, "A's entry was not poisoned")
        r.wait_for(lambda: "address conflict" in r.output(), "the conflict logged", timeout=10)
        t.check("address conflict" in r.output() and "10.201.1.1" in r.output(),
                "the gratuitous ARP claiming 10.201.1.1 was logged as an address conflict")
        st = r.status()
        t.check("address conflict" in json.dumps(st), "routerctl status shows the conflict")

        t.step("5. reload: b gets another address, a keeps its neighbours")
        f = t.write("next.yaml", graph(b_addresses='10.201.2.1/24, "2001:db8:201:2::1/64", 10.201.3.1/24',
                                       statics='{interface: b, ip: 10.201.2.50, mac: "02:00:00:00:02:50"}'))
        rl = r.ctl("reload", f)
        t.check(rl.ok, "reload accepted", rl.stdout + rl.stderr)
        ifs = r.json("interfaces")[0]["result"]
        b = [i for i in ifs if i["name"] == "b"][0]
        t.check("10.201.3.1/24" in b["addresses"], "interface b has 10.201.3.1/24", json.dumps(b))
        n = neigh(r)
        t.check("10.201.1.2" in n and n["10.201.1.2"]["mac"] == mac_a, "A's neighbour survived the reload")
        t.check(n.get("10.201.2.50", {}).get("state") == "static", "the static neighbour is listed as static",
                json.dumps(n.get("10.201.2.50")))
        p = lab.run(ha, ["ping", "-c", "2", "-i", "0.2", "-W", "2", "10.201.2.2"])
        t.check(p.returncode == 0, "ping A -> B after the reload", p.stdout)
        t.check(r.stop() == 0, "routerd stops cleanly")


if __name__ == "__main__":
    harness.run(main)

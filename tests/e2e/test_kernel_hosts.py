#!/usr/bin/env python3
"""routerd between two real Linux hosts (network namespaces), over veth links
attached with DPDK's net_af_packet.

    ns A: 10.200.1.1 ══veth══ pa ─► rx ─► cls ─┬[arp]──► arp  ─┐
                                               ├[icmp]─► icmp ─┼─► m ─► tx ─► pb ══veth══ ns B: 10.200.1.2
                                               └[default]─► other ┘
                              pa ◄─────────────── back (Forward) ◄──────────── pb

ping and a UDP exchange must succeed, and the classifier's counters must see
the ARP, ICMP and UDP packets they carried.

Usage: test_kernel_hosts.py --bin build/bin
"""
import os
import subprocess

import harness
from harness import totals

UDP_SERVER = """
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.200.1.2", 7777))
print("ready", flush=True)
for _ in range(5):
    data, peer = s.recvfrom(2048)
    s.sendto(data.upper(), peer)
"""

UDP_CLIENT = """
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
ok = 0
for i in range(5):
    s.sendto(b"weft %d" % i, ("10.200.1.2", 7777))
    try:
        data, _ = s.recvfrom(2048)
        ok += data == (b"WEFT %d" % i)
    except socket.timeout:
        pass
print(ok)
"""


def main(t):
    with t.lab("kh") as lab:
        ha, hb = lab.namespace("a"), lab.namespace("b")
        a_if, ra = lab.veth(ha, None)
        b_if, rb = lab.veth(hb, None)
        lab.sh(ha, f"ip addr add 10.200.1.1/24 dev {a_if}")
        lab.sh(hb, f"ip addr add 10.200.1.2/24 dev {b_if}")
        tag = os.getpid() % 100000
        graph = f"""
name: kernel-hosts
workers: {{lcores: [1]}}
ports:
  pa: {{device: net_af_packet_{tag}a, args: "iface={ra}"}}
  pb: {{device: net_af_packet_{tag}b, args: "iface={rb}"}}
elements:
  rx: {{class: PortRx, port: pa}}
  cls:
    class: Classifier
    rules:
      - {{output: arp, ethertype: arp}}
      - {{output: icmp, ip_proto: icmp}}
  arp: Counter
  icmp: Counter
  other: Counter
  m: Merge
  tx: {{class: PortTx, port: pb}}
  back: {{class: Forward, from: pb, to: pa}}
connections:
  - rx -> cls
  - cls[arp] -> arp -> m
  - cls[icmp] -> icmp -> m
  - cls[default] -> other -> m
  - m -> tx
"""
        r = t.routerd(graph, lab=lab, check="routerd runs on two af_packet ports")

        p = lab.run(ha, ["ping", "-c", "3", "-i", "0.2", "-W", "2", "10.200.1.2"])
        t.check(p.returncode == 0 and "3 received" in p.stdout, "ping A -> B through routerd")

        srv = lab.spawn(hb, ["/usr/bin/python3", "-c", UDP_SERVER], stdout=subprocess.PIPE, text=True)
        t.check(srv.stdout.readline().strip() == "ready", "UDP server ready in B")
        c = lab.run(ha, ["/usr/bin/python3", "-c", UDP_CLIENT])
        t.check(c.stdout.strip() == "5", "UDP exchange A <-> B (5 of 5 echoed)")
        try:
            srv.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass  # the lab kills it

        out = {k: v["out"] for k, v in totals(r.stats()).items()}
        t.check(out["arp"] >= 1, f"classifier saw ARP ({out['arp']})")
        t.check(out["icmp"] >= 3, f"classifier saw ICMP echo requests ({out['icmp']})")
        t.check(out["other"] >= 5, f"classifier saw the UDP datagrams ({out['other']})")
        t.check(out["m"] == out["arp"] + out["icmp"] + out["other"], "Merge joined all three paths")
        t.check(r.stop() == 0, "routerd stops cleanly")


if __name__ == "__main__":
    harness.run(main)

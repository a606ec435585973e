#!/usr/bin/env python3
"""VxlanEncap and VxlanDecap against the Linux kernel's own VXLAN device.

  ns A (host A)                  routerd (root namespace)                      ns V (kernel VTEP = host B)
  10.200.9.1/24 ══veth══ pa ─► rxa ─► enc (VxlanEncap vni 42) ─► txu ─ pu ══veth══ 172.31.255.2/24
                         pa ◄─ txa ◄─ dec (VxlanDecap)        ◄─ rxu ─ pu         └ vx0: vxlan id 42,
                                                                                       10.200.9.2/24
  routerd's underlay address is 172.31.255.1 (a static neighbour in ns V).

Host A's frames are encapsulated by Weft and decapsulated by the kernel; the
kernel's replies are encapsulated by the kernel and decapsulated by Weft. A
ping and a UDP exchange between host A and vx0's address prove both
directions; the kernel's vx0 counters and routerd's counters confirm it.

Usage: test_vxlan_kernel.py --bin build/bin
"""
import json
import os
import subprocess

import harness
from harness import totals

UDP_SERVER = """
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.200.9.2", 7777))
print("ready", flush=True)
for _ in range(5):
    data, peer = s.recvfrom(2048)
    s.sendto(data[::-1], peer)
"""

UDP_CLIENT = """
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
ok = 0
for i in range(5):
    msg = b"overlay datagram %d" % i
    s.sendto(msg, ("10.200.9.2", 7777))
    try:
        data, _ = s.recvfrom(2048)
        ok += data == msg[::-1]
    except socket.timeout:
        pass
print(ok)
"""


def main(t):
    with t.lab("vx") as lab:
        ha, vt = lab.namespace("a"), lab.namespace("v")
        a_if, ra = lab.veth(ha, None)
        v_if, ru = lab.veth(vt, None)
        lab.sh(ha, f"ip addr add 10.200.9.1/24 dev {a_if}")
        lab.sh(vt, "sysctl -qw net.ipv6.conf.all.disable_ipv6=1")
        lab.sh(vt, f"ip addr add 172.31.255.2/24 dev {v_if}")
        ru_mac, v_mac = lab.mac(None, ru), lab.mac(vt, v_if)
        lab.sh(vt, f"ip neigh replace 172.31.255.1 lladdr {ru_mac} dev {v_if} nud permanent")
        vx = lab.name("vx")
        lab.sh(vt, f"ip link add {vx} type vxlan id 42 local 172.31.255.2 remote 172.31.255.1 "
                   f"dstport 4789 dev {v_if}")
        lab.sh(vt, f"ip addr add 10.200.9.2/24 dev {vx}")
        lab.sh(vt, f"ip link set {vx} up")

        tag = os.getpid() % 100000
        graph = f"""
name: vxlan-kernel
workers: {{lcores: [1]}}
ports:
  pa: {{device: net_af_packet_{tag}a, args: "iface={ra}"}}
  pu: {{device: net_af_packet_{tag}u, args: "iface={ru}"}}
elements:
  rxa: {{class: PortRx, port: pa}}
  enc: {{class: VxlanEncap, vni: 42, local_ip: 172.31.255.1, remote_ip: 172.31.255.2,
         local_mac: "{ru_mac}", remote_mac: "{v_mac}"}}
  txu: {{class: PortTx, port: pu}}
  rxu: {{class: PortRx, port: pu}}
  dec: {{class: VxlanDecap, local_ip: 172.31.255.1}}
  txa: {{class: PortTx, port: pa}}
connections:
  - rxa -> enc -> txu
  - rxu -> dec -> txa
"""
        r = t.routerd(graph, lab=lab, check="routerd runs between host A and the kernel VTEP")

        p = lab.run(ha, ["ping", "-c", "3", "-i", "0.2", "-W", "2", "10.200.9.2"])
        t.check(p.returncode == 0 and "3 received" in p.stdout,
                "ping host A -> vx0 (Weft encapsulates, the kernel decapsulates, and back)")

        srv = lab.spawn(vt, ["/usr/bin/python3", "-c", UDP_SERVER], stdout=subprocess.PIPE, text=True)
        t.check(srv.stdout.readline().strip() == "ready", "UDP server ready behind the kernel VTEP")
        c = lab.run(ha, ["/usr/bin/python3", "-c", UDP_CLIENT])
        t.check(c.stdout.strip() == "5", "UDP exchange over the overlay (5 of 5)")
        try:
            srv.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

        link = json.loads(lab.sh(vt, f"ip -s -j link show {vx}"))[0]["stats64"]
        t.check(link["rx"]["packets"] >= 8 and link["rx"]["errors"] == 0,
                f"the kernel decapsulated Weft's VXLAN packets ({link['rx']['packets']} received on vx0)")
        tot = totals(r.stats())
        t.check(tot["enc"]["out"] >= 8 and tot["enc"]["dropped"] == 0, f"VxlanEncap sent {tot['enc']['out']}")
        t.check(tot["dec"]["out"] >= 8, f"VxlanDecap accepted the kernel's packets ({tot['dec']['out']})")
        t.check(r.stop() == 0, "routerd stops cleanly")


if __name__ == "__main__":
    harness.run(main)

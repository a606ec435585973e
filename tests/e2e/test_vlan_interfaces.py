#!/usr/bin/env python3
"""VLAN interfaces end to end: routerd answers ARP, ND and ping inside VLAN
100 and routes between that VLAN and an untagged Linux host, with no static
MAC and no static neighbour anywhere.

    ns S (scapy, no IP)                                routerd
    veth ══ 802.1Q VLAN 100 ══ pa ─► vsel ─[v100]─► pop ─► ArpNd v100 ─[other]─► IpLocal ─[forward]─┐
                                     └[default]─► not_v100 (Discard)             └[local]─► IcmpEcho  │
                                  pa ◄── push (VlanPush 100) ◄── ma ◄── ArpNd[out], IcmpEcho, IpLookup[v100]
    ns B (Linux)                                                                                      │
    10.217.2.2/24 ══ untagged ═ pb ─► ArpNd b ─[other]─► IpLocal ─[forward]─► IpLookup ◄──────────────┘
    2001:db8:217:2::2/64        pb ◄── mb ◄── ArpNd[out], IpLookup[b]

Interface v100 sits on port pa with `vlan: 100` (10.217.1.1/24,
2001:db8:217:1::1/64); b is untagged on pb. This kernel cannot make 802.1Q
links, so the VLAN side is a namespace whose veth end scapy drives: a
responder there logs every frame it receives and answers tagged ARP requests
and neighbour solicitations for its own addresses (10.217.1.2,
2001:db8:217:1::2). Linux in ns B is the independent implementation on the
untagged side; scapy builds and parses the tags on the other.

 1. an untagged and a VLAN 200 ARP request for 10.217.1.1 are dropped,
    counted by not_v100, and answered by nothing; a VLAN 100 request gets a
    VLAN 100 reply with the interface's MAC;
 2. a VLAN 100 neighbour solicitation for 2001:db8:217:1::1 gets a VLAN 100
    advertisement with the interface's MAC;
 3. VLAN 100 echo requests to 10.217.1.1 and 2001:db8:217:1::1 get VLAN 100
    echo replies;
 4. after the learned neighbours are flushed, S pings B (both families,
    tagged): routerd resolves B on the untagged side, the kernel of B answers
    (and counts the requests), routerd resolves S with a VLAN 100 ARP request
    / neighbour solicitation that S's responder answers, and the replies reach
    S tagged with VLAN 100; the same for UDP to an echo server in B;
 5. `routerctl interfaces --json` shows vlan 100; `routerctl neighbors` shows
    S's addresses learned on v100 with the responder's MAC.

Usage: test_vlan_interfaces.py --bin build/bin
"""
import json
import os
import socket

import harness
from harness import drops_of, element, wait_until
from scapy.all import ARP, ICMP, IP, UDP, Dot1Q, Ether, ICMPv6EchoReply, ICMPv6EchoRequest, ICMPv6ND_NA, ICMPv6ND_NS
from scapy.all import ICMPv6NDOptDstLLAddr, ICMPv6NDOptSrcLLAddr, IPv6
from scapy.utils6 import in6_getnsma, in6_getnsmac

VLAN = 100
R4, R6 = "10.217.1.1", "2001:db8:217:1::1"
S4, S6 = "10.217.1.2", "2001:db8:217:1::2"
B4, B6 = "10.217.2.2", "2001:db8:217:2::2"
UDP_PORT = 7007

GRAPH = """
name: vlan-interfaces
workers: {{lcores: [1]}}
ports:
  pa: {{device: net_af_packet_{tag}a, args: "iface={ra}"}}
  pb: {{device: net_af_packet_{tag}b, args: "iface={rb}"}}
services:
  ifaces:
    class: Interfaces
    retrans_time: 0.3
    interfaces:
      - {{name: v100, port: pa, vlan: {vlan}, addresses: [{r4}/24, "{r6}/64"]}}
      - {{name: b, port: pb, addresses: [10.217.2.1/24, "2001:db8:217:2::1/64"]}}
  fib: {{class: Fib, listen: "127.0.0.1:0", interfaces_from: ifaces, max_routes: 1024, tbl8: 64, max_routes6: 1024,
         tbl8_6: 64}}
elements:
  rxa: {{class: PortRx, port: pa}}
  vsel:
    class: Classifier
    rules: [{{output: v100, vlan: {vlan}}}]
  not_v100: Discard          # untagged frames and other VLANs: pa carries only VLAN {vlan}
  pop: {{class: VlanPop, untagged: drop}}
  nda: {{class: ArpNd, interfaces: ifaces, interface: v100}}
  loca: {{class: IpLocal, interfaces: ifaces}}
  echoa: {{class: IcmpEcho, interfaces: ifaces}}
  ctla: Discard
  hosta: Discard
  ma: Merge
  push: {{class: VlanPush, vid: {vlan}}}
  txa: {{class: PortTx, port: pa}}
  rxb: {{class: PortRx, port: pb}}
  ndb: {{class: ArpNd, interfaces: ifaces, interface: b}}
  locb: {{class: IpLocal, interfaces: ifaces}}
  ctlb: Discard
  hostb: Discard
  in: Merge
  lookup: {{class: IpLookup, fib: fib, interfaces: ifaces, outputs: [v100, b]}}
  mb: Merge
  txb: {{class: PortTx, port: pb}}
connections:
  - rxa -> vsel
  - vsel[v100] -> pop -> nda
  - vsel[default] -> not_v100
  - nda[other] -> loca
  - loca[forward] -> in
  - loca[local] -> echoa
  - loca[control] -> ctla
  - echoa[other] -> hosta
  - rxb -> ndb
  - ndb[other] -> locb
  - locb[forward] -> in
  - locb[local] -> hostb
  - locb[control] -> ctlb
  - in -> lookup
  - lookup[v100] -> ma
  - nda[out] -> ma
  - echoa[out] -> ma
  - ma -> push -> txa
  - lookup[b] -> mb
  - ndb[out] -> mb
  - mb -> txb
"""

# Runs in ns S: logs every frame it receives (hex, one a line) and answers
# VLAN 100 ARP requests and neighbour solicitations for its own addresses.
RESPONDER = r"""
import sys
from scapy.all import ARP, Dot1Q, Ether, ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptDstLLAddr, IPv6, sendp, sniff
iface, log, mac, ip4, ip6, vlan = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])
out = open(log, "w", buffering=1)

def on(p):
    if p.src == mac:
        return                      # our own frames, seen leaving
    out.write(bytes(p).hex() + "\n")
    if Dot1Q not in p or p[Dot1Q].vlan != vlan:
        return
    if ARP in p and p[ARP].op == 1 and p[ARP].pdst == ip4:
        sendp(Ether(dst=p.src, src=mac) / Dot1Q(vlan=vlan) /
              ARP(op=2, hwsrc=mac, psrc=ip4, hwdst=p[ARP].hwsrc, pdst=p[ARP].psrc), iface=iface, verbose=False)
    elif ICMPv6ND_NS in p and p[ICMPv6ND_NS].tgt == ip6:
        sendp(Ether(dst=p.src, src=mac) / Dot1Q(vlan=vlan) / IPv6(src=ip6, dst=p[IPv6].src, hlim=255) /
              ICMPv6ND_NA(tgt=ip6, R=0, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=mac), iface=iface, verbose=False)

sniff(iface=iface, prn=on, store=False, started_callback=lambda: out.write("ready\n"))
"""

# Runs in ns B: a UDP echo server (both families), the kernel's own sockets.
UDP_ECHO = r"""
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", int(sys.argv[1])))
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(b"echo:" + data, peer)
"""

# Runs in ns S: sends the frames given in hex.
SENDER = r"""
import sys
from scapy.all import sendp
for h in sys.argv[2:]:
    sendp(bytes.fromhex(h), iface=sys.argv[1], verbose=False)
print("sent", len(sys.argv) - 2)
"""


def solicited_node(ip6):
    nsma = in6_getnsma(socket.inet_pton(socket.AF_INET6, ip6))
    return socket.inet_ntop(socket.AF_INET6, nsma), in6_getnsmac(nsma)


def neighbors(r):
    return [n for svc in r.json("neighbors") for n in svc["result"]]


def main(t):
    t.needs("/usr/bin/python3")  # the scapy responder and sender in S
    with t.lab("vl") as lab:
        hs, hb = lab.namespace("s", ipv6=False), lab.namespace("b")
        s_if, ra = lab.veth(hs, None)
        b_if, rb = lab.veth(hb, None)
        lab.sh(hb, f"ip addr add {B4}/24 dev {b_if} && ip -6 addr add {B6}/64 dev {b_if} nodad"
                   f" && ip route add default via 10.217.2.1 && ip -6 route add default via 2001:db8:217:2::1")
        mac_s, mac_r = lab.mac(hs, s_if), lab.mac(None, ra)
        t.spawn(["/usr/bin/python3", "-c", UDP_ECHO, str(UDP_PORT)], lab=lab, ns=hb)
        t.require(wait_until(lambda: f":{UDP_PORT} " in lab.sh(hb, "ss -Hlun"), 10), "UDP echo server in B listens")
        tag = os.getpid() % 100000

        log = t.path("s-frames.hex")
        t.spawn(["/usr/bin/python3", "-c", RESPONDER, s_if, log, mac_s, S4, S6, str(VLAN)], lab=lab, ns=hs)
        t.log_on_failure(log, "frames S received (hex)")

        def frames():
            try:
                with open(log) as f:
                    lines = [line.strip() for line in f]
                return [Ether(bytes.fromhex(x)) for x in lines if x and x != "ready"]
            except FileNotFoundError:
                return []

        def ready():
            try:
                with open(log) as f:
                    return f.readline().strip() == "ready"
            except FileNotFoundError:
                return False

        t.require(wait_until(ready, 15), "scapy responder in S is sniffing")

        def send(*pkts):
            res = lab.run(hs, ["/usr/bin/python3", "-c", SENDER, s_if] + [bytes(p).hex() for p in pkts])
            t.require(res.returncode == 0 and f"sent {len(pkts)}" in res.stdout,
                      f"scapy sent {len(pkts)} frame(s) from S", res.stderr)

        def wait_frame(match, timeout=5):
            return wait_until(lambda: [f for f in frames() if match(f)], timeout)

        def tagged(f, vlan=VLAN):
            return Dot1Q in f and f[Dot1Q].vlan == vlan

        r = t.routerd(GRAPH.format(tag=tag, ra=ra, rb=rb, vlan=VLAN, r4=R4, r6=R6), lab=lab,
                      check="routerd runs with a VLAN interface and an untagged one, no static MAC")

        t.step("1. ARP inside VLAN 100 only")

        def arp_req(psrc):
            return ARP(op=1, hwsrc=mac_s, psrc=psrc, hwdst="00:00:00:00:00:00", pdst=R4)

        def arp_replies():
            return [f for f in frames() if ARP in f and f[ARP].op == 2 and f[ARP].psrc == R4]

        bcast = Ether(dst="ff:ff:ff:ff:ff:ff", src=mac_s)
        send(bcast / arp_req("10.217.1.3"), bcast / Dot1Q(vlan=200) / arp_req("10.217.1.4"))
        st = r.wait_stats(lambda s: drops_of(element(s, "not_v100")).get("discarded", 0) >= 2,
                          what="the untagged and VLAN 200 requests discarded", fail=False)
        t.check(st and drops_of(element(st, "not_v100")).get("discarded", 0) >= 2,
                "the untagged and the VLAN 200 ARP requests are counted by not_v100 (discarded)",
                json.dumps(st and element(st, "not_v100")))
        send(bcast / Dot1Q(vlan=VLAN) / arp_req("10.217.1.5"))
        got = wait_frame(lambda f: ARP in f and f[ARP].op == 2 and f[ARP].pdst == "10.217.1.5")
        t.check(got and tagged(got[0]) and got[0][ARP].hwsrc == mac_r and got[0].src == mac_r
                and got[0][ARP].psrc == R4 and got[0].dst == mac_s,
                f"a VLAN 100 ARP request gets a VLAN 100 reply: {R4} is-at {mac_r}",
                got and got[0].show(dump=True))
        rep = arp_replies()
        t.check(len(rep) == 1, "the untagged and the VLAN 200 requests got no reply",
                "\n".join(f.summary() for f in rep))
        t.check(drops_of(element(r.stats(), "pop")).get("untagged", 0) == 0, "nothing untagged reached VlanPop")

        t.step("2. neighbour discovery inside VLAN 100")
        nsma, nsmac = solicited_node(R6)
        send(Ether(dst=nsmac, src=mac_s) / Dot1Q(vlan=VLAN) / IPv6(src=S6, dst=nsma, hlim=255)
             / ICMPv6ND_NS(tgt=R6) / ICMPv6NDOptSrcLLAddr(lladdr=mac_s))
        # to S, not the unsolicited advertisement routerd sends when it starts
        got = wait_frame(lambda f: ICMPv6ND_NA in f and f[ICMPv6ND_NA].tgt == R6 and f.dst == mac_s)
        na = got and got[0]
        t.check(na and tagged(na) and na.src == mac_r and na.dst == mac_s and na[IPv6].dst == S6
                and ICMPv6NDOptDstLLAddr in na and na[ICMPv6NDOptDstLLAddr].lladdr == mac_r and na[ICMPv6ND_NA].S == 1,
                f"a VLAN 100 neighbour solicitation gets a VLAN 100 solicited advertisement with {mac_r}",
                na and na.show(dump=True))

        t.step("3. ping the router inside VLAN 100")
        eth = Ether(dst=mac_r, src=mac_s) / Dot1Q(vlan=VLAN)
        send(eth / IP(src=S4, dst=R4) / ICMP(type=8, id=0x4101, seq=1) / b"vlan-echo-4",
             eth / IPv6(src=S6, dst=R6) / ICMPv6EchoRequest(id=0x4102, seq=1, data=b"vlan-echo-6"))
        got = wait_frame(lambda f: ICMP in f and f[ICMP].type == 0 and f[ICMP].id == 0x4101)
        e = got and got[0]
        t.check(e and tagged(e) and e.src == mac_r and e[IP].src == R4 and e[IP].dst == S4
                and bytes(e[ICMP].payload).startswith(b"vlan-echo-4"),
                f"a VLAN 100 echo request to {R4} gets a VLAN 100 echo reply", e and e.show(dump=True))
        got = wait_frame(lambda f: ICMPv6EchoReply in f and f[ICMPv6EchoReply].id == 0x4102)
        e = got and got[0]
        t.check(e and tagged(e) and e.src == mac_r and e[IPv6].src == R6 and e[ICMPv6EchoReply].data == b"vlan-echo-6",
                f"a VLAN 100 echo request to {R6} gets a VLAN 100 echo reply", e and e.show(dump=True))

        t.step("4. routed between VLAN 100 and the untagged host")
        fl = r.ctl("service", "ifaces", "flush", "interface=v100")
        t.require(fl.ok, "the neighbours learned on v100 are flushed", fl.stdout + fl.stderr)
        t.require(not [n for n in neighbors(r) if n["interface"] == "v100"], "v100 has no neighbour left",
                  json.dumps(neighbors(r)))
        before = len(frames())
        send(eth / IP(src=S4, dst=B4) / ICMP(type=8, id=0x4201, seq=1) / b"routed-4",
             eth / IPv6(src=S6, dst=B6, hlim=64) / ICMPv6EchoRequest(id=0x4202, seq=1, data=b"routed-6"))
        got = wait_frame(lambda f: ICMP in f and f[ICMP].type == 0 and f[ICMP].id == 0x4201, timeout=10)
        e = got and got[0]
        t.check(e and tagged(e) and e.src == mac_r and e.dst == mac_s and e[IP].src == B4 and e[IP].dst == S4
                and e[IP].ttl == 63 and bytes(e[ICMP].payload).startswith(b"routed-4"),
                "S -> B (IPv4): B's kernel answered and its reply reached S in VLAN 100 (TTL 63)",
                e and e.show(dump=True))
        got = wait_frame(lambda f: ICMPv6EchoReply in f and f[ICMPv6EchoReply].id == 0x4202, timeout=10)
        e = got and got[0]
        t.check(e and tagged(e) and e.src == mac_r and e.dst == mac_s and e[IPv6].src == B6 and e[IPv6].hlim == 63
                and e[ICMPv6EchoReply].data == b"routed-6",
                "S -> B (IPv6): B's kernel answered and its reply reached S in VLAN 100 (hop limit 63)",
                e and e.show(dump=True))
        snmp = lab.sh(hb, "cat /proc/net/snmp /proc/net/snmp6").split("\n")
        icmp = dict(zip(*[line.split()[1:] for line in snmp if line.startswith("Icmp:")]))
        icmp6 = dict(line.split() for line in snmp if line.startswith("Icmp6In"))
        t.check(int(icmp.get("InEchos", 0)) >= 1 and int(icmp6.get("Icmp6InEchos", 0)) >= 1,
                f"B's kernel counted the echo requests (InEchos {icmp.get('InEchos')}, "
                f"Icmp6InEchos {icmp6.get('Icmp6InEchos')})")
        send(eth / IP(src=S4, dst=B4) / UDP(sport=40001, dport=UDP_PORT) / b"udp-4",
             eth / IPv6(src=S6, dst=B6) / UDP(sport=40002, dport=UDP_PORT) / b"udp-6")
        for fam, sport, src, data in (("IPv4", 40001, B4, b"echo:udp-4"), ("IPv6", 40002, B6, b"echo:udp-6")):
            got = wait_frame(lambda f: UDP in f and f[UDP].dport == sport, timeout=10)
            e = got and got[0]
            l3 = e and (e[IP] if IP in e else e[IPv6])
            t.check(e and tagged(e) and e.src == mac_r and l3.src == src and bytes(e[UDP].payload) == data,
                    f"S -> B UDP ({fam}): B's echo server answered and the answer reached S in VLAN 100",
                    e and e.show(dump=True))
        new = frames()[before:]
        req = [f for f in new if ARP in f and f[ARP].op == 1 and f[ARP].pdst == S4]
        t.check(req and all(tagged(f) and f.src == mac_r and f[ARP].psrc == R4 for f in req),
                f"routerd resolved {S4} with a VLAN 100 ARP request from {R4}",
                "\n".join(f.summary() for f in new))
        sol = [f for f in new if ICMPv6ND_NS in f and f[ICMPv6ND_NS].tgt == S6]
        t.check(sol and all(tagged(f) and f.src == mac_r for f in sol),
                f"routerd resolved {S6} with a VLAN 100 neighbour solicitation", "\n".join(f.summary() for f in new))
        t.check(not [f for f in new if Dot1Q not in f], "nothing untagged left pa", "\n".join(f.summary() for f in new))
        kn = json.loads(lab.sh(hb, f"ip -j neigh show dev {b_if}"))
        t.check(any(n.get("dst") == "10.217.2.1" and n.get("lladdr") == lab.mac(None, rb) for n in kn),
                "B's kernel learned the router's MAC for 10.217.2.1 by ARP", str(kn))

        t.step("5. routerctl")
        ifs = {i["name"]: i for i in r.json("interfaces")[0]["result"]}
        t.check(ifs.get("v100", {}).get("vlan") == VLAN and ifs.get("b", {}).get("vlan") == 0,
                "routerctl interfaces --json: v100 has vlan 100, b is untagged (0)", json.dumps(ifs))
        human = r.ctl("interfaces")
        t.check(human.ok and "v100" in human.stdout and f"{R4}/24" in human.stdout, "routerctl interfaces (human)",
                human.stdout)
        nb = {n["address"]: n for n in neighbors(r)}
        for addr in (S4, S6):
            n = nb.get(addr, {})
            t.check(n.get("interface") == "v100" and n.get("mac") == mac_s
                    and n.get("state") in ("reachable", "stale", "delay", "probe"),
                    f"routerctl neighbors: {addr} learned on v100 as {mac_s}", json.dumps(n))
        for addr in (B4, B6):
            t.check(nb.get(addr, {}).get("interface") == "b", f"routerctl neighbors: {addr} learned on b",
                    json.dumps(nb.get(addr)))
        human = r.ctl("neighbors", "--interface", "v100")
        t.check(human.ok and S4 in human.stdout and mac_s in human.stdout and B4 not in human.stdout,
                "routerctl neighbors --interface v100 (human)", human.stdout)
        t.check(r.stop() == 0, "routerd stops cleanly")


if __name__ == "__main__":
    harness.run(main)

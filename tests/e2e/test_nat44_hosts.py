#!/usr/bin/env python3
"""Nat44 between two real Linux hosts (network namespaces), over veth links
attached to routerd with DPDK's net_af_packet.

    client ns                                   routerd                                   server ns
    10.0.0.2/24 ══veth══ pc ─► rxc ─► [from_inside]nat[to_outside] ─► ers ─► txs ─► ps ══veth══ 198.51.100.2/24
    gw 10.0.0.1         pc ◄─ txc ◄─ erc ◄─ [to_inside]nat[from_outside] ◄─ rxs ◄──── ps
                                   (pool 198.51.100.1)

routerd answers no ARP, so each host has a static neighbour entry for the
router's address it uses (the client's gateway 10.0.0.1, the server's view of
the pool address 198.51.100.1) pointing at routerd's end of its link, and
EtherRewrite elements address the hosts' MACs.

Checks, first with one worker, then with two (af_packet qpairs=2: the kernel
spreads flows over both queues, so a request and its reply may be handled by
different workers sharing the one session table):
  - the client pings the server; replies come back;
  - a TCP connection: the server sees the connection come from the pool
    address, and the data comes back;
  - a UDP exchange: the server sees the pool address;
  - UDP to a closed port: the server's ICMP port unreachable is translated
    back, and the client's connected UDP socket gets ConnectionRefusedError;
  - the `count` and `sessions` handlers show the sessions.

Usage: test_nat44_hosts.py --bin build/bin
"""
import os
import subprocess

import harness

POOL = "198.51.100.1"
SERVER = "198.51.100.2"

SERVER_PY = f"""
import socket, threading
def tcp():
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("{SERVER}", 8000)); s.listen(8)
    while True:
        c, peer = s.accept()
        data = c.recv(100)
        c.sendall(("%s:%d " % peer).encode() + data.upper())
        c.close()
def udp():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("{SERVER}", 7777))
    while True:
        data, peer = u.recvfrom(2048)
        u.sendto(("%s:%d " % peer).encode() + data.upper(), peer)
threading.Thread(target=tcp, daemon=True).start()
threading.Thread(target=udp, daemon=True).start()
print("ready")
import time
time.sleep(120)
"""

CLIENT_PY = f"""
import socket, sys
out = []
# TCP
for i in range(3):
    c = socket.create_connection(("{SERVER}", 8000), timeout=3)
    c.sendall(b"hello %d" % i)
    out.append(c.recv(200).decode())
    c.close()
# UDP
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(3)
for i in range(3):
    u.sendto(b"ping %d" % i, ("{SERVER}", 7777))
    try:
        out.append(u.recvfrom(200)[0].decode())
    except socket.timeout:
        out.append("timeout")
# ICMP port unreachable, translated back: a connected UDP socket reports it.
r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); r.settimeout(3)
r.connect(("{SERVER}", 9))
verdict = "no error"
for attempt in range(3):
    try:
        r.send(b"anyone?")
        r.recv(100)
        verdict = "answered"
    except ConnectionRefusedError:
        verdict = "refused"
        break
    except socket.timeout:
        verdict = "timeout"
out.append(verdict)
print("\\n".join(out))
"""


def run_case(t, lab, workers):
    tag = f"{os.getpid() % 100000}w{workers}"
    client, server = lab.namespace("c"), lab.namespace("s")
    c_if, rc = lab.veth(client, None)
    s_if, rs = lab.veth(server, None)
    lab.sh(client, f"ip addr add 10.0.0.2/24 dev {c_if}")
    lab.sh(client, "ip route add default via 10.0.0.1")
    lab.sh(server, f"ip addr add {SERVER}/24 dev {s_if}")
    rc_mac, rs_mac = lab.mac(None, rc), lab.mac(None, rs)
    c_mac, s_mac = lab.mac(client, c_if), lab.mac(server, s_if)
    lab.sh(client, f"ip neigh replace 10.0.0.1 lladdr {rc_mac} dev {c_if} nud permanent")
    lab.sh(server, f"ip neigh replace {POOL} lladdr {rs_mac} dev {s_if} nud permanent")
    qp = ",qpairs=2" if workers == 2 else ""
    lcores = "1, 2" if workers == 2 else "1"
    graph = f"""
name: nat44-hosts
workers: {{lcores: [{lcores}], idle_sleep_us: 50}}
ports:
  pc: {{device: net_af_packet_{tag}c, args: "iface={rc}{qp}"}}
  ps: {{device: net_af_packet_{tag}s, args: "iface={rs}{qp}"}}
elements:
  rxc: {{class: PortRx, port: pc}}
  rxs: {{class: PortRx, port: ps}}
  nat: {{class: Nat44, pool: [{POOL}], inside: [10.0.0.0/24], max_sessions: 65536}}
  ers: {{class: EtherRewrite, src: "{rs_mac}", dst: "{s_mac}"}}
  erc: {{class: EtherRewrite, src: "{rc_mac}", dst: "{c_mac}"}}
  txs: {{class: PortTx, port: ps}}
  txc: {{class: PortTx, port: pc}}
connections:
  - rxc -> [from_inside]nat
  - rxs -> [from_outside]nat
  - nat[to_outside] -> ers -> txs
  - nat[to_inside] -> erc -> txc
"""
    w = f"[{workers} worker{'s' if workers > 1 else ''}] "
    r = t.routerd(graph, name=f"routerd{workers}", lab=lab,
                  check=w + "routerd runs with Nat44 on two af_packet ports")
    if not r.alive():
        return

    ping = lab.run(client, ["ping", "-c", "3", "-i", "0.2", "-W", "2", SERVER])
    t.check(ping.returncode == 0 and "3 received" in ping.stdout, w + "ping client -> server through the NAT")

    srv = lab.spawn(server, ["/usr/bin/python3", "-c", SERVER_PY], stdout=subprocess.PIPE, text=True)
    t.check(srv.stdout.readline().strip() == "ready", w + "servers ready")
    cl = lab.run(client, ["/usr/bin/python3", "-c", CLIENT_PY], timeout=60)
    lines = cl.stdout.split("\n")
    t.info("client saw: " + " | ".join(x for x in lines if x))
    tcp = [x for x in lines if "HELLO" in x]
    udp = [x for x in lines if "PING" in x]
    t.check(len(tcp) == 3 and all(x.startswith(POOL + ":") for x in tcp),
            w + "TCP: 3 connections, the server saw the pool address, data came back")
    t.check(len(udp) == 3 and all(x.startswith(POOL + ":") for x in udp),
            w + "UDP: 3 exchanges, the server saw the pool address")
    t.check("refused" in lines, w + "ICMP port unreachable translated back (ConnectionRefusedError)")

    count = r.read_handler("nat", "count").stdout
    sessions = r.read_handler("nat", "sessions").stdout
    t.info(sessions)
    t.check("tcp 10.0.0.2:" in sessions and "udp 10.0.0.2:" in sessions and "icmp 10.0.0.2:" in sessions,
            w + "sessions lists TCP, UDP and ICMP sessions of the client")
    t.check(any(c.isdigit() and int(c) >= 6 for c in count.split()), w + f"count shows the sessions ({count.split()})")
    t.check(r.stop() == 0, w + "routerd stops cleanly")


def main(t):
    for workers in (1, 2):
        with t.lab("nh") as lab:
            run_case(t, lab, workers)


if __name__ == "__main__":
    harness.run(main)

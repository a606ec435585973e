#!/usr/bin/env python3
"""Nat64 between a real IPv6-only Linux host and a real IPv4 Linux host
(network namespaces), over veth links attached to routerd with DPDK's
net_af_packet.

    client ns (IPv6 only)                          routerd                                server ns (IPv4)
    2001:db8:1::2/64 ══veth══ pc ─► rxc ─► [from_ipv6]nat[to_ipv4] ─► ers ─► txs ─► ps ══veth══ 198.51.100.2/24
    64:ff9b::/96 via ::1     pc ◄─ txc ◄─ erc ◄─ [to_ipv6]nat[from_ipv4] ◄─ rxs ◄──── ps
                                        (pool 198.51.100.1, prefix 64:ff9b::/96)

The client reaches the server at 64:ff9b::198.51.100.2 (64:ff9b::c633:6402).
routerd answers neither ARP nor neighbour discovery, so each host has a
static neighbour entry for the router address it uses (the client's gateway
2001:db8:1::1, the server's view of the pool address 198.51.100.1) pointing
at routerd's end of its link, and EtherRewrite elements address the hosts'
MACs.

Checks, first with one worker, then with two (af_packet qpairs=2: the kernel
spreads flows over both queues, so a request and its reply may be handled by
different workers sharing the one session table):
  - the client pings the server over ICMPv6; the echo replies come back;
  - a TCP connection: the server sees it come from the pool address, the
    data comes back;
  - a UDP exchange: the server sees the pool address;
  - UDP to a closed port: the server's ICMP port unreachable comes back as
    an ICMPv6 port unreachable the client's kernel accepts (its connected
    socket gets ConnectionRefusedError);
  - the `count`, `hosts` and `sessions` handlers show the client's sessions.

Usage: test_nat64_hosts.py --bin build/bin
"""
import os
import subprocess

import harness

POOL = "198.51.100.1"
SERVER = "198.51.100.2"
SERVER6 = "64:ff9b::c633:6402"  # 64:ff9b::198.51.100.2
CLIENT = "2001:db8:1::2"
GATEWAY = "2001:db8:1::1"

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
import socket
out = []
for i in range(3):
    c = socket.create_connection(("{SERVER6}", 8000), timeout=3)
    c.sendall(b"hello %d" % i)
    out.append(c.recv(200).decode())
    c.close()
u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u.settimeout(3)
for i in range(3):
    u.sendto(b"ping %d" % i, ("{SERVER6}", 7777))
    try:
        data, peer = u.recvfrom(200)
        out.append(data.decode() + " from " + peer[0])
    except socket.timeout:
        out.append("timeout")
# ICMP port unreachable, translated to ICMPv6: a connected UDP socket reports it.
r = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); r.settimeout(3)
r.connect(("{SERVER6}", 9))
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
    # The client is IPv6-only: no IPv4 address, no IPv4 route.
    lab.sh(client, f"ip -6 addr add {CLIENT}/64 dev {c_if} nodad")
    lab.sh(client, f"ip -6 route add 64:ff9b::/96 via {GATEWAY}")
    lab.sh(server, f"ip addr add {SERVER}/24 dev {s_if}")
    rc_mac, rs_mac = lab.mac(None, rc), lab.mac(None, rs)
    c_mac, s_mac = lab.mac(client, c_if), lab.mac(server, s_if)
    lab.sh(client, f"ip -6 neigh replace {GATEWAY} lladdr {rc_mac} dev {c_if} nud permanent")
    lab.sh(server, f"ip neigh replace {POOL} lladdr {rs_mac} dev {s_if} nud permanent")
    qp = ",qpairs=2" if workers == 2 else ""
    lcores = "1, 2" if workers == 2 else "1"
    graph = f"""
name: nat64-hosts
workers: {{lcores: [{lcores}], idle_sleep_us: 50}}
ports:
  pc: {{device: net_af_packet_{tag}c, args: "iface={rc}{qp}"}}
  ps: {{device: net_af_packet_{tag}s, args: "iface={rs}{qp}"}}
elements:
  rxc: {{class: PortRx, port: pc}}
  rxs: {{class: PortRx, port: ps}}
  nat: {{class: Nat64, pool: [{POOL}], prefix: "64:ff9b::/96", inside: ["2001:db8:1::/64"], max_sessions: 65536}}
  ers: {{class: EtherRewrite, src: "{rs_mac}", dst: "{s_mac}"}}
  erc: {{class: EtherRewrite, src: "{rc_mac}", dst: "{c_mac}"}}
  txs: {{class: PortTx, port: ps}}
  txc: {{class: PortTx, port: pc}}
connections:
  - rxc -> [from_ipv6]nat
  - rxs -> [from_ipv4]nat
  - nat[to_ipv4] -> ers -> txs
  - nat[to_ipv6] -> erc -> txc
"""
    w = f"[{workers} worker{'s' if workers > 1 else ''}] "
    r = t.routerd(graph, name=f"routerd{workers}", lab=lab,
                  check=w + "routerd runs with Nat64 on two af_packet ports")
    if not r.alive():
        return

    ping = lab.run(client, ["ping", "-6", "-c", "3", "-i", "0.2", "-W", "2", SERVER6])
    t.check(ping.returncode == 0 and "3 received" in ping.stdout,
            w + f"ping -6 {SERVER6} (the IPv4 server) through the NAT64")

    srv = lab.spawn(server, ["/usr/bin/python3", "-c", SERVER_PY], stdout=subprocess.PIPE, text=True)
    t.check(srv.stdout.readline().strip() == "ready", w + "servers ready")
    cl = lab.run(client, ["/usr/bin/python3", "-c", CLIENT_PY], timeout=60)
    lines = cl.stdout.split("\n")
    t.info("client saw: " + " | ".join(x for x in lines if x) + (" " + cl.stderr.strip() if cl.returncode else ""))
    tcp = [x for x in lines if "HELLO" in x]
    udp = [x for x in lines if "PING" in x]
    t.check(len(tcp) == 3 and all(x.startswith(POOL + ":") for x in tcp),
            w + "TCP: 3 connections, the server saw the pool address, data came back")
    t.check(len(udp) == 3 and all(x.startswith(POOL + ":") and x.endswith(" from " + SERVER6) for x in udp),
            w + "UDP: 3 exchanges, the server saw the pool address, the replies came from 64:ff9b::198.51.100.2")
    t.check("refused" in lines, w + "ICMP port unreachable came back as ICMPv6 (ConnectionRefusedError)")

    count = r.read_handler("nat", "count").stdout.split()
    hosts = r.read_handler("nat", "hosts").stdout.split()
    sessions = r.read_handler("nat", "sessions").stdout
    t.info(sessions)
    client_tag = f"[{CLIENT}]:"
    t.check(all(f"{proto} {client_tag}" in sessions for proto in ("tcp", "udp", "icmp")) and
            f"<-> {SERVER}:8000" in sessions and f"<-> {SERVER}:7777" in sessions,
            w + "sessions lists the client's TCP, UDP and ICMP sessions to the server")
    t.check(any(c.isdigit() and int(c) >= 6 for c in count) and "1" in hosts,
            w + f"count shows the sessions ({count}), hosts the one client ({hosts})")
    t.check(r.stop() == 0, w + "routerd stops cleanly")


def main(t):
    for workers in (1, 2):
        with t.lab("n6") as lab:
            run_case(t, lab, workers)


if __name__ == "__main__":
    harness.run(main)

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
import argparse
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from netns import Lab, wait_until  # noqa: E402

passes, failures = [], []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    (passes if cond else failures).append(what)


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
print("ready", flush=True)
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


def run_case(lab, bindir, tmp, workers):
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
    graph = os.path.join(tmp, f"nat64_{workers}.yaml")
    with open(graph, "w") as f:
        f.write(f"""
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
""")
    sock = os.path.join(tmp, f"ctl{workers}.sock")

    def ctl(*args):
        return subprocess.run([os.path.join(bindir, "routerctl"), "-s", sock, *args],
                              capture_output=True, text=True, timeout=30)

    logname = os.path.join(tmp, f"routerd{workers}.log")
    p = lab.spawn_routerd(None, [os.path.join(bindir, "routerd"), "-c", graph, "-s", sock], logname,
                          lambda: ctl("status").returncode == 0)
    w = f"[{workers} worker{'s' if workers > 1 else ''}] "
    up = p.poll() is None and ctl("status").returncode == 0
    check(up, w + "routerd runs with Nat64 on two af_packet ports")
    if not up:
        print(open(logname).read())
        return

    r = lab.run(client, ["ping", "-6", "-c", "3", "-i", "0.2", "-W", "2", SERVER6])
    check(r.returncode == 0 and "3 received" in r.stdout, w + f"ping -6 {SERVER6} (the IPv4 server) through the NAT64")

    srv = lab.spawn(server, ["/usr/bin/python3", "-c", SERVER_PY], stdout=subprocess.PIPE, text=True)
    check(srv.stdout.readline().strip() == "ready", w + "servers ready")
    r = lab.run(client, ["/usr/bin/python3", "-c", CLIENT_PY], timeout=60)
    lines = r.stdout.split("\n")
    print("    client saw: " + " | ".join(x for x in lines if x) + (" " + r.stderr.strip() if r.returncode else ""),
          flush=True)
    tcp = [x for x in lines if "HELLO" in x]
    udp = [x for x in lines if "PING" in x]
    check(len(tcp) == 3 and all(x.startswith(POOL + ":") for x in tcp),
          w + "TCP: 3 connections, the server saw the pool address, data came back")
    check(len(udp) == 3 and all(x.startswith(POOL + ":") and x.endswith(" from " + SERVER6) for x in udp),
          w + "UDP: 3 exchanges, the server saw the pool address, the replies came from 64:ff9b::198.51.100.2")
    check("refused" in lines, w + "ICMP port unreachable came back as ICMPv6 (ConnectionRefusedError)")

    count = ctl("handler", "read", "nat", "count").stdout.split()
    hosts = ctl("handler", "read", "nat", "hosts").stdout.split()
    sessions = ctl("handler", "read", "nat", "sessions").stdout
    print("    " + sessions.strip().replace("\n", "\n    "), flush=True)
    client_tag = f"[{CLIENT}]:"
    check(all(f"{proto} {client_tag}" in sessions for proto in ("tcp", "udp", "icmp")) and
          f"<-> {SERVER}:8000" in sessions and f"<-> {SERVER}:7777" in sessions,
          w + "sessions lists the client's TCP, UDP and ICMP sessions to the server")
    check(any(c.isdigit() and int(c) >= 6 for c in count) and "1" in hosts,
          w + f"count shows the sessions ({count}), hosts the one client ({hosts})")
    p.terminate()
    p.wait(timeout=20)
    check(p.returncode == 0, w + "routerd stops cleanly")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    a, _ = ap.parse_known_args()
    bindir = os.path.abspath(a.bin)
    with tempfile.TemporaryDirectory(prefix="weft-nat64-hosts-") as tmp:
        for workers in (1, 2):
            with Lab("n6") as lab:
                run_case(lab, bindir, tmp, workers)
    print(f"{len(passes)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

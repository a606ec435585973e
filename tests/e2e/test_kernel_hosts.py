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
import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from netns import Lab, wait_until  # noqa: E402

passes, failures = [], []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    (passes if cond else failures).append(what)


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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    a, _ = ap.parse_known_args()
    bindir = os.path.abspath(a.bin)
    with tempfile.TemporaryDirectory(prefix="weft-hosts-") as tmp, Lab("kh") as lab:
        ha, hb = lab.namespace("a"), lab.namespace("b")
        a_if, ra = lab.veth(ha, None)
        b_if, rb = lab.veth(hb, None)
        lab.sh(ha, f"ip addr add 10.200.1.1/24 dev {a_if}")
        lab.sh(hb, f"ip addr add 10.200.1.2/24 dev {b_if}")
        tag = os.getpid() % 100000
        graph = os.path.join(tmp, "g.yaml")
        with open(graph, "w") as f:
            f.write(f"""
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
""")
        sock = os.path.join(tmp, "ctl.sock")

        def ctl(*args):
            return subprocess.run([os.path.join(bindir, "routerctl"), "-s", sock, *args],
                                  capture_output=True, text=True, timeout=30)

        p = lab.spawn_routerd(None, [os.path.join(bindir, "routerd"), "-c", graph, "-s", sock],
                              os.path.join(tmp, "routerd.log"), lambda: ctl("status").returncode == 0)
        check(p.poll() is None and ctl("status").returncode == 0, "routerd runs on two af_packet ports")

        r = lab.run(ha, ["ping", "-c", "3", "-i", "0.2", "-W", "2", "10.200.1.2"])
        check(r.returncode == 0 and "3 received" in r.stdout, "ping A -> B through routerd")

        srv = lab.spawn(hb, ["/usr/bin/python3", "-c", UDP_SERVER], stdout=subprocess.PIPE, text=True)
        check(srv.stdout.readline().strip() == "ready", "UDP server ready in B")
        r = lab.run(ha, ["/usr/bin/python3", "-c", UDP_CLIENT])
        check(r.stdout.strip() == "5", "UDP exchange A <-> B (5 of 5 echoed)")
        try:
            srv.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass  # the lab kills it

        st = json.loads(ctl("--json", "stats").stdout)
        out = {e["id"]: e["total"]["out"] for e in st["elements"]}
        check(out["arp"] >= 1, f"classifier saw ARP ({out['arp']})")
        check(out["icmp"] >= 3, f"classifier saw ICMP echo requests ({out['icmp']})")
        check(out["other"] >= 5, f"classifier saw the UDP datagrams ({out['other']})")
        check(out["m"] == out["arp"] + out["icmp"] + out["other"], "Merge joined all three paths")

        p.terminate()
        p.wait(timeout=20)
        check(p.returncode == 0, "routerd stops cleanly")
    print(f"{len(passes)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

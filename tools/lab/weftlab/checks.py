"""The checks a lab file can ask for. Each returns (passed, detail) for its
expected outcome (`expect: pass` or `fail`); traffic runs between the lab's
own namespaces only.
"""
import json
import os
import re
import subprocess
import sys
import time

from .netns import stop_process, wait_until

ECHO_SERVER = r"""
import socket, sys, threading
proto, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
if proto == "udp":
    s = socket.socket(fam, socket.SOCK_DGRAM); s.bind((addr, port))
    print("ready", flush=True)
    while True:
        data, peer = s.recvfrom(4096)
        s.sendto(("%s %s" % (peer[0], data.decode().upper())).encode(), peer)
else:
    s = socket.socket(fam); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port)); s.listen(16)
    print("ready", flush=True)
    def serve(c, peer):
        with c:
            data = c.recv(4096)
            c.sendall(("%s %s" % (peer[0], data.decode().upper())).encode())
    while True:
        c, peer = s.accept()
        threading.Thread(target=serve, args=(c, peer), daemon=True).start()
"""

ECHO_CLIENT = r"""
import socket, sys
proto, addr, port, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
for i in range(count):
    msg = "weft lab %d" % i
    try:
        if proto == "udp":
            s = socket.socket(fam, socket.SOCK_DGRAM); s.settimeout(2)
            got = None
            for attempt in range(3):       # UDP: a datagram may be lost; retry twice
                s.sendto(msg.encode(), (addr, port))
                try:
                    got = s.recvfrom(4096)[0].decode(); break
                except socket.timeout:
                    pass
        else:
            s = socket.create_connection((addr, port), timeout=3)
            s.sendall(msg.encode())
            got = s.recv(4096).decode()
        s.close()
        print(got if got else "timeout", flush=True)
    except OSError as e:
        print("error %s" % e, flush=True)
"""

SEND_UDP = r"""
import socket, sys
addr, port, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_DGRAM)
sent = 0
for i in range(count):
    try:
        sent += s.sendto(bytes(size), (addr, port)) == size
    except OSError:
        pass
print(sent)
"""

VLAN_PING = r"""
import sys
from scapy.all import Ether, Dot1Q, IP, ICMP, conf, get_if_hwaddr, srp
conf.verb = 0
dev, vlan, src, dst, dst_mac, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])
ok = 0
for i in range(count):
    req = Ether(src=get_if_hwaddr(dev), dst=dst_mac) / Dot1Q(vlan=vlan) / IP(src=src, dst=dst) / ICMP(id=0x77, seq=i)
    ans, _ = srp(req, iface=dev, timeout=2)
    for _, r in ans:
        if r.haslayer(Dot1Q) and r[Dot1Q].vlan == vlan and r.haslayer(ICMP) and r[ICMP].type == 0:
            ok += 1
            break
print(ok)
"""


class CheckRunner:
    def __init__(self, lab, ns_of, routerctl, sock, rundir=None):
        self.lab, self.ns_of, self.routerctl, self.sock = lab, ns_of, routerctl, sock
        self.rundir = rundir

    def run(self, check):
        fn = getattr(self, "_" + check.kind)
        return fn(check.args, check.expect == "pass")

    # Each returns (passed, detail).
    def _ping(self, a, want):
        count = int(a.get("count", 3))
        wait = "2" if want else "1"
        r = self.lab.run(self.ns_of(a["from"]), ["ping", "-n", "-c", str(count), "-i", "0.2", "-W", wait, str(a["to"])],
                         timeout=60)
        m = re.search(r"(\d+) received", r.stdout)
        got = int(m.group(1)) if m else 0
        detail = f"{got} of {count} replies"
        return (got == count, detail) if want else (got == 0, detail)

    def _vlan_ping(self, a, want):
        count = int(a.get("count", 3))
        r = self.lab.run(self.ns_of(a["from"]), [sys.executable, "-c", VLAN_PING, str(a["dev"]), str(a["vlan"]),
                                                 str(a["src"]), str(a["to"]), str(a["dst_mac"]), str(count)],
                         timeout=60)
        if r.returncode != 0:
            return False, r.stderr.strip().splitlines()[-1:] or "scapy failed"
        got = int(r.stdout.strip() or 0)
        detail = f"{got} of {count} tagged replies"
        return (got == count, detail) if want else (got == 0, detail)

    def _echo(self, proto, a, want):
        count, port = int(a.get("count", 3)), int(a.get("port", 7777))
        srv = self.lab.spawn(self.ns_of(a["server"]), [sys.executable, "-c", ECHO_SERVER, proto, str(a["to"]),
                                                       str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        try:
            line = srv.stdout.readline().strip()
            if line != "ready":
                return False, f"the {proto.upper()} server in {a['server']} did not start: {srv.stderr.read()[-300:]}"
            r = self.lab.run(self.ns_of(a["from"]), [sys.executable, "-c", ECHO_CLIENT, proto, str(a["to"]),
                                                     str(port), str(count)], timeout=60)
        finally:
            stop_process(srv)
            self.lab.procs.remove(srv)
        lines = [x for x in r.stdout.splitlines() if x]
        good = [x for x in lines if re.fullmatch(r"\S+ WEFT LAB \d+", x)]
        seen = sorted({x.split()[0] for x in good})
        detail = f"{len(good)} of {count} answered" + (f"; the server saw {', '.join(seen)}" if seen else "")
        bad = [x for x in lines if x not in good]
        if bad:
            detail += f"; client: {bad[0]}"
        if not want:
            return len(good) == 0, detail
        ok = len(good) == count
        if ok and a.get("source"):
            ok = seen == [str(a["source"])]
        return ok, detail

    def _udp(self, a, want):
        return self._echo("udp", a, want)

    def _tcp(self, a, want):
        return self._echo("tcp", a, want)

    def _send_udp(self, a, want):
        count, size = int(a.get("count", 100)), int(a.get("size", 512))
        r = self.lab.run(self.ns_of(a["from"]), [sys.executable, "-c", SEND_UDP, str(a["to"]), str(a.get("port", 9)),
                                                 str(count), str(size)], timeout=60)
        sent = int(r.stdout.strip() or 0) if r.returncode == 0 else 0
        return (sent == count) == want, f"{sent} of {count} datagrams of {size} bytes sent"

    def _neighbor(self, a, want):
        # The host's kernel neighbour entry for ip on dev, in one of the wanted
        # states (by default a learned one: not PERMANENT), with mac if given.
        states, mac = a.get("state", []), str(a.get("mac", "")).lower()
        seen = ["none"]

        def found():
            r = self.lab.run(self.ns_of(a["host"]), ["ip", "-j", "neigh", "show", "to", str(a["ip"]), "dev",
                                                     str(a["dev"])], timeout=30)
            entries = [e for e in json.loads(r.stdout or "[]") if e.get("dst") == str(a["ip"])]
            seen[0] = ", ".join(f"{e.get('lladdr', '-')} {'/'.join(e.get('state', []))}" for e in entries) or "none"
            return any(set(e.get("state", [])) & set(states) and (not mac or e.get("lladdr", "").lower() == mac)
                       for e in entries)
        ok = wait_until(found, timeout=float(a.get("wait", 0)), step=0.2) if a.get("wait") else found()
        return ok == want, f"{a['host']}: {a['ip']} dev {a['dev']}: {seen[0]}"

    def routerctl_out(self, args, sock=None):
        # sock: another routerd's socket (a lab process), relative to the run directory
        sock = os.path.join(self.rundir or "", sock) if sock else self.sock
        r = subprocess.run([self.routerctl, "-s", sock, *[str(x) for x in args]], capture_output=True,
                           text=True, timeout=30)
        return r.returncode, r.stdout + r.stderr

    def _reload(self, a, want):
        rc, out = self.routerctl_out(["reload", a["graph"]])
        lines = out.strip().splitlines()
        m = re.search(r"packets lost (\d+)", out)
        ok = rc == 0 and m is not None and m.group(1) == "0"
        return ok == want, (lines[0] if lines else "no reply") + (f"; packets lost {m.group(1)}" if m else "")

    def _routerctl(self, a, want):
        rx = re.compile(str(a["match"]), re.M)
        out = [""]

        def matched():
            rc, out[0] = self.routerctl_out(a["args"], a.get("socket"))
            return rc == 0 and rx.search(out[0]) is not None
        ok = wait_until(matched, timeout=float(a.get("wait", 0)), step=0.2) if a.get("wait") else matched()
        first = out[0].strip().splitlines()
        detail = (first[0] if len(first) == 1 else f"{len(first)} lines") if first else "no output"
        if not ok or not want:
            detail = "output:\n      " + "\n      ".join(first[:15])
        return ok == want, detail


def timed(fn):
    t0 = time.monotonic()
    ok, detail = fn()
    return ok, detail, time.monotonic() - t0

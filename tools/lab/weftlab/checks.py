"""The checks a lab file can ask for. Each returns (passed, detail) for its
expected outcome (`expect: pass` or `fail`); traffic runs between the lab's
own namespaces only.
"""
import ipaddress
import json
import os
import re
import shutil
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

# A UDP probe with TTL / hop limit 1 to argv[1]; prints the source and the
# TTL / hop limit of the time exceeded that answers it, as scapy reads them.
TIME_EXCEEDED = r"""
import sys
from scapy.all import IP, IPv6, UDP, ICMP, ICMPv6TimeExceeded, conf, sr1
conf.verb = 0
dst = sys.argv[1]
v6 = ":" in dst
for attempt in range(3):
    probe = (IPv6(dst=dst, hlim=1) if v6 else IP(dst=dst, ttl=1)) / UDP(sport=40000 + attempt, dport=33434)
    r = sr1(probe, timeout=2)
    if r is None:
        continue
    if v6 and r.haslayer(ICMPv6TimeExceeded):
        print(r[IPv6].src, r[IPv6].hlim)
        break
    if not v6 and r.haslayer(ICMP) and r[ICMP].type == 11:
        print(r[IP].src, r[IP].ttl)
        break
else:
    print("none")
"""


def _addresses(text):
    """The IP addresses among the words of text, in order."""
    out = []
    for w in re.split(r"[\s()]+", text):
        try:
            out.append(str(ipaddress.ip_address(w)))
        except ValueError:
            pass
    return out


def _v6(addr):
    return ":" in str(addr)


def _missing(program, package):
    return None if shutil.which(program) else f"{program} is not installed (apt-get install {package})"


class CheckRunner:
    def __init__(self, lab, ns_of, routerctl, sock, rundir=None, routers=None, frrs=None):
        self.lab, self.ns_of, self.routerctl, self.sock = lab, ns_of, routerctl, sock
        self.rundir = rundir
        self.routers = routers or {}   # router name -> control socket
        self.frrs = frrs or {}         # host -> weftlab.frr.Frr

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
        if "ttl" in a and want:
            # Every reply's TTL / hop limit as it arrived (iputils prints both as ttl=).
            ttls = sorted({int(t) for t in re.findall(r"\bttl=(\d+)", r.stdout)})
            detail += f", ttl {'/'.join(map(str, ttls)) or '-'}"
            return got == count and ttls == [int(a["ttl"])], detail
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

    def routerctl_out(self, args, sock=None, router=None):
        # router: a router of the lab by name; sock: another routerd's socket (a
        # lab process), relative to the run directory
        if router:
            sock = self.routers[router]
        else:
            sock = os.path.join(self.rundir or "", sock) if sock else self.sock
        r = subprocess.run([self.routerctl, "-s", sock, *[str(x) for x in args]], capture_output=True,
                           text=True, timeout=30)
        return r.returncode, r.stdout + r.stderr

    def _reload(self, a, want):
        rc, out = self.routerctl_out(["reload", a["graph"]], router=a.get("router"))
        lines = out.strip().splitlines()
        m = re.search(r"packets lost (\d+)", out)
        ok = rc == 0 and m is not None and m.group(1) == "0"
        return ok == want, (lines[0] if lines else "no reply") + (f"; packets lost {m.group(1)}" if m else "")

    def _routerctl(self, a, want):
        rx = re.compile(str(a["match"]), re.M)
        out = [""]

        def matched():
            rc, out[0] = self.routerctl_out(a["args"], a.get("socket"), a.get("router"))
            return rc == 0 and rx.search(out[0]) is not None
        ok = wait_until(matched, timeout=float(a.get("wait", 0)), step=0.2) if a.get("wait") else matched()
        first = out[0].strip().splitlines()
        detail = (first[0] if len(first) == 1 else f"{len(first)} lines") if first else "no output"
        if not ok or not want:
            detail = "output:\n      " + "\n      ".join(first[:15])
        return ok == want, detail

    # --- routing: the FIB, FRR, and what hosts see of the routers ---------
    def _fib(self, a, want):
        """The prefix is in the router's FIB (installed; with `via`, a next hop
        matches), or, expect: fail, it is not; polled for `wait` seconds. A
        router that does not answer fails either way."""
        via = re.compile(str(a["via"])) if a.get("via") else None
        seen = {"error": "not asked", "route": None}

        def ask():
            rc, out = self.routerctl_out(["--json", "routes", a["prefix"]], router=a.get("router"))
            seen["error"], seen["route"] = None, None
            try:
                services = json.loads(out) if rc == 0 else None
            except ValueError:
                services = None
            if services is None:
                seen["error"] = (out.strip().splitlines() or [f"routerctl exit status {rc}"])[-1]
                return
            for svc in services:
                for rt in (svc.get("result") or {}).get("routes", []):
                    if rt.get("prefix") == a["prefix"]:
                        seen["route"] = rt

        def present():
            rt = seen["route"]
            return bool(rt and rt.get("installed") and (not via or any(via.search(n) for n in rt.get("nexthops", []))))

        def done():
            ask()
            return seen["error"] is None and present() == want
        wait_until(done, timeout=float(a.get("wait", 0)) or 0.01, step=0.2)
        rt = seen["route"]
        if seen["error"] is not None:
            return False, f"routerctl: {seen['error']}"
        if rt:
            detail = f"{rt['prefix']} {rt.get('type')} [{'; '.join(rt.get('nexthops', []))}]" + \
                     ("" if rt.get("installed") else " (not installed)")
        else:
            detail = "no such route"
        return present() == want, detail

    def _bgp(self, a, want):
        """FRR's bgpd on `host` has its session with `peer` (an address, or an
        interface for a link-local session) Established; polled for `wait`
        seconds (default 60)."""
        frr, peer = self.frrs[a["host"]], str(a["peer"])
        seen = [{}]

        def state():
            r = frr.vtysh(f"show bgp neighbors {peer} json")
            try:
                d = json.loads(r.stdout)
            except ValueError:
                seen[0] = None  # bgpd did not answer: neither up nor down
                return None
            # Keyed by the peer as configured (an address, or the interface of a
            # link-local session); FRR 8.4 answers an unknown peer with no key.
            vals = list(d.values())
            n = d.get(peer) or (vals[0] if len(vals) == 1 and isinstance(vals[0], dict) else {})
            seen[0] = n
            return n.get("bgpState")

        def done():
            st = state()
            return seen[0] is not None and (st == "Established") == want
        wait_until(done, timeout=float(a.get("wait", 60)), step=0.5)
        n = seen[0]
        if n is None:
            return False, "bgpd did not answer (vtysh: no JSON)"
        st = n.get("bgpState", "no such neighbour")
        detail = st
        if n.get("bgpNeighborAddr") and n.get("bgpNeighborAddr") != peer:
            detail += f", peer {n['bgpNeighborAddr']}"
        if n.get("remoteAs"):
            detail += f" AS {n['remoteAs']}"
        fams = [f"{af}: {info.get('acceptedPrefixCounter', 0)} prefixes"
                for af, info in (n.get("addressFamilyInfo") or {}).items()]
        if fams:
            detail += " (" + ", ".join(fams) + ")"
        return (st == "Established") == want, detail

    def _vtysh(self, a, want):
        """vtysh -c each command on the FRR of `host`: it succeeds (and its
        output matches `match`, polled for `wait` seconds)."""
        frr = self.frrs[a["host"]]
        rx = re.compile(str(a["match"]), re.M) if a.get("match") else None
        out = [None]

        def ok():
            out[0] = frr.vtysh(*[str(c) for c in a["commands"]])
            r = out[0]
            # vtysh exits 0 even when a command in configure mode is refused; it says so.
            refused = re.search(r"^% ", r.stdout, re.M)
            return r.returncode == 0 and not refused and (rx is None or rx.search(r.stdout) is not None)
        good = wait_until(ok, timeout=float(a.get("wait", 0)), step=0.5) if a.get("wait") else ok()
        r = out[0]
        lines = (r.stdout + r.stderr).strip().splitlines()
        detail = f"exit status {r.returncode}" + (f"; {len(lines)} lines" if lines else "")
        if not good or not want:
            detail += ("; output:\n      " + "\n      ".join(lines[:15])) if lines else ""
        return bool(good) == want, detail

    def _traceroute(self, a, want):
        """Real traceroute (UDP probes, -n): hop i answers from hops[i] and the
        last hop is the destination."""
        if _missing("traceroute", "traceroute"):
            return False, _missing("traceroute", "traceroute")
        to, hops = str(a["to"]), [str(ipaddress.ip_address(str(h))) for h in a["hops"]]
        argv = ["traceroute", "-n", "-w", "2", "-q", "3", "-m", str(len(hops) + 2)] + (["-6"] if _v6(to) else []) + [to]
        r = self.lab.run(self.ns_of(a["from"]), argv, timeout=60)
        got = []
        for line in r.stdout.splitlines():
            m = re.match(r"\s*(\d+)\s+(.*)", line)
            if m:
                got.append(sorted(set(_addresses(m.group(2)))))
        ok = r.returncode == 0 and len(got) == len(hops) and all(g == [h] for g, h in zip(got, hops))
        shown = ", ".join("/".join(g) if g else "*" for g in got) or "no hop"
        detail = f"hops: {shown}"
        if not ok:
            detail += "\n      " + "\n      ".join((r.stdout + r.stderr).strip().splitlines()[:12])
        return ok == want, detail

    def _tracepath(self, a, want):
        """Real tracepath from `from` to `to` reports the path MTU `pmtu` (after
        the host forgot what it had learnt of the path: route cache flushed)."""
        if _missing("tracepath", "iputils-tracepath"):
            return False, _missing("tracepath", "iputils-tracepath")
        to = str(a["to"])
        fam = "-6" if _v6(to) else "-4"
        self.lab.run(self.ns_of(a["from"]), ["ip", fam, "route", "flush", "cache"])
        r = self.lab.run(self.ns_of(a["from"]), ["tracepath", "-n", fam, "-m", "10", to], timeout=60)
        m = re.search(r"Resume: pmtu (\d+)", r.stdout)
        pmtu = int(m.group(1)) if m else None
        # The hop that said so: ` 1:  10.210.1.1   0.3ms pmtu 1400`.
        where = next((w for w in re.finditer(r"^\s*(\d+)\??:\s+(\S+)\s.*pmtu (\d+)", r.stdout, re.M)
                      if int(w.group(3)) == pmtu and w.group(2) != "[LOCALHOST]"), None)
        ok = pmtu == int(a["pmtu"])
        detail = f"pmtu {pmtu}" + (f", reported at hop {where.group(1)} by {where.group(2)}" if where else "")
        if not ok:
            detail += "\n      " + "\n      ".join((r.stdout + r.stderr).strip().splitlines()[:12])
        return ok == want, detail

    def _time_exceeded(self, a, want):
        """A UDP probe from `from` to `to` with TTL (hop limit) 1 gets a time
        exceeded from `by` that arrives with TTL (hop limit) `ttl` (default 64:
        the router that sent it did not decrement its own packet), as scapy
        reads it in `from`'s namespace."""
        to, by, ttl = str(a["to"]), str(ipaddress.ip_address(str(a["by"]))), int(a.get("ttl", 64))
        r = self.lab.run(self.ns_of(a["from"]), [sys.executable, "-c", TIME_EXCEEDED, to], timeout=60)
        words = r.stdout.split()
        if r.returncode != 0 or len(words) != 2:
            return False, "scapy: " + (" / ".join((r.stdout + r.stderr).strip().splitlines()[-2:]) or "no output")
        src, got = str(ipaddress.ip_address(words[0])), int(words[1])
        ok = src == by and got == ttl
        return ok == want, f"time exceeded from {src} with {'hop limit' if _v6(to) else 'TTL'} {got}"

    def _unreachable(self, a, want):
        """One ping from `from` to `to` gets ICMP destination unreachable (any
        code) from `by`."""
        to = str(a["to"])
        r = self.lab.run(self.ns_of(a["from"]), ["ping", "-n", "-c", "1", "-W", "2", to], timeout=30)
        by = str(ipaddress.ip_address(str(a["by"])))
        line = next((ln for ln in r.stdout.splitlines() if re.search(r"unreachable", ln, re.I)), None)
        ok = line is not None and line.split()[:2] == ["From", by]
        detail = line.strip() if line else "no unreachable: " + " / ".join(r.stdout.strip().splitlines()[-2:])
        return ok == want, detail


def timed(fn):
    t0 = time.monotonic()
    ok, detail = fn()
    return ok, detail, time.monotonic() - t0

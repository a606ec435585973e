#!/usr/bin/env python3
"""The host path carries more than BGP: FRR's ospfd, ospf6d and bfdd, and an
SSH session, between routerd's host and independent implementations across
Weft's data port.

    ns H (host)              ns R (router)                                   ns P (peer: plain FRR on Linux)   ns Q
    10.202.2.2/24 ══veth══ p1 ┐  routerd (the graph of                ┌ p0 ══veth══ 10.202.1.2/24             10.99.0.2/24
                              │  test_host_path_bgp.py)              │            ospfd, ospf6d, bfdd ── 10.99.0.1/24 ══veth══
                              └─ t1 (net_tap)    t0 (net_tap) ───────┘            OpenSSH's ssh client
                                 kernel: wt1 10.202.2.1/24, wt0 10.202.1.1/24
                                 zebra -M dplane_fpm_nl ──FPM──► routerd's Fib
                                 ospfd, ospf6d, bfdd; dropbear (SSH server) on 10.202.1.1:2222

No static MAC and no static neighbour anywhere. What crosses Weft to the
kernel: OSPF to 224.0.0.5 and ff02::5 with TTL / hop limit 1 (IpLocal's
`control` output), OSPF's unicast database exchange, BFD's single-hop UDP
3784 with TTL 255 (RFC 5881: the kernel's bfdd drops anything less, so a
router that decremented it would fail this), and TCP to port 2222 (`local`).
Checks:
 1. OSPFv2 between R's ospfd (through Weft) and P's: Full; P's 10.99.0.0/24
    reaches Weft's FIB over FPM as an OSPF route, and H pings Q through it;
 2. OSPFv3 over the link-locals: Full; P's 2001:db8:99::/64 reaches the FIB
    and H pings Q over IPv6;
 3. BFD between R's bfdd and P's: Up on both sides; P's bfdd stopped, R's
    session goes Down within its detection time (so the Up was live);
 4. SSH: OpenSSH's client on P logs in to dropbear on R's address with a
    key, runs a command (also beside busy loops on every CPU), and moves
    4 MB each way intact (full-size TCP segments both ways through the host
    path).

Usage: test_host_path_protocols.py --bin build/bin
"""
import hashlib
import json
import os
import random
import subprocess
import time

import harness
from harness import wait_until
from test_host_path_bgp import GRAPH, topology
from weftlab.frr import BFDD, OSPF6D, OSPFD, ZEBRA, Frr

DROPBEAR = "/usr/sbin/dropbear"
SSH_PORT = 2222


def ospf_conf(name, router_id, ifname, stub):
    """ospfd: point-to-point on the link (no DR election to wait for), fast hellos."""
    return f"""hostname {name}
interface {ifname}
 ip ospf network point-to-point
 ip ospf hello-interval 1
 ip ospf dead-interval 4
 ip ospf area 0.0.0.0
router ospf
 ospf router-id {router_id}
{stub}"""


def ospf6_conf(name, router_id, ifname, stub):
    return f"""hostname {name}
interface {ifname}
 ipv6 ospf6 area 0.0.0.0
 ipv6 ospf6 network point-to-point
 ipv6 ospf6 hello-interval 1
 ipv6 ospf6 dead-interval 4
router ospf6
 ospf6 router-id {router_id}
{stub}"""


def bfd_conf(name, peer, ifname):
    return f"""hostname {name}
bfd
 peer {peer} interface {ifname}
  receive-interval 100
  transmit-interval 100
  detect-multiplier 3
"""


def main(t):
    t.needs(ZEBRA, OSPFD, OSPF6D, BFDD, DROPBEAR, "ssh", "ssh-keygen", "dropbearkey", "ping", "vtysh", "taskset")
    tag = os.getpid() % 100000
    with t.lab("hp") as lab:
        nr, np_, nh, nq, r0, r1, p_if = topology(lab)  # as test_host_path_bgp.py's
        wt0, wt1 = f"wt{tag}a", f"wt{tag}b"
        port = random.randint(20000, 60000)
        r = t.routerd(GRAPH.format(tag=tag, r0=r0, r1=r1, wt0=wt0, wt1=wt1, port=port), lab=lab, ns=nr,
                      check="routerd runs in R with two data ports and their host paths")
        def has_addr(dev, a):
            return any(x.get("local") == a for x in json.loads(lab.sh(nr, f"ip -j addr show dev {dev}"))[0]["addr_info"])
        t.require(wait_until(lambda: has_addr(wt0, "10.202.1.1") and has_addr(wt0, "2001:db8:202:1::1"), 10),
                  f"HostPath gave {wt0} the interface's addresses")

        rdir, pdir = t.path("frr-r"), t.path("frr-p")
        os.makedirs(rdir)
        os.makedirs(pdir)
        names = ("zebra", "ospfd", "ospf6d", "bfdd")
        for d in (rdir, pdir):
            for n in names:
                t.log_on_failure(os.path.join(d, n + ".log"), os.path.basename(d) + "/" + n + ".log")
        fr = Frr(lab, nr, rdir, port, daemons={   # on the host path: zebra feeds the Fib
            "ospfd": ospf_conf("weft-r-ospfd", "10.202.1.1", wt0, " redistribute connected\n"),
            "ospf6d": ospf6_conf("weft-r-ospf6d", "10.202.1.1", wt0, " redistribute connected\n"),
            "bfdd": bfd_conf("weft-r-bfdd", "10.202.1.2", wt0)})
        fp = Frr(lab, np_, pdir, None, daemons={  # plain FRR on Linux
            "ospfd": ospf_conf("weft-p-ospfd", "10.202.1.2", p_if, " redistribute connected\n"),
            "ospf6d": ospf6_conf("weft-p-ospf6d", "10.202.1.2", p_if, " redistribute connected\n"),
            "bfdd": bfd_conf("weft-p-bfdd", "10.202.1.1", p_if)})
        for f in (fr, fp):
            f.start_zebra()
            for d in names[1:]:
                f.start(d)

        def fib_route(prefix):
            for f in r.json("routes"):
                for rt in f["result"]["routes"]:
                    if rt["prefix"] == prefix:
                        return rt
            return None

        def vjson(frr, cmd):
            try:
                return json.loads(frr.vtysh(cmd).stdout or "null")
            except ValueError:
                return None

        t.step("1. OSPFv2 through Weft")
        def ospf_state():
            n = (vjson(fr, "show ip ospf neighbor json") or {}).get("neighbors", {}).get("10.202.1.2", [])
            return n[0].get("nbrState", n[0].get("state", "")) if n else ""
        t.check(wait_until(lambda: ospf_state().startswith("Full"), 60),
                "R's ospfd and P's ospfd: Full (hellos to 224.0.0.5 and the database exchange crossed Weft)",
                str(ospf_state()))
        t.check(wait_until(lambda: (fib_route("10.99.0.0/24") or {}).get("installed"), 30),
                "P's 10.99.0.0/24, learned by OSPF, reached Weft's FIB over FPM", json.dumps(fib_route("10.99.0.0/24")))
        # The way back: P's kernel has H's subnet from R's ospfd (R's
        # redistributed connected route, a type-5 LSA that may follow Full).
        t.check(wait_until(lambda: "10.202.2.0/24" in lab.sh(np_, "ip -4 route show 10.202.2.0/24"), 30),
                "P's kernel learned H's 10.202.2.0/24 from R's ospfd (the way back)",
                lab.sh(np_, "ip -4 route"))
        p = lab.run(nh, ["ping", "-c", "3", "-i", "0.2", "-W", "2", "10.99.0.2"])
        t.check(p.returncode == 0 and " 0% packet loss" in p.stdout, "H pings Q through Weft with the OSPF route",
                p.stdout)

        t.step("2. OSPFv3 through Weft")
        def ospf6_state():
            out = fr.vtysh("show ipv6 ospf6 neighbor").stdout
            return next((ln for ln in out.splitlines() if ln.startswith("10.202.1.2")), "")
        t.check(wait_until(lambda: "Full" in ospf6_state(), 60),
                "R's ospf6d and P's ospf6d: Full (ff02::5 from the link-locals crossed Weft)", ospf6_state())
        t.check(wait_until(lambda: (fib_route("2001:db8:99::/64") or {}).get("installed"), 30),
                "P's 2001:db8:99::/64, learned by OSPFv3, reached Weft's FIB", json.dumps(fib_route("2001:db8:99::/64")))
        t.check(wait_until(lambda: "2001:db8:202:2::/64" in lab.sh(np_, "ip -6 route show 2001:db8:202:2::/64"), 30),
                "P's kernel learned H's 2001:db8:202:2::/64 from R's ospf6d (the way back)",
                lab.sh(np_, "ip -6 route"))
        p = lab.run(nh, ["ping", "-6", "-c", "3", "-i", "0.2", "-W", "2", "2001:db8:99::2"])
        t.check(p.returncode == 0 and " 0% packet loss" in p.stdout,
                "H pings Q over IPv6 through Weft with the OSPFv3 route", p.stdout)

        t.step("3. BFD through Weft")
        def bfd_status(frr, peer):
            for s in vjson(frr, "show bfd peers json") or []:
                if s.get("peer") == peer:
                    return s.get("status")
            return None
        t.check(wait_until(lambda: bfd_status(fr, "10.202.1.2") == "up", 30), "R's BFD session to P: up",
                str(bfd_status(fr, "10.202.1.2")))
        t.check(wait_until(lambda: bfd_status(fp, "10.202.1.1") == "up", 10), "P's BFD session to R: up",
                str(bfd_status(fp, "10.202.1.1")))
        t0 = time.monotonic()
        fp.kill("bfdd")
        t.check(wait_until(lambda: bfd_status(fr, "10.202.1.2") == "down", 10),
                "P's bfdd stopped: R's session goes down (it was live)",
                f"{bfd_status(fr, '10.202.1.2')} after {time.monotonic() - t0:.1f} s")

        t.step("4. SSH to the router's address")
        sdir = t.path("ssh")
        home = os.path.join(sdir, "home")   # R's root home for dropbear, in its own mount namespace
        os.makedirs(os.path.join(home, ".ssh"))
        os.chmod(sdir, 0o700)
        os.chmod(home, 0o700)
        os.chmod(os.path.join(home, ".ssh"), 0o700)
        key, host_key = os.path.join(sdir, "id"), os.path.join(sdir, "host_key")
        t.require(t.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key]).ok, "an ed25519 key for the client")
        t.require(t.run(["dropbearkey", "-t", "ed25519", "-f", host_key]).ok, "a host key for dropbear")
        with open(key + ".pub") as src, open(os.path.join(home, ".ssh", "authorized_keys"), "w") as dst:
            dst.write(src.read())
        os.chmod(os.path.join(home, ".ssh", "authorized_keys"), 0o600)
        log = os.path.join(sdir, "dropbear.log")
        t.log_on_failure(log, "dropbear.log")
        # dropbear reads root's ~/.ssh/authorized_keys: /root is replaced by
        # `home` in a mount namespace of its own, so the machine's is untouched.
        with open(log, "w") as out:
            t.spawn(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                     f"mount --bind {home} /root && exec {DROPBEAR} -F -E -s -p 10.202.1.1:{SSH_PORT} "
                     f"-r {host_key} -P {sdir}/dropbear.pid"], lab=lab, ns=nr, stdout=out, stderr=subprocess.STDOUT)
        t.require(wait_until(lambda: f":{SSH_PORT}" in lab.sh(nr, "ss -ltn"), 10), "dropbear listens on 10.202.1.1")
        ssh = ["ssh", "-F", "/dev/null", "-i", key, "-p", str(SSH_PORT), "-o", "BatchMode=yes",
               "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=30",
               "-o", "LogLevel=ERROR", "root@10.202.1.1"]
        p = lab.run(np_, ssh + ["echo weft-ssh-$((6*7))"], timeout=60)
        t.check(p.returncode == 0 and "weft-ssh-42" in p.stdout, "P logs in to R over SSH and runs a command",
                p.stdout + p.stderr)
        # Beside busy loops in this test's session, on both CPUs: routerd
        # runs in a session of its own (weftlab's spawn_routerd), so its
        # sub-millisecond sleepers and these loops are not one scheduling
        # group, which would starve dropbear's session on their CPU (34 s
        # for this login when routerd shared the test's session; see
        # docs/engine.md, "CPUs shared with other programs").
        busy = [subprocess.Popen(["taskset", "-c", str(cpu), "sh", "-c", "while :; do :; done"])
                for cpu in range(min(2, os.cpu_count() or 1))]
        try:
            t0 = time.monotonic()
            p = lab.run(np_, ssh + ["echo weft-ssh-busy"], timeout=60)
            took = time.monotonic() - t0
        finally:
            for b in busy:
                b.kill()
                b.wait()
        t.check(p.returncode == 0 and "weft-ssh-busy" in p.stdout and took < 15,
                "P logs in to R over SSH beside busy loops on every CPU (routerd not starving others)",
                f"{took:.2f} s; {p.stdout}{p.stderr}")
        blob = os.urandom(4 << 20)
        p = subprocess.run(["ip", "netns", "exec", np_] + ssh + ["sha256sum"], input=blob, capture_output=True,
                           timeout=120)
        t.check(p.returncode == 0 and p.stdout.decode().split()[0] == hashlib.sha256(blob).hexdigest(),
                "4 MB from P reach R's shell intact", p.stdout.decode() + p.stderr.decode())
        p = subprocess.run(["ip", "netns", "exec", np_] + ssh + [f"head -c {4 << 20} /dev/zero"], capture_output=True,
                           timeout=120)
        t.check(p.returncode == 0 and len(p.stdout) == 4 << 20 and not p.stdout.strip(b"\0"),
                "4 MB from R's shell reach P intact", f"{len(p.stdout)} bytes; {p.stderr.decode()}")
        t.check(r.stop() == 0, "routerd stops cleanly")


if __name__ == "__main__":
    harness.run(main)

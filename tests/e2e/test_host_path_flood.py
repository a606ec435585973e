#!/usr/bin/env python3
"""The host path under a flood: a flood to the router's own address must
not starve forwarding, must not starve the control traffic of another
source, and every packet punted or dropped is counted.

    ns A (host + attacker)          ns R (router)                                       ns B (host)
    10.203.1.2/24 (stream, flood)   routerd, one worker:                                10.203.2.2/24
    10.203.1.3/24 (ping)  ══veth══ p0 ─► ArpNd ─► IpLocal ─[forward]─► IpLookup ─► p1 ══veth══ (UDP sink:
                                          │         └[local, control]─┐                      Udp NoPorts)
                                          └[host]─────────────────────┴► punt (RateLimiter, pps,
                                                                          key src_prefix /32) ─► t0 (net_tap, deferred)
                                    kernel wtNa 10.203.1.1/24 ─► t0 PortRx ─► p0 (replies)
                                    (the same on p1: punt1 ─► t1, kernel wtNb 10.203.2.1/24)

A sends frames with tests/e2e/packet_sender.py (AF_PACKET, prebuilt frames),
pinned to CPU 0 (the worker is lcore 1). The data ports' af_packet rings hold
8192 frames (framecnt): with DPDK's default 512, a worker descheduled for
20 ms on a loaded machine loses frames at the port whatever the host path
does, and the test would measure the machine, not the limiter.

 1. HostPath gave the taps their addresses; A pings the router (10.203.1.1)
    and B (through Weft);
 2. baseline: A streams UDP to B at STREAM_PPS for PHASE_S seconds; B's
    kernel counts what arrives (Udp NoPorts: no socket on the port);
 3. flood: A floods 10.203.1.1 with UDP to a closed port and ICMP echo
    requests at FLOOD_PPS (20 times the limiter's rate; at least FLOOD_FACTOR
    times reach it, checked), while it streams to B again, pings
    10.203.1.1 from its other address (10.203.1.3), and B pings 10.203.2.1.
    Checks: the share of the stream B receives is >= 0.9 of the baseline's;
    the pings are answered (>= 90%: the limiter keys on the source, so the
    flood's bucket is not the ping's); routerd is alive;
 4. the counters, read when they have settled: the limiter's red drops are
    what it was offered minus what it passed; what it passed is what the
    tap's port sent plus what its PortTx counted dropped (the PortTx is
    deferred: a thread of routerd's writes to the tap, its drops are in
    handler `deferred`, and its ring is empty once the counters settle); the
    kernel interface's RX packet count (/sys/class/net/wtNa/statistics/rx_packets, as
    `ip -s link` shows) grew by exactly what the tap's PortTx sent;
 5. an ARP flood: A sends ARP requests for 10.203.1.1 at twice ArpNd's
    `rate` while it streams to B again and B pings the router. Checks:
    ArpNd answers no more than its rate and drops the rest as rate_limited;
    the stream keeps >= 0.9 of the baseline's share; B's ping is answered;
    A's neighbour entry is unchanged.

With --without-limiter the RateLimiters are replaced by Pass elements: the
checks of step 4 on the limiter are left out and the others show what a
flood does to an unprotected host path (a demonstration, not run in CI):
whether the worker falls behind depends on the CPU it gets; on the loaded
2-core machine the test was written on, one run kept 0.48 of the stream and
answered no ping, another kept up. --flood-pps changes the flood's rate: at
50 000/s the af_packet port itself loses frames, limiter or not.

Usage: test_host_path_flood.py --bin build/bin [--without-limiter]
"""
import json
import os
import sys
import time

import harness
from harness import wait_until

STREAM_PPS = 4000
PHASE_S = 4.0
LIMIT_PPS = 1000
FLOOD_PPS = 20000
FLOOD_FACTOR = 10
ARP_RATE = 10000       # ArpNd's default `rate` (ARP/ND packets per second per worker)
ARP_FLOOD_PPS = 20000  # twice that
SENDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "packet_sender.py")

GRAPH = """
name: host-path-flood
eal: {{memory_mb: 256}}
workers: {{lcores: [1], idle_sleep_us: 0}}
ports:
  p0: {{device: net_af_packet_{tag}0, args: "iface={r0},framecnt=8192"}}
  p1: {{device: net_af_packet_{tag}1, args: "iface={r1},framecnt=8192"}}
  t0: {{device: net_tap_{tag}0, args: "iface={wt0}"}}
  t1: {{device: net_tap_{tag}1, args: "iface={wt1}"}}
services:
  ifaces:
    class: Interfaces
    interfaces:
      - {{name: a, port: p0, addresses: [10.203.1.1/24], host: {wt0}}}
      - {{name: b, port: p1, addresses: [10.203.2.1/24], host: {wt1}}}
  host: {{class: HostPath, interfaces: ifaces}}
  fib: {{class: Fib, listen: none, interfaces_from: ifaces}}
elements:
  rx0: {{class: PortRx, port: p0}}
  rx1: {{class: PortRx, port: p1}}
  nd0: {{class: ArpNd, interfaces: ifaces, interface: a, host: true}}
  nd1: {{class: ArpNd, interfaces: ifaces, interface: b, host: true}}
  loc0: {{class: IpLocal, interfaces: ifaces}}
  loc1: {{class: IpLocal, interfaces: ifaces}}
  h0: Merge
  h1: Merge
  punt0: {punt}
  punt1: {punt}
  txt0: {{class: PortTx, port: t0, deferred: true}}
  txt1: {{class: PortTx, port: t1, deferred: true}}
  rxt0: {{class: PortRx, port: t0}}
  rxt1: {{class: PortRx, port: t1}}
  in: Merge
  lookup: {{class: IpLookup, fib: fib, interfaces: ifaces, outputs: [a, b]}}
  m0: Merge
  m1: Merge
  tx0: {{class: PortTx, port: p0}}
  tx1: {{class: PortTx, port: p1}}
connections:
  - rx0 -> nd0
  - nd0[other] -> loc0
  - nd0[host] -> h0
  - nd0[out] -> m0
  - loc0[forward] -> in
  - loc0[local] -> h0
  - loc0[control] -> h0
  - h0 -> punt0 -> txt0
  - rxt0 -> m0
  - rx1 -> nd1
  - nd1[other] -> loc1
  - nd1[host] -> h1
  - nd1[out] -> m1
  - loc1[forward] -> in
  - loc1[local] -> h1
  - loc1[control] -> h1
  - h1 -> punt1 -> txt1
  - rxt1 -> m1
  - in -> lookup
  - lookup[a] -> m0
  - lookup[b] -> m1
  - m0 -> tx0
  - m1 -> tx1
"""

LIMITER = ("{class: RateLimiter, unit: pps, rate: %d, burst: %d, key: src_prefix, prefix_len: 32, "
           "action: mark, dscp_yellow: keep, red: drop}" % (LIMIT_PPS, LIMIT_PPS // 10))


def flags(ap):
    ap.add_argument("--flood-pps", type=int, default=FLOOD_PPS, help=f"the flood's rate (default {FLOOD_PPS}/s)")
    ap.add_argument("--without-limiter", action="store_true",
                    help="replace the RateLimiters by Pass (a demonstration of an unprotected host path)")


def main(t):
    t.needs(t.exe("routerd"), t.exe("routerctl"), "ping", "taskset")
    guarded = not t.args.without_limiter
    tag = os.getpid() % 100000
    py = sys.executable
    with t.lab("hf") as lab:
        nr = lab.namespace("r")
        na = lab.namespace("a", ipv6=False)
        nb = lab.namespace("b", ipv6=False)
        r0, a_if = lab.veth(nr, na)
        r1, b_if = lab.veth(nr, nb)
        for dev in (r0, r1):  # routerd's data ports (af_packet)
            lab.sh(nr, lab.routerd_port_sysctls(dev))
        lab.sh(na, f"ip addr add 10.203.1.2/24 dev {a_if} && ip addr add 10.203.1.3/24 dev {a_if} && "
                   f"ip route add default via 10.203.1.1")
        lab.sh(nb, f"ip addr add 10.203.2.2/24 dev {b_if} && ip route add default via 10.203.2.1")
        wt0, wt1 = f"wt{tag}a", f"wt{tag}b"
        graph = GRAPH.format(tag=tag, r0=r0, r1=r1, wt0=wt0, wt1=wt1, punt=LIMITER if guarded else "Pass")
        r = t.routerd(graph, lab=lab, ns=nr, check="routerd runs in R with two data ports and their host paths"
                      + ("" if guarded else " (no RateLimiter)"))

        def stats():
            return r.stats()

        def tap_rx(dev):
            return int(lab.sh(nr, f"cat /sys/class/net/{dev}/statistics/rx_packets"))

        def noports():
            lines = [ln.split() for ln in lab.sh(nb, "cat /proc/net/snmp").splitlines() if ln.startswith("Udp:")]
            return int(lines[1][lines[0].index("NoPorts")])

        def sender(ns, dst, kind, seconds, rate=0, src="10.203.1.2", port=9):
            argv = ["taskset", "-c", "0", py, SENDER, "--iface", a_if, "--src-mac", mac_a, "--dst-mac", mac_r0,
                    "--src", src, "--dst", dst, "--kind", kind, "--port", str(port), "--rate", str(rate),
                    "--seconds", str(seconds)]
            return lab.spawn(ns, argv, stdout=-1, stderr=-1, text=True)

        def result(p, what):
            out, err = p.communicate(timeout=60)
            try:
                return json.loads(out.strip().splitlines()[-1])
            except (ValueError, IndexError):
                t.fail(f"{what}: the sender's report", out + err)

        def settled():
            """The counters once they stop moving (two reads 0.3 s apart agree)."""
            prev = None
            for _ in range(50):
                s = stats()
                cur = (harness.totals(s), tap_rx(wt0))
                if cur == prev:
                    return s, cur[1]
                prev = cur
                time.sleep(0.3)
            t.fail("the counters settle")

        def ping(ns, argv):
            return lab.spawn(ns, ["ping", "-n", "-q"] + argv, stdout=-1, stderr=-1, text=True)

        def replies(p):
            out, _ = p.communicate(timeout=60)
            line = next((ln for ln in out.splitlines() if "packets transmitted" in ln), "")
            try:
                return int(line.split()[0]), int(line.split(",")[1].split()[0]), out
            except (ValueError, IndexError):
                return 0, 0, out

        # 1. The host path's kernel side is there; the router and B answer.
        t.check(wait_until(lambda: "10.203.1.1" in lab.sh(nr, f"ip -4 -o addr show dev {wt0}", check=False), 15),
                f"HostPath gave {wt0} 10.203.1.1/24")
        ifs = {i["name"]: i for i in r.json("interfaces")[0]["result"]}
        mac_r0 = ifs["a"]["mac"]
        mac_a = lab.mac(na, a_if)
        p = lab.run(na, ["ping", "-c", "3", "-i", "0.2", "-W", "2", "10.203.1.1"])
        t.require(p.returncode == 0, "A pings 10.203.1.1 (R's kernel answers through the host path)", p.stdout)
        p = lab.run(na, ["ping", "-c", "3", "-i", "0.2", "-W", "2", "10.203.2.2"])
        t.require(p.returncode == 0, "A pings B through Weft (neighbours resolved)", p.stdout)

        # 2. Baseline: the paced stream alone.
        n0 = noports()
        res = result(sender(na, "10.203.2.2", "udp", PHASE_S, rate=STREAM_PPS), "baseline stream")
        wait_until(lambda: noports() - n0 >= res["sent"], 2)  # the last datagrams in flight
        got0 = noports() - n0
        base = got0 / max(res["sent"], 1)
        t.info(f"baseline: A sent {res['sent']} datagrams in {res['seconds']} s, B received {got0} ({base:.4f})")
        t.check(base >= 0.9, "without a flood B receives >= 0.9 of the stream", f"{got0}/{res['sent']}")

        # 3. The flood, with the stream and two pings.
        s0, k0 = settled()
        flood = sender(na, "10.203.1.1", "mix", PHASE_S + 3, rate=t.args.flood_pps, port=7)
        t.check(r.wait_stats(lambda s: harness.element(s, "h0")["total"]["out"]
                             - harness.element(s0, "h0")["total"]["out"] > 20 * LIMIT_PPS, timeout=15,
                             what="the flood reaches the host path"), "the flood reaches routerd's host path")
        n1 = noports()
        stream = sender(na, "10.203.2.2", "udp", PHASE_S, rate=STREAM_PPS)
        ping_a = ping(na, ["-c", "30", "-i", "0.1", "-W", "1", "-I", "10.203.1.3", "10.203.1.1"])
        ping_b = ping(nb, ["-c", "30", "-i", "0.1", "-W", "1", "10.203.2.1"])
        res = result(stream, "flooded stream")
        sa, ra, out_a = replies(ping_a)
        sb, rb, out_b = replies(ping_b)
        fl = result(flood, "flood")
        s1, k1 = settled()
        got1 = noports() - n1
        share = got1 / max(res["sent"], 1)
        t.info(f"flood: A offered {fl['sent']} frames to 10.203.1.1 in {fl['seconds']} s "
               f"({fl['sent'] / fl['seconds']:.0f}/s: {fl.get('udp', 0)} UDP, {fl.get('icmp', 0)} ICMP echo; "
               f"{fl['errors']} not sent)")
        t.info(f"stream during the flood: A sent {res['sent']}, B received {got1} ({share:.4f}; "
               f"baseline {base:.4f}, ratio {share / base:.3f})")
        t.check(r.alive(), "routerd is alive after the flood")
        t.check(share >= 0.9 * base, "forwarding during the flood keeps >= 0.9 of the baseline's share",
                f"{share:.4f} against {base:.4f}")
        t.check(sa and ra >= 0.9 * sa, "A's ping from 10.203.1.3 to the router is answered during the flood (>= 90%)",
                out_a)
        t.check(sb and rb >= 0.9 * sb, "B's ping to the router's other port is answered during the flood (>= 90%)",
                out_b)

        # 4. What was punted and dropped, counted.
        def d(eid, f):
            return f(harness.element(s1, eid)) - f(harness.element(s0, eid))
        offered = d("h0", lambda e: e["total"]["out"])
        tx_sent = harness.port(s1, "t0")["tx_packets"] - harness.port(s0, "t0")["tx_packets"]
        tx_drop = d("txt0", lambda e: sum(harness.drops_of(e).values()))
        # The tap's PortTx is deferred: what its thread could not write is
        # counted in its handler (tx_full), the ring's drops in its own.
        dh = r.read_handler("txt0", "deferred")
        t.check(dh.ok, "handler read txt0 deferred", dh.stdout + dh.stderr)
        dfields = dict(zip(dh.stdout.split()[0::2], dh.stdout.split()[1::2]))
        t.info(f"txt0's ring and thread: {dh.stdout.strip()}")
        t.check(dfields.get("in_ring") == "0", "txt0's ring is empty once the counters settle", dh.stdout)
        tx_drop += int(dfields.get("tx_full", "0"))
        kernel = k1 - k0
        t.info(f"host path a: offered {offered}, tap PortTx sent {tx_sent} and dropped {tx_drop}, "
               f"kernel {wt0} rx_packets +{kernel}")
        if guarded:
            passed = d("punt0", lambda e: e["total"]["out"])
            red = d("punt0", lambda e: harness.drops_of(e).get("red", 0))
            t.info(f"punt0: offered {offered}, passed {passed}, red drops {red} "
                   f"(limit {LIMIT_PPS}/s per source)")
            t.check(offered >= FLOOD_FACTOR * LIMIT_PPS * PHASE_S,
                    f"the flood offered the limiter >= {FLOOD_FACTOR} times its rate", str(offered))
            t.check(offered >= 0.9 * fl["sent"], "the flood reached the limiter (not lost at the port)",
                    f"offered {offered}, flood sent {fl['sent']}")
            t.check(red > 0 and red == offered - passed, "punt0's red drops = offered - passed",
                    f"red {red}, offered {offered}, passed {passed}")
            # Each source's bucket: its rate over the flood, plus the committed
            # and excess bursts it started with; a few hundred for ARP and the ping.
            t.check(passed <= LIMIT_PPS * (fl["seconds"] + 1) + 2 * (LIMIT_PPS // 10) + 300,
                    "punt0 passed no more than its rate allows (flood source + ping source)", str(passed))
            t.check(passed == tx_sent + tx_drop, "what punt0 passed, tap PortTx sent or counted dropped",
                    f"passed {passed}, sent {tx_sent}, dropped {tx_drop}")
        t.check(kernel == tx_sent, f"{wt0}'s kernel RX packets grew by what the tap PortTx sent",
                f"kernel +{kernel}, sent {tx_sent}")

        # 5. An ARP flood: ArpNd answers up to its `rate` and drops the rest
        # by name; forwarding and the neighbour table are untouched.
        s2, _ = settled()
        before = {x["address"]: x for svc in r.json("neighbors") for x in svc["result"]}.get("10.203.1.2", {})
        n2 = noports()
        flood = sender(na, "10.203.1.1", "arp", PHASE_S + 3, rate=ARP_FLOOD_PPS)
        t.check(r.wait_stats(lambda s: harness.drops_of(harness.element(s, "nd0")).get("rate_limited", 0)
                             > harness.drops_of(harness.element(s2, "nd0")).get("rate_limited", 0), timeout=15,
                             what="ArpNd limits the ARP flood"), "the ARP flood reaches ArpNd, above its rate")
        stream = sender(na, "10.203.2.2", "udp", PHASE_S, rate=STREAM_PPS)
        ping_b = ping(nb, ["-c", "30", "-i", "0.1", "-W", "1", "10.203.2.1"])
        res = result(stream, "stream during the ARP flood")
        sb, rb, out_b = replies(ping_b)
        fl = result(flood, "ARP flood")
        s3, _ = settled()
        got = noports() - n2
        share = got / max(res["sent"], 1)
        limited = harness.drops_of(harness.element(s3, "nd0")).get("rate_limited", 0) - \
            harness.drops_of(harness.element(s2, "nd0")).get("rate_limited", 0)
        answered = harness.output(s3, "nd0", "out")[0] - harness.output(s2, "nd0", "out")[0]  # its replies
        t.info(f"ARP flood: A offered {fl.get('arp', 0)} requests in {fl['seconds']} s; ArpNd dropped {limited} "
               f"as rate_limited and answered {answered}; stream share {share:.4f} (baseline {base:.4f})")
        t.check(limited > 0 and answered <= ARP_RATE * (fl["seconds"] + 1) + 1000,
                f"ArpNd handled no more than its rate ({ARP_RATE}/s) and dropped the rest as rate_limited",
                f"answered {answered}, rate_limited {limited}")
        t.check(share >= 0.9 * base, "forwarding during the ARP flood keeps >= 0.9 of the baseline's share",
                f"{share:.4f} against {base:.4f}")
        t.check(sb and rb >= 0.9 * sb, "B's ping to the router is answered during the ARP flood (>= 90%)", out_b)
        after = {x["address"]: x for svc in r.json("neighbors") for x in svc["result"]}.get("10.203.1.2", {})
        t.check(after.get("mac") == before.get("mac") == mac_a, "A's neighbour entry is unchanged by the flood",
                f"before {before}, after {after}")
        t.check(r.stop() == 0, "routerd stops cleanly")


if __name__ == "__main__":
    harness.run(main, flags)

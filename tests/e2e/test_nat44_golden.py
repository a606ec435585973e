#!/usr/bin/env python3
"""Golden test: Nat44 translating a scapy-built pcap, checked against scapy.

    python3 tests/e2e/test_nat44_golden.py --bin build/bin [--keep]

    in.pcap ─► rx ─► side ─┬[inside]───► [from_inside]  nat [to_outside] ─► out.pcap
              (Classifier  └[default]──► [from_outside] nat [to_inside]  ─► back.pcap
               by source MAC)

One input file holds both directions in order (a frame's source MAC says
which side it comes from), so a reply always follows the packet that opened
its session (the classifier flushes its `inside` output, its first, before
`default`, so within one batch too). The oracle in this file computes every expected output frame
with scapy from the *input* frames alone: addresses and ports rewritten by
the rules below, every checksum recomputed by scapy (never taken from
routerd's output). An ICMP error translated back inside must quote exactly
the packet the inside host sent. Malformed frames must be dropped, each under
its named reason, and nothing else may be dropped.

Allocation is deterministic here: one worker, one pool address, and a
port_range (20000-20999) that holds none of the inside ports, so external
ports are handed out in order from 20000, separately for TCP, UDP and ICMP.

The temporary directory is kept on failure or with --keep.
"""
import json

import harness
from harness import drops_of, element, read_pcap, write_pcap
from scapy.all import ARP, ICMP, IP, TCP, UDP, Ether, Raw

TIMEOUT_S = 20.0
INSIDE_MAC, OUTSIDE_MAC, ROUTER_MAC = "02:00:00:00:00:0a", "02:00:00:00:00:0b", "02:00:00:00:00:01"
POOL = "198.51.100.1"
STATIC = {"proto": "tcp", "external": f"{POOL}:8080", "internal": "10.0.0.5:80"}
REASONS = ["runt", "not_ipv4", "truncated_ip", "bad_ip", "fragment", "truncated_l4", "unsupported_protocol",
           "unsupported_icmp", "truncated_icmp_inner", "not_inside", "no_mapping", "pool_exhausted",
           "source_limit", "table_full"]


def e_in():
    return Ether(src=INSIDE_MAC, dst=ROUTER_MAC)


def e_out():
    return Ether(src=OUTSIDE_MAC, dst=ROUTER_MAC)


def payload(n):
    return Raw(bytes((i * 13) & 0xFF for i in range(n)))


def build():
    """[(description, frame bytes, expected: ('out'|'in', bytes) or ('drop', reason))] in file order."""
    cases = []

    def add(desc, frame, expect):
        cases.append((desc, bytes(frame), expect))

    # Expected frames are rebuilt from scratch by scapy with the translated
    # fields; scapy computes all their checksums.
    def tcp(e, s, sp, d, dp, flags="S", n=12):
        return e / IP(src=s, dst=d, id=7, ttl=61) / TCP(sport=sp, dport=dp, flags=flags, seq=1000, ack=5) / payload(n)

    def udp(e, s, sp, d, dp, n=20, zero=False):
        p = e / IP(src=s, dst=d, id=9, ttl=62) / UDP(sport=sp, dport=dp) / payload(n)
        if zero:
            p = Ether(bytes(p))
            p[UDP].chksum = 0
        return p

    def echo(e, s, d, type_, ident, n=16):
        return e / IP(src=s, dst=d, id=11, ttl=63) / ICMP(type=type_, id=ident, seq=3) / payload(n)

    # 1-6: new sessions from inside.
    add("tcp syn 10.0.0.2:40000 -> 192.0.2.80:80", tcp(e_in(), "10.0.0.2", 40000, "192.0.2.80", 80),
        ("out", tcp(e_in(), POOL, 20000, "192.0.2.80", 80)))
    udp_a = udp(e_in(), "10.0.0.2", 5353, "192.0.2.53", 53)
    add("udp 10.0.0.2:5353 -> 192.0.2.53:53", udp_a, ("out", udp(e_in(), POOL, 20000, "192.0.2.53", 53)))
    udp_a2 = udp(e_in(), "10.0.0.2", 5353, "192.0.2.54", 53)
    add("same endpoint to another server: same mapping", udp_a2, ("out", udp(e_in(), POOL, 20000, "192.0.2.54", 53)))
    add("udp 10.0.0.3:5353 with checksum 0: next port, checksum stays 0",
        udp(e_in(), "10.0.0.3", 5353, "192.0.2.53", 53, zero=True),
        ("out", udp(e_in(), POOL, 20001, "192.0.2.53", 53, zero=True)))
    add("icmp echo id 0x1234", echo(e_in(), "10.0.0.2", "192.0.2.1", 8, 0x1234),
        ("out", echo(e_in(), POOL, "192.0.2.1", 8, 20000)))
    add("udp 10.0.0.3:6000 -> 192.0.2.1:3478", udp(e_in(), "10.0.0.3", 6000, "192.0.2.1", 3478),
        ("out", udp(e_in(), POOL, 20002, "192.0.2.1", 3478)))
    # 7-8: hairpinning, both ways.
    add("hairpin 10.0.0.2:7000 -> B's external 198.51.100.1:20002",
        udp(e_in(), "10.0.0.2", 7000, POOL, 20002), ("in", udp(e_in(), POOL, 20003, "10.0.0.3", 6000)))
    add("hairpin reply 10.0.0.3:6000 -> A's external 198.51.100.1:20003",
        udp(e_in(), "10.0.0.3", 6000, POOL, 20003), ("in", udp(e_in(), POOL, 20002, "10.0.0.2", 7000)))
    # 9-14: from outside.
    add("tcp syn-ack back", tcp(e_out(), "192.0.2.80", 80, POOL, 20000, "SA"),
        ("in", tcp(e_out(), "192.0.2.80", 80, "10.0.0.2", 40000, "SA")))
    add("udp reply", udp(e_out(), "192.0.2.53", 53, POOL, 20000), ("in", udp(e_out(), "192.0.2.53", 53, "10.0.0.2", 5353)))
    add("udp from a stranger to the mapping: filtered", udp(e_out(), "192.0.2.99", 53, POOL, 20000),
        ("drop", "no_mapping"))
    add("echo reply", echo(e_out(), "192.0.2.1", POOL, 0, 20000), ("in", echo(e_out(), "192.0.2.1", "10.0.0.2", 0, 0x1234)))
    sent = IP(bytes(udp(e_in(), POOL, 20000, "192.0.2.54", 53))[14:])  # what went out for udp_a2
    add("icmp port unreachable quoting the translated datagram",
        e_out() / IP(src="192.0.2.54", dst=POOL, id=13) / ICMP(type=3, code=3) / Raw(bytes(sent)),
        ("in", e_out() / IP(src="192.0.2.54", dst="10.0.0.2", id=13) / ICMP(type=3, code=3) / Raw(bytes(udp_a2)[14:])))
    add("tcp to an external port nobody holds", tcp(e_out(), "192.0.2.80", 80, POOL, 20999), ("drop", "no_mapping"))
    # 15-16: a static port forward, opened from outside.
    add("static forward: syn to 198.51.100.1:8080", tcp(e_out(), "192.0.2.7", 50000, POOL, 8080),
        ("in", tcp(e_out(), "192.0.2.7", 50000, "10.0.0.5", 80)))
    add("static forward: syn-ack from 10.0.0.5:80", tcp(e_in(), "10.0.0.5", 80, "192.0.2.7", 50000, "SA"),
        ("out", tcp(e_in(), POOL, 8080, "192.0.2.7", 50000, "SA")))
    # Malformed or unsupported: dropped under their reasons.
    good = bytes(tcp(e_in(), "10.0.0.2", 40001, "192.0.2.80", 80))
    add("arp", e_in() / ARP(psrc="10.0.0.2", pdst="10.0.0.1"), ("drop", "not_ipv4"))
    add("ipv4 header cut (14+12 bytes)", good[:26], ("drop", "truncated_ip"))
    add("ip total length past the frame", good[:60], ("drop", "truncated_ip"))
    add("version 6 in an ipv4 frame", good[:14] + bytes([0x65]) + good[15:], ("drop", "bad_ip"))
    add("ihl 4", good[:14] + bytes([0x44]) + good[15:], ("drop", "bad_ip"))
    add("non-first fragment", e_in() / IP(src="10.0.0.2", dst="192.0.2.80", proto=17, frag=64) / payload(24),
        ("drop", "fragment"))
    add("tcp header of 10 bytes", e_in() / IP(src="10.0.0.2", dst="192.0.2.80", proto=6) / payload(10),
        ("drop", "truncated_l4"))
    add("gre", e_in() / IP(src="10.0.0.2", dst="192.0.2.80", proto=47) / payload(8), ("drop", "unsupported_protocol"))
    add("icmp timestamp", e_in() / IP(src="10.0.0.2", dst="192.0.2.1") / ICMP(type=13) / payload(12),
        ("drop", "unsupported_icmp"))
    add("icmp error quoting 12 bytes", e_out() / IP(src="192.0.2.9", dst=POOL) / ICMP(type=3, code=1) / Raw(bytes(sent)[:12]),
        ("drop", "truncated_icmp_inner"))
    add("echo reply from inside without a request", echo(e_in(), "10.0.0.2", "192.0.2.1", 0, 5), ("drop", "no_mapping"))
    # And traffic still flows after all that.
    add("udp 10.0.0.2:5353 again (session reused)", udp_a, ("out", udp(e_in(), POOL, 20000, "192.0.2.53", 53)))
    return [(d, f, (k, v if isinstance(v, str) else bytes(v))) for d, f, (k, v) in cases]


def checksums_ok(frame):
    """scapy's verdict: recompute every checksum and compare."""
    p = Ether(frame)
    if IP not in p:
        return True
    for layer in (IP, TCP, UDP, ICMP):
        if layer in p:
            got = p[layer].chksum
            if layer is UDP and got == 0:
                continue
            q = p.copy()
            del q[layer].chksum
            if Ether(bytes(q))[layer].chksum != got:
                return False
    return True


def write_graph(path, in_pcap, out_pcap, back_pcap):
    with open(path, "w") as f:
        f.write(f"""# Generated by tests/e2e/test_nat44_golden.py
name: e2e_nat44_golden
workers: {{lcores: [1]}}
ports:
  pin: {{device: net_pcap0, args: {json.dumps('rx_pcap=' + in_pcap)}}}
  pout: {{device: net_pcap1, args: {json.dumps('tx_pcap=' + out_pcap)}}}
  pback: {{device: net_pcap2, args: {json.dumps('tx_pcap=' + back_pcap)}}}
elements:
  rx: {{class: PortRx, port: pin}}
  side: {{class: Classifier, rules: [{{output: inside, src_mac: "{INSIDE_MAC}"}}]}}
  nat:
    class: Nat44
    pool: [{POOL}]
    port_range: 20000-20999
    max_sessions: 65536
    static: [{{proto: {STATIC['proto']}, external: "{STATIC['external']}", internal: "{STATIC['internal']}"}}]
  tx: {{class: PortTx, port: pout}}
  txb: {{class: PortTx, port: pback}}
connections:
  - rx -> side
  - side[inside] -> [from_inside]nat
  - side[default] -> [from_outside]nat
  - nat[to_outside] -> tx
  - nat[to_inside] -> txb
""")


def main(t):
    cases = build()
    in_pcap, out_pcap, back_pcap = (t.path(n) for n in ("in.pcap", "out.pcap", "back.pcap"))
    write_pcap(in_pcap, [f for _, f, _ in cases])
    graph = t.path("graph.yaml")
    write_graph(graph, in_pcap, out_pcap, back_pcap)
    t.validate(graph)
    r = t.routerd(file=graph, timeout=TIMEOUT_S)
    stats = r.wait_stats(lambda s: (lambda e: e["total"]["out"] + e["total"]["dropped"] >= len(cases))(
        element(s, "nat")), what=f"nat to handle {len(cases)} frames")
    nat = element(stats, "nat")
    sessions = r.read_handler("nat", "sessions").stdout
    rc = r.stop(timeout=TIMEOUT_S)
    t.check(rc == 0, "routerd exits 0 on SIGTERM", f"routerd exited with status {rc}")

    got = {"out": read_pcap(out_pcap), "in": read_pcap(back_pcap)}
    want = {"out": [], "in": []}
    want_drops = {reason: 0 for reason in REASONS}
    for desc, _, (kind, v) in cases:
        if kind == "drop":
            want_drops[v] += 1
        else:
            want[kind].append((desc, v))
    for side in ("out", "in"):
        # Within one output the order follows the input, except that a
        # batch's inside half is handled before its outside half: compare
        # as sets of frames, and count.
        exp = sorted(v for _, v in want[side])
        missing = [d for d, v in want[side] if v not in got[side]]
        extra = [Ether(g).summary() for g in got[side] if g not in exp]
        t.check(sorted(got[side]) == exp, f"{side}: the {len(exp)} frames scapy expects",
                f"{side}: {len(got[side])} frames, expected {len(exp)}; expected but not seen: "
                f"{missing}; seen but not expected: {extra}")
        bad = [Ether(g).summary() for g in got[side] if not checksums_ok(g)]
        t.check(not bad, f"{side}: every checksum is the one scapy computes", f"{side}: bad checksum in {bad}")
    drops = drops_of(nat)
    wrong = [f"drop reason {x}: {drops.get(x, 0)}, expected {want_drops[x]}"
             for x in REASONS if drops.get(x, 0) != want_drops[x]]
    t.check(not wrong, "drops by reason as the oracle says", "\n".join(wrong))
    t.check("hairpin to 10.0.0.3:6000" in sessions, "the sessions handler shows the hairpin session",
            "sessions handler does not show the hairpin session:\n" + sessions)
    n_out, n_in = len(want["out"]), len(want["in"])
    t.info(f"{len(cases)} frames in; {n_out} expected out and {n_in} expected back in; "
           f"{sum(want_drops.values())} drops over {sum(1 for v in want_drops.values() if v)} reasons")


if __name__ == "__main__":
    harness.run(main)

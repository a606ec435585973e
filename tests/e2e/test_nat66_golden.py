#!/usr/bin/env python3
"""Golden test: Nat66 (NPTv6, RFC 6296) translating a scapy-built pcap,
checked against scapy.

    python3 tests/e2e/test_nat66_golden.py --bin build/bin [--keep]

    in.pcap ─► rx ─► side ─┬[inside]───► [from_inside]  npt [to_outside] ─► out.pcap
              (Classifier  └[default]──► [from_outside] npt [to_inside]  ─► back.pcap
               by source MAC)

The oracle computes every expected frame from the *input* frames alone: the
address translated by this file's own implementation of RFC 6296 section
3.2 (prefix swap, adjustment word), then the whole frame rebuilt by scapy,
which recomputes every checksum. routerd never touches a checksum, so the
comparison proves the mapping checksum-neutral. An ICMPv6 error translated
back inside must quote exactly the packet the inside host sent. Malformed
frames are dropped under their reasons, and nothing else is dropped.

The temporary directory is kept on failure or with --keep.
"""
import ipaddress
import json
import struct

import harness
from harness import drops_of, element, read_pcap, write_pcap
from scapy.all import (ARP, ICMPv6DestUnreach, ICMPv6EchoReply, ICMPv6EchoRequest, ICMPv6TimeExceeded, IP, IPv6,
                       IPv6ExtHdrFragment, TCP, UDP, Ether, Raw)

TIMEOUT_S = 20.0
INSIDE_MAC, OUTSIDE_MAC, ROUTER_MAC = "02:00:00:00:00:0a", "02:00:00:00:00:0b", "02:00:00:00:00:01"
INSIDE, OUTSIDE = "fd01:203:405::/48", "2001:db8:1::/48"
REMOTE = "2001:db8:99::80"
REASONS = ["not_ipv6", "truncated", "prefix_mismatch", "unmappable"]


def ones_add(a, b):
    s = a + b
    return (s & 0xFFFF) + (s >> 16)


def npt(addr, src_prefix, dst_prefix):
    """RFC 6296 section 3.2, written independently of the element: returns the
    translated address, or None if it cannot be mapped (0xFFFF word)."""
    sp, dp = ipaddress.IPv6Network(src_prefix), ipaddress.IPv6Network(dst_prefix)
    a = ipaddress.IPv6Address(addr)
    assert a in sp, (addr, src_prefix)
    length = sp.prefixlen

    def words(x):
        return list(struct.unpack("!8H", x.packed))

    def csum(ws):
        s = 0
        for w in ws:
            s = ones_add(s, w)
        return s

    adj = ones_add(csum(words(sp.network_address)), 0xFFFF - csum(words(dp.network_address)))
    host_mask = (1 << (128 - length)) - 1
    w = words(ipaddress.IPv6Address((int(a) & host_mask) | int(dp.network_address)))
    if length <= 48:
        idx = 3
        if w[3] == 0xFFFF:
            return None
    else:
        idx = next((i for i in range(4, 8) if w[i] != 0xFFFF), None)
        if idx is None:
            return None
    w[idx] = ones_add(w[idx], adj)
    if w[idx] == 0xFFFF:
        w[idx] = 0
    return str(ipaddress.IPv6Address(struct.pack("!8H", *w)))


def out_of(a):
    return npt(a, INSIDE, OUTSIDE)


def in_of(a):
    return npt(a, OUTSIDE, INSIDE)


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

    def tcp(e, s, sp, d, dp, flags="S"):
        return e / IPv6(src=s, dst=d, hlim=61) / TCP(sport=sp, dport=dp, flags=flags, seq=1000) / payload(12)

    def udp(e, s, sp, d, dp, n=20):
        return e / IPv6(src=s, dst=d, hlim=62) / UDP(sport=sp, dport=dp) / payload(n)

    def echo(e, s, d, reply=False):
        t = ICMPv6EchoReply if reply else ICMPv6EchoRequest
        return e / IPv6(src=s, dst=d, hlim=63) / t(id=0x1234, seq=3) / payload(16)

    h1, h2, h3 = "fd01:203:405:1::1234", "fd01:203:405:abcd:1:2:3:4", "fd01:203:405::2"
    # The RFC's own example (appendix B): FD01:203:405:1::1234 -> 2001:DB8:1:D550::1234.
    assert out_of(h1) == "2001:db8:1:d550::1234"
    add("tcp syn from inside", tcp(e_in(), h1, 40000, REMOTE, 80), ("out", tcp(e_in(), out_of(h1), 40000, REMOTE, 80)))
    u2 = udp(e_in(), h2, 5353, "2001:db8:99::53", 53)
    add("udp from inside", u2, ("out", udp(e_in(), out_of(h2), 5353, "2001:db8:99::53", 53)))
    add("echo from inside (subnet 0)", echo(e_in(), h3, REMOTE), ("out", echo(e_in(), out_of(h3), REMOTE)))
    frag = IPv6ExtHdrFragment(nh=17, offset=8, m=0, id=77)
    add("non-first fragment: stateless, translated too",
        e_in() / IPv6(src=h2, dst=REMOTE) / frag / payload(24),
        ("out", e_in() / IPv6(src=out_of(h2), dst=REMOTE) / frag / payload(24)))
    add("tcp syn-ack back", tcp(e_out(), REMOTE, 80, out_of(h1), 40000, "SA"),
        ("in", tcp(e_out(), REMOTE, 80, h1, 40000, "SA")))
    add("udp reply back", udp(e_out(), "2001:db8:99::53", 53, out_of(h2), 5353),
        ("in", udp(e_out(), "2001:db8:99::53", 53, h2, 5353)))
    add("echo reply back", echo(e_out(), REMOTE, out_of(h3), reply=True), ("in", echo(e_out(), REMOTE, h3, reply=True)))
    add("unsolicited inbound (stateless: any address of the prefix)", udp(e_out(), REMOTE, 1, "2001:db8:1:7::9", 2),
        ("in", udp(e_out(), REMOTE, 1, in_of("2001:db8:1:7::9"), 2)))
    sent = IPv6(bytes(udp(e_in(), out_of(h2), 5353, "2001:db8:99::53", 53))[14:])
    add("port unreachable quoting the translated datagram",
        e_out() / IPv6(src="2001:db8:99::53", dst=out_of(h2)) / ICMPv6DestUnreach(code=4) / Raw(bytes(sent)),
        ("in", e_out() / IPv6(src="2001:db8:99::53", dst=h2) / ICMPv6DestUnreach(code=4) / Raw(bytes(u2)[14:])))
    arrived = tcp(e_out(), REMOTE, 80, out_of(h1), 40000)  # as it arrived from outside
    delivered = tcp(e_out(), REMOTE, 80, h1, 40000)       # as the inside router saw it
    add("time exceeded from an inside router about an inbound packet",
        e_in() / IPv6(src="fd01:203:405:1::1", dst=REMOTE) / ICMPv6TimeExceeded() / Raw(bytes(delivered)[14:]),
        ("out", e_in() / IPv6(src=out_of("fd01:203:405:1::1"), dst=REMOTE) / ICMPv6TimeExceeded() /
         Raw(bytes(arrived)[14:])))
    # Malformed or out of the prefixes: dropped under their reasons.
    good = bytes(udp(e_in(), h1, 1, REMOTE, 2))
    add("arp", e_in() / ARP(psrc="10.0.0.2", pdst="10.0.0.1"), ("drop", "not_ipv6"))
    add("ipv4", e_in() / IP(src="10.0.0.2", dst="192.0.2.1") / UDP() / payload(8), ("drop", "not_ipv6"))
    add("version 4 in an ipv6 frame", good[:14] + bytes([0x45]) + good[15:], ("drop", "not_ipv6"))
    add("ipv6 header cut (14+30 bytes)", good[:44], ("drop", "truncated"))
    add("payload length past the frame", good[:70], ("drop", "truncated"))
    add("icmpv6 error quoting 20 bytes", e_out() / IPv6(src=REMOTE, dst=out_of(h1)) / ICMPv6DestUnreach() / Raw(bytes(sent)[:20]),
        ("drop", "truncated"))
    add("source outside inside_prefix", udp(e_in(), "fd01:203:406::1", 1, REMOTE, 2), ("drop", "prefix_mismatch"))
    add("destination outside outside_prefix", udp(e_out(), REMOTE, 1, "2001:db8:2::1", 2), ("drop", "prefix_mismatch"))
    add("subnet 0xffff", udp(e_in(), "fd01:203:405:ffff::1", 1, REMOTE, 2), ("drop", "unmappable"))
    add("inbound subnet 0xffff", udp(e_out(), REMOTE, 1, "2001:db8:1:ffff::1", 2), ("drop", "unmappable"))
    add("traffic still flows", udp(e_in(), h1, 3, REMOTE, 4), ("out", udp(e_in(), out_of(h1), 3, REMOTE, 4)))
    return [(d, f, (k, v if isinstance(v, str) else bytes(v))) for d, f, (k, v) in cases]


def write_graph(path, in_pcap, out_pcap, back_pcap):
    with open(path, "w") as f:
        f.write(f"""# Generated by tests/e2e/test_nat66_golden.py
name: e2e_nat66_golden
workers: {{lcores: [1]}}
ports:
  pin: {{device: net_pcap0, args: {json.dumps('rx_pcap=' + in_pcap)}}}
  pout: {{device: net_pcap1, args: {json.dumps('tx_pcap=' + out_pcap)}}}
  pback: {{device: net_pcap2, args: {json.dumps('tx_pcap=' + back_pcap)}}}
elements:
  rx: {{class: PortRx, port: pin}}
  side: {{class: Classifier, rules: [{{output: inside, src_mac: "{INSIDE_MAC}"}}]}}
  npt: {{class: Nat66, inside_prefix: "{INSIDE}", outside_prefix: "{OUTSIDE}"}}
  tx: {{class: PortTx, port: pout}}
  txb: {{class: PortTx, port: pback}}
connections:
  - rx -> side
  - side[inside] -> [from_inside]npt
  - side[default] -> [from_outside]npt
  - npt[to_outside] -> tx
  - npt[to_inside] -> txb
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
        element(s, "npt")), what=f"npt to handle {len(cases)} frames")
    npt_stats = element(stats, "npt")
    mapping = r.read_handler("npt", "mapping").stdout
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
        exp = sorted(v for _, v in want[side])
        missing = [d for d, v in want[side] if v not in got[side]]
        extra = [Ether(g).summary() for g in got[side] if g not in exp]
        t.check(sorted(got[side]) == exp, f"{side}: the {len(exp)} frames scapy expects",
                f"{side}: {len(got[side])} frames, expected {len(exp)}; expected but not seen: "
                f"{missing}; seen but not expected: {extra}")
    drops = drops_of(npt_stats)
    wrong = [f"drop reason {x}: {drops.get(x, 0)}, expected {want_drops[x]}"
             for x in REASONS if drops.get(x, 0) != want_drops[x]]
    t.check(not wrong, "drops by reason as the oracle says", "\n".join(wrong))
    t.check("adjustment 0xd54f" in mapping, "the mapping handler shows the adjustment 0xd54f",
            "mapping handler: " + mapping)
    n_out, n_in = len(want["out"]), len(want["in"])
    t.info(f"{len(cases)} frames in; {n_out} expected out and {n_in} expected back in; "
           f"{sum(want_drops.values())} drops over {sum(1 for v in want_drops.values() if v)} reasons")


if __name__ == "__main__":
    harness.run(main)

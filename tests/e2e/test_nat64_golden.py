#!/usr/bin/env python3
"""Golden test: Nat64 translating a scapy-built pcap, checked against scapy.

    python3 tests/e2e/test_nat64_golden.py --bin build/bin [--keep]

    in.pcap ─► rx ─► side ─┬[ipv6]─────► [from_ipv6] nat64 [to_ipv4] ─► out4.pcap
              (Classifier  └[default]──► [from_ipv4] nat64 [to_ipv6] ─► out6.pcap
               by source MAC)

One input file holds both sides in order (a frame's source MAC says which
side it comes from), so a reply always follows the packet that opened its
session. The oracle computes every expected output frame from the *input*
frames alone, with this file's own reading of RFC 7915 and RFC 6052
(addresses, ports, TTL/hop limit, TOS/traffic class, the IPv4
identification and DF flag, ICMP type/code/MTU/pointer, the quoted packet of
an ICMP error translated back), then has scapy build the frame, so every
checksum (IPv4 header, TCP, UDP, ICMP, ICMPv6 with its pseudo-header, the
quoted packet's header) is scapy's, never routerd's. Malformed or
untranslatable frames must be dropped, each under its named reason, and
nothing else may be dropped.

Allocation is deterministic: one worker, one pool address and a port_range
(20000-20999) holding none of the inside ports, so external ports are handed
out in order from 20000, separately for TCP, UDP and ICMP; the IPv4
identification of translated packets counts up from 0 on one worker.

The temporary directory is kept on failure or with --keep.
"""
import ipaddress

import harness
from harness import drops_of, element, read_pcap, write_pcap
from scapy.all import (ARP, ICMP, IP, TCP, UDP, Ether, ICMPv6DestUnreach, ICMPv6EchoReply, ICMPv6EchoRequest,
                       ICMPv6ND_NS, ICMPv6PacketTooBig, ICMPv6ParamProblem, ICMPv6TimeExceeded, IPv6,
                       IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop, IPv6ExtHdrRouting, Raw)
from scapy.layers.inet import IPOption_LSRR

V6_MAC, V4_MAC, ROUTER_MAC = "02:00:00:00:00:0a", "02:00:00:00:00:0b", "02:00:00:00:00:01"
POOL = "198.51.100.1"
PREFIX = ipaddress.IPv6Network("64:ff9b::/96")
H2, H3 = "2001:db8:1::2", "2001:db8:1::3"
REASONS = ["runt", "not_ipv6", "not_ipv4", "truncated", "bad_ip", "bad_checksum", "hop_limit", "fragment",
           "source_route", "unsupported_protocol", "unsupported_icmp", "truncated_icmp_inner", "not_prefix",
           "reserved_address", "hairpin", "not_inside", "no_session", "pool_exhausted", "source_limit",
           "table_full", "hosts_full", "no_headroom"]


def embed(v4):
    """RFC 6052 section 2.2 with a /96 prefix: the IPv4 address in the last 32 bits."""
    return str(ipaddress.IPv6Address(int(PREFIX.network_address) | int(ipaddress.IPv4Address(v4))))


def e6():
    return Ether(src=V6_MAC, dst=ROUTER_MAC)


def e4():
    return Ether(src=V4_MAC, dst=ROUTER_MAC)


def payload(n, seed=13):
    return Raw(bytes((i * seed + 1) & 0xFF for i in range(n)))


class Ids:
    """The IPv4 identification Nat64 gives translated packets on one worker."""

    def __init__(self):
        self.n = 0

    def next(self):
        v = self.n
        self.n += 1
        return v


def v4_flags(total):
    """RFC 7915 section 5.1: DF only when the IPv4 packet is larger than 1260 bytes."""
    return "DF" if total > 1260 else 0


def build():
    """[(description, frame bytes, expected: ('out4'|'out6', bytes) or ('drop', reason))] in file order."""
    cases = []
    ids = Ids()

    def add(desc, frame, expect):
        cases.append((desc, bytes(frame), expect))

    def to4(ip6pkt, src, l4):
        """The IPv4 frame for an IPv6 packet whose L4 header became `l4` (scapy computes the checksums)."""
        total = 20 + len(bytes(l4))
        dst = str(ipaddress.IPv4Address(int(ipaddress.IPv6Address(ip6pkt[IPv6].dst)) & 0xFFFFFFFF))
        ip = IP(src=src, dst=dst, ttl=ip6pkt[IPv6].hlim - 1, tos=ip6pkt[IPv6].tc, id=ids.next(), flags=v4_flags(total))
        return e6() / ip / l4

    def to6(ip4pkt, dst, l4):
        return e4() / IPv6(src=embed(ip4pkt[IP].src), dst=dst, hlim=ip4pkt[IP].ttl - 1, tc=ip4pkt[IP].tos) / l4

    # --- sessions opened from the IPv6 side -----------------------------------
    syn = e6() / IPv6(src=H2, dst=embed("192.0.2.80"), tc=0x28) / TCP(sport=40000, dport=80, flags="S", seq=1000) / payload(12)
    add("tcp syn [::2]:40000 -> [64:ff9b::192.0.2.80]:80, traffic class 0x28", syn,
        ("out4", to4(syn, POOL, TCP(sport=20000, dport=80, flags="S", seq=1000) / payload(12))))
    udp_a = e6() / IPv6(src=H2, dst=embed("192.0.2.53")) / UDP(sport=5353, dport=53) / payload(20)
    add("udp [::2]:5353 -> 192.0.2.53:53", udp_a, ("out4", to4(udp_a, POOL, UDP(sport=20000, dport=53) / payload(20))))
    udp_a2 = e6() / IPv6(src=H2, dst=embed("192.0.2.54"), hlim=30) / UDP(sport=5353, dport=53) / payload(20)
    add("same endpoint to another server: same mapping (hop limit 30)", udp_a2,
        ("out4", to4(udp_a2, POOL, UDP(sport=20000, dport=53) / payload(20))))
    udp_b = e6() / IPv6(src=H3, dst=embed("192.0.2.53")) / UDP(sport=5353, dport=53) / payload(33)
    add("udp [::3]:5353: another host, the next port", udp_b,
        ("out4", to4(udp_b, POOL, UDP(sport=20001, dport=53) / payload(33))))
    echo = e6() / IPv6(src=H2, dst=embed("192.0.2.1")) / ICMPv6EchoRequest(id=0x1234, seq=3, data=bytes(range(16)))
    add("icmpv6 echo request id 0x1234", echo,
        ("out4", to4(echo, POOL, ICMP(type=8, id=20000, seq=3) / Raw(bytes(range(16))))))
    big = e6() / IPv6(src=H2, dst=embed("192.0.2.80")) / TCP(sport=40001, dport=80, flags="A", seq=7) / payload(1300)
    add("tcp of 1340 bytes as IPv4: DF set", big,
        ("out4", to4(big, POOL, TCP(sport=20001, dport=80, flags="A", seq=7) / payload(1300))))
    ext = (e6() / IPv6(src=H3, dst=embed("192.0.2.1")) / IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt() /
           IPv6ExtHdrRouting(segleft=0) / UDP(sport=6000, dport=3478) / payload(10))
    add("udp behind hop-by-hop, destination options and a spent routing header", ext,
        ("out4", to4(ext, POOL, UDP(sport=20002, dport=3478) / payload(10))))
    atomic = (e6() / IPv6(src=H2, dst=embed("192.0.2.1")) / IPv6ExtHdrFragment(m=0, offset=0, id=0x99) /
              UDP(sport=7000, dport=9) / payload(8))
    add("atomic fragment: translated as a whole packet", atomic,
        ("out4", to4(atomic, POOL, UDP(sport=20003, dport=9) / payload(8))))

    # --- from the IPv4 side ---------------------------------------------------
    synack = e4() / IP(src="192.0.2.80", dst=POOL, ttl=50, tos=0x10) / TCP(sport=80, dport=20000, flags="SA", seq=5, ack=1001)
    add("tcp syn-ack back (TTL 50, TOS 0x10)", synack,
        ("out6", to6(synack, H2, TCP(sport=80, dport=40000, flags="SA", seq=5, ack=1001))))
    reply = e4() / IP(src="192.0.2.53", dst=POOL) / UDP(sport=53, dport=20000) / payload(40)
    add("udp reply", reply, ("out6", to6(reply, H2, UDP(sport=53, dport=5353) / payload(40))))
    zero = e4() / IP(src="192.0.2.53", dst=POOL) / UDP(sport=53, dport=20001, chksum=0) / payload(17)
    add("udp reply with checksum 0: IPv6 gets one computed", zero, ("out6", to6(zero, H3, UDP(sport=53, dport=5353) / payload(17))))
    add("udp from a stranger to the mapping: filtered",
        e4() / IP(src="192.0.2.99", dst=POOL) / UDP(sport=53, dport=20000) / payload(4), ("drop", "no_session"))
    ereply = e4() / IP(src="192.0.2.1", dst=POOL) / ICMP(type=0, id=20000, seq=3) / Raw(bytes(range(16)))
    add("echo reply", ereply, ("out6", to6(ereply, H2, ICMPv6EchoReply(id=0x1234, seq=3, data=bytes(range(16))))))

    # ICMPv4 errors about packets the NAT sent: the quoted packet is the one
    # the IPv6 host sent, hop limit less one (the NAT's decrement).
    def as_sent(pkt6):
        q = IPv6(bytes(pkt6[IPv6]))
        q.hlim -= 1
        return bytes(q)

    sent_a2 = bytes(cases[2][2][1])[14:]  # what left for udp_a2 (IPv4)
    unreach = e4() / IP(src="192.0.2.54", dst=POOL, ttl=60) / ICMP(type=3, code=3) / Raw(sent_a2)
    add("icmp port unreachable -> icmpv6 port unreachable", unreach,
        ("out6", e4() / IPv6(src=embed("192.0.2.54"), dst=H2, hlim=59) / ICMPv6DestUnreach(code=4) / Raw(as_sent(udp_a2))))
    sent_big = bytes(cases[5][2][1])[14:]
    fragneeded = e4() / IP(src="192.0.2.254", dst=POOL) / ICMP(type=3, code=4, nexthopmtu=1400) / Raw(sent_big[:548])
    add("fragmentation needed (MTU 1400) -> packet too big (MTU 1420)", fragneeded,
        ("out6", e4() / IPv6(src=embed("192.0.2.254"), dst=H2, hlim=63) / ICMPv6PacketTooBig(mtu=1420) /
         Raw(as_sent(big)[:40 + 528])))
    sent_echo = bytes(cases[4][2][1])[14:]
    texc = e4() / IP(src="192.0.2.254", dst=POOL) / ICMP(type=11, code=0) / Raw(sent_echo)
    add("time exceeded about the echo request", texc,
        ("out6", e4() / IPv6(src=embed("192.0.2.254"), dst=H2, hlim=63) / ICMPv6TimeExceeded(code=0) / Raw(as_sent(echo))))
    pprob = e4() / IP(src="192.0.2.254", dst=POOL) / ICMP(type=12, code=0, ptr=8) / Raw(sent_a2)
    add("parameter problem at the TTL -> at the hop limit", pprob,
        ("out6", e4() / IPv6(src=embed("192.0.2.254"), dst=H2, hlim=63) / ICMPv6ParamProblem(code=0, ptr=7) /
         Raw(as_sent(udp_a2))))
    bad = bytearray(bytes(unreach))
    bad[14 + 20 + 2] ^= 0x40
    add("icmp error with a bad checksum", bytes(bad), ("drop", "bad_checksum"))
    add("icmp error quoting 12 bytes", e4() / IP(src="192.0.2.9", dst=POOL) / ICMP(type=3, code=1) / Raw(sent_a2[:12]),
        ("drop", "truncated_icmp_inner"))
    add("host precedence violation: no ICMPv6 counterpart",
        e4() / IP(src="192.0.2.9", dst=POOL) / ICMP(type=3, code=14) / Raw(sent_a2), ("drop", "unsupported_icmp"))

    # ICMPv6 errors from the IPv6 side about packets the NAT delivered: the
    # quoted packet is the one the IPv4 server sent, TTL less one, ID 0.
    srv = e4() / IP(src="192.0.2.53", dst=POOL, ttl=64, id=4242) / UDP(sport=53, dport=20001) / payload(30)
    srv6 = to6(srv, H3, UDP(sport=53, dport=5353) / payload(30))
    add("udp from the server to [::3]", srv, ("out6", srv6))
    got_at_h3 = bytes(IPv6(bytes(srv6[IPv6])))
    unreach6 = e6() / IPv6(src=H3, dst=embed("192.0.2.53")) / ICMPv6DestUnreach(code=4) / Raw(got_at_h3)
    inner4 = IP(src="192.0.2.53", dst=POOL, ttl=63, id=0, flags=0, proto=17) / Raw(bytes(srv[UDP]))
    add("icmpv6 port unreachable from [::3] -> icmp port unreachable from the pool address", unreach6,
        ("out4", e6() / IP(src=POOL, dst="192.0.2.53", ttl=63, id=ids.next()) / ICMP(type=3, code=3) / inner4))
    got_synack = bytes(IPv6(bytes(cases[8][2][1])[14:]))
    ptb6 = e6() / IPv6(src="2001:db8:1::1", dst=embed("192.0.2.80")) / ICMPv6PacketTooBig(mtu=1300) / Raw(got_synack)
    inner_sa = IP(src="192.0.2.80", dst=POOL, ttl=49, tos=0x10, id=0, flags=0, proto=6) / Raw(bytes(synack[TCP]))
    add("packet too big from an IPv6 router -> fragmentation needed (MTU 1280)", ptb6,
        ("out4", e6() / IP(src=POOL, dst="192.0.2.80", ttl=63, id=ids.next()) / ICMP(type=3, code=4, nexthopmtu=1280) /
         inner_sa))
    bad6 = bytearray(bytes(unreach6))
    bad6[14 + 40 + 2] ^= 0x01
    add("icmpv6 error with a bad checksum", bytes(bad6), ("drop", "bad_checksum"))
    add("icmpv6 unrecognized option: no ICMPv4 counterpart",
        e6() / IPv6(src=H3, dst=embed("192.0.2.53")) / ICMPv6ParamProblem(code=2, ptr=40) / Raw(got_at_h3),
        ("drop", "unsupported_icmp"))

    # --- malformed or untranslatable, IPv6 side -----------------------------
    good6 = bytes(e6() / IPv6(src=H2, dst=embed("192.0.2.80")) / TCP(sport=40002, dport=80, flags="S"))
    add("ipv6 header cut", good6[:14 + 30], ("drop", "truncated"))
    add("payload length past the frame", good6[:14 + 50], ("drop", "truncated"))
    add("not in the prefix", e6() / IPv6(src=H2, dst="2001:db8:9::1") / UDP(sport=1, dport=2), ("drop", "not_prefix"))
    add("hop limit 1", e6() / IPv6(src=H2, dst=embed("192.0.2.1"), hlim=1) / UDP(sport=1, dport=2), ("drop", "hop_limit"))
    add("a first fragment (more fragments)",
        e6() / IPv6(src=H2, dst=embed("192.0.2.1")) / IPv6ExtHdrFragment(m=1, offset=0, id=5) / UDP(sport=1, dport=2) / payload(16),
        ("drop", "fragment"))
    add("routing header with segments left",
        e6() / IPv6(src=H2, dst=embed("192.0.2.1")) / IPv6ExtHdrRouting(addresses=["2001:db8::9"], segleft=1) / UDP(sport=1, dport=2),
        ("drop", "source_route"))
    add("to 64:ff9b::127.0.0.1", e6() / IPv6(src=H2, dst=embed("127.0.0.1")) / UDP(sport=1, dport=2), ("drop", "reserved_address"))
    add("to 64:ff9b::<pool address>", e6() / IPv6(src=H2, dst=embed(POOL)) / UDP(sport=1, dport=2), ("drop", "hairpin"))
    add("esp", e6() / IPv6(src=H2, dst=embed("192.0.2.1"), nh=50) / payload(16), ("drop", "unsupported_protocol"))
    add("neighbour solicitation to a prefix address", e6() / IPv6(src=H2, dst=embed("192.0.2.1")) / ICMPv6ND_NS(tgt=H2),
        ("drop", "unsupported_icmp"))
    zero6 = bytearray(bytes(e6() / IPv6(src=H2, dst=embed("192.0.2.1")) / UDP(sport=1, dport=2) / payload(4)))
    zero6[14 + 40 + 6:14 + 40 + 8] = b"\0\0"
    add("ipv6 udp with checksum 0", bytes(zero6), ("drop", "bad_checksum"))
    add("echo reply without a request", e6() / IPv6(src=H2, dst=embed("192.0.2.1")) / ICMPv6EchoReply(id=9),
        ("drop", "no_session"))
    add("ipv4 on the ipv6 side", e6() / IP(src="10.0.0.1", dst="192.0.2.1") / UDP(), ("drop", "not_ipv6"))

    # --- malformed or untranslatable, IPv4 side -----------------------------
    add("arp", e4() / ARP(psrc="192.0.2.1", pdst=POOL), ("drop", "not_ipv4"))
    bad_hdr = bytearray(bytes(e4() / IP(src="192.0.2.53", dst=POOL) / UDP(sport=53, dport=20000)))
    bad_hdr[14 + 10] ^= 0x10
    add("ipv4 header checksum wrong", bytes(bad_hdr), ("drop", "bad_checksum"))
    add("ttl 1", e4() / IP(src="192.0.2.53", dst=POOL, ttl=1) / UDP(sport=53, dport=20000), ("drop", "hop_limit"))
    add("ipv4 fragment", e4() / IP(src="192.0.2.53", dst=POOL, flags="MF") / UDP(sport=53, dport=20000) / payload(16),
        ("drop", "fragment"))
    add("loose source route", e4() / IP(src="192.0.2.53", dst=POOL, options=[IPOption_LSRR(routers=["192.0.2.7"])]) /
        UDP(sport=53, dport=20000), ("drop", "source_route"))
    add("echo request from ipv4", e4() / IP(src="192.0.2.1", dst=POOL) / ICMP(type=8, id=20000), ("drop", "no_session"))
    add("icmp timestamp", e4() / IP(src="192.0.2.1", dst=POOL) / ICMP(type=13), ("drop", "unsupported_icmp"))
    add("gre", e4() / IP(src="192.0.2.1", dst=POOL, proto=47) / payload(8), ("drop", "unsupported_protocol"))
    add("ihl 4", bytes(e4() / IP(src="192.0.2.1", dst=POOL) / UDP())[:14] + bytes([0x44]) +
        bytes(e4() / IP(src="192.0.2.1", dst=POOL) / UDP())[15:], ("drop", "bad_ip"))

    # And traffic still flows after all that.
    again = e6() / IPv6(src=H2, dst=embed("192.0.2.53")) / UDP(sport=5353, dport=53) / payload(5)
    add("udp [::2]:5353 again (session reused)", again, ("out4", to4(again, POOL, UDP(sport=20000, dport=53) / payload(5))))
    return [(d, f, (k, v if isinstance(v, str) else bytes(v))) for d, f, (k, v) in cases]


def checksums_ok(frame):
    """scapy's verdict on the outer IPv4 header and L4 checksums: each recomputed and compared (the
    quoted packet of an ICMP error is covered by the exact comparison with scapy's frames)."""
    p = Ether(frame)
    for depth in (1, 2):  # the IP layer, then the L4 layer
        layer = p
        for _ in range(depth):
            layer = layer.payload
        names = [f.name for f in layer.fields_desc]
        field = "chksum" if "chksum" in names else "cksum" if "cksum" in names else None
        if field is None or (isinstance(layer, UDP) and layer.chksum == 0 and IP in p):
            continue
        q = p.copy()
        ql = q
        for _ in range(depth):
            ql = ql.payload
        setattr(ql, field, None)
        rebuilt = Ether(bytes(q))
        for _ in range(depth):
            rebuilt = rebuilt.payload
        if getattr(rebuilt, field) != getattr(layer, field):
            return False
    return True


GRAPH = """# Generated by tests/e2e/test_nat64_golden.py
name: e2e_nat64_golden
workers: {{lcores: [1]}}
ports:
  pin: {{device: net_pcap0, args: "rx_pcap={inp}"}}
  p4: {{device: net_pcap1, args: "tx_pcap={out4}"}}
  p6: {{device: net_pcap2, args: "tx_pcap={out6}"}}
elements:
  rx: {{class: PortRx, port: pin}}
  side: {{class: Classifier, rules: [{{output: ipv6, src_mac: "{v6mac}"}}]}}
  nat:
    class: Nat64
    pool: [{pool}]
    prefix: 64:ff9b::/96
    port_range: 20000-20999
    max_sessions: 65536
    max_hosts: 1024
  tx4: {{class: PortTx, port: p4}}
  tx6: {{class: PortTx, port: p6}}
connections:
  - rx -> side
  - side[ipv6] -> [from_ipv6]nat
  - side[default] -> [from_ipv4]nat
  - nat[to_ipv4] -> tx4
  - nat[to_ipv6] -> tx6
"""


def main(t):
    cases = build()
    inp, out4, out6 = (t.path(n) for n in ("in.pcap", "out4.pcap", "out6.pcap"))
    write_pcap(inp, [f for _, f, _ in cases])
    graph = GRAPH.format(inp=inp, out4=out4, out6=out6, v6mac=V6_MAC, pool=POOL)
    with t.routerd(graph) as r:
        stats = r.wait_stats(lambda st: (lambda e: e["total"]["out"] + e["total"]["dropped"] >= len(cases))(
            element(st, "nat")), what=f"nat to handle {len(cases)} frames")
        sessions = r.read_handler("nat", "sessions").stdout
        hosts = r.read_handler("nat", "hosts").stdout.strip()
    nat = element(stats, "nat")
    got = {"out4": read_pcap(out4), "out6": read_pcap(out6)}
    want = {"out4": [], "out6": []}
    want_drops = {reason: 0 for reason in REASONS}
    for desc, _, (kind, v) in cases:
        if kind == "drop":
            want_drops[v] += 1
        else:
            want[kind].append((desc, v))
    for side in ("out4", "out6"):
        # Within one output the order follows the input, except that a
        # batch's IPv6 half is handled before its IPv4 half: compare as
        # multisets of frames.
        exp = sorted(v for _, v in want[side])
        problems = []
        if sorted(got[side]) != exp:
            missing = [d for d, v in want[side] if v not in got[side]]
            extra = [Ether(g).summary() for g in got[side] if g not in exp]
            problems.append(f"{side}: {len(got[side])} frames, expected {len(exp)}; expected but not seen: "
                            f"{missing}; seen but not expected: {extra}")
            for g in got[side]:
                if g not in exp:
                    problems.append(f"  unexpected {side} frame: {g.hex()}")
            for d, v in want[side]:
                if v not in got[side]:
                    problems.append(f"  wanted {side} frame ({d}): {v.hex()}")
        t.check(not problems, f"{side}: the {len(exp)} frames scapy expects", "\n".join(problems))
        bad = [Ether(g).summary() for g in got[side] if not checksums_ok(g)]
        t.check(not bad, f"{side}: every checksum is the one scapy computes", f"{side}: bad checksum in {bad}")
    drops = drops_of(nat)
    wrong = [f"drop reason {x}: {drops.get(x, 0)}, expected {want_drops[x]}"
             for x in REASONS if drops.get(x, 0) != want_drops[x]]
    t.check(not wrong, "drops by reason as the oracle says", "\n".join(wrong))
    t.check(f"udp [{H3}]:5353 -> {POOL}:20001 <-> 192.0.2.53:53" in sessions,
            "the sessions handler lists [::3]'s session",
            "sessions handler does not list [::3]'s session:\n" + sessions)
    t.check(hosts == "2", "the hosts handler says 2", f"hosts handler says {hosts!r}, expected 2")
    t.info(f"{len(cases)} frames in; {len(want['out4'])} expected out as IPv4 and {len(want['out6'])} as IPv6; "
           f"{sum(want_drops.values())} drops over {sum(1 for v in want_drops.values() if v)} reasons")


if __name__ == "__main__":
    harness.run(main)

#!/usr/bin/env python3
"""End-to-end test: routerd classifies packets read from a pcap file.

    python3 tests/e2e/test_pcap_classify.py --bin build/bin [--keep]

What it does, all inside a fresh temporary directory:

 1. builds an input pcap with scapy: ordinary traffic (IPv4 TCP/80, UDP,
    IPv6, ARP, VLAN 10) and broken frames (a runt, a truncated IPv4 header,
    a TCP segment cut before its ports, ...);
 2. writes a graph: one net_pcap port reading that file (rx_pcap=), a
    Classifier, and one tx-only net_pcap port per classifier output
    (tx_pcap=);
 3. starts `routerd -c GRAPH -s SOCK`, polls `routerctl -s SOCK stats --json`
    until the classifier has forwarded or dropped every input frame (20 s
    timeout), then stops routerd with SIGTERM (which closes the ports and so
    flushes the capture files);
 4. compares every output pcap, record by record and byte for byte, with the
    list a Python oracle computes from the same frames, and compares the
    classifier's drop counters (runt, truncated_ip, truncated_l4, ...) with
    the oracle's.

The oracle parses the raw frame bytes with `struct` and applies the rules
written in this file; it shares no code with the C++ Classifier.

The temporary directory is removed on success and kept (its path is printed)
on failure or with --keep.
"""

import difflib
import json
import struct

import harness
from harness import drops_of, element, outputs_of, read_pcap, write_pcap
from scapy.all import ARP, IP, UDP, TCP, Dot1Q, Ether, IPv6, IPv6ExtHdrHopByHop, Raw

TIMEOUT_S = 20.0

# --------------------------------------------------------------------------
# Classification rules. The same list produces the graph's YAML and drives the
# oracle. First match wins; unmatched packets go to `other` (the default).
# --------------------------------------------------------------------------
RULES = [
    {"output": "vlan10", "vlan": 10},
    {"output": "web", "ethertype": "ipv4", "ip_proto": "tcp", "dst_port": 80},
    {"output": "v6", "ip_src": "2001:db8::/32"},
]
DEFAULT_OUTPUT = "other"
OUTPUTS = ["vlan10", "web", "v6", DEFAULT_OUTPUT]
DROP_REASONS = ["runt", "truncated_vlan", "truncated_ip", "truncated_l4", "bad_ip", "no_match"]

MAC_A = "02:00:00:00:00:01"
MAC_B = "02:00:00:00:00:02"


def build_frames():
    """(description, raw bytes) of every input frame, in file order."""
    e = Ether(src=MAC_A, dst=MAC_B)
    tcp80 = bytes(e / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=40000, dport=80) / Raw(b"GET / HTTP/1.0\r\n\r\n"))
    frames = [
        ("ipv4 tcp dport 80", tcp80),
        ("ipv4 udp 53", bytes(e / IP(src="10.0.0.1", dst="10.0.0.53") / UDP(sport=5353, dport=53) / Raw(b"q" * 20))),
        ("ipv4 tcp dport 8080", bytes(e / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=40001, dport=8080))),
        ("ipv4 tcp sport 80 (reply, not dport 80)",
         bytes(e / IP(src="10.0.0.2", dst="10.0.0.1") / TCP(sport=80, dport=40000))),
        ("ipv4 with IP options, tcp dport 80",
         bytes(e / IP(src="10.0.0.1", dst="10.0.0.2", options=[b"\x01\x01\x01\x00"]) / TCP(sport=40002, dport=80))),
        ("ipv6 tcp 80 from fd00::1 (not 2001:db8)",
         bytes(e / IPv6(src="fd00::1", dst="fd00::2") / TCP(sport=40003, dport=80))),
        ("arp who-has", bytes(Ether(src=MAC_A, dst="ff:ff:ff:ff:ff:ff") / ARP(psrc="10.0.0.1", pdst="10.0.0.2"))),
        ("vlan 10 ipv4 udp", bytes(e / Dot1Q(vlan=10) / IP(src="10.1.0.1", dst="10.1.0.2") / UDP(sport=1, dport=2))),
        ("vlan 10 ipv4 tcp dport 80 (vlan rule first)",
         bytes(e / Dot1Q(vlan=10) / IP(src="10.1.0.1", dst="10.1.0.2") / TCP(sport=3, dport=80))),
        ("vlan 20 ipv4 tcp dport 80", bytes(e / Dot1Q(vlan=20) / IP(src="10.2.0.1", dst="10.2.0.2") / TCP(dport=80))),
        ("runt (10 bytes)", bytes(e)[:10]),
        ("ipv4 header truncated (14+12 bytes)", tcp80[:14 + 12]),
        ("ipv4 tcp, ports cut off (2 bytes of L4)", tcp80[:14 + 20 + 2]),
        ("ipv6 udp from 2001:db8::1",
         bytes(e / IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(sport=5000, dport=5001) / Raw(b"v6"))),
        ("ipv6 hop-by-hop, tcp 80 from 2001:db8:1::5",
         bytes(e / IPv6(src="2001:db8:1::5", dst="fd00::9") / IPv6ExtHdrHopByHop() / TCP(dport=80))),
        ("ipv6 from 2001:db9::1 (outside 2001:db8::/32)",
         bytes(e / IPv6(src="2001:db9::1", dst="2001:db8::2") / UDP(sport=1, dport=2))),
        ("ipv4 non-first fragment of tcp (no L4 header, not truncated)",
         bytes(e / IP(src="10.0.0.1", dst="10.0.0.2", proto=6, frag=100) / Raw(b"xy"))),
        ("exactly 14 bytes, ipv4 ethertype, no IP header", bytes(e / IP())[:14]),
        ("ipv6 tcp 80 from 2001:db8::7", bytes(e / IPv6(src="2001:db8::7", dst="fd00::2") / TCP(dport=80))),
        ("ipv4 tcp dport 80 again", tcp80),
        ("vlan tag cut short (14+2 bytes)", bytes(e / Dot1Q(vlan=10) / IP())[:16]),
        ("ipv4 ethertype but IP version 6", tcp80[:14] + bytes([0x65]) + tcp80[15:]),
        ("ipv4 ihl 4 (< 5)", tcp80[:14] + bytes([0x44]) + tcp80[15:]),
        ("ipv4 ihl 15 but only 20+ bytes of packet after ethernet", tcp80[:14] + bytes([0x4F]) + tcp80[15:34 + 8]),
        ("qinq: outer 0x88a8 vlan 10, inner vlan 20, ipv4 udp",
         bytes(Ether(src=MAC_A, dst=MAC_B, type=0x88A8) / Dot1Q(vlan=10) / Dot1Q(vlan=20) / IP() / UDP())),
        ("vlan 30, ipv6 udp from 2001:db8::30",
         bytes(e / Dot1Q(vlan=30) / IPv6(src="2001:db8::30", dst="2001:db8::31") / UDP())),
    ]
    return frames


# --------------------------------------------------------------------------
# Oracle: raw bytes -> (output name or None, drop reason or None)
# --------------------------------------------------------------------------
ETH_IPV4, ETH_IPV6, ETH_ARP, ETH_VLAN, ETH_QINQ = 0x0800, 0x86DD, 0x0806, 0x8100, 0x88A8
PROTO = {"tcp": 6, "udp": 17, "sctp": 132, "icmp": 1, "icmpv6": 58, "gre": 47}
ETHERTYPE = {"ipv4": ETH_IPV4, "ipv6": ETH_IPV6, "arp": ETH_ARP, "vlan": ETH_VLAN, "qinq": ETH_QINQ}
V6_EXT = {0, 43, 60, 44, 51}


def parse_prefix(text):
    import ipaddress
    net = ipaddress.ip_network(text, strict=False)
    return net


def oracle_headers(b, need_l3, need_l4):
    """Header fields of frame b, or ('drop', reason)."""
    h = {"vlan": None, "ip": None, "proto": None, "sport": None, "dport": None}
    if len(b) < 14:
        return "runt", h
    etype = struct.unpack_from("!H", b, 12)[0]
    off = 14
    tags = 0
    while etype in (ETH_VLAN, ETH_QINQ) and tags < 2:
        if len(b) < off + 4:
            return "truncated_vlan", h
        tci, etype = struct.unpack_from("!HH", b, off)
        if tags == 0:
            h["vlan"] = tci & 0x0FFF
        off += 4
        tags += 1
    h["ethertype"] = etype
    if not need_l3:
        return None, h
    import ipaddress
    first_fragment = True
    if etype == ETH_IPV4:
        if len(b) < off + 20:
            return "truncated_ip", h
        vihl = b[off]
        if vihl >> 4 != 4 or vihl & 0xF < 5:
            return "bad_ip", h
        ihl = (vihl & 0xF) * 4
        if off + ihl > len(b):
            return "truncated_ip", h
        h["proto"] = b[off + 9]
        h["ip"] = (ipaddress.IPv4Address(b[off + 12:off + 16]), ipaddress.IPv4Address(b[off + 16:off + 20]))
        first_fragment = (struct.unpack_from("!H", b, off + 6)[0] & 0x1FFF) == 0
        l4 = off + ihl
    elif etype == ETH_IPV6:
        if len(b) < off + 40:
            return "truncated_ip", h
        if b[off] >> 4 != 6:
            return "bad_ip", h
        h["ip"] = (ipaddress.IPv6Address(b[off + 8:off + 24]), ipaddress.IPv6Address(b[off + 24:off + 40]))
        nh = b[off + 6]
        l4 = off + 40
        for _ in range(8):
            if nh not in V6_EXT:
                break
            if len(b) < l4 + 8:
                return "truncated_ip", h
            if nh == 44:
                first_fragment = (struct.unpack_from("!H", b, l4 + 2)[0] & 0xFFF8) == 0
                ln = 8
            elif nh == 51:
                ln = (b[l4 + 1] + 2) * 4
            else:
                ln = (b[l4 + 1] + 1) * 8
            nh = b[l4]
            l4 += ln
        if nh in V6_EXT:
            return "bad_ip", h
        h["proto"] = nh
    else:
        return None, h
    if not need_l4 or not first_fragment:
        return None, h
    if h["proto"] in (6, 17, 132):
        if len(b) < l4 + 4:
            return "truncated_l4", h
        h["sport"], h["dport"] = struct.unpack_from("!HH", b, l4)
    return None, h


def port_range(v):
    s = str(v)
    lo, _, hi = s.partition("-")
    return int(lo), int(hi or lo)


def rule_matches(rule, h):
    if "ethertype" in rule and ETHERTYPE[rule["ethertype"]] != h["ethertype"]:
        return False
    if "vlan" in rule:
        want = -1 if rule["vlan"] == "none" else int(rule["vlan"])
        have = -1 if h["vlan"] is None else h["vlan"]
        if want != have:
            return False
    for key, idx in (("ip_src", 0), ("ip_dst", 1)):
        if key in rule:
            if h["ip"] is None:
                return False
            net = parse_prefix(rule[key])
            addr = h["ip"][idx]
            if addr.version != net.version or addr not in net:
                return False
    if "ip_proto" in rule:
        if h["ip"] is None or h["proto"] != PROTO[rule["ip_proto"]]:
            return False
    for key, hk in (("src_port", "sport"), ("dst_port", "dport")):
        if key in rule:
            if h[hk] is None:
                return False
            lo, hi = port_range(rule[key])
            if not lo <= h[hk] <= hi:
                return False
    return True


def oracle(frames):
    need_l3 = any(k in r for r in RULES for k in ("ip_src", "ip_dst", "ip_proto", "src_port", "dst_port"))
    need_l4 = any(k in r for r in RULES for k in ("src_port", "dst_port"))
    expected = {o: [] for o in OUTPUTS}
    drops = {d: 0 for d in DROP_REASONS}
    verdicts = []
    for desc, b in frames:
        reason, h = oracle_headers(b, need_l3, need_l4)
        if reason:
            drops[reason] += 1
            verdicts.append((desc, "drop:" + reason))
            continue
        out = DEFAULT_OUTPUT
        for r in RULES:
            if rule_matches(r, h):
                out = r["output"]
                break
        expected[out].append(b)
        verdicts.append((desc, out))
    return expected, drops, verdicts


# --------------------------------------------------------------------------
# Graph
# --------------------------------------------------------------------------
def yaml_value(v):
    return json.dumps(v) if isinstance(v, str) else str(v)


def write_graph(path, in_pcap, out_pcaps):
    lines = [
        "# Generated by tests/e2e/test_pcap_classify.py",
        "name: e2e_pcap_classify",
        "workers:",
        "  lcores: [1]",
        "ports:",
        f"  pin: {{device: net_pcap0, args: {json.dumps('rx_pcap=' + in_pcap)}}}",
    ]
    for i, o in enumerate(OUTPUTS, start=1):
        lines.append(f"  p_{o}: {{device: net_pcap{i}, args: {json.dumps('tx_pcap=' + out_pcaps[o])}}}")
    lines += [
        "elements:",
        "  rx: {class: PortRx, port: pin}",
        "  cls:",
        "    class: Classifier",
        f"    default: {DEFAULT_OUTPUT}",
        "    rules:",
    ]
    for r in RULES:
        lines.append("      - {" + ", ".join(f"{k}: {yaml_value(v)}" for k, v in r.items()) + "}")
    for o in OUTPUTS:
        lines.append(f"  tx_{o}: {{class: PortTx, port: p_{o}}}")
    lines += ["connections:", "  - rx -> cls"]
    for o in OUTPUTS:
        lines.append(f"  - cls[{o}] -> tx_{o}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


# --------------------------------------------------------------------------
# Running routerd
# --------------------------------------------------------------------------
def main(t):
    frames = build_frames()
    in_pcap = t.path("in.pcap")
    # Raw bytes with the Ethernet link type: exactly these bytes, no padding.
    write_pcap(in_pcap, [b for _, b in frames])
    t.require(read_pcap(in_pcap) == [b for _, b in frames], "the input pcap holds the frames unchanged")
    out_pcaps = {o: t.path(f"out_{o}.pcap") for o in OUTPUTS}
    graph = t.path("graph.yaml")
    write_graph(graph, in_pcap, out_pcaps)

    expected, expected_drops, verdicts = oracle(frames)
    if t.verbose:
        for desc, v in verdicts:
            print(f"  {v:22s} {desc}")
    n_in = len(frames)

    # Validate first: a graph error is easier to read from routerctl.
    t.validate(graph)
    r = t.routerd(file=graph, timeout=TIMEOUT_S)

    def done(stats):
        cls = element(stats, "cls")
        return cls["total"]["out"] + cls["total"]["dropped"] >= n_in
    stats = r.wait_stats(done, what=f"the classifier to handle {n_in} frames")
    rc = r.stop(timeout=TIMEOUT_S)
    t.require(rc == 0, "routerd exits 0 on SIGTERM", f"routerd exited with status {rc} after SIGTERM")

    cls = element(stats, "cls")
    t.check(cls["total"]["in"] == n_in, f"classifier input count {cls['total']['in']} (expected {n_in})")
    t.check(cls["total"]["out"] + cls["total"]["dropped"] == n_in,
            f"classifier forwarded {cls['total']['out']} + dropped {cls['total']['dropped']} = {n_in} input frames")
    got_drops = drops_of(cls)
    t.check(all(got_drops.get(x, 0) == expected_drops[x] for x in DROP_REASONS), "drops by reason as the oracle says",
            "\n".join(f"drop reason {x}: routerd counted {got_drops.get(x, 0)}, expected {expected_drops[x]}"
                      for x in DROP_REASONS if got_drops.get(x, 0) != expected_drops[x]))
    got_outs = outputs_of(cls)
    t.check(all(got_outs.get(o, 0) == len(expected[o]) for o in OUTPUTS), "packets per classifier output",
            "\n".join(f"classifier output {o}: {got_outs.get(o, 0)} packets, expected {len(expected[o])}"
                      for o in OUTPUTS if got_outs.get(o, 0) != len(expected[o])))
    for o in OUTPUTS:
        tx = element(stats, f"tx_{o}")
        t.check(not sum(drops_of(tx).values()), f"tx_{o} dropped nothing", f"tx_{o} dropped packets: {drops_of(tx)}")

    desc_of = {}
    for desc, b in frames:
        desc_of.setdefault(b, desc)

    def label(b):
        return desc_of[b] if b in desc_of else "unknown bytes " + b.hex()
    for o in OUTPUTS:
        got = read_pcap(out_pcaps[o])
        want = expected[o]
        diff = difflib.unified_diff([label(b) for b in want], [label(b) for b in got], lineterm="", n=1)
        t.check(got == want, f"{o:7s} {len(got)} packet(s) byte-identical",
                f"output {o}: {len(got)} packet(s), expected {len(want)}; diff (-expected +got):\n"
                + "\n".join("    " + line for line in list(diff)[2:]))
    t.info(f"{n_in} frames; outputs " + ", ".join(f"{o}={len(expected[o])}" for o in OUTPUTS)
           + "; drops " + ", ".join(f"{k}={v}" for k, v in expected_drops.items() if v))


if __name__ == "__main__":
    harness.run(main)

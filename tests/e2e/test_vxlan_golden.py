#!/usr/bin/env python3
"""End-to-end test: VxlanEncap and VxlanDecap on pcap files, against scapy.

    python3 tests/e2e/test_vxlan_golden.py --bin build/bin [--keep] [-v]

One routerd, one worker, four pipelines, every port a net_pcap vdev:

    enc_in.pcap  ─► rx_enc  ─► enc  (VxlanEncap IPv4, VNI 100, hashed source port) ─► tx_enc  ─► enc_out.pcap
    enc_in.pcap  ─► rx_enc6 ─► enc6 (VxlanEncap IPv6, VNI 0xabcdef, source port
                                     fixed by src_port_min == src_port_max, mtu 1400) ─► tx_enc6 ─► enc6_out.pcap
    dec_in.pcap  ─► rx_dec  ─► dec  (VxlanDecap, local_ip, vnis {tenant_a: 100, tenant_b: 200})
                                    dec[tenant_a] ─► tx_a ─► a.pcap
                                    dec[tenant_b] ─► tx_b ─► b.pcap
                                    dec[default]  ─► reflect (VxlanEncap with no vni, remote_ip or
                                                     remote_mac: all from the metadata dec set)
                                                  ─► tx_reflect ─► reflect.pcap

What it checks, record by record and byte for byte:

 - enc: scapy builds the expected packet (Ether/IP(DF, id 0, ttl)/UDP(checksum
   0)/VXLAN/inner). The UDP source port is a hash, so the oracle takes it from
   routerd's packet, checks it lies in 49152-65535, that every packet of one
   inner flow got the same port and that different flows spread, and compares
   every other byte exactly.
 - enc6: the source port is fixed, so the whole packet, UDP checksum included
   (computed by scapy), must match; an inner frame too big for mtu 1400 is
   dropped (too_big).
 - dec: the input holds good VXLAN packets (VLAN-tagged outer, IPv4 options,
   reserved bits set, Ethernet padding) and malformed ones (truncated outer
   headers, wrong UDP port, bad flags, bad IP checksum, fragments, ...), each
   built with scapy and labelled with the outcome RFC 7348 and the element's
   manual call for; outputs must hold exactly the inner frames, drops must
   match reason by reason.
 - reflect: VNI 300 packets leave dec by `default` and are encapsulated again
   towards their outer source (address, MAC and UDP port from the underlay
   metadata, VNI from the VNI metadata).

routerd is polled with `routerctl -s SOCK --json stats` until every element
has handled every packet (20 s timeout, no fixed sleeps), then stopped with
SIGTERM (which flushes the pcap files). The temporary directory is removed
on success and kept (its path is printed) on failure or with --keep.
"""

import json
import struct

import harness
from harness import drops_of, element, outputs_of, read_pcap, write_pcap
from scapy.all import ARP, IP, TCP, UDP, Dot1Q, Ether, IPv6, Raw
from scapy.layers.vxlan import VXLAN

TIMEOUT_S = 20.0

LOCAL_MAC, REMOTE_MAC = "02:00:00:00:00:01", "02:00:00:00:00:02"
PEER_MAC = "02:00:00:00:00:99"         # outer source of the packets dec receives
LOCAL4, REMOTE4, PEER4 = "192.0.2.1", "192.0.2.2", "198.51.100.9"
LOCAL6, REMOTE6 = "2001:db8::1", "2001:db8::2"
ENC_VNI, ENC6_VNI = 100, 0xABCDEF
ENC_TTL, ENC6_TTL = 64, 9
ENC6_PORT = 50123                      # src_port_min == src_port_max
ENC6_MTU = 1400
SRC_MIN, SRC_MAX = 49152, 65535
DEC_VNIS = {"tenant_a": 100, "tenant_b": 200}

ENC_DROPS = ["no_vni", "bad_vni", "no_destination", "family_mismatch", "no_destination_mac", "runt", "too_big",
             "shared_buffer", "no_headroom"]
DEC_DROPS = ["runt", "not_ip", "truncated_ip", "bad_ip_header", "bad_ip_length", "bad_ip_checksum", "ip_fragment",
             "not_local", "not_udp", "truncated_udp", "wrong_port", "bad_udp_length", "truncated_vxlan", "bad_flags",
             "truncated_inner"]


# --------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------
def inner_frames():
    """(description, bytes) of the Ethernet frames given to enc and enc6."""
    a, b = "52:54:00:00:00:0a", "52:54:00:00:00:0b"
    e = Ether(src=a, dst=b)
    tcp = lambda sport, dport, data=b"": bytes(e / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=sport, dport=dport)
                                               / Raw(data))
    return [
        ("tcp 40000->80", tcp(40000, 80, b"GET /")),
        ("udp 10.0.0.1:5000 -> 10.0.0.9:53", bytes(e / IP(src="10.0.0.1", dst="10.0.0.9") / UDP(sport=5000, dport=53)
                                                   / Raw(b"q" * 30))),
        ("tcp 40000->80 again, other payload (same flow)", tcp(40000, 80, b"more data, same flow")),
        ("tcp 40001->80 (other flow: ports)", tcp(40001, 80)),
        ("ipv6 tcp", bytes(e / IPv6(src="fd00::1", dst="fd00::2") / TCP(sport=1234, dport=443) / Raw(b"tls"))),
        ("arp", bytes(Ether(src=a, dst="ff:ff:ff:ff:ff:ff") / ARP(psrc="10.0.0.1", pdst="10.0.0.2"))),
        ("vlan 10 udp", bytes(e / Dot1Q(vlan=10) / IP(src="10.1.0.1", dst="10.1.0.2") / UDP(sport=7, dport=7))),
        ("icmp from another host", bytes(Ether(src="52:54:00:00:00:0c", dst=b) / IP(src="10.0.0.3", dst="10.0.0.2")
                                         / Raw(b"\x08\x00\xf7\xff\x00\x00\x00\x00"))),
        ("1400-byte frame (fits IPv4 mtu 1500, not IPv6 mtu 1400)",
         bytes(e / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=9, dport=9) / Raw(b"j" * (1400 - 42)))),
        ("udp 10.0.0.1:5000 -> 10.0.0.9:53 again (same flow)",
         bytes(e / IP(src="10.0.0.1", dst="10.0.0.9") / UDP(sport=5000, dport=53) / Raw(b"r" * 3))),
        ("runt (10 bytes)", bytes(e)[:10]),
    ]


def vxlan_hdr(vni, flags=0x08):
    return struct.pack("!B3xI", flags, vni << 8)


def decap_inputs():
    """(description, bytes, expected) for dec: expected is ('out', name, inner) or ('drop', reason)."""
    outer = Ether(src=PEER_MAC, dst=LOCAL_MAC)
    inner1 = bytes(Ether(src="52:54:00:00:01:01", dst="52:54:00:00:01:02") / IP(src="172.16.0.1", dst="172.16.0.2")
                   / UDP(sport=1111, dport=2222) / Raw(b"tenant traffic"))
    inner2 = bytes(Ether(src="52:54:00:00:02:01", dst="52:54:00:00:02:02") / IPv6(src="fd01::1", dst="fd01::2")
                   / TCP(sport=3333, dport=22))
    inner3 = bytes(Ether(src="52:54:00:00:03:01", dst="ff:ff:ff:ff:ff:ff") / ARP(psrc="172.16.0.9"))

    def vx(inner, vni=100, flags=0x08, sport=55555, dport=4789, ip=None, udp=None):
        ip = ip if ip is not None else IP(src=PEER4, dst=LOCAL4)
        udp = udp if udp is not None else UDP(sport=sport, dport=dport, chksum=0)
        return outer / ip / udp / Raw(vxlan_hdr(vni, flags) + inner)

    good = bytes(vx(inner1))
    cases = [
        ("vni 100", good, ("out", "tenant_a", inner1)),
        ("vni 200, ipv6 inner", bytes(vx(inner2, vni=200)), ("out", "tenant_b", inner2)),
        ("vni 300 -> default -> reflect", bytes(vx(inner3, vni=300, sport=61234)), ("out", "reflect", inner3)),
        ("scapy's VXLAN layer, vni 200", bytes(outer / IP(src=PEER4, dst=LOCAL4) / UDP(sport=1, dport=4789)
                                               / VXLAN(vni=200) / Raw(inner1)), ("out", "tenant_b", inner1)),
        ("outer vlan tag", bytes(Ether(src=PEER_MAC, dst=LOCAL_MAC) / Dot1Q(vlan=42) / IP(src=PEER4, dst=LOCAL4)
                                 / UDP(sport=2, dport=4789, chksum=0) / Raw(vxlan_hdr(100) + inner2)),
         ("out", "tenant_a", inner2)),
        ("outer ipv4 options", bytes(vx(inner1, ip=IP(src=PEER4, dst=LOCAL4, options=[b"\x01\x01\x01\x00"]))),
         ("out", "tenant_a", inner1)),
        ("reserved flag bits set (ignored)", bytes(vx(inner3, vni=200, flags=0xFF)), ("out", "tenant_b", inner3)),
        ("udp checksum set (not verified)", bytes(vx(inner1, udp=UDP(sport=3, dport=4789)))
         , ("out", "tenant_a", inner1)),
        ("ethernet padding after the IP packet", good + b"\x00" * 8, ("out", "tenant_a", inner1)),
        # Malformed.
        ("runt (12 bytes)", good[:12], ("drop", "runt")),
        ("arp, not ip", bytes(Ether(src=PEER_MAC, dst=LOCAL_MAC) / ARP()), ("drop", "not_ip")),
        ("outer ipv4 header cut (14+10 bytes)", good[:24], ("drop", "truncated_ip")),
        ("outer ip version 5", bytes(vx(inner1, ip=IP(src=PEER4, dst=LOCAL4, version=5))), ("drop", "bad_ip_header")),
        ("capture cut inside the inner frame", good[:len(good) - 5], ("drop", "bad_ip_length")),
        ("bad outer ipv4 checksum", bytes(vx(inner1, ip=IP(src=PEER4, dst=LOCAL4, chksum=0x1234))),
         ("drop", "bad_ip_checksum")),
        ("outer ipv4 fragment (MF)", bytes(vx(inner1, ip=IP(src=PEER4, dst=LOCAL4, flags="MF"))),
         ("drop", "ip_fragment")),
        ("outer destination not local", bytes(vx(inner1, ip=IP(src=PEER4, dst="192.0.2.77"))), ("drop", "not_local")),
        ("outer ipv6 (local_ip is ipv4)", bytes(outer / IPv6(src="2001:db8::9", dst=LOCAL6) / UDP(sport=1, dport=4789)
                                                / Raw(vxlan_hdr(100) + inner1)), ("drop", "not_local")),
        ("tcp, not udp", bytes(outer / IP(src=PEER4, dst=LOCAL4) / TCP(dport=4789) / Raw(b"x" * 30)),
         ("drop", "not_udp")),
        ("4 bytes of udp header", bytes(outer / IP(src=PEER4, dst=LOCAL4, proto=17) / Raw(b"\x12\xb5\x12\xb5")),
         ("drop", "truncated_udp")),
        ("wrong udp port 4790", bytes(vx(inner1, dport=4790)), ("drop", "wrong_port")),
        ("udp length 1 short", bytes(vx(inner1, udp=UDP(sport=4, dport=4789, len=8 + 8 + len(inner1) - 1, chksum=0))),
         ("drop", "bad_udp_length")),
        ("4 bytes of vxlan header", bytes(outer / IP(src=PEER4, dst=LOCAL4) / UDP(sport=5, dport=4789, chksum=0)
                                          / Raw(b"\x08\x00\x00\x00")), ("drop", "truncated_vxlan")),
        ("I flag clear", bytes(vx(inner1, flags=0x00)), ("drop", "bad_flags")),
        ("10-byte inner frame", bytes(vx(inner1[:10])), ("drop", "truncated_inner")),
        ("vni 100 again", good, ("out", "tenant_a", inner1)),
    ]
    return cases


# --------------------------------------------------------------------------
# Oracles
# --------------------------------------------------------------------------
def flow_key(f):
    """The inner flow of an Ethernet frame, computed here from the bytes."""
    etype = struct.unpack_from("!H", f, 12)[0]
    off = 14
    while etype in (0x8100, 0x88A8) and off + 4 <= len(f):
        etype = struct.unpack_from("!H", f, off + 2)[0]
        off += 4
    key = [f[:12], etype]
    if etype == 0x0800:
        ihl = (f[off] & 0xF) * 4
        proto = f[off + 9]
        key += [f[off + 12:off + 20], proto]
        if proto in (6, 17, 132):
            key.append(f[off + ihl:off + ihl + 4])
    elif etype == 0x86DD:
        proto = f[off + 6]
        key += [f[off + 8:off + 40], proto]
        if proto in (6, 17, 132):
            key.append(f[off + 40:off + 44])
    return tuple(key)


def expected_enc(frame, sport):
    return bytes(Ether(src=LOCAL_MAC, dst=REMOTE_MAC)
                 / IP(src=LOCAL4, dst=REMOTE4, ttl=ENC_TTL, flags="DF", id=0)
                 / UDP(sport=sport, dport=4789, chksum=0) / VXLAN(vni=ENC_VNI) / Raw(frame))


def expected_enc6(frame):
    return bytes(Ether(src=LOCAL_MAC, dst=REMOTE_MAC) / IPv6(src=LOCAL6, dst=REMOTE6, hlim=ENC6_TTL)
                 / UDP(sport=ENC6_PORT, dport=4789) / VXLAN(vni=ENC6_VNI) / Raw(frame))


def expected_reflect(frame, vni, peer_port, sport):
    # Back to the outer source: its address and MAC. Not to its UDP source
    # port (a flow hash): VxlanDecap records udp_port 0, so VxlanEncap uses
    # its own destination port, 4789.
    del peer_port
    return bytes(Ether(src=LOCAL_MAC, dst=PEER_MAC) / IP(src=LOCAL4, dst=PEER4, ttl=ENC_TTL, flags="DF", id=0)
                 / UDP(sport=sport, dport=4789, chksum=0) / VXLAN(vni=vni) / Raw(frame))


# --------------------------------------------------------------------------
# The graph
# --------------------------------------------------------------------------
def write_graph(path, pcaps):
    def port(name, i, key):
        return f"  {name}: {{device: net_pcap{i}, args: {json.dumps(key + '=' + pcaps[name])}}}"
    encap_common = f'local_mac: "{LOCAL_MAC}"'
    lines = [
        "# Generated by tests/e2e/test_vxlan_golden.py",
        "name: e2e_vxlan_golden",
        "workers:",
        "  lcores: [1]",
        "ports:",
        port("enc_in", 0, "rx_pcap"),
        port("enc6_in", 1, "rx_pcap"),
        port("dec_in", 2, "rx_pcap"),
        port("enc_out", 3, "tx_pcap"),
        port("enc6_out", 4, "tx_pcap"),
        port("a_out", 5, "tx_pcap"),
        port("b_out", 6, "tx_pcap"),
        port("reflect_out", 7, "tx_pcap"),
        "elements:",
        "  rx_enc: {class: PortRx, port: enc_in}",
        f"  enc: {{class: VxlanEncap, vni: {ENC_VNI}, local_ip: {LOCAL4}, remote_ip: {REMOTE4}, ttl: {ENC_TTL},",
        f'         {encap_common}, remote_mac: "{REMOTE_MAC}"}}',
        "  tx_enc: {class: PortTx, port: enc_out}",
        "  rx_enc6: {class: PortRx, port: enc6_in}",
        f'  enc6: {{class: VxlanEncap, vni: {ENC6_VNI:#x}, local_ip: "{LOCAL6}", remote_ip: "{REMOTE6}",',
        f"          ttl: {ENC6_TTL}, src_port_min: {ENC6_PORT}, src_port_max: {ENC6_PORT}, mtu: {ENC6_MTU},",
        f'          {encap_common}, remote_mac: "{REMOTE_MAC}"}}',
        "  tx_enc6: {class: PortTx, port: enc6_out}",
        "  rx_dec: {class: PortRx, port: dec_in}",
        "  dec: {class: VxlanDecap, local_ip: " + LOCAL4 + ", vnis: {"
        + ", ".join(f"{k}: {v}" for k, v in DEC_VNIS.items()) + "}}",
        "  tx_a: {class: PortTx, port: a_out}",
        "  tx_b: {class: PortTx, port: b_out}",
        f"  reflect: {{class: VxlanEncap, local_ip: {LOCAL4}, {encap_common}}}",
        "  tx_reflect: {class: PortTx, port: reflect_out}",
        "connections:",
        "  - rx_enc -> enc -> tx_enc",
        "  - rx_enc6 -> enc6 -> tx_enc6",
        "  - rx_dec -> dec",
        "  - dec[tenant_a] -> tx_a",
        "  - dec[tenant_b] -> tx_b",
        "  - dec[default] -> reflect -> tx_reflect",
    ]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


# --------------------------------------------------------------------------
def main(t):
    frames = inner_frames()
    dec_cases = decap_inputs()
    names = ["enc_in", "enc6_in", "dec_in", "enc_out", "enc6_out", "a_out", "b_out", "reflect_out"]
    pcaps = {n: t.path(n + ".pcap") for n in names}
    write_pcap(pcaps["enc_in"], [b for _, b in frames])
    write_pcap(pcaps["enc6_in"], [b for _, b in frames])
    write_pcap(pcaps["dec_in"], [b for _, b, _ in dec_cases])
    graph = t.path("graph.yaml")
    write_graph(graph, pcaps)
    if t.verbose:
        for desc, _, exp in dec_cases:
            print(f"  dec {exp[0]}:{exp[1]:16s} {desc}")

    # Expected outcomes.
    enc_drops = {d: 0 for d in ENC_DROPS}
    enc6_drops = {d: 0 for d in ENC_DROPS}
    enc_frames, enc6_expected = [], []
    for _, f in frames:
        if len(f) < 14:
            enc_drops["runt"] += 1
            enc6_drops["runt"] += 1
            continue
        enc_frames.append(f)
        if 40 + 16 + len(f) > ENC6_MTU:
            enc6_drops["too_big"] += 1
        else:
            enc6_expected.append(expected_enc6(f))
    dec_drops = {d: 0 for d in DEC_DROPS}
    dec_out = {"tenant_a": [], "tenant_b": [], "reflect": []}
    for desc, b, exp in dec_cases:
        if exp[0] == "drop":
            dec_drops[exp[1]] += 1
        else:
            dec_out[exp[1]].append((desc, b, exp[2]))

    t.validate(graph)
    r = t.routerd(file=graph, timeout=TIMEOUT_S)
    want_done = {"enc": len(frames), "enc6": len(frames), "dec": len(dec_cases), "reflect": len(dec_out["reflect"])}

    def done(stats):
        return all(element(stats, e)["total"]["out"] + element(stats, e)["total"]["dropped"] >= n
                   for e, n in want_done.items())
    stats = r.wait_stats(done, what="every element to handle every packet")
    rc = r.stop(timeout=TIMEOUT_S)
    t.require(rc == 0, "routerd exits 0 on SIGTERM", f"routerd exited with status {rc} after SIGTERM")

    def check_drops(problems, eid, want):
        got = drops_of(element(stats, eid))
        for reason in set(want) | set(got):
            if got.get(reason, 0) != want.get(reason, 0):
                problems.append(f"{eid}: drop reason {reason}: routerd counted {got.get(reason, 0)}, "
                                f"expected {want.get(reason, 0)}")

    def same(problems, label, got, want):
        if got == want:
            return True
        for i in range(max(len(got), len(want))):
            if i >= len(got) or i >= len(want) or got[i] != want[i]:
                problems.append(f"{label}: first difference at byte {i}:\n      got  {got.hex()}\n"
                                f"      want {want.hex()}")
                return False
        return False

    # enc: hashed source port.
    problems = []
    check_drops(problems, "enc", enc_drops)
    got = read_pcap(pcaps["enc_out"])
    if len(got) != len(enc_frames):
        problems.append(f"enc_out: {len(got)} packets, expected {len(enc_frames)}")
    ports_by_flow = {}
    for i, (g, f) in enumerate(zip(got, enc_frames)):
        if len(g) < 36:
            problems.append(f"enc_out record {i}: {len(g)} bytes")
            continue
        sport = struct.unpack_from("!H", g, 34)[0]
        if not SRC_MIN <= sport <= SRC_MAX:
            problems.append(f"enc_out record {i}: source port {sport} outside {SRC_MIN}-{SRC_MAX}")
        ports_by_flow.setdefault(flow_key(f), set()).add(sport)
        same(problems, f"enc_out record {i}", g, expected_enc(f, sport))
    for flow, ports in ports_by_flow.items():
        if len(ports) != 1:
            problems.append(f"enc: one inner flow got source ports {sorted(ports)}")
    distinct = {p for ports in ports_by_flow.values() for p in ports}
    if len(distinct) < len(ports_by_flow) - 1:
        problems.append(f"enc: {len(ports_by_flow)} flows share only {len(distinct)} source ports")
    t.check(not problems, f"enc      {len(got)} packet(s) identical but for the source port; {len(ports_by_flow)} "
            f"flows, {len(distinct)} ports, one port per flow", "\n".join(problems))

    # enc6: fixed source port, whole packet.
    problems = []
    check_drops(problems, "enc6", enc6_drops)
    got = read_pcap(pcaps["enc6_out"])
    if len(got) != len(enc6_expected):
        problems.append(f"enc6_out: {len(got)} packets, expected {len(enc6_expected)}")
    for i, (g, w) in enumerate(zip(got, enc6_expected)):
        same(problems, f"enc6_out record {i}", g, w)
    t.check(not problems, f"enc6     {len(got)} packet(s) byte-identical (UDP checksum included); "
            f"drops {', '.join(f'{k}={v}' for k, v in enc6_drops.items() if v)}", "\n".join(problems))

    # dec and reflect.
    problems = []
    check_drops(problems, "dec", dec_drops)
    check_drops(problems, "reflect", {})
    outs = outputs_of(element(stats, "dec"))
    for name, port in (("tenant_a", "a_out"), ("tenant_b", "b_out")):
        want = [inner for _, _, inner in dec_out[name]]
        if outs.get(name, 0) != len(want):
            problems.append(f"dec output {name}: {outs.get(name, 0)} packets, expected {len(want)}")
        got = read_pcap(pcaps[port])
        if len(got) != len(want):
            problems.append(f"{port}: {len(got)} packets, expected {len(want)}")
        for i, (g, w) in enumerate(zip(got, want)):
            same(problems, f"{port} record {i} ({dec_out[name][i][0]})", g, w)
    got = read_pcap(pcaps["reflect_out"])
    want = dec_out["reflect"]
    if len(got) != len(want):
        problems.append(f"reflect_out: {len(got)} packets, expected {len(want)}")
    for i, (g, (desc, outer, inner)) in enumerate(zip(got, want)):
        sport = struct.unpack_from("!H", g, 34)[0] if len(g) >= 36 else 0
        if not SRC_MIN <= sport <= SRC_MAX:
            problems.append(f"reflect_out record {i}: source port {sport} outside {SRC_MIN}-{SRC_MAX}")
        # The outer packet dec received: its VNI and UDP source port.
        peer_port = struct.unpack_from("!H", outer, 34)[0]
        vni = struct.unpack_from("!I", outer, 46)[0] >> 8
        same(problems, f"reflect_out record {i} ({desc})", g, expected_reflect(inner, vni, peer_port, sport))
    t.check(not problems, f"dec      tenant_a={len(dec_out['tenant_a'])} tenant_b={len(dec_out['tenant_b'])} "
            f"reflected={len(dec_out['reflect'])} byte-identical; drops "
            + ", ".join(f"{k}={v}" for k, v in dec_drops.items() if v), "\n".join(problems))
    t.info(f"{len(frames)} inner frames encapsulated twice, {len(dec_cases)} VXLAN packets decapsulated")


if __name__ == "__main__":
    harness.run(main)

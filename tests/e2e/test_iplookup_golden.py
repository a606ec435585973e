#!/usr/bin/env python3
"""Golden test: routes pushed over FPM by this script, packets routed by
IpLookup between net_pcap ports, every output byte checked.

    python3 tests/e2e/test_iplookup_golden.py --bin build/bin [--keep] [-v]

    this script ──FPM/TCP (127.0.0.1, a free port)──► fib (Fib)
                                                        │ FIB (rte_lpm / rte_lpm6)
    in.pcap ─► pin ─► rx ─► lookup (IpLookup) ─[p1]─► tx1 ─► p1.pcap
                                               ─[p2]─► tx2 ─► p2.pcap
                                               drops by reason

 1. routerd starts with the Fib, IpLookup and the two output ports, but no
    input port yet (packets must not arrive before the routes do);
 2. this script is zebra: it connects to the Fib's FPM port and sends route
    and nexthop messages it packs itself (struct.pack: FPM header, netlink
    RTM_NEWROUTE/RTM_DELROUTE/RTM_NEWNEXTHOP, rtmsg, rtattrs) — IPv4/IPv6,
    ECMP, nexthop objects, blackhole/unreachable/prohibit, a directly
    connected subnet, another table, a DEL+NEW replacement in one frame —
    and polls `routerctl routes` until they are all there;
 3. `routerctl reload` adds the pcap input port (the Fib element is kept:
    same service, same FPM connection), and routerd routes in.pcap;
 4. an oracle written here (its own longest-prefix match over the routes it
    sent, the ECMP hash recomputed with a pure-Python CRC32-C, scapy to
    rebuild each expected frame: MACs, TTL/hop limit, IPv4 checksum
    recomputed from scratch) predicts every output frame and drop; the
    outputs must match byte for byte and the drop counters exactly.

Exit status 0 on success. scapy from Debian's python3-scapy.
"""
import argparse
import ipaddress
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

try:
    from scapy.all import (ARP, IP, TCP, UDP, Dot1Q, Ether, ICMP, IPv6, PcapWriter, Raw, conf as scapy_conf)
except ImportError:
    if os.environ.get("WEFT_E2E_REEXEC") != "1" and os.path.exists("/usr/bin/python3") \
            and os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3"):
        os.environ["WEFT_E2E_REEXEC"] = "1"
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    sys.exit("FAIL: scapy is not importable (install the Debian package python3-scapy)")

scapy_conf.verb = 0
TIMEOUT_S = 30.0

# --------------------------------------------------------------------------
# The router's configuration and the routes zebra (this script) sends
# --------------------------------------------------------------------------
IFACES = {11: ("p1", "02:00:00:00:01:01"), 12: ("p2", "02:00:00:00:01:02"), 13: ("p3", "02:00:00:00:01:03")}
OUTPUTS = ["p1", "p2"]  # IpLookup's outputs (p3 is mapped by the Fib but not an output here)
NEIGHBORS = {"192.0.2.1": "02:00:00:00:00:01", "192.0.2.2": "02:00:00:00:00:02",
             "10.7.0.5": "02:00:00:00:07:05", "2001:db8::1": "02:00:00:00:06:01",
             "2001:db8::2": "02:00:00:00:06:02"}
NEXTHOPS = {50: ("192.0.2.2", 12)}  # nexthop objects (zebra's default style)

# (table, prefix, type, [(gateway or None, oif)], nhid)
ROUTES = [
    (254, "10.1.0.0/16", "unicast", [("192.0.2.1", 11)], 0),
    (254, "10.2.0.0/16", "unicast", [("192.0.2.1", 11)], 0),          # replaced below (DEL+NEW): via p2
    (254, "10.3.0.0/24", "unicast", [("192.0.2.1", 11), ("192.0.2.2", 12)], 0),  # ECMP
    (254, "10.3.0.128/25", "unicast", [("192.0.2.1", 11)], 0),        # more specific
    (254, "10.6.0.0/16", "unicast", [], 50),                           # nexthop object
    (254, "10.7.0.0/24", "unicast", [(None, 12)], 0),                  # directly connected
    (254, "10.8.0.0/16", "unicast", [("192.0.2.1", 99)], 0),          # interface not configured
    (254, "10.10.0.0/16", "unicast", [("192.0.2.1", 13)], 0),         # configured, not an output here
    (254, "10.9.0.0/16", "unicast", [("192.0.2.99", 11)], 0),         # no MAC for the gateway
    (254, "203.0.113.0/24", "blackhole", [], 0),
    (254, "198.51.100.0/24", "unreachable", [], 0),
    (254, "198.51.101.0/24", "prohibit", [], 0),
    (1001, "10.5.0.0/16", "unicast", [("192.0.2.1", 11)], 0),         # another table: not used
    (254, "2001:db8:1::/48", "unicast", [("2001:db8::1", 11)], 0),
    (254, "2001:db8:2::/48", "unicast", [("2001:db8::1", 11), ("2001:db8::2", 12)], 0),
    (254, "2001:db8:dead::/48", "unreachable", [], 0),
    (254, "::/0", "unicast", [("2001:db8::2", 12)], 0),               # IPv6 default
]
REPLACEMENT = (254, "10.2.0.0/16", "unicast", [("192.0.2.2", 12)], 0)
DROP_REASONS = ["no_route", "blackhole", "unreachable", "prohibit", "ttl_exceeded", "no_output", "no_neighbor",
                "not_ip", "truncated", "bad_ip"]

# --------------------------------------------------------------------------
# FPM / netlink, packed by hand
# --------------------------------------------------------------------------
RTM_NEWROUTE, RTM_DELROUTE, RTM_NEWNEXTHOP = 24, 25, 104
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PRIORITY, RTA_MULTIPATH, RTA_TABLE, RTA_NH_ID = 1, 4, 5, 6, 9, 15, 30
NHA_ID, NHA_OIF, NHA_GATEWAY = 1, 5, 6
RTN = {"unicast": 1, "blackhole": 6, "unreachable": 7, "prohibit": 8}
NLM_F_REQUEST, NLM_F_CREATE, NLM_F_REPLACE = 1, 0x400, 0x100


def rta(kind, payload):
    a = struct.pack("=HH", 4 + len(payload), kind) + payload
    return a + b"\0" * ((4 - len(a) % 4) % 4)


def nlmsg(kind, body):
    return struct.pack("=IHHII", 16 + len(body), kind, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE, 0, 0) + body


def addr_bytes(a):
    return ipaddress.ip_address(a).packed


def route_msg(add, table, prefix, rtype, nhs, nhid):
    net = ipaddress.ip_network(prefix)
    family = 2 if net.version == 4 else 10
    body = struct.pack("=BBBBBBBBI", family, net.prefixlen, 0, 0, table if table < 256 else 0, 4, 0, RTN[rtype], 0)
    body += rta(RTA_DST, net.network_address.packed)
    if table >= 256:
        body += rta(RTA_TABLE, struct.pack("=I", table))
    body += rta(RTA_PRIORITY, struct.pack("=I", 20))
    if nhid:
        body += rta(RTA_NH_ID, struct.pack("=I", nhid))
    if len(nhs) == 1:
        gw, oif = nhs[0]
        if gw:
            body += rta(RTA_GATEWAY, addr_bytes(gw))
        body += rta(RTA_OIF, struct.pack("=I", oif))
    elif len(nhs) > 1:
        mp = b""
        for gw, oif in nhs:
            attrs = rta(RTA_GATEWAY, addr_bytes(gw)) if gw else b""
            mp += struct.pack("=HBBi", 8 + len(attrs), 0, 0, oif) + attrs
        body += rta(RTA_MULTIPATH, mp)
    return nlmsg(RTM_NEWROUTE if add else RTM_DELROUTE, body)


def nexthop_msg(nhid, gw, oif):
    body = struct.pack("=BBBBI", 2, 0, 0, 4, 0)  # struct nhmsg: family, scope, protocol, resvd, flags
    body += rta(NHA_ID, struct.pack("=I", nhid)) + rta(NHA_GATEWAY, addr_bytes(gw)) + rta(NHA_OIF, struct.pack("=I", oif))
    return nlmsg(RTM_NEWNEXTHOP, body)


def fpm_frame(*msgs):
    payload = b"".join(msgs)
    return struct.pack("!BBH", 1, 1, 4 + len(payload)) + payload


# --------------------------------------------------------------------------
# The oracle
# --------------------------------------------------------------------------
def crc32c(crc, data):
    """CRC32-C as the SSE4.2 crc32 instruction (and rte_hash_crc) computes it:
    reflected polynomial 0x82F63B78, no inversion in or out."""
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc


def flow_hash(src, dst, proto, l4):
    """docs/routing.md: seed 0x57454654, source, destination, then the first
    4 bytes of L4 (TCP/UDP/SCTP, unfragmented; zeros otherwise) with the
    protocol XORed into the first byte."""
    ports = bytearray(l4[:4]) if l4 is not None and len(l4) >= 4 else bytearray(4)
    ports[0] ^= proto
    h = crc32c(0x57454654, src)
    h = crc32c(h, dst)
    return crc32c(h, bytes(ports))


def lpm(table, dst):
    best = None
    for t, p, rtype, nhs, nhid in effective_routes():
        net = ipaddress.ip_network(p)
        if t == table and net.version == dst.version and dst in net:
            if best is None or net.prefixlen > best[0].prefixlen:
                best = (net, rtype, nhs if not nhid else [NEXTHOPS[nhid]])
    return best


def effective_routes():
    out = [r for r in ROUTES if (r[0], r[1]) != (REPLACEMENT[0], REPLACEMENT[1])]
    return out + [REPLACEMENT]


def oracle_one(b):
    """(output or None, drop reason or None, expected bytes)"""
    if len(b) < 14:
        return None, "truncated", None
    etype = struct.unpack_from("!H", b, 12)[0]
    if etype == 0x0800:
        if len(b) < 34:
            return None, "truncated", None
        vihl = b[14]
        ihl = (vihl & 0xF) * 4
        if vihl >> 4 != 4 or ihl < 20:
            return None, "bad_ip", None
        total = struct.unpack_from("!H", b, 16)[0]
        if len(b) < 14 + ihl or len(b) < 14 + total:
            return None, "truncated", None
        hdr = b[14:14 + ihl]
        s = sum(struct.unpack("!%dH" % (ihl // 2), hdr))
        while s >> 16:
            s = (s & 0xFFFF) + (s >> 16)
        if total < ihl or s != 0xFFFF:
            return None, "bad_ip", None
        v6 = False
        src, dst = b[26:30], b[30:34]
        proto, ttl = b[23], b[22]
        frag = struct.unpack_from("!H", b, 20)[0] & 0x3FFF
        l4 = b[14 + ihl:] if frag == 0 and proto in (6, 17, 132) else None
    elif etype == 0x86DD:
        if len(b) < 54:
            return None, "truncated", None
        if b[14] >> 4 != 6:
            return None, "bad_ip", None
        plen = struct.unpack_from("!H", b, 18)[0]
        if len(b) < 54 + plen:
            return None, "truncated", None
        v6 = True
        src, dst = b[22:38], b[38:54]
        proto, ttl = b[20], b[21]
        l4 = b[54:] if proto in (6, 17, 132) else None
    else:
        return None, "not_ip", None
    route = lpm(254, ipaddress.ip_address(dst))
    if route is None:
        return None, "no_route", None
    net, rtype, nhs = route
    if rtype != "unicast":
        return None, rtype, None
    if ttl <= 1:
        return None, "ttl_exceeded", None
    # Members that can forward come first (and alone, if any); equal weights:
    # one bucket each, member = h % n.
    def usable(nh):
        gw, oif = nh
        return oif in IFACES and (gw is None or gw in NEIGHBORS)
    good = [nh for nh in nhs if usable(nh)]
    members = good or nhs
    gw, oif = members[flow_hash(src, dst, proto, l4) % len(members)] if len(members) > 1 else members[0]
    if oif not in IFACES or IFACES[oif][0] not in OUTPUTS:
        return None, "no_output", None
    out, src_mac = IFACES[oif]
    nexthop = gw if gw else str(ipaddress.ip_address(dst))
    if nexthop not in NEIGHBORS:
        return None, "no_neighbor", None
    # The expected frame, rebuilt with scapy: checksum from scratch.
    pkt = Ether(b)
    pkt.dst, pkt.src = NEIGHBORS[nexthop], src_mac
    if v6:
        pkt[IPv6].hlim -= 1
    else:
        pkt[IP].ttl -= 1
        del pkt[IP].chksum
    return out, None, bytes(pkt)


# --------------------------------------------------------------------------
# Input frames
# --------------------------------------------------------------------------
def build_frames():
    e = Ether(src="02:aa:00:00:00:01", dst="02:bb:00:00:00:01")
    f = []

    def add(desc, pkt):
        f.append((desc, bytes(pkt)))
    add("udp to 10.1.2.3 ttl 64", e / IP(src="172.16.0.1", dst="10.1.2.3", ttl=64) / UDP(sport=1000, dport=53) / Raw(b"x" * 20))
    add("tcp to 10.1.255.255 ttl 2", e / IP(src="172.16.0.1", dst="10.1.255.255", ttl=2) / TCP(sport=1, dport=80))
    add("tcp to 10.1.0.1 ttl 1", e / IP(src="172.16.0.1", dst="10.1.0.1", ttl=1) / TCP())
    add("udp to 10.1.0.1 ttl 0", e / IP(src="172.16.0.1", dst="10.1.0.1", ttl=0) / UDP())
    add("udp to 10.2.0.9 (replaced route: p2)", e / IP(src="172.16.0.1", dst="10.2.0.9") / UDP(sport=7, dport=7))
    for i in range(24):
        add(f"ecmp udp flow {i} to 10.3.0.10", e / IP(src=f"172.16.1.{i}", dst="10.3.0.10") / UDP(sport=4000 + i, dport=53))
    for i in range(8):
        add(f"ecmp tcp flow {i} to 10.3.0.77", e / IP(src="172.16.2.1", dst="10.3.0.77") / TCP(sport=5000 + 3 * i, dport=443))
    add("ecmp icmp (no ports)", e / IP(src="172.16.3.1", dst="10.3.0.20") / ICMP())
    add("ecmp udp first fragment (MF: no ports in the hash)",
        e / IP(src="172.16.3.2", dst="10.3.0.21", flags="MF", proto=17) / Raw(b"y" * 16))
    add("to 10.3.0.200 (the /25)", e / IP(src="172.16.0.1", dst="10.3.0.200") / UDP())
    add("to 10.6.1.1 (nexthop object 50)", e / IP(src="172.16.0.1", dst="10.6.1.1") / UDP())
    add("to 10.7.0.5 (connected, neighbour known)", e / IP(src="172.16.0.1", dst="10.7.0.5") / UDP())
    add("to 10.7.0.6 (connected, neighbour unknown)", e / IP(src="172.16.0.1", dst="10.7.0.6") / UDP())
    add("to 10.8.0.1 (interface 99 not configured)", e / IP(src="172.16.0.1", dst="10.8.0.1") / UDP())
    add("to 10.10.0.1 (interface p3: not an output)", e / IP(src="172.16.0.1", dst="10.10.0.1") / UDP())
    add("to 10.9.0.1 (gateway MAC unknown)", e / IP(src="172.16.0.1", dst="10.9.0.1") / UDP())
    add("to 203.0.113.5 (blackhole)", e / IP(src="172.16.0.1", dst="203.0.113.5") / UDP())
    add("to 198.51.100.5 (unreachable)", e / IP(src="172.16.0.1", dst="198.51.100.5") / UDP())
    add("to 198.51.101.5 (prohibit)", e / IP(src="172.16.0.1", dst="198.51.101.5") / UDP())
    add("to 10.5.0.1 (only in table 1001)", e / IP(src="172.16.0.1", dst="10.5.0.1") / UDP())
    add("to 11.0.0.1 (no route)", e / IP(src="172.16.0.1", dst="11.0.0.1") / UDP())
    add("ipv4 with options to 10.1.9.9",
        e / IP(src="172.16.0.1", dst="10.1.9.9", options=[b"\x01\x01\x01\x00"]) / UDP(sport=9, dport=9))
    f.append(("ipv4 with Ethernet padding to 60 bytes",
              bytes(e / IP(src="172.16.0.1", dst="10.1.0.7") / UDP(sport=1, dport=2) / Raw(b"ab")) + b"\0" * 16))
    add("ipv6 udp to 2001:db8:1::5", e / IPv6(src="2001:db8:ffff::1", dst="2001:db8:1::5") / UDP(sport=1, dport=2))
    add("ipv6 hop limit 1", e / IPv6(src="2001:db8:ffff::1", dst="2001:db8:1::5", hlim=1) / UDP())
    for i in range(8):
        add(f"ipv6 ecmp flow {i}", e / IPv6(src=f"2001:db8:ffff::{i + 1}", dst="2001:db8:2::9") / TCP(sport=6000 + i, dport=80))
    add("ipv6 to 2001:db8:dead::1 (unreachable)", e / IPv6(src="2001:db8:ffff::1", dst="2001:db8:dead::1") / UDP())
    add("ipv6 to 2001:db8:99::1 (default route)", e / IPv6(src="2001:db8:ffff::1", dst="2001:db8:99::1") / UDP())
    add("arp", Ether(src="02:aa:00:00:00:01", dst="ff:ff:ff:ff:ff:ff") / ARP(psrc="10.1.0.1", pdst="10.1.0.2"))
    add("vlan-tagged ipv4", e / Dot1Q(vlan=10) / IP(src="172.16.0.1", dst="10.1.2.3") / UDP())
    good = bytes(e / IP(src="172.16.0.1", dst="10.1.2.3") / UDP(sport=1, dport=2) / Raw(b"z" * 30))
    f.append(("runt (10 bytes)", good[:10]))
    f.append(("ethernet only, ipv4 type", good[:14]))
    f.append(("ipv4 header cut (14+12)", good[:26]))
    f.append(("ipv4 total length past the frame", good[:-10]))
    f.append(("ipv4 version 6 nibble", good[:14] + bytes([0x65]) + good[15:]))
    f.append(("ipv4 ihl 4", good[:14] + bytes([0x44]) + good[15:]))
    bad = bytearray(good)
    bad[24] ^= 0xFF
    f.append(("ipv4 bad header checksum", bytes(bad)))
    short_total = bytearray(good)
    struct.pack_into("!H", short_total, 16, 12)
    short_total[24:26] = b"\0\0"
    s = sum(struct.unpack("!10H", bytes(short_total[14:34])))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    struct.pack_into("!H", short_total, 24, ~s & 0xFFFF)
    f.append(("ipv4 total length 12 < header", bytes(short_total)))
    g6 = bytes(e / IPv6(src="2001:db8:ffff::1", dst="2001:db8:1::5") / UDP() / Raw(b"q" * 20))
    f.append(("ipv6 header cut", g6[:14 + 30]))
    f.append(("ipv6 payload length past the frame", g6[:-8]))
    f.append(("ipv6 type, version 4", g6[:14] + bytes([0x45]) + g6[15:]))
    return f


def read_pcap(path):
    with open(path, "rb") as fh:
        data = fh.read()
    end = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    recs, off = [], 24
    while off < len(data):
        _, _, caplen, _ = struct.unpack_from(end + "IIII", data, off)
        off += 16
        recs.append(data[off:off + caplen])
        off += caplen
    return recs


# --------------------------------------------------------------------------
# Running it
# --------------------------------------------------------------------------
class Failure(Exception):
    pass


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def graph(tmp, port, with_input):
    ifaces = ", ".join(f"{{ifindex: {i}, output: {o}, mac: \"{m}\"}}" for i, (o, m) in IFACES.items())
    nbrs = ", ".join(f"{{ip: \"{a}\", mac: \"{m}\"}}" for a, m in NEIGHBORS.items())
    lines = [
        "name: iplookup_golden",
        "eal: {memory_mb: 512}",
        "workers: {lcores: [1]}",
        "ports:",
        f"  out1: {{device: net_pcap1, args: \"tx_pcap={tmp}/p1.pcap\"}}",
        f"  out2: {{device: net_pcap2, args: \"tx_pcap={tmp}/p2.pcap\"}}",
    ]
    if with_input:
        lines.append(f"  pin: {{device: net_pcap0, args: \"rx_pcap={tmp}/in.pcap\"}}")
    lines += [
        "elements:",
        "  fib:",
        "    class: Fib",
        f"    listen: \"127.0.0.1:{port}\"",
        "    quiet: 0.3",
        "    max_routes: 65536",
        "    tbl8: 1024",
        "    max_routes6: 1024",
        "    tbl8_6: 1024",
        f"    interfaces: [{ifaces}]",
        f"    neighbors: [{nbrs}]",
        "  lookup: {class: IpLookup, fib: fib, outputs: [p1, p2]}",
        "  tx1: {class: PortTx, port: out1}",
        "  tx2: {class: PortTx, port: out2}",
    ]
    if with_input:
        lines.append("  rx: {class: PortRx, port: pin}")
    lines += ["connections:", "  - lookup[p1] -> tx1", "  - lookup[p2] -> tx2"]
    if with_input:
        lines.append("  - rx -> lookup")
    path = os.path.join(tmp, "with_input.yaml" if with_input else "no_input.yaml")
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    return path


def ctl(routerctl, sock, *args, check=True):
    r = subprocess.run([routerctl, "-s", sock, "--json", *args], capture_output=True, text=True, timeout=30)
    if check and r.returncode != 0:
        raise Failure(f"routerctl {' '.join(args)} exited {r.returncode}: {r.stderr.strip()}")
    return r


def element(stats, eid):
    for e in stats["elements"]:
        if e["id"] == eid:
            return e
    raise Failure(f"no element {eid} in stats")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/bin")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true")
    args, _ = ap.parse_known_args()
    routerd = os.path.abspath(os.path.join(args.bin, "routerd"))
    routerctl = os.path.abspath(os.path.join(args.bin, "routerctl"))
    tmp = tempfile.mkdtemp(prefix="weft-iplookup-")
    proc, ok, conn = None, False, None
    log = os.path.join(tmp, "routerd.log")
    try:
        frames = build_frames()
        with PcapWriter(os.path.join(tmp, "in.pcap"), linktype=1, sync=True) as w:
            for _, b in frames:
                w.write(b)
        port = free_port()
        sock = os.path.join(tmp, "ctl.sock")
        g0, g1 = graph(tmp, port, False), graph(tmp, port, True)
        with open(log, "w") as fh:
            proc = subprocess.Popen([routerd, "-c", g0, "-s", sock], stdout=fh, stderr=subprocess.STDOUT, cwd=tmp,
                                    start_new_session=True)

        def wait(what, cond, timeout=TIMEOUT_S):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    raise Failure(f"routerd exited ({proc.returncode}) while waiting for {what}")
                v = cond()
                if v:
                    return v
                time.sleep(0.05)
            raise Failure(f"timed out waiting for {what}")

        def status():
            r = ctl(routerctl, sock, "service", "fib:fib", "status", check=False)
            return json.loads(r.stdout)[0]["result"] if r.returncode == 0 else None
        wait("the FPM server to listen", lambda: (status() or {}).get("state") in ("listening", "connected"))

        # 2. Be zebra.
        conn = socket.create_connection(("127.0.0.1", port))
        conn.sendall(fpm_frame(*[nexthop_msg(i, gw, oif) for i, (gw, oif) in NEXTHOPS.items()]))
        for r in ROUTES:
            conn.sendall(fpm_frame(route_msg(True, *r)))
        # zebra's replace: DEL and NEW in one frame.
        conn.sendall(fpm_frame(route_msg(False, *REPLACEMENT[:2], "unicast", [], 0), route_msg(True, *REPLACEMENT)))

        def routes_converged():
            r = json.loads(ctl(routerctl, sock, "routes").stdout)
            got = {(x["table"], x["prefix"]): x for x in r[0]["result"]["routes"]}
            if len(got) != len(ROUTES):
                return None
            nh = got.get((254, "10.2.0.0/16"), {}).get("nexthops")
            return got if nh == ["via 192.0.2.2 if 12"] else None
        got = wait("routerctl routes to show every route", routes_converged)
        st = wait("the replay to end (quiet)", lambda: (lambda s: s if s and not s["resyncing"] else None)(status()))
        if st["fpm"]["messages_by_type"]["del_route"] != 1 or st["fpm"]["messages_by_type"]["new_nexthop"] != 1:
            raise Failure(f"FPM counters: {st['fpm']}")
        for (t, p), x in got.items():
            if not x["installed"]:
                raise Failure(f"route {t} {p} not installed: {x}")
        print(f"ok   {len(got)} routes installed over FPM (status: {st['fib']['routes_ipv4']} IPv4, "
              f"{st['fib']['routes_ipv6']} IPv6, {st['fib']['nexthop_entries']} next-hop entries)")

        # 3. Packets: reload with the input port; the Fib (and the FPM connection) stays.
        r = json.loads(ctl(routerctl, sock, "reload", g1).stdout)
        kept = {k["id"]: k["state"] for k in r["elements"]["kept"]}
        if kept.get("fib") != "carried":
            raise Failure(f"reload did not keep the Fib: {r['elements']}")
        st = status()
        if st["connections"] != 1 or st["state"] != "connected":
            raise Failure(f"the FPM connection did not survive the reload: {st}")
        print("ok   reload added the input port; the Fib and its FPM connection stayed")

        n = len(frames)

        def handled():
            s = json.loads(ctl(routerctl, sock, "stats").stdout)
            lk = element(s, "lookup")
            return s if lk["total"]["out"] + lk["total"]["dropped"] >= n else None
        stats = wait("IpLookup to handle every frame", handled)
        proc.send_signal(signal.SIGTERM)
        if proc.wait(timeout=TIMEOUT_S) != 0:
            raise Failure(f"routerd exited with status {proc.returncode}")

        # 4. Compare.
        expected = {o: [] for o in OUTPUTS}
        drops = {d: 0 for d in DROP_REASONS}
        for desc, b in frames:
            out, reason, want = oracle_one(b)
            if args.verbose:
                print(f"  {out or 'drop:' + reason:18s} {desc}")
            if reason:
                drops[reason] += 1
            else:
                expected[out].append((desc, want))
        problems = []
        lk = element(stats, "lookup")
        got_drops = {}
        for w in lk["workers"]:
            for k, v in w["drops"].items():
                got_drops[k] = got_drops.get(k, 0) + v
        for d in DROP_REASONS:
            if got_drops.get(d, 0) != drops[d]:
                problems.append(f"drop {d}: routerd {got_drops.get(d, 0)}, expected {drops[d]}")
        for o in OUTPUTS:
            got_frames = read_pcap(os.path.join(tmp, f"{o}.pcap"))
            want = expected[o]
            if [w for _, w in want] == got_frames:
                print(f"ok   {o}: {len(got_frames)} frame(s) byte-identical to the oracle's")
                continue
            problems.append(f"output {o}: {len(got_frames)} frames, expected {len(want)}")
            for i in range(max(len(want), len(got_frames))):
                wd, wb = want[i] if i < len(want) else ("(none)", b"")
                gb = got_frames[i] if i < len(got_frames) else b""
                if wb != gb:
                    problems.append(f"  #{i} {wd}:\n    want {wb.hex()}\n    got  {gb.hex()}")
        ecmp = {}
        for o in OUTPUTS:
            for desc, _ in expected[o]:
                if "ecmp" in desc:
                    ecmp[o] = ecmp.get(o, 0) + 1
        if len(ecmp) != 2:
            problems.append(f"ECMP flows did not use both members: {ecmp}")
        if problems:
            raise Failure("\n".join(problems))
        print(f"PASS: {n} frames; forwarded " + ", ".join(f"{o}={len(expected[o])}" for o in OUTPUTS)
              + f" (ECMP flows {ecmp}); drops " + ", ".join(f"{k}={v}" for k, v in drops.items() if v))
        ok = True
        return 0
    except Failure as e:
        print(f"FAIL: {e}")
        return 1
    finally:
        if conn is not None:
            conn.close()
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        if not ok and os.path.exists(log):
            with open(log) as fh:
                print("--- routerd log ---\n" + fh.read().strip())
        if ok and not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"(temporary files kept in {tmp})")


if __name__ == "__main__":
    sys.exit(main())

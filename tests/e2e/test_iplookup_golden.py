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
 3. `routerctl reload` adds the pcap input port (the Fib service is kept:
    same service, same FPM connection), and routerd routes in.pcap;
 4. an oracle written here (its own longest-prefix match over the routes it
    sent, the ECMP hash recomputed with a pure-Python CRC32-C, scapy to
    rebuild each expected frame: MACs, TTL/hop limit, IPv4 checksum
    recomputed from scratch) predicts every output frame and drop; the
    outputs must match byte for byte and the drop counters exactly.

The temporary directory is kept on failure or with --keep.
"""
import ipaddress
import os
import socket
import struct

import harness
from harness import drops_of, element, free_port, read_pcap, write_pcap
from scapy.all import ARP, ICMP, IP, TCP, UDP, Dot1Q, Ether, IPv6, Raw

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


# --------------------------------------------------------------------------
# Running it
# --------------------------------------------------------------------------
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
        "services:",
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
        "elements:",
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


def main(t):
    frames = build_frames()
    write_pcap(t.path("in.pcap"), [b for _, b in frames])
    port = free_port()
    g0, g1 = graph(t.tmp, port, False), graph(t.tmp, port, True)
    # 1. No input port yet: packets must not arrive before the routes do.
    r = t.routerd(file=g0, timeout=TIMEOUT_S)

    def status():
        res = r.ctl("--json", "service", "fib", "status")
        return res.json()[0]["result"] if res.returncode == 0 else None
    r.wait_for(lambda: (status() or {}).get("state") in ("listening", "connected"), "the FPM server to listen")

    # 2. Be zebra.
    conn = socket.create_connection(("127.0.0.1", port))
    t.at_cleanup(conn.close)
    conn.sendall(fpm_frame(*[nexthop_msg(i, gw, oif) for i, (gw, oif) in NEXTHOPS.items()]))
    for rt in ROUTES:
        conn.sendall(fpm_frame(route_msg(True, *rt)))
    # zebra's replace: DEL and NEW in one frame.
    conn.sendall(fpm_frame(route_msg(False, *REPLACEMENT[:2], "unicast", [], 0), route_msg(True, *REPLACEMENT)))

    def routes_converged():
        routes = r.json("routes")
        got = {(x["table"], x["prefix"]): x for x in routes[0]["result"]["routes"]}
        if len(got) != len(ROUTES):
            return None
        nh = got.get((254, "10.2.0.0/16"), {}).get("nexthops")
        return got if nh == ["via 192.0.2.2 if 12"] else None
    got = r.wait_for(routes_converged, "routerctl routes to show every route")
    st = r.wait_for(lambda: (lambda s: s if s and not s["resyncing"] else None)(status()), "the replay to end (quiet)")
    t.require(st["fpm"]["messages_by_type"]["del_route"] == 1 and st["fpm"]["messages_by_type"]["new_nexthop"] == 1,
              "FPM counters: one route deleted, one next-hop object", f"FPM counters: {st['fpm']}")
    not_installed = [f"route {tb} {p} not installed: {x}" for (tb, p), x in got.items() if not x["installed"]]
    t.require(not not_installed, f"{len(got)} routes installed over FPM (status: {st['fib']['routes_ipv4']} IPv4, "
              f"{st['fib']['routes_ipv6']} IPv6, {st['fib']['nexthop_entries']} next-hop entries)",
              "\n".join(not_installed))

    # 3. Packets: reload with the input port; the Fib (and the FPM connection) stays.
    rep = r.json("reload", g1)
    kept = {k["name"]: k["state"] for k in rep["services"]["kept"]}
    t.require(kept.get("fib") == "carried", "reload added the input port and kept the Fib service",
              f"reload did not keep the Fib: {rep['services']}")
    st = status()
    t.require(st["connections"] == 1 and st["state"] == "connected", "the Fib's FPM connection survived the reload",
              f"the FPM connection did not survive the reload: {st}")

    n = len(frames)

    def handled(s):
        lk = element(s, "lookup")
        return lk["total"]["out"] + lk["total"]["dropped"] >= n
    stats = r.wait_stats(handled, what="IpLookup to handle every frame")
    rc = r.stop(timeout=TIMEOUT_S)
    t.require(rc == 0, "routerd exits 0 on SIGTERM", f"routerd exited with status {rc}")

    # 4. Compare.
    expected = {o: [] for o in OUTPUTS}
    drops = {d: 0 for d in DROP_REASONS}
    for desc, b in frames:
        out, reason, want = oracle_one(b)
        if t.verbose:
            print(f"  {out or 'drop:' + reason:18s} {desc}")
        if reason:
            drops[reason] += 1
        else:
            expected[out].append((desc, want))
    got_drops = drops_of(element(stats, "lookup"))
    t.check(all(got_drops.get(d, 0) == drops[d] for d in DROP_REASONS), "drops by reason as the oracle says",
            "\n".join(f"drop {d}: routerd {got_drops.get(d, 0)}, expected {drops[d]}"
                      for d in DROP_REASONS if got_drops.get(d, 0) != drops[d]))
    for o in OUTPUTS:
        got_frames = read_pcap(t.path(f"{o}.pcap"))
        want = expected[o]
        problems = []
        if [w for _, w in want] != got_frames:
            problems.append(f"output {o}: {len(got_frames)} frames, expected {len(want)}")
            for i in range(max(len(want), len(got_frames))):
                wd, wb = want[i] if i < len(want) else ("(none)", b"")
                gb = got_frames[i] if i < len(got_frames) else b""
                if wb != gb:
                    problems.append(f"  #{i} {wd}:\n    want {wb.hex()}\n    got  {gb.hex()}")
        t.check(not problems, f"{o}: {len(got_frames)} frame(s) byte-identical to the oracle's", "\n".join(problems))
    ecmp = {}
    for o in OUTPUTS:
        for desc, _ in expected[o]:
            if "ecmp" in desc:
                ecmp[o] = ecmp.get(o, 0) + 1
    t.check(len(ecmp) == 2, f"ECMP flows used both members: {ecmp}")
    t.info(f"{n} frames; forwarded " + ", ".join(f"{o}={len(expected[o])}" for o in OUTPUTS)
           + f" (ECMP flows {ecmp}); drops " + ", ".join(f"{k}={v}" for k, v in drops.items() if v))


if __name__ == "__main__":
    harness.run(main)

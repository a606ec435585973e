#!/usr/bin/env python3
"""Golden test of the ICMP elements through routerd: echo replies and
time-exceeded errors, byte for byte, checked again by tshark.

    in.pcap ─ pin ─ rx ─ local (IpLocal) ─[local]──► echo (IcmpEcho) ─[out]──► txe ─ echo.pcap
                               │                                  └[other]─► host (Discard)
                               ├[control]─► ctl (Discard)
                               └[forward]─► ttl (IcmpError, type time_exceeded) ─► txr ─ errors.pcap
    services: ifaces (Interfaces): wan on pin, 192.0.2.1/24, 2001:db8::1/64 (+ fe80::ff:fe00:1)

1. scapy writes in.pcap: echo requests (IPv4, IPv6 global and link-local,
   one padded to 60 bytes), UDP to us, link control traffic (OSPF hello,
   neighbour solicitation), multicast, and packets to forward (short and
   long IPv4/IPv6, an ICMP error that must get no error back);
2. routerd runs the graph with the shipped defaults (rate 1000/s, burst 50);
3. the expected frames are built by scapy from the inputs and the RFCs'
   rules written here (RFC 792/4443 echo; RFC 1812 4.3.2.3 576-byte and
   RFC 4443 1280-byte quotes; source = the interface's address): echo.pcap
   and errors.pcap must match byte for byte, the outputs and drops exactly;
4. tshark, an independent decoder, reads both files with IP checksum
   validation on: every IPv4 header, ICMP and ICMPv6 checksum is Good, and
   the types are echo reply and time exceeded.
"""
import json

import harness
from harness import drops_of, element, frames_diff, outputs_of, read_pcap, write_pcap
from scapy.all import (ICMP, IP, UDP, Ether, ICMPv6EchoReply, ICMPv6EchoRequest, ICMPv6ND_NS,
                       ICMPv6TimeExceeded, IPv6, Raw)

WAN_MAC = "02:00:00:00:00:01"
PEER_MAC = "02:00:00:00:00:99"
ZERO_MAC = "00:00:00:00:00:00"
WAN4, WAN6, WAN_LL = "192.0.2.1", "2001:db8::1", "fe80::ff:fe00:1"


def eth():
    return Ether(src=PEER_MAC, dst=WAN_MAC)


def inputs():
    """(echo requests, frames to forward, the rest) as lists of bytes, and the order they go in."""
    echo = [
        eth() / IP(src="192.0.2.7", dst=WAN4, id=11, tos=0x10) / ICMP(type=8, id=0x77, seq=1) / Raw(b"abcdefgh" * 7),
        eth() / IP(src="198.51.100.20", dst=WAN4, id=12, flags="DF") / ICMP(type=8, id=0x78, seq=2) / Raw(b"x" * 100),
        eth() / IPv6(src="2001:db8::7", dst=WAN6, tc=0x20, fl=0x12345) / ICMPv6EchoRequest(id=5, seq=6, data=b"v6" * 20),
        eth() / IPv6(src="fe80::7", dst=WAN_LL, hlim=255) / ICMPv6EchoRequest(id=7, seq=8, data=b"ll"),
    ]
    echo = [bytes(p) for p in echo]
    padded = bytes(eth() / IP(src="192.0.2.8", dst=WAN4, id=13) / ICMP(type=8, id=1, seq=9))
    echo.append(padded + b"\0" * (60 - len(padded)))
    forward = [
        eth() / IP(src="192.0.2.7", dst="203.0.113.5", ttl=1, id=21) / UDP(sport=4000, dport=33434) / Raw(b"t" * 24),
        eth() / IP(src="198.51.100.20", dst="203.0.113.5", ttl=1, id=22) / UDP(sport=4001, dport=33435) / Raw(b"L" * 1400),
        eth() / IPv6(src="2001:db8::7", dst="2001:db8:9::5", hlim=1) / UDP(sport=4002, dport=33436) / Raw(b"6" * 16),
        eth() / IPv6(src="2001:db8:77::7", dst="2001:db8:9::5", hlim=1) / UDP(sport=4003, dport=33437) / Raw(b"B" * 1450),
    ]
    forward = [bytes(p) for p in forward]
    no_error = [bytes(eth() / IP(src="192.0.2.7", dst="203.0.113.5") / ICMP(type=3, code=1) / Raw(b"q" * 28))]
    other = [bytes(eth() / IP(src="192.0.2.7", dst=WAN4) / UDP(sport=5353, dport=53) / Raw(b"dns?"))]
    control = [
        bytes(Ether(src=PEER_MAC, dst="01:00:5e:00:00:05") / IP(src="192.0.2.7", dst="224.0.0.5", proto=89, ttl=1)
              / Raw(b"\x02\x01\x00\x2c" + b"\0" * 40)),
        bytes(Ether(src=PEER_MAC, dst="33:33:ff:00:00:01") / IPv6(src="fe80::7", dst="ff02::1:ff00:1", hlim=255)
              / ICMPv6ND_NS(tgt=WAN6)),
    ]
    multicast = [bytes(Ether(src=PEER_MAC, dst="01:00:5e:01:01:01") / IP(src="192.0.2.7", dst="239.1.1.1") / UDP())]
    order = echo[:2] + forward[:2] + control[:1] + echo[2:] + other + forward[2:] + no_error + control[1:] + multicast
    return echo, forward, no_error, other, control, multicast, order


def echo_reply(frame):
    """The reply RFC 792 / RFC 4443 4.2 call for, built afresh."""
    p = Ether(frame)
    e = Ether(src=WAN_MAC, dst=p[Ether].src)
    if IP in p:
        q = p[IP]
        data = bytes(q)[q.ihl * 4 + 8:q.len]  # the echo data, not the Ethernet padding
        return bytes(e / IP(src=q.dst, dst=q.src, ttl=64, id=q.id, tos=q.tos, flags=q.flags)
                     / ICMP(type=0, code=0, id=p[ICMP].id, seq=p[ICMP].seq) / Raw(data))
    q = p[IPv6]
    r = p[ICMPv6EchoRequest]
    return bytes(e / IPv6(src=q.dst, dst=q.src, hlim=64, tc=q.tc, fl=q.fl) / ICMPv6EchoReply(id=r.id, seq=r.seq, data=r.data))


def time_exceeded(frame, ip_id):
    """RFC 792 / RFC 4443 3.3, from the interface's address, quoting up to 576 / 1280 bytes in all."""
    p = Ether(frame)
    e = Ether(src=ZERO_MAC, dst=ZERO_MAC)
    if IP in p:
        orig = bytes(p[IP])
        return bytes(e / IP(src=WAN4, dst=p[IP].src, ttl=64, tos=0xc0, id=ip_id, flags=0)
                     / ICMP(type=11, code=0) / Raw(orig[:576 - 28]))
    orig = bytes(p[IPv6])
    return bytes(e / IPv6(src=WAN6, dst=p[IPv6].src, hlim=64) / ICMPv6TimeExceeded(code=0) / Raw(orig[:1280 - 48]))


def tshark_fields(t, path, *fields):
    argv = ["tshark", "-r", path, "-o", "ip.check_checksum:TRUE", "-T", "fields", "-E", "separator=|"]
    for f in fields:
        argv += ["-e", f]
    res = t.run(argv)
    t.require(res.ok, f"tshark reads {path.rsplit('/', 1)[-1]}", res.stderr)
    return [line.split("|") for line in res.stdout.splitlines() if line]


def main(t):
    t.needs("tshark")
    echo, forward, no_error, other, control, multicast, order = inputs()
    pin, pecho, perr = t.path("in.pcap"), t.path("echo.pcap"), t.path("errors.pcap")
    write_pcap(pin, order)
    graph = f"""
name: icmp-golden
workers: {{lcores: [1]}}
ports:
  pin: {{device: net_pcap0, args: {json.dumps('rx_pcap=' + pin)}}}
  pe: {{device: net_pcap1, args: {json.dumps('tx_pcap=' + pecho)}}}
  pr: {{device: net_pcap2, args: {json.dumps('tx_pcap=' + perr)}}}
services:
  ifaces:
    class: Interfaces
    interfaces:
      - {{name: wan, port: pin, mac: "{WAN_MAC}", addresses: [{WAN4}/24, "{WAN6}/64"], mtu: 1500}}
elements:
  rx: {{class: PortRx, port: pin}}
  local: {{class: IpLocal, interfaces: ifaces}}
  echo: {{class: IcmpEcho, interfaces: ifaces}}
  ttl: {{class: IcmpError, interfaces: ifaces, type: time_exceeded}}
  host: Discard
  ctl: Discard
  txe: {{class: PortTx, port: pe}}
  txr: {{class: PortTx, port: pr}}
connections:
  - rx -> local
  - local[local] -> echo
  - echo[out] -> txe
  - echo[other] -> host
  - local[control] -> ctl
  - local[forward] -> ttl -> txr
"""
    n_in = len(order)
    with t.routerd(graph) as r:
        st = r.wait_stats(lambda s: sum(outputs_of(element(s, "local")).values())
                          + sum(drops_of(element(s, "local")).values()) == n_in
                          and sum(outputs_of(element(s, "ttl")).values()) + sum(drops_of(element(s, "ttl")).values())
                          - drops_of(element(s, "ttl")).get("answered", 0) == len(forward) + len(no_error),
                          what="every input frame through IpLocal and IcmpError")
        t.check(r.stop() == 0, "routerd exits 0 (pcap files flushed)")

    loc = outputs_of(element(st, "local"))
    want = {"local": len(echo) + len(other), "control": len(control), "forward": len(forward) + len(no_error)}
    t.check(loc == want, f"IpLocal outputs {want}", f"got {loc}")
    t.check(drops_of(element(st, "local")).get("multicast", 0) == len(multicast), "IpLocal: multicast beyond the link dropped")
    t.check(outputs_of(element(st, "echo")) == {"out": len(echo), "other": len(other)},
            f"IcmpEcho: {len(echo)} replies, {len(other)} to the host path", str(outputs_of(element(st, "echo"))))
    td = drops_of(element(st, "ttl"))
    t.check(td.get("answered") == len(forward) and td.get("not_eligible") == len(no_error) and td.get("rate_limited", 0) == 0,
            "IcmpError: every forwarded packet answered, the ICMP error not, none rate-limited (defaults)", str(td))

    got_echo = read_pcap(pecho)
    want_echo = [echo_reply(f) for f in order if f in echo]
    t.check(got_echo == want_echo, f"echo.pcap: the {len(want_echo)} replies scapy builds",
            frames_diff(got_echo, want_echo, lambda f: Ether(f).summary()))
    got_err = read_pcap(perr)
    want_err, ip_id = [], 0
    for f in order:
        if f in forward:
            want_err.append(time_exceeded(f, ip_id))
            ip_id += 1 if IP in Ether(f) else 0
    t.check(got_err == want_err, f"errors.pcap: the {len(want_err)} time-exceeded errors scapy builds",
            frames_diff(got_err, want_err, lambda f: Ether(f).summary()))
    t.check([len(f) - 14 for f in got_err] == [min(len(f) - 14 + (28 if IP in Ether(f) else 48), 576 if IP in Ether(f) else 1280)
                                               for f in order if f in forward],
            "errors are at most 576 (IPv4) and 1280 (IPv6) bytes, quoting as much as fits")

    # tshark: every checksum Good (status 1), the right ICMP types.
    rows = tshark_fields(t, pecho, "ip.checksum.status", "icmp.checksum.status", "icmpv6.checksum.status",
                         "icmp.type", "icmpv6.type")
    t.check(len(rows) == len(want_echo) and all((r[0] == "1" and r[1] == "1" and r[3] == "0") or
                                                (r[2] == "1" and r[4] == "129") for r in rows),
            "tshark: echo replies, IPv4 header and ICMP/ICMPv6 checksums Good", "\n".join("|".join(r) for r in rows))
    rows = tshark_fields(t, perr, "ip.checksum.status", "icmp.checksum.status", "icmpv6.checksum.status",
                         "icmp.type", "icmpv6.type")
    t.check(len(rows) == len(want_err) and all((r[0].split(",")[0] == "1" and r[1] == "1" and r[3] == "11") or
                                               (r[2] == "1" and r[4] == "3") for r in rows),
            "tshark: time exceeded, IPv4 header and ICMP/ICMPv6 checksums Good", "\n".join("|".join(r) for r in rows))


if __name__ == "__main__":
    harness.run(main)

#!/usr/bin/env python3
"""Writes graphs/quickstart.pcap: the small mixed capture the quickstart graph
replays in a loop (net_pcap, infinite_rx), so every output of its classifier
counts something: IPv4 TCP, UDP and ICMP, IPv6, ARP, a VLAN-tagged frame, and
one frame no rule takes (LLDP). Deterministic (fixed timestamps), so
`tests/CMakeLists.txt` checks the committed file is what this prints.

    python3 tools/gen-quickstart-pcap.py [OUT]      (default: graphs/quickstart.pcap)
"""
import os
import sys

from scapy.all import ARP, DNS, DNSQR, ICMP, IP, TCP, UDP, Ether, Dot1Q, IPv6, ICMPv6EchoRequest, Raw, wrpcap
from scapy.contrib.lldp import (LLDPDU, LLDPDUChassisID, LLDPDUEndOfLLDPDU, LLDPDUPortID, LLDPDUTimeToLive)

HOST, ROUTER = "52:54:00:12:34:01", "52:54:00:12:34:fe"


def frames():
    e = Ether(src=HOST, dst=ROUTER)
    return [
        Ether(src=HOST, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=HOST, psrc="192.0.2.1", pdst="192.0.2.254"),
        Ether(src=ROUTER, dst=HOST) / ARP(op=2, hwsrc=ROUTER, psrc="192.0.2.254", hwdst=HOST, pdst="192.0.2.1"),
        e / IP(src="192.0.2.1", dst="198.51.100.10") / TCP(sport=40000, dport=80, flags="S"),
        e / IP(src="192.0.2.1", dst="198.51.100.10") / TCP(sport=40000, dport=80, flags="A") / Raw(b"GET / HTTP/1.1\r\n\r\n"),
        e / IP(src="192.0.2.1", dst="198.51.100.11") / TCP(sport=40001, dport=443, flags="S"),
        e / IP(src="192.0.2.2", dst="198.51.100.12") / TCP(sport=40002, dport=22, flags="PA") / Raw(b"SSH-2.0-x\r\n"),
        e / IP(src="192.0.2.1", dst="198.51.100.53") / UDP(sport=53000, dport=53) / DNS(rd=1, qd=DNSQR(qname="example.org")),
        e / IP(src="192.0.2.3", dst="198.51.100.123") / UDP(sport=123, dport=123) / Raw(b"\x23" + b"\x00" * 47),
        e / IP(src="192.0.2.1", dst="198.51.100.10") / ICMP(type=8, id=1, seq=1) / Raw(b"weft" * 8),
        e / IPv6(src="2001:db8::1", dst="2001:db8:1::10") / TCP(sport=40010, dport=443, flags="S"),
        e / IPv6(src="2001:db8::1", dst="2001:db8:1::10") / ICMPv6EchoRequest(id=1, seq=1),
        e / Dot1Q(vlan=100) / IP(src="10.100.0.1", dst="10.100.0.2") / UDP(sport=4000, dport=4001) / Raw(b"tenant 100"),
        Ether(src=HOST, dst="01:80:c2:00:00:0e") / LLDPDU() /
        LLDPDUChassisID(subtype=4, id=HOST) / LLDPDUPortID(subtype=5, id=b"eth0") /
        LLDPDUTimeToLive(ttl=120) / LLDPDUEndOfLLDPDU(),
    ]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "graphs", "quickstart.pcap")
    pkts = frames()
    for i, p in enumerate(pkts):
        p.time = 1767225600 + i / 1000  # 2026-01-01, a millisecond apart
    wrpcap(out, pkts)


if __name__ == "__main__":
    main()

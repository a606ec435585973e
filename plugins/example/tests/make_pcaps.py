#!/usr/bin/env python3
"""Writes the example's pcaps with scapy: what goes into DscpMark and what
must come out of it (for the tests), and a little mixed traffic for
graph.yaml (demo.pcap).  Usage: make_pcaps.py OUTDIR"""
import os
import sys

from scapy.all import ICMP, IP, TCP, UDP, Dot1Q, Ether, IPv6, wrpcap

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")


def traffic(tos, tc):
    """The same five packets; the IP ones with the given TOS / traffic class."""
    return [
        eth / IP(src="10.0.0.1", dst="10.0.0.2", tos=tos) / UDP(sport=5060, dport=5060) / b"INVITE",
        eth / IP(src="10.0.0.1", dst="10.0.0.2", tos=tos | 0x01) / TCP(dport=443),  # ECN bit kept
        eth / Dot1Q(vlan=7) / IP(src="10.0.0.3", dst="10.0.0.4", tos=tos) / UDP(dport=5004),
        eth / IPv6(src="2001:db8::1", dst="2001:db8::2", tc=tc) / UDP(sport=1, dport=5004),
        eth / IP(src="10.0.0.1", dst="10.0.0.2", options=[b"\x01\x01\x01\x00"], tos=tos) / UDP(dport=9),
    ]


wrpcap(os.path.join(out, "dscp_in.pcap"), traffic(0x00, 0x02))
wrpcap(os.path.join(out, "dscp_ef.pcap"), traffic(46 << 2, 46 << 2 | 0x02))  # EF, checksums by scapy

# Two pings to the router, a SIP packet, and a web request.
host = Ether(src="02:00:00:00:00:07", dst="02:00:00:00:00:01")
wrpcap(os.path.join(out, "demo.pcap"), [
    host / IP(src="192.0.2.7", dst="192.0.2.1") / ICMP(id=1, seq=1) / b"hello",
    host / IP(src="192.0.2.7", dst="192.0.2.1") / ICMP(id=1, seq=2) / b"hello",
    host / IP(src="192.0.2.7", dst="198.51.100.5") / UDP(sport=5060, dport=5060) / b"INVITE",
    host / IP(src="192.0.2.7", dst="198.51.100.80") / TCP(dport=80),
])

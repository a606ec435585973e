#!/usr/bin/env python3
"""The BGP underlay lab (graphs/labs/bgp-underlay.yaml, graphs
graphs/labs/bgp-underlay/r1.yaml and r2.yaml), end to end through
tools/weft-lab: two Weft routers, each a routerd with FRR's zebra
(dplane_fpm_nl) and bgpd on its host path, eBGP between them over Weft's
data ports (IPv4, and IPv6 over the link-locals), each with a plain-FRR
eBGP peer on Linux announcing a prefix, a host behind each router:

    P1 (FRR)                  P2 (FRR)
      |                         |
    H1 ── R1 (Weft) ══ MTU 1400 ══ R2 (Weft) ── H2

Checks (each a line of the lab file): every BGP session Established (vtysh
JSON); the routes in both FIBs, IPv6 ones across the core link via fe80::
next hops that Weft resolved with ND; ping H1 <-> H2 and to the peers'
prefixes, both families; traceroute (the real one) shows R1 and R2; tracepath
finds the core link's MTU (1400) from Weft's fragmentation needed / packet
too big; P2 withdraws its prefixes: both FIBs drop them and H1's pings get
destination unreachable from R1 (both families); P2 announces them again.
No static MAC or neighbour entry anywhere.

Usage: test_lab_bgp_underlay.py --bin build/bin
"""
import harness

if __name__ == "__main__":
    harness.run_lab("bgp-underlay.yaml", needs=("/usr/lib/frr/zebra", "/usr/lib/frr/bgpd", "vtysh", "ping",
                                                "traceroute", "tracepath"))

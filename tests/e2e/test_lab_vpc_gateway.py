#!/usr/bin/env python3
"""The VPC gateway lab (graphs/labs/vpc-gateway.yaml, graph
graphs/vpc-gateway.yaml), end to end through tools/weft-lab: FRR's routes
over FPM into the Fib, routing between two VPCs (VXLAN VNIs 100 and 200,
kernel VTEPs), NAT44 to an internet host, and a per-VPC rate limiter that
drops a burst from one VPC and nothing from the other. No MAC and no static
neighbour anywhere: the gateway answers ARP on the underlay, on the WAN and
inside each VNI (an interface without a port), and pings to its addresses;
the checks read the hosts' kernel neighbour tables (learned entries, with the
gateway's VPC MACs) and `routerctl neighbors` (the hosts, learned).

Usage: test_lab_vpc_gateway.py --bin build/bin
"""
import harness

if __name__ == "__main__":
    harness.run_lab("vpc-gateway.yaml", needs=("/usr/lib/frr/zebra", "/usr/lib/frr/staticd", "ping"))

#!/usr/bin/env python3
"""The VPC switch lab (graphs/labs/vpc-switch.yaml, graph graphs/vpc-switch.yaml),
end to end through tools/weft-lab: an L2Switch with VM ports (one on a VLAN
trunk), a router port and an uplink to the fabric whose unknown destinations
are resolved through the lab Portolan server (SvpResolver VL2); ARP flooded,
MACs learned, a remote host across VXLAN reached by ping and TCP, a wrong
VLAN dropped and counted.

Usage: test_lab_vpc_switch.py --bin build/bin
"""
import harness

if __name__ == "__main__":
    harness.run_lab("vpc-switch.yaml", needs=("ping",))

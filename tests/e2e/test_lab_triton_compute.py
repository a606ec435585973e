#!/usr/bin/env python3
"""The Triton fabric lab (graphs/labs/triton-compute.yaml, graphs
graphs/triton-compute.yaml and graphs/labs/triton-cn2.yaml), end to end
through tools/weft-lab: two compute nodes, each a routerd with SvpResolver
and NeighborSink, the lab Portolan server (svp-server) on the admin network,
an underlay router; ping, TCP and UDP between a VM on each node, the nodes'
kernels reaching the remote VMs through NeighborSink, and a MAC Portolan does
not know dropped as not_found.

Usage: test_lab_triton_compute.py --bin build/bin
"""
import harness

if __name__ == "__main__":
    harness.run_lab("triton-compute.yaml", needs=("ping",))

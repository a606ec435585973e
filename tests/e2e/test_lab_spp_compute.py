#!/usr/bin/env python3
"""The SPP compute node lab (graphs/labs/spp-compute.yaml, graph
graphs/spp-compute.yaml), end to end through tools/weft-lab: a host on the
wire and two VMs on vhost-user ports (dpdk-testpmd attached with
virtio-user), ping, TCP, UDP, VLAN-tagged ping and a dropped wrong-VLAN frame.

Usage: test_lab_spp_compute.py --bin build/bin
"""
import harness

if __name__ == "__main__":
    harness.run_lab("spp-compute.yaml", needs=("dpdk-testpmd", "ping"))

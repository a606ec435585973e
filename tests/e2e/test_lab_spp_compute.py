#!/usr/bin/env python3
"""The SPP compute node lab (graphs/labs/spp-compute.yaml, graph
graphs/spp-compute.yaml), end to end through tools/weft-lab: a host on the
wire and two VMs on vhost-user ports (dpdk-testpmd attached with
virtio-user), ping, TCP, UDP, VLAN-tagged ping and a dropped wrong-VLAN frame.

Usage: test_lab_spp_compute.py --bin build/bin
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from labtest import run  # noqa: E402

if __name__ == "__main__":
    sys.exit(run("spp-compute.yaml", needs=("dpdk-testpmd", "ping")))

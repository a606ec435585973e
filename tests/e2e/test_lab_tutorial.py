#!/usr/bin/env python3
"""The tutorial's lab (graphs/labs/tutorial-firewall.yaml), end to end through
tools/weft-lab, so docs/tutorial.md never describes a lab that does not work:
the hosts ping the router and each other with no static MAC or neighbour
anywhere (the left host's kernel learned the router's MAC by ARP, and
`routerctl neighbors` lists the right host), ping and UDP pass the
firewall, TCP to port 8000 is blocked and counted, a hot reload to
graphs/tutorial/firewall-v2.yaml loses no packet and keeps the neighbours,
and then TCP to port 8000 passes and the new `web` counter sees it.

Usage: test_lab_tutorial.py --bin build/bin
"""
import harness

if __name__ == "__main__":
    harness.run_lab("tutorial-firewall.yaml", needs=("ping",))

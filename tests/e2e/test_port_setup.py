#!/usr/bin/env python3
"""Port set-up from the device's capabilities, on two multi-queue virtual
devices and the Linux kernel on their other side.

1. net_af_packet with two queue pairs on a veth (the kernel spreads flows
   over the two sockets by hash), two workers:

       ns A: 10.203.1.1 ══veth══ pa (2 RX queues) ─► rx ─► c ─► d
                                    worker 0 polls queue 0, worker 1 queue 1

   64 UDP flows from A must arrive on both queues and both workers, and
   `routerctl stats --json` reports MTU, link and the driver's xstats.

2. net_tap with two queues, `rss: symmetric`, `mtu: 1400`, routerd inside a
   namespace of its own (the tap is created there); first with `mtu: 9000`,
   which net_tap cannot receive (frames up to 1522 bytes): routerd refuses
   the port naming the sizes:

       ns T: routerd ─ tp (tap, 2 queues) ══ kernel interface 10.204.1.1

   the kernel must see the tap's MTU as 1400; 64 UDP flows and one
   1350-byte datagram (one frame at that MTU) sent by the kernel arrive on
   both queues; setting the kernel interface down and up is logged by
   routerd's link watch.

Usage: test_port_setup.py --bin build/bin
"""
import os

import harness

FLOWS = """
import socket, sys
dst, n = sys.argv[1], int(sys.argv[2])
for rounds in range(4 if n else 0):
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", 20000 + i))
        s.sendto(b"flow %d" % i, (dst, 9000 + i))
        s.close()
if len(sys.argv) > 3:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b"j" * int(sys.argv[3]), (dst, 7))
"""


def port(stats, name):
    return next(p for p in stats["ports"] if p["name"] == name)


def per_worker_out(stats, element):
    e = harness.element(stats, element)
    return [sum(o["packets"] for o in w["outputs"]) for w in e["workers"]]


def af_packet_two_queues(t, tag):
    with t.lab("pq") as lab:
        ha = lab.namespace("a")
        a_if, ra = lab.veth(ha, None)
        lab.sh(ha, f"ip addr add 10.203.1.1/24 dev {a_if}")
        lab.sh(ha, f"ip neigh replace 10.203.1.2 lladdr 02:00:00:00:02:02 dev {a_if}")
        graph = f"""
name: af-packet-queues
workers: {{lcores: [1, 2], idle_sleep_us: 50}}
ports:
  pa: {{device: net_af_packet_{tag}q, args: "iface={ra},qpairs=2"}}
elements:
  rx: {{class: PortRx, port: pa}}
  c: Counter
  d: Discard
connections:
  - rx -> c -> d
"""
        r = t.routerd(graph, lab=lab, check="routerd runs on a two-queue af_packet port")
        lab.run(ha, ["/usr/bin/python3", "-c", FLOWS, "10.203.1.2", "64"])
        st = r.wait_stats(lambda s: all(q["rx_packets"] > 0 for q in port(s, "pa")["queues"][:2]),
                          what="packets on both RX queues", fail=False)
        p = port(st, "pa")
        qs = [q["rx_packets"] for q in p["queues"]]
        t.check(len(qs) == 2 and all(qs), f"both RX queues received flows {qs}")
        ws = per_worker_out(st, "c")
        t.check(len(ws) == 2 and all(ws), f"both workers counted packets {ws}")
        t.check(p["mtu"] == 1500, f"stats: mtu {p['mtu']}")
        t.check(p["link"] is not None and p["link"]["up"], f"stats: link {p['link']}")
        x = p["xstats"]
        t.check(x.get("rx_q0_packets", 0) > 0 and x.get("rx_q1_packets", 0) > 0,
                "xstats: the driver's per-queue counters")
        t.check("rx_missed" in p and "rx_nombuf" in p, "stats: rx_missed and rx_nombuf")
        t.check(r.stop() == 0, "routerd stops cleanly")


def tap_rss_mtu_link(t, tag):
    with t.lab("pt") as lab:
        ns = lab.namespace("t", ipv6=False)  # no router solicitations on the tap: only what the test sends
        tap = lab.name("tp")
        graph = """
name: tap-queues
workers: {{lcores: [1, 2], idle_sleep_us: 50}}
ports:
  tp: {{device: net_tap_{tag}, args: "iface={tap}", rss: symmetric, mtu: {mtu}}}
elements:
  rx: {{class: PortRx, port: tp}}
  c: Counter
  d: Discard
connections:
  - rx -> c -> d
"""
        big = t.routerd(graph.format(tag=tag, tap=tap, mtu=9000), name="routerd-jumbo", lab=lab, ns=ns,
                        start=False)
        big.start(wait=False)
        code = big.proc.wait(timeout=60)
        t.check(code != 0 and "mtu 9000 needs frames of 9018 bytes; the device receives frames up to 1522"
                in big.output(), "mtu 9000 on net_tap is refused naming the frame sizes", big.output()[-600:])

        r = t.routerd(graph.format(tag=tag, tap=tap, mtu=1400), lab=lab, ns=ns,
                      check="routerd runs on a two-queue tap with rss and mtu 1400")
        link = lab.sh(ns, f"ip -o link show {tap}")
        t.check(" mtu 1400 " in link, "the kernel sees the tap's MTU as 1400", link)
        st = r.stats()
        p = port(st, "tp")
        t.check(p["mtu"] == 1400, f"stats: mtu {p['mtu']}")
        t.check(p["rss"] is not None and p["rss"]["symmetric"] and "ipv4-udp" in p["rss"]["hash"],
                f"stats: RSS by IPv4/UDP with the symmetric key ({p['rss']})")
        lab.sh(ns, f"ip addr add 10.204.1.1/24 dev {tap}")
        lab.sh(ns, f"ip neigh replace 10.204.1.2 lladdr 02:00:00:00:04:02 dev {tap}")
        before = port(r.stats(), "tp")
        lab.run(ns, ["/usr/bin/python3", "-c", FLOWS, "10.204.1.2", "0", "1350"])
        st = r.wait_stats(lambda s: port(s, "tp")["rx_packets"] > before["rx_packets"],
                          what="the large frame", fail=False)
        got = port(st, "tp")["rx_bytes"] - before["rx_bytes"]
        t.check(got >= 1350 + 8 + 20 + 14, f"a 1350-byte datagram arrived as one whole frame ({got} bytes)")
        lab.run(ns, ["/usr/bin/python3", "-c", FLOWS, "10.204.1.2", "64"])
        st = r.wait_stats(lambda s: all(q["rx_packets"] > 0 for q in port(s, "tp")["queues"][:2]),
                          what="flows on both tap queues", fail=False)
        p = port(st, "tp")
        qs = [q["rx_packets"] for q in p["queues"]]
        t.check(len(qs) == 2 and all(qs), f"both tap queues received flows {qs}")
        t.check(p["rx_errors"] == 0, "no receive errors")

        lab.sh(ns, f"ip link set {tap} down")
        t.check(r.wait_output("port 'tp': link down", timeout=10), "routerd logs the link going down")
        lab.sh(ns, f"ip link set {tap} up")
        t.check(r.wait_output("port 'tp': link up", timeout=10), "routerd logs the link coming back")
        t.check(r.stop() == 0, "routerd stops cleanly")


def main(t):
    tag = os.getpid() % 100000
    af_packet_two_queues(t, tag)
    tap_rss_mtu_link(t, tag)


if __name__ == "__main__":
    harness.run(main)

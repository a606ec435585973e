#!/usr/bin/env python3
"""Runtime figures, packet trace, pcapng capture and top on a running routerd.

    p0 (net_pcap, replays in.pcap forever) ─► rx ─► cls ─┬[ipv4]──► v4 ───┐
                                                         ├[arp]───► arpc ─┼─► out ─► tx ─► p1 (net_null)
                                                         └[default]► other┘
    in.pcap: UDP and TCP over IPv4, ARP, UDP over IPv6, and a 10-byte runt
    (cls drops it: `runt`).

Checks:
 1. `routerctl runtime`: off at start; --on counts calls, packets and cycles
    per element; --off stops counting (the figures do not move while
    packets flow); --clear zeroes them; the table prints.
 2. `routerctl capture`: an element output, a port's transmit side and a
    filtered capture are written as pcapng; tshark reads them: the count,
    the packets (their addresses), the element and worker in each comment.
    An unbounded capture is stopped by `--stop` and its file is readable.
 3. Bad requests (element, output, port, filter, count, no file) exit 1
    with a message naming the mistake.
 4. `routerctl trace`: the journey of UDP packets (every hop, the output
    taken at cls, sent by tx) with their decoded headers; the runt's
    journey ends in cls's `runt` drop.
 5. `routerctl top --once`: rates and cycles per element.
"""
import os

import harness
from harness import element, write_pcap
from scapy.all import ARP, IP, UDP, TCP, Ether, IPv6

MAC_A = "02:00:00:00:00:01"
MAC_B = "02:00:00:00:00:02"


def frames():
    e = Ether(src=MAC_A, dst=MAC_B)
    return [
        bytes(e / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1000, dport=2000) / (b"u" * 20)),
        bytes(e / IP(src="10.0.0.1", dst="10.0.0.3") / TCP(sport=40000, dport=80)),
        bytes(Ether(src=MAC_A, dst="ff:ff:ff:ff:ff:ff") / ARP(psrc="10.0.0.1", pdst="10.0.0.9")),
        bytes(e / IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(sport=1, dport=2)),
        bytes.fromhex("02000000000202000000"),  # 10 bytes: shorter than an Ethernet header
    ]


GRAPH = """
name: probes-test
workers: {{lcores: [1]}}
ports:
  p0: {{device: net_pcap0, args: "rx_pcap={inp},infinite_rx=1"}}
  p1: net_null1
elements:
  rx:    {{class: PortRx, port: p0}}
  cls:
    class: Classifier
    rules:
      - {{output: ipv4, ethertype: ipv4}}
      - {{output: arp, ethertype: arp}}
  v4:    Counter
  arpc:  Counter
  other: Counter
  out:   Merge
  tx:    {{class: PortTx, port: p1}}
connections:
  - rx -> cls
  - cls[ipv4] -> v4 -> out
  - cls[arp] -> arpc -> out
  - cls[default] -> other -> out
  - out -> tx
"""


def fig(r, eid):
    for e in r["elements"]:
        if e["id"] == eid:
            return e["total"]
    raise harness.Failure(f"no element {eid} in the runtime figures")


def tshark(t, path, *fields):
    """The packets of a pcapng file, one list of field values each (tshark)."""
    argv = ["tshark", "-r", path, "-T", "fields", "-E", "separator=|"]
    for f in fields:
        argv += ["-e", f]
    res = t.run(argv)
    t.require(res.ok, f"tshark reads {os.path.basename(path)}", res.stderr)
    return [line.split("|") for line in res.stdout.splitlines() if line]


def check_runtime(t, r):
    rt = r.json("runtime")
    t.check(rt["enabled"] is False, "runtime figures are off at start")
    rt = r.json("runtime", "--on")
    t.check(rt["enabled"] is True, "runtime --on turns them on")
    rt = r.wait_for(lambda: (lambda x: x if fig(x, "cls")["packets"] > 5000 else None)(r.json("runtime")),
                    what="cls counted by the runtime figures")
    cls, rx, tx = fig(rt, "cls"), fig(rt, "rx"), fig(rt, "tx")
    t.check(cls["calls"] > 0 and cls["packets"] >= cls["calls"], "cls: calls and packets counted",
            str(cls))
    t.check(cls["packets_per_call"] >= 1.0, "cls: packets per call >= 1", str(cls))
    t.check(0 < cls["cycles_per_packet"] < 1e6, "cls: cycles per packet counted", str(cls))
    t.check(rx["calls"] > 0 and rx["packets"] > 0 and tx["packets"] > 0, "rx and tx counted", f"{rx} {tx}")
    t.check(rt["elements"][0]["workers"][0]["lcore"] == 1, "figures per worker, on lcore 1")
    human = r.ctl("runtime", "--sort", "cpp")
    t.check(human.ok and "cycles/pkt" in human.stdout and "cls" in human.stdout, "runtime prints a table",
            human.stdout + human.stderr)

    r.json("runtime", "--off")
    rt = r.json("runtime", "--clear")
    t.check(rt["enabled"] is False and all(e["total"]["cycles"] == 0 and e["total"]["packets"] == 0
                                           for e in rt["elements"]), "runtime --off --clear: every figure is 0")
    before = element(r.stats(), "cls")["total"]["in"]
    r.wait_stats(lambda s: element(s, "cls")["total"]["in"] > before + 5000, what="traffic while the figures are off")
    rt = r.json("runtime")
    t.check(all(e["total"]["packets"] == 0 for e in rt["elements"]), "off: the figures do not move")
    r.json("runtime", "--on")


def check_capture(t, r):
    f1 = t.path("cls-ipv4.pcapng")
    c = r.json("capture", "cls[ipv4]", "--count", "30", "-w", f1, "--wait", "20")
    t.check(c["state"] == "done" and c["written"] == 30, "capture cls[ipv4]: 30 packets written", str(c))
    pk = tshark(t, f1, "ip.src", "frame.comment", "eth.type")
    t.check(len(pk) == 30, "tshark reads 30 packets", str(len(pk)))
    t.check(all(p[0] == "10.0.0.1" for p in pk), "every packet is one of the IPv4 frames", str(pk[:3]))
    t.check(all("cls[ipv4]" in p[1] and "worker 0" in p[1] for p in pk),
            "each comment names the element output and the worker", str(pk[:1]))

    f2 = t.path("p1-tx.pcapng")
    c = r.json("capture", "--port", "p1:tx", "--count", "12", "-w", f2, "--wait", "20")
    t.check(c["state"] == "done" and c["written"] == 12, "capture --port p1:tx: 12 packets written", str(c))
    pk = tshark(t, f2, "eth.type", "frame.comment")
    t.check(len(pk) == 12 and all("p1 tx" in p[1] for p in pk), "tshark reads them, comments name p1 tx",
            str(pk[:2]))

    f3 = t.path("arp.pcapng")
    c = r.json("capture", "cls", "--filter", "arp", "--count", "5", "-w", f3, "--wait", "20")
    pk = tshark(t, f3, "eth.type", "arp.dst.proto_ipv4")
    t.check(c["written"] == 5 and len(pk) == 5 and all(p == ["0x0806", "10.0.0.9"] for p in pk),
            "capture cls --filter arp: only the ARP frames", str(pk))

    f4 = t.path("unbounded.pcapng")
    # Only the runts (a fifth of the traffic): the file stays small for tshark.
    c = r.json("capture", "rx", "--filter", "less 13", "--count", "100000000", "-w", f4)
    t.check(c["state"] == "running", "a long capture runs", str(c))
    r.wait_for(lambda: [x for x in r.json("capture", "--list") if x["id"] == c["id"] and x["written"] > 0],
               what="the long capture writes")
    s = r.json("capture", "--stop", str(c["id"]))
    t.check(s["state"] == "stopped", "capture --stop stops it", str(s))
    pk = tshark(t, f4, "frame.len")
    t.check(len(pk) == s["written"] and len(pk) > 0 and all(p == ["10"] for p in pk),
            "its file holds what it wrote: the runts", f"{len(pk)} vs {s}")


def check_bad_requests(t, r):
    bad = [
        (["capture", "nosuch", "-w", t.path("x.pcapng")], "no element 'nosuch'"),
        (["capture", "cls[nosuch]", "-w", t.path("x.pcapng")], "has no output 'nosuch' (outputs: ipv4, arp, default)"),
        (["capture", "--port", "nope:rx", "-w", t.path("x.pcapng")], "no port 'nope'"),
        (["capture", "--port", "p0:sideways", "-w", t.path("x.pcapng")], "must be rx or tx"),
        (["capture", "tx", "-w", t.path("x.pcapng")], "has no outputs"),
        (["capture", "cls", "--count", "0", "-w", t.path("x.pcapng")], "count must be between"),
        (["capture", "cls", "--filter", "udp and ((", "-w", t.path("x.pcapng")], "filter 'udp and (('"),
        (["capture", "cls"], "-w FILE"),
        (["trace", "start", "--filter", "tcp and (("], "filter 'tcp and (('"),
        (["trace", "start", "--count", "0"], "count must be between"),
    ]
    for argv, want in bad:
        res = r.ctl(*argv)
        t.check(res.returncode == 1 and want in res.stderr, f"refused: routerctl {' '.join(argv[:3])}",
                f"exit {res.returncode}: {res.stderr}")
    t.check(not os.path.exists(t.path("x.pcapng")), "a refused capture leaves no file")


def check_trace(t, r):
    tr = r.json("trace", "start", "--count", "4", "--filter", "udp and ip", "--wait", "20")
    t.check(tr["complete"] and len(tr["packets"]) == 4, "trace: 4 UDP packets traced to their end", str(tr)[:400])
    p = tr["packets"][0]
    t.check(any("UDP 1000 > 2000" in h for h in p["headers"]) and any("IPv4 10.0.0.1 > 10.0.0.2" in h
                                                                    for h in p["headers"]),
            "headers decoded at the start", str(p["headers"]))
    steps = [(e["element"], e["event"], e.get("output", "")) for e in p["path"]]
    want = [("rx", "received", ""), ("rx", "output", "out"), ("cls", "output", "ipv4"), ("v4", "output", "out"),
            ("out", "output", "out"), ("tx", "consumed", "")]
    t.check(steps == want, "the journey: rx, cls[ipv4], v4, out, tx (sent)", str(steps))
    t.check(p["path"][-1].get("tx_ports") == ["p1"], "tx sent it on p1", str(p["path"][-1]))

    tr = r.json("trace", "start", "--count", "1", "--filter", "less 13", "--wait", "20")
    t.check(tr["complete"] and len(tr["packets"]) == 1, "trace: the runt traced", str(tr)[:400])
    last = tr["packets"][0]["path"][-1]
    t.check(last["element"] == "cls" and last["event"] == "dropped" and last["reasons"] == ["runt"],
            "the runt's journey ends in cls's `runt` drop", str(last))
    human = r.ctl("trace")
    t.check(human.ok and "DROPPED: runt" in human.stdout, "trace prints the journey", human.stdout + human.stderr)
    t.check(r.json("trace", "stop")["state"] == "stopped", "trace stop")


def check_top(t, r):
    top = r.json("top", "--once", "--interval", "0.5")
    rows = {e["id"]: e for e in top["elements"]}
    t.check(rows["cls"]["out_pps"] > 0 and rows["cls"]["cycles_per_packet"] is not None,
            "top --once: cls's rate and cycles", str(rows.get("cls")))
    t.check(rows["cls"]["drops_per_s"] > 0, "top --once: cls's drops per second (the runt)", str(rows.get("cls")))
    human = r.ctl("top", "--once", "-i", "0.3")
    t.check(human.ok and "cls" in human.stdout and "cycles/pkt" in human.stdout, "top --once prints a table",
            human.stdout + human.stderr)


def main(t):
    t.needs("tshark")
    inp = t.path("in.pcap")
    write_pcap(inp, frames())
    with t.routerd(GRAPH.format(inp=inp)) as r:
        r.wait_stats(lambda s: element(s, "tx")["total"]["in"] > 1000, what="traffic through the graph")
        check_runtime(t, r)
        check_capture(t, r)
        check_bad_requests(t, r)
        check_trace(t, r)
        check_top(t, r)
        t.check(r.stop() == 0, "routerd exits 0 on SIGTERM")


if __name__ == "__main__":
    harness.run(main)

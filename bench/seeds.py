#!/usr/bin/python3
"""Packets per second per core of each seed graph, on virtual devices.

    bench/seeds.py [--bin build/bin] [--seconds 5] [--rounds 1] [--only NAME]

For every seed (graphs/spp-compute.yaml, graphs/vpc-gateway.yaml,
graphs/triton-compute.yaml, graphs/vpc-switch.yaml) the graph
runs unchanged except for its ports: each becomes a `net_pcap` device that
replays a pcap of the traffic that port would see (`infinite_rx=1`: the
frames, read once into buffers, are sent round and round), or none; what the
graph transmits the device counts and drops. One worker (lcore 1), busy
polling. Rates are read from routerd's counters twice, `--seconds` apart,
after one second of warm-up:

  - processed: packets the graph's PortRx elements took per second;
  - forwarded: packets its PortTx elements sent per second;
  - drops: every drop in the interval, by element and reason (must be none:
    the traffic is built so that every packet is forwarded).

The reference, measured in the same run on the same devices and the same
traffic: the bare graph (each receiving port's PortRx straight into a
PortTx), reported as `ratio` = seed / reference (the median of each round's
ratio; the figures in Mpps are medians too).

Seeds with an `frr:` section in their lab file (graphs/labs/NAME.yaml) get
the lab's router host (its stub interfaces and addresses) as a network
namespace and FRR's zebra and staticd, exactly as the lab runs them, and the
benchmark waits for the routes before measuring. Rate limits (RateLimiter
`rate`) are raised to 100G so that no packet is policed: the figure is the
cost of metering every packet, not of the policy. Seeds whose lab has a
`portolan:` section get the lab SVP server (tools/svp-server) with the lab's
mappings on a loopback port, and their Svp service pointed at it; the
resolver's first lookups happen during the warm-up, so the figure is the
cost of cache hits. NeighborSink (no kernel links here, not on the data
path) is left out. The replay devices answer no ARP: the next hops a seed's
traffic needs are given to its Interfaces service as static neighbours
(NEIGHBORS), so its lookups find them resolved.

Prints a table and one line per seed:
  RESULT seed NAME processed_mpps=.. forwarded_mpps=.. reference_mpps=.. ratio=..
"""
import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(REPO, "tools", "lab"))
import yaml  # noqa: E402
from weftlab import frr as frrmod  # noqa: E402
from weftlab.netns import Lab, wait_until  # noqa: E402
from weftlab.runner import LabRun  # noqa: E402
from weftlab.spec import load  # noqa: E402


# --- traffic ------------------------------------------------------------------
def spp_traffic():
    from scapy.all import Dot1Q, Ether, IP, UDP, Raw
    pad = Raw(bytes(18))  # 64-byte frames (60 + FCS)
    wire = []
    for i in range(64):
        wire.append(Ether(src="02:00:00:0a:00:01", dst="52:54:00:00:00:11") /
                    IP(src="10.0.0.1", dst="10.0.0.11") / UDP(sport=1024 + i, dport=7777) / pad)
        wire.append(Ether(src="02:00:00:0a:00:01", dst="52:54:00:00:00:12") / Dot1Q(vlan=200) /
                    IP(src="10.0.200.1", dst="10.0.200.12") / UDP(sport=1024 + i, dport=7777) / Raw(bytes(14)))
    vm1 = [Ether(src="52:54:00:00:00:11", dst="02:00:00:0a:00:01") / IP(src="10.0.0.11", dst="10.0.0.1") /
           UDP(sport=7777, dport=1024 + i) / pad for i in range(64)]
    vm2 = [Ether(src="52:54:00:00:00:12", dst="02:00:00:0a:00:01") / IP(src="10.0.200.12", dst="10.0.200.1") /
           UDP(sport=7777, dport=1024 + i) / pad for i in range(64)]
    return {"phys": wire, "vm1": vm1, "vm2": vm2}


def vpc_traffic():
    from scapy.all import Ether, IP, UDP, VXLAN, Raw
    pkts = []
    for i in range(64):
        for dst in ("10.200.0.2", "198.51.100.2"):  # to the other VPC (routed), to the internet (NAT)
            inner = (Ether(src="52:54:00:64:00:02", dst="02:00:00:64:00:01") /
                     IP(src="10.100.0.2", dst=dst) / UDP(sport=2000 + i, dport=7777) / Raw(bytes(18)))
            pkts.append(Ether(src="02:00:00:c0:00:0a", dst="02:00:00:c0:00:01") /
                        IP(src="192.0.2.10", dst="192.0.2.1") / UDP(sport=49152 + i, dport=4789) /
                        VXLAN(vni=100, flags=0x08) / inner)
    return {"under": pkts}


def triton_traffic():
    from scapy.all import Dot1Q, Ether, IP, UDP, VXLAN, Raw
    # vm1 -> vm2 (tagged, resolved through Portolan, encapsulated to cn2) and
    # cn2's VXLAN -> vm1 (decapsulated, classified, untagged).
    vm = [Ether(src="52:54:00:2a:00:11", dst="52:54:00:2a:00:12") / IP(src="10.42.0.11", dst="10.42.0.12") /
          UDP(sport=1024 + i, dport=7777) / Raw(bytes(18)) for i in range(64)]
    under = []
    for i in range(64):
        inner = (Ether(src="52:54:00:2a:00:12", dst="52:54:00:2a:00:11") / Dot1Q(vlan=7) /
                 IP(src="10.42.0.12", dst="10.42.0.11") / UDP(sport=7777, dport=1024 + i) / Raw(bytes(14)))
        under.append(Ether(src="02:00:00:c0:00:fe", dst="02:00:00:c0:00:01") / IP(src="198.51.100.2", dst="192.0.2.1") /
                     UDP(sport=49152 + i, dport=4789) / VXLAN(vni=4242, flags=0x08) / inner)
    return {"vm": vm, "under": under}


def vpc_switch_traffic():
    from scapy.all import Dot1Q, Ether, IP, UDP, VXLAN, Raw
    pad = Raw(bytes(18))
    vm1, router, trunk, under = [], [], [], []
    for i in range(64):
        # vm1 -> the router (static entry) and -> the remote host (learned on the uplink, Portolan's underlay)
        vm1.append(Ether(src="52:54:00:64:00:11", dst="02:00:00:64:00:01") / IP(src="10.100.0.11", dst="10.100.0.1") /
                   UDP(sport=1024 + i, dport=7777) / pad)
        vm1.append(Ether(src="52:54:00:64:00:11", dst="52:54:00:64:00:20") / IP(src="10.100.0.11", dst="10.100.0.20") /
                   UDP(sport=1024 + i, dport=7777) / pad)
        router.append(Ether(src="02:00:00:64:00:01", dst="52:54:00:64:00:11") / IP(src="10.100.0.1", dst="10.100.0.11") /
                      UDP(sport=7777, dport=1024 + i) / pad)
        trunk.append(Ether(src="52:54:00:64:00:12", dst="02:00:00:64:00:01") / Dot1Q(vlan=10) /
                     IP(src="10.100.0.12", dst="10.100.0.1") / UDP(sport=1024 + i, dport=7777) / Raw(bytes(14)))
        inner = (Ether(src="52:54:00:64:00:20", dst="52:54:00:64:00:11") / IP(src="10.100.0.20", dst="10.100.0.11") /
                 UDP(sport=7777, dport=1024 + i) / pad)
        under.append(Ether(src="02:00:00:c0:00:fe", dst="02:00:00:c0:00:01") / IP(src="203.0.113.10", dst="192.0.2.1") /
                     UDP(sport=49152 + i, dport=4789) / VXLAN(vni=100, flags=0x08) / inner)
    return {"vm1": vm1, "router": router, "trunk": trunk, "under": under}


SEEDS = {"spp-compute": spp_traffic, "vpc-gateway": vpc_traffic, "triton-compute": triton_traffic,
         "vpc-switch": vpc_switch_traffic}

# The replay devices answer no ARP: the next hops the traffic needs become
# static neighbours of the graph's Interfaces service (`neighbors`), so the
# figure is for resolved next hops (a neighbour-table lookup per packet).
NEIGHBORS = {"vpc-gateway": [{"interface": "vpc_b", "ip": "10.200.0.2", "mac": "52:54:00:c8:00:02"},
                             {"interface": "fabric", "ip": "192.0.2.11", "mac": "02:00:00:c0:00:0b"},
                             {"interface": "wan", "ip": "198.51.100.2", "mac": "02:00:00:33:00:02"}]}


# --- graphs -------------------------------------------------------------------
def bench_graph(graph, pcaps, empty, prefix, raise_limits=True, portolan=None, neighbors=None):
    g = copy.deepcopy(graph)
    for sid, s in list((g.get("services") or {}).items()):
        if isinstance(s, dict) and s.get("class") == "Interfaces" and neighbors:
            s["neighbors"] = list(s.get("neighbors") or []) + neighbors
        if isinstance(s, dict) and s.get("class") == "Svp" and portolan:
            s["servers"] = [portolan]  # the benchmark's own lab Portolan server
        if isinstance(s, dict) and s.get("class") == "NeighborSink":
            del g["services"][sid]  # no kernel links here; it is not on the data path
    g["eal"] = {"args": ["--no-huge", "--no-shconf", "--no-pci", "-m", "1024", f"--file-prefix={prefix}"],
                "log_level": "*:warning"}
    g["workers"] = {"lcores": [1], "idle_sleep_us": 0}
    for i, name in enumerate(list(g["ports"])):
        rx = f"rx_pcap={pcaps[name]},infinite_rx=1" if name in pcaps else f"rx_pcap={empty}"
        g["ports"][name] = {"device": f"net_pcap{i}", "args": rx}
    if raise_limits:
        for e in g["elements"].values():
            if isinstance(e, dict) and e.get("class") == "RateLimiter":
                e.pop("burst", None)
                e["rate"] = "100G"
    return g


def reference_graph(graph, pcaps, empty, prefix):
    """The same ports and traffic; each receiving port straight to a transmitting one."""
    g = bench_graph(graph, pcaps, empty, prefix)
    names = list(g["ports"])
    g.pop("services", None)
    g["elements"], conns = {}, []
    for i, p in enumerate(n for n in names if n in pcaps):
        out = names[(names.index(p) + 1) % len(names)]
        g["elements"][f"rx{i}"] = {"class": "PortRx", "port": p}
        g["elements"][f"tx{i}"] = {"class": "PortTx", "port": out}
        conns.append(f"rx{i} -> tx{i}")
    g["connections"] = conns
    g["name"] = "reference"
    return g


# --- measuring ----------------------------------------------------------------
def ctl(bindir, sock, *args):
    r = subprocess.run([os.path.join(bindir, "routerctl"), "-s", sock, *args], capture_output=True, text=True,
                       timeout=60)
    return r.returncode, r.stdout


def totals(stats):
    rx = sum(e["total"].get("out", 0) for e in stats["elements"] if e["class"] == "PortRx")
    tx = sum(e["total"].get("in", 0) - e["total"].get("dropped", 0) for e in stats["elements"]
             if e["class"] == "PortTx")
    drops = {}
    for e in stats["elements"]:
        for w in e.get("workers", []):
            for reason, n in (w.get("drops") or {}).items():
                drops[f"{e['id']}.{reason}"] = drops.get(f"{e['id']}.{reason}", 0) + n
    return rx, tx, drops


def measure(lab, ns, bindir, graph_path, sock, log, seconds, wait_routes=None):
    p = lab.spawn(ns, [os.path.join(bindir, "routerd"), "-c", graph_path, "-s", sock], stdout=log,
                  stderr=subprocess.STDOUT)
    try:
        if not wait_until(lambda: p.poll() is not None or ctl(bindir, sock, "status")[0] == 0, timeout=180, step=0.2) \
                or p.poll() is not None:
            raise RuntimeError(f"routerd did not start on {graph_path}; see {log.name}")
        if wait_routes:
            wait_routes()
        time.sleep(1.0)  # warm-up
        s0, t0 = json.loads(ctl(bindir, sock, "--json", "stats")[1]), time.monotonic()
        time.sleep(seconds)
        s1, t1 = json.loads(ctl(bindir, sock, "--json", "stats")[1]), time.monotonic()
    finally:
        p.terminate()
        p.wait(timeout=60)
        lab.procs.remove(p)
    (rx0, tx0, d0), (rx1, tx1, d1) = totals(s0), totals(s1)
    drops = {k: v - d0.get(k, 0) for k, v in d1.items() if v - d0.get(k, 0)}
    return (rx1 - rx0) / (t1 - t0) / 1e6, (tx1 - tx0) / (t1 - t0) / 1e6, drops


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(REPO, "build", "bin"))
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--rounds", type=int, default=1, help="alternate seed and reference this many times; medians")
    ap.add_argument("--only", action="append")
    a = ap.parse_args()
    bindir = os.path.abspath(a.bin)
    from scapy.all import wrpcap
    results = []
    with tempfile.TemporaryDirectory(prefix="weft-bench-seeds-") as tmp:
        os.chmod(tmp, 0o755)
        empty = os.path.join(tmp, "empty.pcap")
        wrpcap(empty, [])
        for name, traffic in SEEDS.items():
            if a.only and name not in a.only:
                continue
            with open(os.path.join(REPO, "graphs", f"{name}.yaml")) as f:
                graph = yaml.safe_load(f)
            pcaps = {}
            for port, pkts in traffic().items():
                pcaps[port] = os.path.join(tmp, f"{name}-{port}.pcap")
                wrpcap(pcaps[port], pkts)
            spec = load(os.path.join(REPO, "graphs", "labs", f"{name}.yaml"))
            with Lab("bs") as lab:
                ns = None
                wait_routes = None
                portolan = None
                if any(pr["name"] == "portolan" for pr in spec.processes):
                    # The lab's Portolan mappings, served on a free loopback port.
                    pr = next(pr for pr in spec.processes if pr["name"] == "portolan")
                    mappings = os.path.join(tmp, f"{name}-mappings.json")
                    with open(mappings, "w") as f:
                        json.dump(pr["mappings"], f)
                    port_file = os.path.join(tmp, f"{name}-portolan.port")
                    svp_log = open(os.path.join(tmp, f"{name}-portolan.log"), "w")
                    lab.spawn(None, [os.path.join(bindir, "svp-server"), "-c", mappings, "-l", "127.0.0.1:0",
                                     "--port-file", port_file], stdout=svp_log, stderr=subprocess.STDOUT)
                    if not wait_until(lambda: os.path.exists(port_file) and open(port_file).read().strip(), timeout=30):
                        raise RuntimeError("svp-server did not start")
                    portolan = "127.0.0.1:" + open(port_file).read().strip()
                if spec.frr:
                    # The lab's router host, without its links: the stubs zebra needs.
                    run = LabRun(spec, bindir, workdir=os.path.join(tmp, name))
                    run.lab, run.dir = lab, os.path.join(tmp, name)
                    os.makedirs(run.dir, exist_ok=True)
                    host = spec.hosts[spec.router_host]
                    for itf in list(host.interfaces):
                        if host.interfaces[itf].type == "veth":
                            del host.interfaces[itf]
                    ns = run.ns[host.name] = lab.namespace(host.name, exact=f"bench-{name}-{os.getpid()}",
                                                           ipv6=False)
                    run.configure_host(host)
                    rundir = os.path.join(run.dir, "frr")
                    os.makedirs(rundir, exist_ok=True)
                    frr = frrmod.Frr(lab, ns, rundir, spec.frr["port"], spec.frr["static"])
                    frr.start_zebra()
                    frr.start_staticd()
                    sock_ref = [None]

                    def wait_routes():
                        ok = wait_until(lambda: "0.0.0.0/0" in ctl(bindir, sock_ref[0], "routes")[1], timeout=60,
                                        step=0.2)
                        if not ok:
                            raise RuntimeError("no routes from zebra")
                rows = {"seed": [], "reference": []}
                for rnd in range(a.rounds):
                    for kind in ("seed", "reference"):
                        prefix = f"weftbench-{name}-{kind}-{os.getpid()}"
                        if kind == "seed":
                            g = bench_graph(graph, pcaps, empty, prefix, portolan=portolan,
                                            neighbors=NEIGHBORS.get(name))
                        else:
                            g = reference_graph(graph, pcaps, empty, prefix)
                        path = os.path.join(tmp, f"{name}-{kind}.yaml")
                        with open(path, "w") as f:
                            yaml.safe_dump(g, f, sort_keys=False)
                        sock = os.path.join(tmp, f"{name}-{kind}.sock")
                        with open(os.path.join(tmp, f"{name}-{kind}.log"), "w") as log:
                            if spec.frr:
                                sock_ref[0] = sock
                            rx, tx, drops = measure(lab, ns, bindir, path, sock, log, a.seconds,
                                                    wait_routes if kind == "seed" else None)
                        rows[kind].append((rx, tx, drops))
                        print(f"  {name:12} {kind:9} round {rnd + 1}: processed {rx:6.2f} Mpps, forwarded "
                              f"{tx:6.2f} Mpps" + (f", drops {drops}" if drops else ""), flush=True)

                def median(xs):
                    xs = sorted(xs)
                    return xs[len(xs) // 2]
                s_rx, s_tx = median([r[0] for r in rows["seed"]]), median([r[1] for r in rows["seed"]])
                r_rx = median([r[0] for r in rows["reference"]])
                # The ratio of each round (seed and reference run back to back), then the median:
                # the machine's load moves both figures of a round together.
                ratio = median([s[0] / r[0] for s, r in zip(rows["seed"], rows["reference"])])
                drops = {k: v for r in rows["seed"] for k, v in r[2].items()}
                results.append((name, s_rx, s_tx, r_rx, ratio, drops))
    print()
    for name, s_rx, s_tx, r_rx, ratio, drops in results:
        print(f"RESULT seed {name} processed_mpps={s_rx:.2f} forwarded_mpps={s_tx:.2f} reference_mpps={r_rx:.2f} "
              f"ratio={ratio:.2f}" + (f" drops={json.dumps(drops)}" if drops else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

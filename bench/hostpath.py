#!/usr/bin/python3
"""The host path's throughput, and forwarding while the host path is flooded.

    sudo /usr/bin/python3 bench/hostpath.py [--bin build/bin] [--seconds 5] [--rounds 1]

routerd runs in a network namespace of its own (a net_tap port makes its
kernel interface in routerd's namespace), one worker (lcore 1), busy polling,
`--no-huge`. Traffic comes from `net_pcap` devices replaying a pcap round and
round (`infinite_rx=1`); what the graph transmits on them, the device counts
and drops. Counters are read twice, `--seconds` apart, after one second of
warm-up, and divided by the CPU time the worker thread ran in between
(/proc/PID/task/TID/schedstat): the machine this was written on is shared,
and time the worker spent descheduled is not the router's (`--clock wall`
divides by wall-clock time instead).

(a) throughput: wan (net_pcap) replays ICMP echo requests to the router's
    address 10.0.0.1, 64 sources;

      rx ─► IpLocal ─[local]─► tap PortTx ═ kernel wtbN (10.0.0.1/24) ═ tap PortRx ─► wan PortTx

    no limiter: every request is punted to the kernel, which answers each
    (a static neighbour for the sources), and routerd reads the replies back.
    Figures: punted/s (the tap port's TX), replies read back/s (its RX),
    what the tap PortTx could not write (tx_full), and the kernel interface's
    RX and TX counts over the same interval. Then the same without the
    kernel's static neighbours ("punt only"): the kernel cannot send its
    replies (its ARP requests go unanswered), so only the way in is measured.

(b) forwarding: the graph of docs/host-path.md, with a Fib of the connected
    subnets (listen: none) and a static neighbour on lan;

      rx ─► IpLocal ─[forward]─► IpLookup ─[lan]─► lan PortTx (net_pcap)
              └[local, control]─► punt (RateLimiter 10k pps, burst 1k, red drop) ─► tap PortTx ═ kernel
      tap PortRx ─► wan PortTx

    run three times in the same round, on the same forwarded traffic (64
    UDP flows, 64-byte frames, 10.0.0.2.. -> 10.1.0.2):
      clean:      only the forwarded traffic;
      flooded:    one frame in FLOOD_EVERY is for the router (UDP to a closed
                  port and ICMP echo, alternately) — at the rates here
                  hundreds of thousands per second, many times the limiter's
                  10k/s;
      unguarded:  the flooded traffic, the RateLimiter replaced by Pass (a
                  host path without protection, for comparison).
    then clean again: "clean" is the mean of the two clean runs, which
    bracket the others (a machine whose load drifts moves both sides).
    Figures: forwarded Mpps of each; ratio = flooded / clean (target >= 0.9).
    A flood share of 1/FLOOD_EVERY takes that share of the polled frames
    away from forwarding whatever a flood frame costs, so the best possible
    ratio is 1 - 1/FLOOD_EVERY; `cost` = flooded / ((1 - 1/FLOOD_EVERY) x
    clean) says how a frame dropped by the limiter compares with a forwarded
    one (1: the same work).

Prints the figures, then
  RESULT hostpath punt_kpps=.. reply_kpps=.. clean_mpps=.. flooded_mpps=.. flood_mpps=.. ratio=.. ...
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(REPO, "tools", "lab"))
from weftlab.netns import Lab, wait_until  # noqa: E402

FLOOD_EVERY = 16  # --flood-every
ROUTER_MAC = "02:00:00:00:00:01"
PEER_MAC = "02:00:00:00:00:02"

GRAPH = """
name: bench-hostpath-{name}
eal:
  args: [--no-huge, --no-shconf, --no-pci, -m, "512", --file-prefix={prefix}]
  log_level: "*:warning"
workers: {{lcores: [1], idle_sleep_us: 0}}
ports:
  wan: {{device: net_pcap0, args: "rx_pcap={wan_pcap},infinite_rx=1"}}
  lan: {{device: net_pcap1, args: "rx_pcap={empty}"}}
  tap: {{device: net_tap0, args: "iface={tap},mac={mac}"}}
services:
  ifaces:
    class: Interfaces
    interfaces:
      - {{name: wan, port: wan, mac: "{mac}", addresses: [10.0.0.1/24], host: {tap}}}
      - {{name: lan, port: lan, mac: "02:00:00:00:01:01", addresses: [10.1.0.1/24]}}
    neighbors:
      - {{interface: lan, ip: 10.1.0.2, mac: "02:00:00:00:01:02"}}
  host: {{class: HostPath, interfaces: ifaces}}
  fib: {{class: Fib, listen: none, interfaces_from: ifaces}}
elements:
  rx: {{class: PortRx, port: wan}}
  local: {{class: IpLocal, interfaces: ifaces}}
  to_host: Merge
  punt: {punt}
  tap_tx: {{class: PortTx, port: tap{deferred}}}
  tap_rx: {{class: PortRx, port: tap}}
  lookup: {{class: IpLookup, fib: fib, interfaces: ifaces, outputs: [wan, lan]}}
  out_wan: Merge
  tx_wan: {{class: PortTx, port: wan}}
  tx_lan: {{class: PortTx, port: lan}}
connections:
  - rx -> local
  - local[forward] -> lookup
  - local[local] -> to_host
  - local[control] -> to_host
  - to_host -> punt -> tap_tx
  - tap_rx -> out_wan
  - lookup[wan] -> out_wan
  - lookup[lan] -> tx_lan
  - out_wan -> tx_wan
"""

LIMITER = "{class: RateLimiter, unit: pps, rate: %s, burst: %s, action: mark, dscp_yellow: keep, red: drop}"


def traffic(tmp):
    from scapy.all import Ether, ICMP, IP, UDP, Raw, wrpcap
    def eth():
        return Ether(src=PEER_MAC, dst=ROUTER_MAC)
    fwd = [eth() / IP(src=f"10.0.0.{2 + i}", dst="10.1.0.2") / UDP(sport=1024 + i, dport=7777) / Raw(bytes(18))
           for i in range(64)]
    echo = [eth() / IP(src=f"10.0.0.{2 + i}", dst="10.0.0.1") / ICMP(id=i, seq=1) / Raw(bytes(30))
            for i in range(64)]
    flood = []
    for i, f in enumerate(fwd):
        flood.append(f)
        if i % FLOOD_EVERY == FLOOD_EVERY - 1:
            k = i // FLOOD_EVERY
            flood.append(eth() / IP(src="10.0.0.200", dst="10.0.0.1") /
                         (ICMP(id=k, seq=1) / Raw(bytes(30)) if k % 2 else UDP(sport=4000, dport=7) / Raw(bytes(18))))
    paths = {}
    for name, pkts in (("echo", echo), ("clean", fwd), ("flooded", flood), ("empty", [])):
        paths[name] = os.path.join(tmp, name + ".pcap")
        wrpcap(paths[name], pkts, linktype=1)
    return paths


def ctl(bindir, sock, *args):
    r = subprocess.run([os.path.join(bindir, "routerctl"), "-s", sock, *args], capture_output=True, text=True,
                       timeout=60)
    return r.returncode, r.stdout


def sysfs(lab, ns, dev, what):
    return int(lab.sh(ns, f"cat /sys/class/net/{dev}/statistics/{what}"))


def figures(stats):
    """{name: count}: the ports' packets and every element's drops by reason."""
    f = {}
    for p in stats["ports"]:
        f[f"{p['name']}.rx"] = p["rx_packets"]
        f[f"{p['name']}.tx"] = p["tx_packets"]
    for e in stats["elements"]:
        for w in e.get("workers", []):
            for reason, n in (w.get("drops") or {}).items():
                k = f"{e['id']}.{reason}"
                f[k] = f.get(k, 0) + n
    return f


def worker_cpu_s(pid):
    """CPU time (s) the worker thread (DPDK names it rte-worker-1) has run: the
    rates divide by it, so time the worker spent descheduled by other load on
    the machine does not count."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            if f.read().startswith(("rte-worker", "lcore-worker")):
                with open(f"/proc/{pid}/task/{tid}/schedstat") as g:
                    return int(g.read().split()[0]) / 1e9
    raise RuntimeError("routerd has no worker thread (rte-worker-N)")


def drain_cpu_s(pid):
    """CPU time (s) of the threads that write to the tap for the workers
    (PortTx deferred: weft-dtxN); 0 when there are none (--direct)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            if f.read().startswith("weft-dtx"):
                with open(f"/proc/{pid}/task/{tid}/schedstat") as g:
                    total += int(g.read().split()[0])
    return total / 1e9


def routerd_pid(p):
    """routerd's pid under `ip netns exec` (which execs, so it is p's)."""
    return p.pid


def run(lab, ns, args, tmp, name, pcap, punt, kernel_neigh=False):
    tap = f"wtb{os.getpid() % 100000}"
    g = GRAPH.format(name=name, prefix=f"weftbench-{os.getpid()}-{name}", wan_pcap=pcap, empty=pcaps["empty"],
                     tap=tap, mac=ROUTER_MAC, punt=punt,
                     deferred="" if args.direct else ", deferred: true")
    path = os.path.join(tmp, name + ".yaml")
    with open(path, "w") as f:
        f.write(g)
    sock = os.path.join(tmp, name + ".sock")
    log = open(os.path.join(tmp, name + ".log"), "w")
    p = lab.spawn(ns, [os.path.join(args.bin, "routerd"), "-c", path, "-s", sock], stdout=log,
                  stderr=subprocess.STDOUT)
    try:
        if not wait_until(lambda: p.poll() is not None or ctl(args.bin, sock, "status")[0] == 0, timeout=120,
                          step=0.2) or p.poll() is not None:
            raise RuntimeError(f"routerd did not start on {path}; see {log.name}")
        if not wait_until(lambda: "10.0.0.1/24" in lab.sh(ns, f"ip -4 -o addr show dev {tap}", check=False), 30):
            raise RuntimeError(f"HostPath did not set up {tap}; see {log.name}")
        if kernel_neigh:  # the kernel answers the 64 sources without asking ARP (the pcap does not answer)
            for i in range(64):
                lab.sh(ns, f"ip neigh replace 10.0.0.{2 + i} lladdr {PEER_MAC} dev {tap} nud permanent")
        time.sleep(1.0)  # warm-up
        k0 = (sysfs(lab, ns, tap, "rx_packets"), sysfs(lab, ns, tap, "tx_packets"))
        c0, d0 = worker_cpu_s(routerd_pid(p)), drain_cpu_s(routerd_pid(p))
        s0, t0 = json.loads(ctl(args.bin, sock, "--json", "stats")[1]), time.monotonic()
        time.sleep(args.seconds)
        s1, t1 = json.loads(ctl(args.bin, sock, "--json", "stats")[1]), time.monotonic()
        c1, d1 = worker_cpu_s(routerd_pid(p)), drain_cpu_s(routerd_pid(p))
        k1 = (sysfs(lab, ns, tap, "rx_packets"), sysfs(lab, ns, tap, "tx_packets"))
    finally:
        p.terminate()
        p.wait(timeout=60)
        lab.procs.remove(p)
        log.close()
    f0, f1 = figures(s0), figures(s1)
    dt = c1 - c0 if args.clock == "cpu" else t1 - t0
    rate = {k: (v - f0.get(k, 0)) / dt for k, v in f1.items()}
    rate["busy"] = (c1 - c0) / (t1 - t0)
    rate["drain_busy"] = (d1 - d0) / (t1 - t0)  # the tap-writing thread's share of a core
    rate["drain_per_worker"] = (d1 - d0) / max(c1 - c0, 1e-9)  # its CPU time per second of the worker's
    rate["kernel.rx"] = (k1[0] - k0[0]) / dt
    rate["kernel.tx"] = (k1[1] - k0[1]) / dt
    return rate


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(REPO, "build", "bin"))
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                    help="rates per second of the worker thread's CPU time (default) or of wall-clock time")
    ap.add_argument("--flood-every", type=int, default=FLOOD_EVERY,
                    help=f"one frame in N of the flooded traffic is for the router (default {FLOOD_EVERY})")
    ap.add_argument("--direct", action="store_true",
                    help="the tap's PortTx writes on the worker (no `deferred: true`), as before deferred transmission")
    ap.add_argument("--limit", default="10k", help="the RateLimiter's rate in packets/s (default 10k, as the "
                    "lab graphs); its burst is a tenth of it")
    args = ap.parse_args()
    set_flood_every(args.flood_every)
    rate = float(args.limit[:-1]) * 1000 if args.limit.endswith("k") else float(args.limit)
    args.limiter = LIMITER % (args.limit, int(rate // 10))
    if os.geteuid() != 0:
        sys.exit("hostpath.py: needs root (network namespace, net_tap)")
    tmp = tempfile.mkdtemp(prefix="weft-bench-hostpath.")
    try:
        measure_all(args, tmp)
    except BaseException:
        print(f"hostpath.py: graphs and routerd logs kept in {tmp}", file=sys.stderr)
        raise
    shutil.rmtree(tmp)


def measure_all(args, tmp):
    global pcaps
    limiter = args.limiter
    pcaps = traffic(tmp)
    res = {k: [] for k in ("punt", "reply", "punt_only", "admitted", "busy_clean", "busy_flooded", "drain_busy", "drain_busy_clean", "drain_per_worker", "tx_full", "krx", "ktx", "clean", "flooded", "flood", "red",
                           "unguarded", "ratio", "cost", "ratio_unguarded")}
    print(f"# hostpath: 1 worker core, {args.seconds:g} s per run, {args.rounds} round(s), limiter {args.limit} pps, "
          f"flood 1 frame in {FLOOD_EVERY}, rates per {args.clock} second; tap PortTx "
          f"{'direct (on the worker)' if args.direct else 'deferred'}; routerd {args.bin}")
    with Lab("bh") as lab:
        ns = lab.namespace("r", exact=f"bench-hostpath-{os.getpid()}")
        lab.sh(ns, "sysctl -qw net.ipv4.icmp_ratelimit=0")
        for rnd in range(1, args.rounds + 1):
            a = run(lab, ns, args, tmp, f"throughput-{rnd}", pcaps["echo"], "Pass", kernel_neigh=True)
            po = run(lab, ns, args, tmp, f"punt-only-{rnd}", pcaps["echo"], "Pass")
            c = run(lab, ns, args, tmp, f"clean-{rnd}", pcaps["clean"], limiter)
            fl = run(lab, ns, args, tmp, f"flooded-{rnd}", pcaps["flooded"], limiter)
            un = run(lab, ns, args, tmp, f"unguarded-{rnd}", pcaps["flooded"], "Pass")
            c2 = run(lab, ns, args, tmp, f"clean-again-{rnd}", pcaps["clean"], limiter)
            best = 1 - 1 / FLOOD_EVERY
            r = {"punt": a["tap.tx"], "reply": a["tap.rx"], "punt_only": po["tap.tx"], "tx_full": a.get("tap_tx.tx_full", 0),
                 "krx": a["kernel.rx"], "ktx": a["kernel.tx"],
                 "clean": (c["lan.tx"] + c2["lan.tx"]) / 2, "flooded": fl["lan.tx"], "flood": fl["wan.rx"] - fl["lan.tx"],
                 "red": fl.get("punt.red", 0), "unguarded": un["lan.tx"], "admitted": fl["tap.tx"],
                 "busy_clean": c["busy"], "busy_flooded": fl["busy"], "drain_busy": fl["drain_busy"], "drain_busy_clean": c["drain_busy"],
                 "drain_per_worker": fl["drain_per_worker"]}
            r["ratio"] = r["flooded"] / r["clean"]
            r["cost"] = r["flooded"] / (best * r["clean"])
            r["ratio_unguarded"] = r["unguarded"] / r["clean"]
            for k, v in r.items():
                res[k].append(v)
            print(f"round {rnd}: (a) punted {r['punt'] / 1e3:.1f} kpps, replies read back {r['reply'] / 1e3:.1f} kpps "
                  f"(kernel {tap_name()} rx {r['krx'] / 1e3:.1f}k/s tx {r['ktx'] / 1e3:.1f}k/s; tap tx_full "
                  f"{r['tx_full'] / 1e3:.1f}k/s); punted without replies {r['punt_only'] / 1e3:.1f} kpps; the worker ran "
                  f"{a['busy']:.0%} and the tap-writing thread {a['drain_busy']:.0%} of the wall-clock time "
                  f"({a['tap.tx'] * a['busy'] / 1e3:.1f} kpps punted per wall-clock second)")
            print(f"         (b) forwarded: clean {r['clean'] / 1e6:.2f} Mpps, flooded {r['flooded'] / 1e6:.2f} Mpps "
                  f"(flood {r['flood'] / 1e6:.3f} Mpps, {r['red'] / 1e6:.3f} Mpps red-dropped, "
                  f"{r['admitted'] / 1e3:.1f} kpps admitted to the kernel), ratio {r['ratio']:.3f} "
                  f"(best possible {best:.3f}, cost {r['cost']:.3f}); unguarded {r['unguarded'] / 1e6:.2f} Mpps, "
                  f"ratio {r['ratio_unguarded']:.3f}")
            print(f"         the worker ran {r['busy_clean']:.0%} (clean) and {r['busy_flooded']:.0%} (flooded) "
                  f"of the wall-clock time; the tap-writing thread (deferred) {r['drain_busy']:.1%} of a core "
                  f"in the flooded run ({r['drain_per_worker']:.3f} s per s of the worker's CPU), "
                  f"{r['drain_busy_clean']:.1%} in the clean one")
            # Drops in the flooded run other than the limiter's red ones (none expected).
            other = {k: round(v) for k, v in fl.items()
                     if "." in k and k.split(".")[1] not in ("rx", "tx", "red") and v}
            if other:
                print(f"         flooded: other drops per second {json.dumps(other)}")
    m = {k: median(v) for k, v in res.items()}
    spread = {k: (min(v), max(v)) for k, v in res.items()}
    print(f"host path (a): {m['punt'] / 1e3:.1f} kpps punted to the kernel and {m['reply'] / 1e3:.1f} kpps of "
          f"replies read back (one worker); {m['punt_only'] / 1e3:.1f} kpps punted when the kernel does not answer")
    print(f"forwarding (b): clean {m['clean'] / 1e6:.2f} Mpps, flooded {m['flooded'] / 1e6:.2f} Mpps, "
          f"ratio {m['ratio']:.3f} (target >= 0.9; rounds {spread['ratio'][0]:.3f}-{spread['ratio'][1]:.3f}), "
          f"without the limiter {m['ratio_unguarded']:.3f}")
    print(f"RESULT hostpath punt_kpps={m['punt'] / 1e3:.1f} reply_kpps={m['reply'] / 1e3:.1f} "
          f"punt_only_kpps={m['punt_only'] / 1e3:.1f} "
          f"clean_mpps={m['clean'] / 1e6:.2f} flooded_mpps={m['flooded'] / 1e6:.2f} flood_mpps={m['flood'] / 1e6:.3f} "
          f"ratio={m['ratio']:.3f} cost={m['cost']:.3f} unguarded_mpps={m['unguarded'] / 1e6:.2f} "
          f"ratio_unguarded={m['ratio_unguarded']:.3f} admitted_kpps={m['admitted'] / 1e3:.1f} "
          f"drain_busy={m['drain_busy']:.3f} drain_busy_clean={m['drain_busy_clean']:.3f} drain_per_worker={m['drain_per_worker']:.3f} "
          f"tap_tx={'direct' if args.direct else 'deferred'} flood_every={FLOOD_EVERY} limit={args.limit}")


def set_flood_every(n):
    global FLOOD_EVERY
    FLOOD_EVERY = n


def tap_name():
    return f"wtb{os.getpid() % 100000}"


if __name__ == "__main__":
    main()

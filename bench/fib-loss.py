#!/usr/bin/env python3
"""bench/fib-loss.py — forwarding while a full table loads over FPM.

    bench/fib-loss.py [--build BUILD] [--routes N] [--seconds S]

routerd forwards on one worker (lcore 1):

    net_pcap0 (4096 packets replayed forever, infinite_rx) -> PortRx
      -> IpLookup (Fib "fib") -> o0..o3 -> PortTx net_null1..4

and has a second Fib service, "spare", that no element reads. Its control
thread (lcore 0) runs both FPM servers. This script plays zebra, on the
same CPU as the control thread:

1. sends the next hops and a default route to "fib" (every packet is
   routed) and measures the forwarding rate for S seconds: "before";
2. streams N (default 1,000,000) IPv4 routes at full speed on the same FPM
   connection (bench_fib --write-stream makes them: the Internet-like mix of
   prefix lengths bench_fib measures ingest with) and measures the rate from
   the first byte sent until the FIB holds all N routes: "during";
3. measures the rate for S seconds with the full table: "after";
4. streams the same routes to "spare" and measures the rate while they
   load: "reference". The worker still looks up in the full "fib", and
   the control thread does exactly the work of step 2, on tables the worker
   does not read.

On these 2-vCPU virtual machines the two vCPUs share a physical core: any
work on CPU 0 (even a loop that touches no memory) slows the worker on
CPU 1 by about half, so "during" against "after" mostly measures the
machine. The loss the route load causes the data path is what sharing the
FIB with the writer costs: loss = 1 - during / reference (target under
10 %). 1 - during / after is reported too; on a machine whose cores share
nothing the two agree. The destinations of the packets are inside the N
routes, so during step 2 the lookups move from the default route to the
full table's (tbl8 groups and all). Packets dropped by IpLookup (any
reason) are reported; there should be none. Rates come from the ports' tx
counters over routerd's own clock (uptime_s in the stats reply), read on
the control socket.
Last line: RESULT fib_loss ...
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time


def control(sock_path, cmd, args=None):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(sock_path)
        s.sendall((json.dumps({"cmd": cmd, "args": args or {}}) + "\n").encode())
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            buf += chunk
    reply = json.loads(buf)
    if not reply.get("ok"):
        raise RuntimeError(f"{cmd}: {reply.get('error')}")
    return reply["data"]


def graph_yaml(routes, pcap, prefix):
    lines = [
        "name: fib_loss",
        "workers: {lcores: [1], idle_sleep_us: 0}",
        "eal:",
        f"  args: [--no-huge, --no-shconf, --no-pci, -m, \"1536\", --file-prefix={prefix}]",
        "  log_level: \"*:warning\"",
        "ports:",
        f"  in: {{device: net_pcap0, args: \"rx_pcap={pcap},infinite_rx=1\"}}",
    ]
    lines += [f"  out{g}: net_null{g + 1}" for g in range(4)]
    lines += [
        "services:",
        "  fib:",
        "    class: Fib",
        "    listen: \"127.0.0.1:0\"",
        f"    max_routes: {routes + 1024}",
        "    tbl8: 65536",
        "    interfaces:",
    ]
    lines += [f"      - {{ifindex: {g + 1}, output: o{g}, mac: \"02:00:00:00:01:0{g}\"}}" for g in range(4)]
    lines += ["    neighbors:"]
    lines += [f"      - {{ip: 192.0.2.{g + 1}, mac: \"02:00:00:00:00:0{g}\"}}" for g in range(4)]
    lines += [
        "  spare:",
        "    class: Fib",
        "    listen: \"127.0.0.1:0\"",
        f"    max_routes: {routes + 1024}",
        "    tbl8: 65536",
        "    interfaces:",
    ]
    lines += [f"      - {{ifindex: {g + 1}, output: o{g}, mac: \"02:00:00:00:01:0{g}\"}}" for g in range(4)]
    lines += [
        "elements:",
        "  rx: {class: PortRx, port: in}",
        "  lookup: {class: IpLookup, fib: fib, outputs: [o0, o1, o2, o3]}",
    ]
    lines += [f"  tx{g}: {{class: PortTx, port: out{g}}}" for g in range(4)]
    lines += ["connections:", "  - rx -> lookup"]
    lines += [f"  - lookup[o{g}] -> tx{g}" for g in range(4)]
    return "\n".join(lines) + "\n"


def sample(sock_path):
    """(routerd uptime, packets sent on the out ports, IpLookup drops)."""
    st = control(sock_path, "stats")
    tx = sum(p["tx_packets"] for p in st["ports"] if p["name"].startswith("out"))
    drops = sum(e["total"]["dropped"] for e in st["elements"] if e["id"] == "lookup")
    return st["uptime_s"], tx, drops


def rate(a, b):
    return (b[1] - a[1]) / (b[0] - a[0])


def fib_status(sock_path, name):
    return control(sock_path, "service", {"name": name, "cmd": "status"})[0]["result"]


def fib_routes(sock_path, name="fib"):
    return fib_status(sock_path, name)["fib"]["routes_ipv4"]


def load(sock_path, conn, routes, name, want, deadline_s=300):
    """Streams routes on conn; returns the samples at the first byte and once
    the FIB `name` holds `want` routes, and the time the write took."""
    first = sample(sock_path)
    t0 = time.monotonic()
    conn.sendall(routes)  # as fast as the FIB takes it (TCP flow control)
    sent_s = time.monotonic() - t0
    while fib_routes(sock_path, name) < want:
        if time.monotonic() - t0 > deadline_s:
            sys.exit(f"fib-loss: the routes did not all arrive in {name} in {deadline_s} s")
        time.sleep(0.02)
    return first, sample(sock_path), sent_s


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--build", default=os.path.join(here, "..", "build"))
    ap.add_argument("--routes", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=float, default=3.0)
    a = ap.parse_args()
    bindir = os.path.join(os.path.abspath(a.build), "bin")
    # The script and routerd's control thread share CPU 0; the worker has CPU 1.
    os.sched_setaffinity(0, {0})

    tmp = tempfile.mkdtemp(prefix="weft-bench-fib-loss.")
    routerd = None
    try:
        stream, pcap = os.path.join(tmp, "routes.fpm"), os.path.join(tmp, "traffic.pcap")
        subprocess.run([os.path.join(bindir, "bench_fib"), f"--routes={a.routes}", f"--write-stream={stream}",
                        f"--write-pcap={pcap}"], check=True)
        with open(stream + ".base", "rb") as f:
            base = f.read()
        with open(stream, "rb") as f:
            routes = f.read()
        gfile, sock = os.path.join(tmp, "graph.yaml"), os.path.join(tmp, "ctl.sock")
        with open(gfile, "w") as f:
            f.write(graph_yaml(a.routes, pcap, f"weftbench-fibloss-{os.getpid()}"))
        log = open(os.path.join(tmp, "routerd.log"), "w")
        routerd = subprocess.Popen([os.path.join(bindir, "routerd"), "-c", gfile, "-s", sock], stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        port = spare_port = 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and routerd.poll() is None:
            try:
                port = fib_status(sock, "fib")["port"]
                spare_port = fib_status(sock, "spare")["port"]
                if port and spare_port:
                    break
            except (OSError, RuntimeError, ValueError):
                pass
            time.sleep(0.05)
        if not port:
            log.flush()
            sys.exit("fib-loss: routerd did not start:\n" + open(log.name).read())

        fpm = socket.create_connection(("127.0.0.1", port))
        fpm.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        fpm.sendall(base)
        while fib_routes(sock) < 1:
            time.sleep(0.01)
        s0 = sample(sock)
        time.sleep(a.seconds)
        s1 = sample(sock)
        before = rate(s0, s1)

        s1, s2, sent_s = load(sock, fpm, routes, "fib", a.routes + 1)
        load_s = s2[0] - s1[0]
        during = rate(s1, s2)
        time.sleep(a.seconds)
        s3 = sample(sock)
        after = rate(s2, s3)
        # The same load on tables the worker does not read.
        spare = socket.create_connection(("127.0.0.1", spare_port))
        spare.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        spare.sendall(base)
        while fib_routes(sock, "spare") < 1:
            time.sleep(0.01)
        s4, s5, _ = load(sock, spare, routes, "spare", a.routes + 1)
        busy = rate(s4, s5)
        spare.close()
        fpm.close()

        drops = s5[2] - s0[2]
        print(f"# {a.routes} IPv4 routes streamed over FPM/TCP while routerd forwards (1 worker, net_pcap infinite_rx "
              f"-> IpLookup -> 4 x net_null)")
        print(f"forwarding before (default route only): {before / 1e6:8.2f} Mpps")
        print(f"forwarding during the load ({load_s:.2f} s, {a.routes / load_s:,.0f} routes/s; "
              f"stream written in {sent_s:.2f} s): {during / 1e6:8.2f} Mpps")
        print(f"forwarding after (full table):          {after / 1e6:8.2f} Mpps")
        print(f"forwarding, full table, while the same routes load into the spare FIB: {busy / 1e6:8.2f} Mpps "
              f"(the reference; {(s5[0] - s4[0]):.2f} s)")
        print(f"loss during the load: {100 * (1 - during / busy):.1f} % (target < 10 %); against an idle CPU 0: "
              f"{100 * (1 - during / after):.1f} % of the full-table rate, {100 * (1 - during / before):.1f} % of "
              f"the default-route rate")
        print(f"packets dropped by IpLookup: {drops}")
        print(f"RESULT fib_loss routes={a.routes} load_s={load_s:.3f} before_mpps={before / 1e6:.3f} "
              f"during_mpps={during / 1e6:.3f} after_mpps={after / 1e6:.3f} busy_mpps={busy / 1e6:.3f} "
              f"loss={1 - during / busy:.4f} loss_vs_after={1 - during / after:.4f} "
              f"loss_vs_before={1 - during / before:.4f} dropped={drops}")
    finally:
        if routerd and routerd.poll() is None:
            routerd.send_signal(signal.SIGINT)
            try:
                routerd.wait(20)
            except subprocess.TimeoutExpired:
                routerd.kill()
                routerd.wait()
        if os.environ.get("WEFT_BENCH_KEEP"):
            print("kept", tmp)
        else:
            subprocess.run(["rm", "-rf", tmp], check=False)


if __name__ == "__main__":
    main()

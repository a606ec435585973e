#!/usr/bin/env python3
"""bench/soak.py — a long run of one router with everything moving at once
(run it through bench/soak.sh; not part of CI).

    SOAK_SECONDS=3600 bench/soak.sh [BUILD_DIR]

One routerd, a fleet member (its graph comes from etcd), forwards on one
worker (lcore 1) while this script, on CPU 0 with routerd's control thread:

  - puts a new graph for it in etcd every SOAK_RELOAD_EVERY s (1): two graphs
    that differ in one element, alternately, so every put is a hot reload
    (the fleet agent's watch, validation, the reload transaction);
  - plays zebra on the Fib service's FPM port: a default route, then
    SOAK_ROUTES (1000) /24 routes churned in chunks every 100 ms (added,
    replaced as DEL+NEW in one frame, deleted), and every
    SOAK_FPM_RECONNECT_EVERY s (60) a new connection replaying the table
    (the Fib's mark and sweep);
  - stops the SVP server (tools/svp-server) every SOAK_SVP_EVERY s (30) for
    3 s (the Svp service reconnects; the resolver keeps its entries);
  - restarts etcd every SOAK_ETCD_EVERY s (120), alternately SIGTERM and
    SIGKILL, for 2 s (the router keeps forwarding, goes stale, reconnects);
  - reads `routerctl memory` and `status` every SOAK_SAMPLE_EVERY s (10).

    ip.pcap (net_pcap, replayed) -> rx_ip -> c -> lookup (IpLookup, Fib) -> tx_ip (net_null)
    l2.pcap (net_pcap, replayed) -> rx_l2 -> res (SvpResolver, Svp) -> enc (VxlanEncap) -> tx_l2 (net_null)
    graph B adds a Pass, `p`, between rx_l2 and res

Reported: resident memory, file descriptors, DPDK heap and memzones, the
packet pool at the start (after SOAK_WARMUP s, 30) and at the end (target:
flat); packets the reload transactions reported lost (target 0); packets
unaccounted for at the end, from routerd's final counters: received by the
ports, minus sent, minus dropped with a named reason (target 0); routerd
still running at the end and exiting 0 (crashes: 0). The samples go to
SOAK_OUT/samples.csv (a temporary directory unless set).
Last line: RESULT soak ...
"""
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def env(name, default):
    return type(default)(os.environ.get(name, default))


SECONDS = env("SOAK_SECONDS", 3600.0)
RELOAD_EVERY = env("SOAK_RELOAD_EVERY", 1.0)
SVP_EVERY = env("SOAK_SVP_EVERY", 30.0)
ETCD_EVERY = env("SOAK_ETCD_EVERY", 120.0)
FPM_RECONNECT_EVERY = env("SOAK_FPM_RECONNECT_EVERY", 60.0)
SAMPLE_EVERY = env("SOAK_SAMPLE_EVERY", 10.0)
WARMUP = env("SOAK_WARMUP", 30.0)
ROUTES = env("SOAK_ROUTES", 1000)
SVP_DOWN_S, ETCD_DOWN_S = 3.0, 2.0
NODE = "soak"
VNI = 100
MACS = [f"02:08:20:00:00:{i:02x}" for i in range(1, 17)]  # overlay destinations Portolan knows


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def control(sock_path, cmd, args=None, timeout=10):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
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


# --- traffic: pcap files written by hand --------------------------------------------------------

def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for fr in frames:
            f.write(struct.pack("<IIII", 0, 0, len(fr), len(fr)) + fr)


def mac(s):
    return bytes(int(x, 16) for x in s.split(":"))


def ipv4_udp(src, dst, payload=18):
    total = 20 + 8 + payload
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0, 64, 17, 0, bytes(src), bytes(dst))
    s = sum(struct.unpack("!10H", hdr))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    hdr = hdr[:10] + struct.pack("!H", ~s & 0xFFFF) + hdr[12:]
    return hdr + struct.pack("!HHHH", 1024, 2048, 8 + payload, 0) + bytes(payload)


def ip_frames():
    """Packets to 10.A.B.1 across the churned /24s (and beyond them: the default route)."""
    out = []
    for i in range(0, max(ROUTES * 2, 256), max(1, ROUTES * 2 // 256)):
        dst = (10, (i >> 8) & 0xFF, i & 0xFF, 1)
        out.append(mac("02:00:00:00:01:0b") + mac("02:00:00:00:00:aa") + b"\x08\x00" +
                   ipv4_udp((192, 168, 0, 1), dst))
    return out


def l2_frames():
    return [mac(m) + mac("02:00:00:00:00:bb") + b"\x08\x00" + ipv4_udp((10, 99, 0, 1), (10, 99, 0, 2))
            for m in MACS for _ in range(4)]


# --- the graphs --------------------------------------------------------------------------------

def graph(variant, tmp, fpm_port, svp_port):
    lines = [
        f"name: soak-{variant}",
        "eal:",
        f"  args: [--no-huge, --no-shconf, --no-pci, -m, \"512\", --file-prefix=weftsoak{os.getpid()}]",
        "  log_level: \"*:notice\"",
        "workers: {lcores: [1], idle_sleep_us: 0}",
        "ports:",
        f"  in_ip: {{device: net_pcap0, args: \"rx_pcap={tmp}/ip.pcap,infinite_rx=1\"}}",
        f"  in_l2: {{device: net_pcap1, args: \"rx_pcap={tmp}/l2.pcap,infinite_rx=1\"}}",
        "  out_ip: net_null0",
        "  out_l2: net_null1",
        "services:",
        "  fib:",
        "    class: Fib",
        f"    listen: \"127.0.0.1:{fpm_port}\"",
        "    quiet: 0.5",
        "    grace: 5",
        f"    max_routes: {ROUTES + 1024}",
        "    tbl8: 1024",
        "    max_routes6: 1024",
        "    tbl8_6: 1024",
        "    interfaces: [{ifindex: 11, output: o1, mac: \"02:00:00:00:01:0b\"}]",
        "    neighbors: [{ip: 192.0.2.1, mac: \"02:00:00:00:00:01\"}, {ip: 192.0.2.2, mac: \"02:00:00:00:00:02\"}]",
        "  portolan:",
        "    class: Svp",
        f"    servers: [\"127.0.0.1:{svp_port}\"]",
        "    ttl: 5",
        "    negative_ttl: 2",
        "    timeout: 1",
        "    backoff_min: 0.1",
        "    backoff_max: 1",
        "    keepalive: 2",
        "elements:",
        "  rx_ip: {class: PortRx, port: in_ip}",
        "  c: Counter",
        "  lookup: {class: IpLookup, fib: fib, outputs: [o1]}",
        "  tx_ip: {class: PortTx, port: out_ip}",
        "  rx_l2: {class: PortRx, port: in_l2}",
        f"  res: {{class: SvpResolver, svp: portolan, vni: {VNI}, queue: 64}}",
        "  enc: {class: VxlanEncap, local_ip: 192.0.2.100, local_mac: \"02:00:00:00:00:64\","
        " remote_mac: \"02:00:00:00:00:fe\"}",
        "  tx_l2: {class: PortTx, port: out_l2}",
    ]
    if variant == "b":
        lines.append("  p: Pass")
    lines += ["connections:", "  - rx_ip -> c -> lookup", "  - lookup[o1] -> tx_ip",
              "  - rx_l2 -> p -> res" if variant == "b" else "  - rx_l2 -> res", "  - res -> enc -> tx_l2"]
    path = os.path.join(tmp, f"{variant}.yaml")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def mappings(path):
    with open(path, "w") as f:
        f.write("vl2:\n")
        for i, m in enumerate(MACS):
            f.write(f"  - {{mac: \"{m}\", vni: {VNI}, ip: 192.0.2.{11 + i}}}\n")


# --- zebra over FPM (netlink packed by hand, as tests/e2e/test_iplookup_golden.py) -------------

RTM_NEWROUTE, RTM_DELROUTE = 24, 25
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PRIORITY = 1, 4, 5, 6


def rta(kind, payload):
    a = struct.pack("=HH", 4 + len(payload), kind) + payload
    return a + b"\0" * ((4 - len(a) % 4) % 4)


def route_msg(add, prefix, plen, gw):
    body = struct.pack("=BBBBBBBBI", 2, plen, 0, 0, 254, 4, 0, 1, 0)
    body += rta(RTA_DST, bytes(prefix)) + rta(RTA_PRIORITY, struct.pack("=I", 20))
    if add:
        body += rta(RTA_GATEWAY, bytes(gw)) + rta(RTA_OIF, struct.pack("=I", 11))
    kind = RTM_NEWROUTE if add else RTM_DELROUTE
    return struct.pack("=IHHII", 16 + len(body), kind, 0x501, 0, 0) + body


def fpm_frame(*msgs):
    payload = b"".join(msgs)
    return struct.pack("!BBH", 1, 1, 4 + len(payload)) + payload


class Zebra(threading.Thread):
    """Churns routes on the Fib's FPM port until stopped; reconnects (replaying the table) on schedule."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.stop = port, threading.Event()
        self.present = {}  # route index -> gateway byte (1 or 2)
        self.updates = self.connections = self.errors = 0

    def prefix(self, i):
        return (10, (i >> 8) & 0xFF, i & 0xFF, 0)

    def connect(self):
        conn = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # zebra replays its table on every connection: the default route and what it holds now.
        msgs = [route_msg(True, (0, 0, 0, 0), 0, (192, 0, 2, 1))]
        msgs += [route_msg(True, self.prefix(i), 24, (192, 0, 2, g)) for i, g in self.present.items()]
        for k in range(0, len(msgs), 100):
            conn.sendall(fpm_frame(*msgs[k:k + 100]))
        self.connections += 1
        return conn

    def run(self):
        conn, since, cursor, tick = None, 0.0, 0, 0
        chunk = max(1, ROUTES // 10)
        while not self.stop.wait(0.1):
            try:
                if conn is None or time.monotonic() - since > FPM_RECONNECT_EVERY:
                    if conn:
                        conn.close()
                    conn, since = self.connect(), time.monotonic()
                msgs = []
                for i in range(cursor, cursor + chunk):
                    i %= ROUTES
                    if i not in self.present:  # add
                        self.present[i] = 1
                        msgs.append(route_msg(True, self.prefix(i), 24, (192, 0, 2, 1)))
                    elif tick % 2:  # replace: DEL and NEW in one frame, as zebra does
                        self.present[i] = 3 - self.present[i]
                        conn.sendall(fpm_frame(route_msg(False, self.prefix(i), 24, None),
                                               route_msg(True, self.prefix(i), 24, (192, 0, 2, self.present[i]))))
                        self.updates += 2
                    else:  # delete
                        del self.present[i]
                        msgs.append(route_msg(False, self.prefix(i), 24, None))
                if msgs:
                    conn.sendall(fpm_frame(*msgs))
                self.updates += len(msgs)
                cursor, tick = (cursor + chunk) % ROUTES, tick + 1
            except OSError as e:
                self.errors += 1
                log(f"zebra: {e}; connecting again")
                if conn:
                    conn.close()
                conn = None
        if conn:
            conn.close()


# --- processes ----------------------------------------------------------------------------------

class Procs:
    """Every process this script starts, stopped by pid (SIGTERM, then SIGKILL)."""

    def __init__(self):
        self.all = []

    def start(self, argv, out, **kw):
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, **kw)
        self.all.append(p)
        return p

    @staticmethod
    def stop(p, sig=signal.SIGTERM, timeout=20):
        if p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        return p.returncode

    def stop_all(self):
        for p in reversed(self.all):
            self.stop(p)


class Etcd:
    def __init__(self, procs, tmp):
        self.procs, self.tmp = procs, tmp
        self.port, self.peer = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc, self.restarts = None, 0

    def start(self):
        peer = f"http://127.0.0.1:{self.peer}"
        self.proc = self.procs.start(
            ["etcd", "--name", NODE, "--data-dir", os.path.join(self.tmp, "etcd"), "--listen-client-urls", self.url,
             "--advertise-client-urls", self.url, "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
             "--initial-cluster", f"{NODE}={peer}", "--logger", "zap",
             "--log-outputs", os.path.join(self.tmp, "etcd.log")], subprocess.DEVNULL)

    def healthy(self):
        import urllib.request
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=1) as r:
                return json.loads(r.read()).get("health") == "true"
        except Exception:
            return False

    def wait_healthy(self, timeout=30):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.healthy():
                return True
            time.sleep(0.1)
        return False


# --- the run ------------------------------------------------------------------------------------

def memory_row(m):
    heap = m["dpdk_heaps"][0] if m["dpdk_heaps"] else {}
    return {"rss_mib": m["rss_bytes"] / 2**20, "fds": m["fds"], "heap_alloc_mib": heap.get("allocated_bytes", 0) / 2**20,
            "heap_allocs": heap.get("allocations", 0), "memzones": m["dpdk_memzones"],
            "pool_in_use": m.get("packet_pool", {}).get("in_use", 0)}


def main():
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "build"))
    bindir = os.path.join(build, "bin")
    routerctl = os.path.join(bindir, "routerctl")
    out_dir = os.environ.get("SOAK_OUT") or tempfile.mkdtemp(prefix="weft-soak.")
    os.makedirs(out_dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="weft-soak-run.")
    # This script, etcd, svp-server and routerd's control thread share CPU 0; the worker has CPU 1.
    cpus = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpus[0]})
    procs = Procs()

    def on_signal(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)
    zebra = None
    try:
        write_pcap(os.path.join(tmp, "ip.pcap"), ip_frames())
        write_pcap(os.path.join(tmp, "l2.pcap"), l2_frames())
        fpm_port, svp_port = free_port(), free_port()
        ga, gb = graph("a", tmp, fpm_port, svp_port), graph("b", tmp, fpm_port, svp_port)
        mappings(os.path.join(tmp, "mappings.yaml"))
        svp_log = open(os.path.join(tmp, "svp-server.log"), "a")
        svp_argv = [os.path.join(bindir, "svp-server"), "-c", os.path.join(tmp, "mappings.yaml"),
                    "-l", f"127.0.0.1:{svp_port}"]
        svp = procs.start(svp_argv, svp_log)
        etcd = Etcd(procs, tmp)
        etcd.start()
        if not etcd.wait_healthy():
            sys.exit("soak: etcd did not start")
        sock, summary = os.path.join(tmp, "ctl.sock"), os.path.join(out_dir, "summary.json")
        rlog = open(os.path.join(out_dir, "routerd.log"), "w")
        routerd = procs.start([os.path.join(bindir, "routerd"), "-c", ga, "-s", sock, "--summary-json", summary,
                               "--etcd", etcd.url, "--node", NODE, "--etcd-lease-ttl", "10"], rlog)
        end = time.monotonic() + 60
        while time.monotonic() < end and routerd.poll() is None:
            try:
                control(sock, "status")
                break
            except (OSError, ValueError, RuntimeError):
                time.sleep(0.1)
        else:
            sys.exit("soak: routerd did not start (see " + rlog.name + ")")
        zebra = Zebra(fpm_port)
        zebra.start()

        def put(path):
            r = subprocess.run([routerctl, "fleet", "--etcd", etcd.url, "put", "-f", path, NODE],
                               capture_output=True, text=True, timeout=30)
            return r.returncode == 0

        t0 = time.monotonic()
        csv = open(os.path.join(out_dir, "samples.csv"), "w")
        csv.write("t_s,rss_mib,fds,heap_alloc_mib,heap_allocs,memzones,pool_in_use,reloads,reload_lost,"
                  "fleet_connected,svp_up,fib_routes\n")
        puts = puts_failed = svp_flaps = 0
        next_put = next_sample = t0
        next_svp, next_etcd = t0 + SVP_EVERY, t0 + ETCD_EVERY
        svp_back = etcd_back = None
        variant = 1
        first = last = None
        samples = []
        log(f"soak: {SECONDS:.0f} s; work files in {tmp}, results in {out_dir}")
        while True:
            now = time.monotonic()
            if now - t0 >= SECONDS:
                break
            if routerd.poll() is not None:
                log(f"soak: routerd exited with status {routerd.returncode}")
                break
            if now >= next_put:
                next_put += RELOAD_EVERY
                if put(gb if variant else ga):
                    puts += 1
                    variant ^= 1
                else:
                    puts_failed += 1
            if svp_back is None and now >= next_svp:
                Procs.stop(svp)
                svp_flaps += 1
                svp_back, next_svp = now + SVP_DOWN_S, next_svp + SVP_EVERY
            if svp_back is not None and now >= svp_back:
                svp, svp_back = procs.start(svp_argv, svp_log), None
            if etcd_back is None and now >= next_etcd:
                Procs.stop(etcd.proc, signal.SIGKILL if etcd.restarts % 2 else signal.SIGTERM)
                etcd.restarts += 1
                etcd_back, next_etcd = now + ETCD_DOWN_S, next_etcd + ETCD_EVERY
            if etcd_back is not None and now >= etcd_back:
                etcd.start()
                etcd_back = None
            if now >= next_sample:
                next_sample += SAMPLE_EVERY
                try:
                    m, st = control(sock, "memory"), control(sock, "status")
                    svc = {s["name"]: s["status"] for s in control(sock, "services")}
                except (OSError, ValueError, RuntimeError) as e:
                    log(f"soak: routerd did not answer: {e}")
                    continue
                row = memory_row(m)
                row.update(t_s=now - t0, reloads=st["reloads"], reload_lost=st["reload_packets_lost"],
                           fleet_connected=int(st.get("fleet", {}).get("connected", False)),
                           svp_up=int(svc.get("portolan", {}).get("state") == "up"),
                           fib_routes=svc.get("fib", {}).get("fib", {}).get("routes_ipv4", -1))
                csv.write(",".join(f"{row[k]:.3f}" if isinstance(row[k], float) else str(row[k]) for k in
                                   ("t_s", "rss_mib", "fds", "heap_alloc_mib", "heap_allocs", "memzones",
                                    "pool_in_use", "reloads", "reload_lost", "fleet_connected", "svp_up",
                                    "fib_routes")) + "\n")
                csv.flush()
                samples.append(row)
                if first is None and row["t_s"] >= WARMUP:
                    first = row
                last = row
                log(f"t={row['t_s']:6.0f}s rss {row['rss_mib']:7.1f} MiB, {row['fds']} fds, heap "
                    f"{row['heap_alloc_mib']:.1f} MiB/{row['heap_allocs']} blocks, {row['memzones']} memzones, "
                    f"pool in use {row['pool_in_use']}, reloads {row['reloads']} (lost {row['reload_lost']}), "
                    f"etcd {'up' if row['fleet_connected'] else 'DOWN'}, svp {'up' if row['svp_up'] else 'DOWN'}, "
                    f"{row['fib_routes']} routes")
            time.sleep(0.05)
        elapsed = time.monotonic() - t0
        zebra.stop.set()
        zebra.join(10)
        alive = routerd.poll() is None
        status = control(sock, "status") if alive else {}
        rc = Procs.stop(routerd, signal.SIGTERM, 60)
        with open(summary) as f:
            final = json.load(f)
        received = sum(p["rx_packets"] for p in final["ports"])
        sent = sum(p["tx_packets"] for p in final["ports"])
        drops = {}
        for e in final["elements"]:
            for w in e["workers"]:
                for reason, n in w["drops"].items():
                    if n:
                        drops[f"{e['id']}.{reason}"] = drops.get(f"{e['id']}.{reason}", 0) + n
        dropped = sum(drops.values())
        unaccounted = received - sent - dropped
        lost = status.get("reload_packets_lost", -1)
        reloads = status.get("reloads", 0)
        print()
        print(f"soak of {elapsed:.0f} s: {puts} graphs put ({puts_failed} puts failed while etcd was down), "
              f"{reloads} reloads applied; {etcd.restarts} etcd restarts, {svp_flaps} svp-server restarts, "
              f"{zebra.connections} FPM connections, {zebra.updates} route updates")
        if first and last:
            print(f"{'':24s} {'start':>10s} {'end':>10s} {'max':>10s}   (start: the first sample after "
                  f"{WARMUP:.0f} s, t={first['t_s']:.0f} s; end: t={last['t_s']:.0f} s)")
            for k, what in (("rss_mib", "resident MiB"), ("fds", "file descriptors"),
                            ("heap_alloc_mib", "DPDK heap allocated MiB"), ("heap_allocs", "DPDK heap blocks"),
                            ("memzones", "DPDK memzones"), ("pool_in_use", "packet pool in use")):
                mx = max(s[k] for s in samples if s["t_s"] >= first["t_s"])
                print(f"{what:24s} {first[k]:>10.1f} {last[k]:>10.1f} {mx:>10.1f}")
        print(f"packets: received {received}, sent {sent}, dropped {dropped} "
              f"({', '.join(f'{k} {v}' for k, v in sorted(drops.items())) or 'none'}), unaccounted {unaccounted}")
        print(f"packets lost to reloads (reported by the transactions): {lost}")
        print(f"routerd: {'running until the end' if alive else 'EXITED EARLY'}, exit status {rc} after SIGTERM")
        crashes = 0 if alive and rc == 0 else 1
        res = {"seconds": round(elapsed), "reloads": reloads, "lost": lost, "unaccounted": unaccounted,
               "crashes": crashes, "etcd_restarts": etcd.restarts, "svp_restarts": svp_flaps,
               "route_updates": zebra.updates}
        if first and last:
            res.update(rss_start_mib=round(first["rss_mib"], 1), rss_end_mib=round(last["rss_mib"], 1),
                       fds_start=first["fds"], fds_end=last["fds"],
                       heap_start_mib=round(first["heap_alloc_mib"], 2), heap_end_mib=round(last["heap_alloc_mib"], 2),
                       memzones_start=first["memzones"], memzones_end=last["memzones"])
        print("RESULT soak " + " ".join(f"{k}={v}" for k, v in res.items()))
        return 0 if crashes == 0 and lost == 0 and unaccounted == 0 else 1
    except KeyboardInterrupt:
        log("soak: interrupted")
        return 130
    finally:
        if zebra:
            zebra.stop.set()
        procs.stop_all()
        if os.environ.get("SOAK_KEEP"):
            log(f"soak: work files kept in {tmp}")
        else:
            subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    sys.exit(main())

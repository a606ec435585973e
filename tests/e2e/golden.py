"""Shared pieces of the golden pcap tests: pcap files, routerd on net_pcap
vdevs, and reading its statistics.

    with GoldenRun(bindir, graph_text) as run:     # routerd started, socket ready
        run.wait(lambda stats: counted(stats) == n) # polls `routerctl --json stats`
    frames = read_pcap(out_path)                    # after routerd stopped (pcaps flushed)

routerd is stopped with SIGTERM when the block ends (killed by pid if it does
not stop), so the capture files are complete.
"""
import json
import os
import signal
import struct
import subprocess
import time


class Failure(Exception):
    pass


def read_pcap(path):
    """The packets of a pcap file, as bytes, in order."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        raise Failure(f"{path}: {len(data)} bytes, too short for a pcap file header")
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        end = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        end = ">"
    else:
        raise Failure(f"{path}: not a pcap file (magic {magic.hex()})")
    recs, off = [], 24
    while off < len(data):
        _, _, caplen, wirelen = struct.unpack_from(end + "IIII", data, off)
        off += 16
        if caplen != wirelen:
            raise Failure(f"{path}: record {len(recs)} caplen {caplen} != wire length {wirelen}")
        recs.append(data[off:off + caplen])
        off += caplen
    return recs


def write_pcap(path, frames):
    """Writes raw frames (bytes) as an Ethernet pcap file."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", i, 0, len(fr), len(fr)))
            f.write(fr)


def element(stats, eid):
    for e in stats["elements"]:
        if e["id"] == eid:
            return e
    raise Failure(f"stats --json has no element '{eid}'")


def drops_of(e):
    """Drop counts by reason, summed over workers."""
    total = {}
    for w in e["workers"]:
        for k, v in w["drops"].items():
            total[k] = total.get(k, 0) + v
    return total


def outputs_of(e):
    """Packets per output, summed over workers."""
    total = {}
    for w in e["workers"]:
        for o in w["outputs"]:
            total[o["name"]] = total.get(o["name"], 0) + o["packets"]
    return total


def compare(name, got, want):
    """Raises Failure describing the first difference between two frame lists."""
    if got == want:
        return
    lines = [f"{name}: {len(got)} frame(s) out, {len(want)} expected"]
    for i in range(max(len(got), len(want))):
        g = got[i] if i < len(got) else None
        w = want[i] if i < len(want) else None
        if g != w:
            lines.append(f"  frame {i}: got  {g.hex() if g else '(none)'}")
            lines.append(f"  frame {i}: want {w.hex() if w else '(none)'}")
            break
    raise Failure("\n".join(lines))


class GoldenRun:
    """routerd on a graph, its control socket ready; stopped when the block ends."""

    def __init__(self, bindir, graph_text, workdir, timeout=20.0, args=()):
        self.bindir = os.path.abspath(bindir)
        self.args = list(args)  # more routerd arguments (e.g. --plugin-path DIR)
        self.workdir = workdir
        self.timeout = timeout
        self.graph = os.path.join(workdir, "graph.yaml")
        self.sock = os.path.join(workdir, "ctl.sock")
        with open(self.graph, "w") as f:
            f.write(graph_text)
        self.proc = None

    def ctl(self, *args):
        return subprocess.run([os.path.join(self.bindir, "routerctl"), "-s", self.sock, *args],
                              capture_output=True, text=True, timeout=30)

    def stats(self):
        r = self.ctl("--json", "stats")
        if r.returncode != 0:
            raise Failure(f"routerctl stats failed: {r.stderr.strip()}")
        return json.loads(r.stdout)

    def __enter__(self):
        self.log = open(os.path.join(self.workdir, "routerd.log"), "w")
        self.proc = subprocess.Popen([os.path.join(self.bindir, "routerd"), "-c", self.graph, "-s", self.sock, *self.args],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.timeout
        while self.ctl("status").returncode != 0:
            if self.proc.poll() is not None:
                raise Failure("routerd exited at start:\n" + open(self.log.name).read())
            if time.monotonic() > deadline:
                raise Failure("routerd did not answer within the timeout")
            time.sleep(0.05)
        return self

    def wait(self, done):
        """Polls the statistics until done(stats) is true; returns them."""
        deadline = time.monotonic() + self.timeout
        while True:
            st = self.stats()
            if done(st):
                return st
            if time.monotonic() > deadline:
                raise Failure("timed out waiting for the counters:\n" + json.dumps(st["elements"], indent=1))
            time.sleep(0.05)

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return False

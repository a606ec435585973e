"""The one harness every end-to-end test (tests/e2e/test_*.py) is written with,
as grout's smoke tests share one _init.sh. A test reads as its docstring (the
topology drawn, the steps), its graph(s), and one function of steps and checks:

    import harness

    GRAPH = \"\"\"...\"\"\"

    def main(t):
        with t.routerd(GRAPH) as r:      # own socket and log in t.tmp; returns once the socket answers
            st = r.wait_stats(lambda s: harness.element(s, "c")["total"]["out"] > 0)
            t.check(r.read_handler("c", "count").ok, "handler read c count")

    if __name__ == "__main__":
        harness.run(main)

run() parses --bin, --test-plugins, --keep and -v (and whatever a test adds
with `flags=`), makes the temporary directory t.tmp, runs main(t), prints
each check as it is made and a summary, and exits

     0  every check passed,
     1  a check failed, or the test raised (t.require/t.fail stop it at once),
    77  t.skip(reason) / t.needs(program): CTest's SKIP_RETURN_CODE; a skip
        fails the CI run unless tests/skip-allowlist.txt names the test.

Whatever the test started is stopped when main returns, raises, or the test
gets SIGINT/SIGTERM: every routerd (SIGTERM, then SIGKILL by pid), every lab
(weftlab.netns.Lab: processes by pid, links and namespaces by name), every
t.at_cleanup() callable. When a check failed, routerd's logs (and every
t.log_on_failure() file) are printed and t.tmp is kept. docs/testing.md
walks through writing a test.
"""
import argparse
import atexit
import contextlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
SKIP = 77

# scapy comes from Debian's python3-scapy: under another python3 (a pyenv shim
# first on PATH), the test runs again with /usr/bin/python3.
if importlib.util.find_spec("scapy") is None and os.environ.get("WEFT_E2E_REEXEC") != "1" \
        and os.path.exists("/usr/bin/python3") \
        and os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3"):
    os.environ["WEFT_E2E_REEXEC"] = "1"
    os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)

# Namespaces, veth pairs and their processes: the lab runner's helper.
sys.path.insert(0, os.path.join(REPO, "tools", "lab"))
from weftlab.netns import Lab, wait_until  # noqa: E402,F401  (re-exported for the tests)


class Failure(Exception):
    """Raised to stop a test that cannot go on; it ends as failed."""

    def __init__(self, what, detail="", recorded=False):
        super().__init__(what + (f"\n{detail}" if detail else ""))
        self.what, self.detail, self.recorded = what, detail, recorded


class Skip(Exception):
    """Raised by t.skip(): the test ends with exit status 77."""


class Result(subprocess.CompletedProcess):
    """A finished command: returncode, stdout, stderr (text), plus .ok and .json()."""

    @property
    def ok(self):
        return self.returncode == 0

    def json(self):
        return json.loads(self.stdout)


def _result(cp):
    return Result(cp.args, cp.returncode, cp.stdout, cp.stderr)


def _tail(path, lines=80):
    try:
        with open(path, errors="replace") as f:
            text = f.read().rstrip("\n").split("\n")
    except OSError:
        return None
    return "\n".join(text[-lines:])


# --------------------------------------------------------------------------
# The test
# --------------------------------------------------------------------------
class Test:
    """What main(t) gets: the arguments, a temporary directory, checks,
    routerd, routerctl, labs and processes that are cleaned up whatever happens."""

    def __init__(self, args, name):
        self.args = args
        self.name = name
        self.verbose = args.verbose
        self.bin = os.path.abspath(args.bin)
        self.test_plugins = os.path.abspath(args.test_plugins)
        self.tmp = tempfile.mkdtemp(prefix=f"weft-{name}-")
        os.chmod(self.tmp, 0o755)  # daemons run as another user (FRR) read their files here
        self.passed, self.failed = [], []
        self._cleanups = []
        self._logs = []
        self._routerds = []
        self._names = set()
        self._keeper = Lab("t")  # processes started outside any lab of the test's
        self._t0 = time.monotonic()
        self._cleaned = False

    # --- files ----------------------------------------------------------
    def path(self, *parts):
        """A path inside t.tmp."""
        return os.path.join(self.tmp, *parts)

    def write(self, name, text):
        """Writes text to t.tmp/name; returns the path."""
        p = self.path(name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(text)
        return p

    def exe(self, program):
        """A program of the build tree (routerd, routerctl, svp-server)."""
        return os.path.join(self.bin, program)

    def unique(self, name):
        """name, or name2, name3... so two things of a test never share files."""
        n, i = name, 1
        while n in self._names:
            i += 1
            n = f"{name}{i}"
        self._names.add(n)
        return n

    # --- checks ---------------------------------------------------------
    def check(self, cond, what, detail=""):
        """Records a named check, prints it (with detail when it failed); returns cond."""
        ok = bool(cond)
        stamp = f"[{time.monotonic() - self._t0:5.1f}s] "
        text = ("ok   " if ok else "FAIL ") + stamp + what
        if not ok and detail:
            text += "\n     " + str(detail).strip().replace("\n", "\n     ")
        print(text, flush=True)
        (self.passed if ok else self.failed).append(what)
        return cond

    def require(self, cond, what, detail=""):
        """A check the rest of the test depends on: when it fails, the test stops."""
        if not self.check(cond, what, detail):
            raise Failure(what, detail, recorded=True)
        return cond

    def fail(self, what, detail=""):
        """A failed check that stops the test."""
        self.require(False, what, detail)

    @contextlib.contextmanager
    def step(self, what):
        """A named check around code that raises Failure (a step with many
        conditions): ok if the block ends normally, else FAIL with the reason,
        and the test stops."""
        try:
            yield
        except Failure as e:
            if e.recorded:
                raise
            self.check(False, what, str(e))
            raise Failure(what, str(e), recorded=True)
        self.check(True, what)

    def skip(self, reason):
        """Stops the test as skipped (exit status 77) — never as passed."""
        raise Skip(reason)

    def needs(self, *programs):
        """Skips the test unless every program (a name on PATH or a path) can be run."""
        for prog in programs:
            if not (shutil.which(prog) or os.access(prog, os.X_OK)):
                self.skip(f"{prog} is not installed or built")

    def info(self, text):
        """Prints indented text between the checks."""
        print("\n".join(("     " + ln).rstrip() for ln in str(text).strip().split("\n")), flush=True)

    # --- cleanup --------------------------------------------------------
    def at_cleanup(self, fn):
        """Runs fn() when the test ends, whatever happened (last registered, first run)."""
        self._cleanups.append(fn)
        return fn

    def log_on_failure(self, path, label=None):
        """Prints the end of this file when a check failed."""
        self._logs.append((label or os.path.relpath(path, self.tmp), path))

    # --- processes ------------------------------------------------------
    def run(self, argv, timeout=60, **kw):
        """Runs a command to completion (killed after timeout); a Result."""
        return _result(subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw))

    def routerctl(self, *args, sock=None, timeout=30, env=None):
        """routerctl [-s sock] args...; a Result."""
        argv = [self.exe("routerctl")] + (["-s", sock] if sock else []) + list(args)
        return self.run(argv, timeout=timeout, env=env)

    def validate(self, path):
        """routerctl validate must accept the graph (its errors read better than routerd's)."""
        r = self.routerctl("validate", path)
        self.require(r.ok, f"routerctl validate accepts {os.path.basename(path)}", r.stderr)

    def routerd(self, graph=None, file=None, name="routerd", args=(), lab=None, ns=None, wait=True, timeout=30,
                start=True, check=None, bindir=None):
        """A Routerd on graph text (written to t.tmp) or a graph file, started
        (and, with wait, answering on its control socket) unless start=False.
        It raises Failure if routerd does not come up; with check="what", it
        records that as a named check instead (test r.alive() after).
        bindir: another routerd and routerctl than the build tree's (an install)."""
        r = Routerd(self, graph=graph, file=file, name=name, args=args, lab=lab, ns=ns, timeout=timeout,
                    bindir=bindir)
        if start:
            r.start(wait=wait, check=check)
        return r

    def lab(self, tag):
        """A weftlab.netns.Lab (use it with `with`), closed at the end in any case."""
        lab = Lab(tag)
        self.at_cleanup(lab.close)
        return lab

    def spawn(self, argv, lab=None, ns=None, **kw):
        """A background process (in namespace ns of lab), killed by pid at the end."""
        return (lab or self._keeper).spawn(ns, argv, **kw)

    def weft_lab(self, *args):
        """The argv of tools/weft-lab (the lab runner) on this build, with args."""
        return [sys.executable, os.path.join(REPO, "tools", "weft-lab"), "--bin", self.bin, *args]

    # --- the run ----------------------------------------------------------
    def _on_signal(self, signum, frame):
        raise _Interrupted(signum)

    def _cleanup(self):
        if self._cleaned:
            return
        self._cleaned = True
        while self._cleanups:
            fn = self._cleanups.pop()
            try:
                fn()
            except Exception as e:  # the rest of the teardown goes on
                print(f"cleanup: {type(e).__name__}: {e}", flush=True)
        self._keeper.close()

    def _print_logs(self):
        for r in self._routerds:
            for label, path in ((r.name + " stdout", r.log_path), (r.name + " stderr", r.err_path)):
                text = _tail(path)
                if text:
                    print(f"--- {label} ({path}, last lines) ---\n{text}", flush=True)
        for label, path in self._logs:
            text = _tail(path)
            if text:
                print(f"--- {label} ({path}, last lines) ---\n{text}", flush=True)

    def _run(self, body):
        old = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        atexit.register(self._cleanup)
        skipped, code = None, None
        try:
            body(self)
        except Skip as e:
            skipped = str(e)
        except Failure as e:
            if not e.recorded:
                self.check(False, e.what, e.detail)
        except _Interrupted as e:
            self.check(False, f"interrupted by {signal.Signals(e.signum).name}")
            code = 128 + e.signum
        except SystemExit as e:  # a lab's signal handler (128 + signal), or an explicit exit
            code = e.code if isinstance(e.code, int) and e.code not in (0, SKIP) else 1
            sig = code - 128 if 128 < code < 128 + signal.NSIG else 0
            self.check(False, f"interrupted by {signal.Signals(sig).name}" if sig else f"the test exited ({e.code})")
        except Exception as e:  # a bug in the test or an unexpected environment
            traceback.print_exc()
            self.check(False, f"unexpected {type(e).__name__}: {e}")
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, signal.SIG_IGN)  # the teardown must finish
            self._cleanup()
            for sig, h in old.items():
                signal.signal(sig, h)
        if not self.failed and skipped is None and not self.passed:
            self.check(False, "the test made no check")
        if self.failed:
            self._print_logs()
        if self.failed or self.args.keep:
            print(f"(files kept in {self.tmp})")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
        print(f"{len(self.passed)} passed, {len(self.failed)} failed", flush=True)
        if self.failed:
            print("failed: " + "; ".join(self.failed), flush=True)
            return code or 1
        if skipped is not None:
            print(f"SKIP: {skipped}", flush=True)
            return SKIP
        return 0


class _Interrupted(BaseException):
    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def run(body, flags=None):
    """The entry point: parses the arguments, runs body(t), exits 0, 1 or 77.
    flags(parser) adds the test's own arguments (argparse)."""
    main = sys.modules["__main__"]
    doc = (main.__doc__ or "").strip()
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0] if doc else None)
    ap.add_argument("--bin", default=os.path.join(REPO, "build", "bin"),
                    help="the build tree's bin directory (routerd, routerctl, svp-server)")
    ap.add_argument("--test-plugins", default=os.path.join(REPO, "build", "test-plugins"),
                    help="the build tree's test plugins")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (kept anyway on failure)")
    ap.add_argument("-v", "--verbose", action="store_true", help="say more (what the test expects of each input)")
    if flags:
        flags(ap)
    args = ap.parse_args()
    name = os.path.splitext(os.path.basename(main.__file__ if hasattr(main, "__file__") else "test"))[0]
    name = name[len("test_"):] if name.startswith("test_") else name
    sys.exit(Test(args, name.replace("_", "-"))._run(body))


def run_lab(lab, needs=()):
    """The entry point of a test that is a lab file of graphs/labs/ run by
    tools/weft-lab: it passes when the runner does (its output streams
    through); skipped when a program in needs is missing."""
    def main(t):
        t.needs(*needs)
        print(f"weft-lab run graphs/labs/{lab}", flush=True)
        # A Popen the harness stops with SIGTERM, so the runner tears its lab down whatever happens.
        p = t.spawn(t.weft_lab("run", os.path.join(REPO, "graphs", "labs", lab)))
        rc = p.wait(timeout=600)
        t.check(rc == 0, f"lab {lab}: every check passed (weft-lab exit status {rc})")
    run(main)


# --------------------------------------------------------------------------
# routerd
# --------------------------------------------------------------------------
class Routerd:
    """One routerd: its graph, control socket, stdout (NAME.log) and stderr
    (NAME.err) in t.tmp, started in the root namespace or in `ns` of `lab`.
    Stopped (SIGTERM, then SIGKILL by pid) when its `with` block ends, and in
    any case when the test ends."""

    def __init__(self, t, graph=None, file=None, name="routerd", args=(), lab=None, ns=None, timeout=30,
                 bindir=None):
        self.t = t
        self.bin = os.path.abspath(bindir) if bindir else t.bin
        self.name = t.unique(name)
        if graph is not None:
            file = t.write(f"{self.name}.yaml", graph)
        self.file = os.path.abspath(file) if file else None  # None: routerd starts without -c (fleet)
        self.sock = t.path(f"{self.name}.sock")
        self.log_path = t.path(f"{self.name}.log")
        self.err_path = t.path(f"{self.name}.err")
        self.args = list(args)
        self.lab, self.ns = lab, ns
        self.timeout = timeout
        self.proc = None
        t._routerds.append(self)
        t.at_cleanup(self.stop)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    @property
    def pid(self):
        return self.proc.pid

    @property
    def returncode(self):
        return self.proc.returncode

    def argv(self):
        return [os.path.join(self.bin, "routerd")] + (["-c", self.file] if self.file else []) + ["-s", self.sock] \
            + self.args

    def start(self, wait=True, check=None):
        """Starts routerd; with wait, returns once its control socket answers.
        If it exits or does not answer in time: raises Failure (with its
        output), or, with check="what", records the failed check and returns."""
        up = self.answers if wait else (lambda: True)
        lab = self.lab or self.t._keeper
        # spawn_routerd starts again when DPDK's af_packet refused a PACKET_FANOUT group.
        self.proc = lab.spawn_routerd(self.ns, self.argv(), self.log_path, up, timeout=self.timeout,
                                      err_path=self.err_path, cwd=self.t.tmp)
        if not wait:
            return self
        problem = None
        if self.proc.poll() is not None:
            problem = f"{self.name} exited at start (status {self.proc.returncode})"
        elif not self.answers():
            problem = f"{self.name}: its control socket did not answer within {self.timeout} s"
        if check:
            self.t.check(problem is None, check, (problem or "") + "\n" + self.output()[-3000:])
        elif problem:
            raise Failure(problem, self.output()[-3000:])
        return self

    def answers(self):
        return self.ctl("status").ok

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=None, timeout=20):
        """Sends sig (SIGTERM) and waits; SIGKILL by pid after timeout. Its exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig or signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def stdout(self):
        return _tail(self.log_path, lines=1 << 30) or ""

    def stderr(self):
        return _tail(self.err_path, lines=1 << 30) or ""

    def output(self):
        return self.stdout() + "\n" + self.stderr()

    def wait_output(self, text, timeout=20):
        """Waits until routerd has printed text (stdout or stderr)."""
        return wait_until(lambda: text in self.output(), timeout=timeout)

    # --- routerctl ------------------------------------------------------
    def ctl(self, *args, timeout=30, env=None):
        """routerctl -s SOCK args...; a Result."""
        return self.t.run([os.path.join(self.bin, "routerctl"), "-s", self.sock, *args], timeout=timeout, env=env)

    def json(self, *args):
        """routerctl --json args..., parsed; raises Failure if routerctl fails."""
        r = self.ctl("--json", *args)
        if not r.ok:
            raise Failure(f"routerctl --json {' '.join(args)} exited {r.returncode}", r.stderr.strip())
        return r.json()

    def stats(self):
        return self.json("stats")

    def status(self):
        return self.json("status")

    def reload(self, file, json=False):
        """routerctl [--json] reload FILE; a Result."""
        return self.ctl(*(["--json"] if json else []), "reload", file)

    def read_handler(self, eid, handler):
        return self.ctl("handler", "read", eid, handler)

    def write_handler(self, eid, handler, value):
        return self.ctl("handler", "write", eid, handler, str(value))

    def wait_for(self, cond, what, timeout=None):
        """Polls cond() until it returns something true, and returns that.
        Raises Failure if routerd exits or the timeout passes first."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            if self.proc.poll() is not None:
                raise Failure(f"{self.name} exited ({self.proc.returncode}) while waiting for {what}")
            v = cond()
            if v:
                return v
            if time.monotonic() > deadline:
                raise Failure(f"timed out waiting for {what}")
            time.sleep(0.05)

    def wait_stats(self, done, timeout=None, what="the counters", fail=True):
        """Polls `routerctl --json stats` until done(stats); returns those stats.
        Raises Failure if routerd exits or the timeout passes first (with
        fail=False, returns the last stats read instead, or None)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        st = None
        while True:
            if self.proc.poll() is not None:
                if not fail:
                    return st
                raise Failure(f"{self.name} exited ({self.proc.returncode}) while waiting for {what}")
            r = self.ctl("--json", "stats")
            if r.ok:
                st = r.json()
                if done(st):
                    return st
            if time.monotonic() > deadline:
                if not fail:
                    return st
                last = json.dumps({e["id"]: e["total"] for e in st["elements"]}) if st else r.stderr.strip()
                raise Failure(f"timed out waiting for {what}", last)
            time.sleep(0.05)


# --------------------------------------------------------------------------
# routerctl --json stats
# --------------------------------------------------------------------------
def element(stats, eid):
    """One element's entry of `routerctl --json stats`."""
    for e in stats["elements"]:
        if e["id"] == eid:
            return e
    raise Failure(f"stats --json has no element '{eid}'")


def totals(stats):
    """{element id: its total (in, out, dropped...)}."""
    return {e["id"]: e["total"] for e in stats["elements"]}


def outputs_of(e):
    """Packets per output of an element, summed over workers."""
    total = {}
    for w in e["workers"]:
        for o in w["outputs"]:
            total[o["name"]] = total.get(o["name"], 0) + o["packets"]
    return total


def output(stats, eid, name):
    """(packets, bytes) of output `name` of element eid, summed over workers."""
    pk = by = 0
    for w in element(stats, eid)["workers"]:
        for o in w["outputs"]:
            if o["name"] == name:
                pk += o["packets"]
                by += o["bytes"]
    return pk, by


def drops_of(e):
    """Drop counts of an element by reason, summed over workers."""
    total = {}
    for w in e["workers"]:
        for k, v in w["drops"].items():
            total[k] = total.get(k, 0) + v
    return total


def port(stats, name):
    """One port's counters of `routerctl --json stats`."""
    for p in stats["ports"]:
        if p["name"] == name:
            return p
    raise Failure(f"stats --json has no port '{name}'")


# --------------------------------------------------------------------------
# pcap files
# --------------------------------------------------------------------------
def read_pcap(path):
    """The packets of a pcap file (either byte order, micro- or nanoseconds), as bytes, in order."""
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
        if off + 16 > len(data):
            raise Failure(f"{path}: record {len(recs)} header cut short")
        _, _, caplen, wirelen = struct.unpack_from(end + "IIII", data, off)
        off += 16
        if caplen != wirelen:
            raise Failure(f"{path}: record {len(recs)} caplen {caplen} != wire length {wirelen}")
        recs.append(data[off:off + caplen])
        off += caplen
    return recs


def write_pcap(path, frames):
    """Writes raw frames (bytes), exactly, as an Ethernet pcap file."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", i, 0, len(fr), len(fr)))
            f.write(fr)


def frames_diff(got, want, describe=None):
    """'' if the two frame lists are equal; else their counts and the first
    differing frame in hex (and describe(frame) of each, if given)."""
    if got == want:
        return ""
    lines = [f"{len(got)} frame(s), {len(want)} expected"]
    for i in range(max(len(got), len(want))):
        g = got[i] if i < len(got) else None
        w = want[i] if i < len(want) else None
        if g != w:
            lines.append(f"frame {i}: got  {g.hex() if g else '(none)'}")
            lines.append(f"frame {i}: want {w.hex() if w else '(none)'}")
            if describe and g:
                lines.append(f"  got:  {describe(g)}")
            if describe and w:
                lines.append(f"  want: {describe(w)}")
            break
    return "\n".join(lines)


# --------------------------------------------------------------------------
# odds and ends
# --------------------------------------------------------------------------
# A bad peer for SVP clients (`python3 -c GARBAGE_SVP_SERVER PORT`): listens
# on 127.0.0.1:PORT, answers the first connection with 64 bytes that are no
# SVP message, closes it and goes away.
GARBAGE_SVP_SERVER = """
import socket, sys
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", int(sys.argv[1])))
ls.listen(1)
ls.settimeout(20)
c, _ = ls.accept()
ls.close()
c.sendall(bytes([0xff]) * 64)
c.close()
"""


def free_port():
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

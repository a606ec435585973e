#!/usr/bin/env python3
"""The lab runner itself (tools/weft-lab), on the smallest lab (tests/labs/wire.yaml:
two hosts joined through routerd running a wire):

  1. a lab file full of mistakes: `weft-lab validate` reports each one as
     FILE:LINE:COL and exits 1, before anything is created;
  2. two runs of the same lab at once both pass (names carry the pid);
  3. a check that fails: exit status 1, a FAIL line naming it, routerd's log,
     and nothing left behind; the `neighbor` check passes on an entry the
     host's kernel learned and fails on a static (PERMANENT) one unless the
     check asks for that state;
  4. a lab held up with --keep, then stopped by SIGTERM, and another by
     SIGINT (Ctrl-C): both tear everything down (namespaces, routerd).

"Nothing left behind" means: no network namespace with the run's tag, and
the routerd the run started (its pid, from the run's output) is gone.

Usage: test_lab_runner.py --bin build/bin
"""
import os
import re
import signal
import subprocess
import time

import harness
from harness import REPO

WIRE = os.path.join(REPO, "tests", "labs", "wire.yaml")


BROKEN = """name: broken
graph: ../../tests/labs/wire.graph.yaml
hosts:
  router:
    interfaces: {ra: {}, rb: {}}
  left:
    interfaces:
      eth0: {addresses: [10.9.0.1], mac: "02:00:00:00:00:zz"}
  right:
    interfaces: {eth0: {typ: veth}}
links:
  - [left:eth0, router:ra]
  - [right:eth0, nowhere:rb]
frr: {host: router}
checks:
  - ping: {from: left, to: 10.9.0.299}
  - tcp: {from: left, to: 10.9.0.2}
  - mtr: {from: left}
  - fib: {prefix: 10.9.0.1/24}
  - tracepath: {from: left, to: 10.9.0.2, pmtu: 20}
  - bgp: {host: left, peer: 10.9.0.2}
"""


def namespaces(tag):
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.split() and line.split()[0].endswith(tag)]


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def left_behind(output, pid):
    """What a finished run with this output (and runner pid) left: [] if nothing."""
    rest = [f"namespace {n}" for n in namespaces(f"-wire-{pid}")]
    m = re.search(r"routerd \(pid (\d+)\)", output)
    if m and alive(int(m.group(1))):
        rest.append(f"routerd pid {m.group(1)}")
    return rest


def main(t):
    # 1. Mistakes, each with its position.
    broken = t.write(os.path.join("a", "b", "broken.yaml"), BROKEN.replace("../../tests", os.path.join(REPO, "tests")))
    r = t.run(t.weft_lab("validate", broken))
    err = r.stderr
    t.info(err)
    t.check(r.returncode == 1, "a broken lab file: exit status 1")
    for line, col, text in [(8, 26, "'10.9.0.1' is not ADDRESS/PREFIXLEN"), (8, 42, "bad MAC address"),
                            (10, 25, "unknown key 'typ'"), (13, 18, "unknown host 'nowhere'"),
                            (14, 6, "missing required key 'fpm_port'"), (16, 28, "'to' is not an IP address"),
                            (17, 10, "missing required key 'server'"), (18, 5, "exactly one of"),
                            (19, 19, "'prefix' is not a network prefix"), (20, 49, "pmtu is the path MTU"),
                            (21, 17, "host 'left' runs no FRR")]:
        t.check(f"{broken}:{line}:{col}: error: " in err and text in err.split(f"{broken}:{line}:{col}: error: ",
                                                                               1)[-1].split("\n")[0],
                f"reported at {line}:{col}: {text}")
    r = t.run(t.weft_lab("validate", WIRE))
    t.check(r.returncode == 0 and "ok (3 hosts, 2 links, 2 checks" in r.stdout, "the wire lab validates",
            r.stdout + r.stderr)

    # 2. Two runs at once (runners the harness stops by pid if the test ends early).
    def runner(*args):
        return t.spawn(t.weft_lab(*args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    runs = [runner("run", WIRE) for _ in range(2)]
    outs = [p.communicate(timeout=180)[0] for p in runs]
    for i, (p, out) in enumerate(zip(runs, outs)):
        t.check(p.returncode == 0 and "PASS lab wire: 2 of 2 checks passed" in out,
                f"parallel run {i + 1} of 2 passed", out)
        t.check(not left_behind(out, p.pid), f"parallel run {i + 1} left nothing behind",
                str(left_behind(out, p.pid)))

    # 3. A failing check.
    with open(WIRE) as f:
        text = f.read().replace("graph: wire.graph.yaml", f"graph: {os.path.join(REPO, 'tests/labs/wire.graph.yaml')}")
    # left also gets a static neighbour entry: the `neighbor` check tells it from a learned one.
    text = text.replace("    interfaces: {eth0: {addresses: [10.9.0.1/24]}}\n",
                        "    interfaces: {eth0: {addresses: [10.9.0.1/24]}}\n"
                        "    neighbors: [{ip: 10.9.0.99, mac: \"02:00:00:00:00:99\", dev: eth0}]\n", 1)
    failing = t.write("failing.yaml", text + "  - ping: {from: left, to: 10.9.0.77, count: 1}\n"
                                            "    name: nobody is at 10.9.0.77\n"
                                            "  - neighbor: {host: left, ip: 10.9.0.2, dev: eth0}\n"
                                            "    name: left learned right\n"
                                            "  - neighbor: {host: left, ip: 10.9.0.99, dev: eth0}\n"
                                            "    name: a static entry is not a learned one\n"
                                            "  - neighbor: {host: left, ip: 10.9.0.99, dev: eth0, state: [permanent],"
                                            " mac: \"02:00:00:00:00:99\"}\n"
                                            "    name: the static entry, asked for\n")
    p = runner("run", failing)
    out = p.communicate(timeout=120)[0]
    t.check(p.returncode == 1, "a failing check: exit status 1", out)
    t.check(re.search(r"^FAIL  nobody is at 10\.9\.0\.77 .*0 of 1 replies", out, re.M) is not None
            and "FAIL lab wire: 4 of 6 checks passed" in out, "the failing check is named, the others pass", out)
    t.check(re.search(r"^PASS  left learned right .*10\.9\.0\.2 dev eth0: \S+ (REACHABLE|STALE|DELAY)", out, re.M)
            is not None, "neighbor: an entry the kernel learned by ARP passes", out)
    t.check(re.search(r"^FAIL  a static entry is not a learned one .*02:00:00:00:00:99 PERMANENT", out, re.M)
            is not None and re.search(r"^PASS  the static entry, asked for ", out, re.M) is not None,
            "neighbor: a PERMANENT entry is not a learned one, unless asked for", out)
    t.check("--- routerd: last lines of" in out, "routerd's log is shown after a failure")
    t.check(not left_behind(out, p.pid), "the failed run left nothing behind", str(left_behind(out, p.pid)))

    # 4. Held up, then SIGTERM / SIGINT.
    for sig in (signal.SIGTERM, signal.SIGINT):
        p = runner("run", "--keep", WIRE)
        out = ""
        t0 = time.monotonic()
        while "stays up until Ctrl-C" not in out and time.monotonic() - t0 < 120:
            line = p.stdout.readline()
            if not line:
                break
            out += line
        up = namespaces(f"-wire-{p.pid}")
        t.check(len(up) == 3, f"--keep: the lab is up ({len(up)} namespaces) and waits", out)
        p.send_signal(sig)
        out += p.communicate(timeout=60)[0]
        t.check(p.returncode in (128 + sig, -sig), f"{sig.name}: the runner exits ({p.returncode})")
        t.check(not left_behind(out, p.pid), f"{sig.name}: everything torn down", str(left_behind(out, p.pid)))


if __name__ == "__main__":
    harness.run(main)

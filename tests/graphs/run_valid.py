#!/usr/bin/env python3
"""Checks that `routerctl validate` accepts every valid graph.

    python3 tests/graphs/run_valid.py --routerctl build/bin/routerctl [--routerd build/bin/routerd]

Runs `routerctl validate FILE` (working directory: the repository root, FILE
relative to it) on tests/graphs/valid/*.yaml and graphs/*.yaml and checks
exit status 0, stdout `FILE: ok (...)` and an empty stderr (a valid example
has no warnings either).

With --routerd, each graph whose ports are all net_null devices is also run
for a moment (`routerd -c FILE -s SOCK --duration 0.3`, socket in a temporary
directory) and must exit 0: the validator and the runtime must agree.

A file whose leading comment has `# xfail: REASON` documents a known bug; it
is reported as XFAIL while rejected and as a failure once accepted.

Prints PASS/FAIL/XFAIL per file and finally `N passed, M failed`; exit status
1 if anything failed.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_broken import REPO, HERE, rel_path, run_validate, summarize, xfail_reason  # noqa: E402

RUN_SECONDS = "0.3"
RUN_TIMEOUT = 30


def only_null_ports(path):
    """True if every device in the file is a net_null vdev (safe to start here)."""
    with open(path) as f:
        text = f.read()
    devices = re.findall(r"device:\s*\"?([A-Za-z0-9_:.]+)", text)
    devices += re.findall(r"^\s+\w+:\s*(net_\w+)\s*$", text, re.M)  # `p0: net_null0` shorthand
    return bool(devices) and all(d.startswith("net_null") for d in devices)


def check_validate(routerctl, rel):
    problems = []
    r = run_validate(routerctl, rel)
    if r.returncode != 0:
        problems.append(f"exit status {r.returncode}, expected 0")
    if not r.stdout.startswith(f"{rel}: ok"):
        problems.append(f"stdout is {r.stdout.strip()!r}, expected '{rel}: ok (...)'")
    if r.stderr:
        problems.append("stderr: " + r.stderr.rstrip().replace("\n", "\n    "))
    return problems


def check_run(routerd, rel, tmp):
    sock = os.path.join(tmp, "s.sock")
    try:
        r = subprocess.run([routerd, "-c", rel, "-s", sock, "--duration", RUN_SECONDS], cwd=REPO,
                           capture_output=True, text=True, timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        return [f"routerd did not stop within {RUN_TIMEOUT} s of a {RUN_SECONDS} s run"]
    if r.returncode != 0:
        return [f"routerd exited {r.returncode}:\n    " + r.stderr.rstrip().replace("\n", "\n    ")]
    return []


def main():
    ap = argparse.ArgumentParser(description="Checks routerctl validate on tests/graphs/valid and graphs/.")
    ap.add_argument("--routerctl", default="build/bin/routerctl", help="path to routerctl (default: %(default)s)")
    ap.add_argument("--routerd", help="also start each net_null-only graph briefly with this routerd")
    args = ap.parse_args()

    routerctl = os.path.abspath(args.routerctl)
    if not os.access(routerctl, os.X_OK):
        sys.exit(f"{args.routerctl}: not an executable (pass --routerctl PATH)")
    routerd = os.path.abspath(args.routerd) if args.routerd else None
    if routerd and not os.access(routerd, os.X_OK):
        sys.exit(f"{args.routerd}: not an executable")

    files = []
    for d in (os.path.join(HERE, "valid"), os.path.join(REPO, "graphs")):
        if os.path.isdir(d):
            files += sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".yaml"))
    if not files:
        sys.exit("no graph files found")

    passed, failed, xfailed = [], [], []
    tmp = tempfile.mkdtemp(prefix="weft-valid-")
    try:
        for path in files:
            rel = rel_path(path)
            problems = check_validate(routerctl, rel)
            ran = ""
            if not problems and routerd and only_null_ports(path):
                problems = check_run(routerd, rel, tmp)
                ran = " (validated and ran)"
            reason = xfail_reason(path)
            if reason is not None:
                if problems:
                    xfailed.append(rel)
                    print(f"XFAIL {rel}: {reason}")
                else:
                    failed.append(rel)
                    print(f"FAIL  {rel}: marked xfail but now accepted; remove the `# xfail:` comment")
            elif problems:
                failed.append(rel)
                print(f"FAIL  {rel}")
                for p in problems:
                    print("  " + p)
            else:
                passed.append(rel)
                print(f"PASS  {rel}{ran}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    return summarize(passed, failed, xfailed)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""A skipped test is never a passed test.

    python3 tools/check-skips.py build/ctest-junit.xml [--allowlist tests/skip-allowlist.txt]

Reads the JUnit file `ctest --output-junit FILE` wrote and lists every test
that did not run: skipped (it exited with its SKIP_RETURN_CODE, 77; the
e2e harness prints `SKIP: reason` first) or disabled. Each is printed with
the reason its output gave.

With CI=true in the environment, any such test fails the check (exit 1)
unless the allowlist names it, with a reason, on a line of its own:

    e2e.lab_spp_compute   dpdk-testpmd is not packaged for this CI image

Without CI=true, skips are reported and the exit status is 0. A malformed
allowlist or an unreadable JUnit file is an error (exit 2) either way.
"""
import argparse
import os
import sys
import xml.etree.ElementTree as ET

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def allowlist(path):
    """{test name: reason}; raises ValueError on a line without a reason."""
    allowed = {}
    if not os.path.exists(path):
        return allowed
    with open(path) as f:
        for n, line in enumerate(f, 1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            parts = text.split(None, 1)
            if len(parts) < 2:
                raise ValueError(f"{path}:{n}: '{parts[0]}' has no reason (TEST_NAME  reason)")
            allowed[parts[0]] = parts[1].strip()
    return allowed


def not_run(junit):
    """[(test name, reason)] of every skipped or disabled test, in file order."""
    out = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        status = case.get("status", "")
        skipped = case.find("skipped")
        if skipped is None and status not in ("notrun", "disabled"):
            continue
        text = case.findtext("system-out") or ""
        said = [ln.strip() for ln in text.splitlines() if ln.strip().startswith("SKIP:")]
        if said:
            reason = said[-1]
        elif status == "disabled":
            reason = "disabled (the test's DISABLED property)"
        else:
            msg = skipped.get("message", "") if skipped is not None else ""
            reason = f"skipped ({msg or status}); it printed no 'SKIP:' line"
        out.append((case.get("name"), reason))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("junit", help="the file ctest --output-junit wrote")
    ap.add_argument("--allowlist", default=os.path.join(REPO, "tests", "skip-allowlist.txt"))
    a = ap.parse_args()
    ci = os.environ.get("CI", "").lower() in ("true", "1", "yes")
    try:
        allowed = allowlist(a.allowlist)
        skipped = not_run(a.junit)
    except (OSError, ValueError, ET.ParseError) as e:
        print(f"check-skips: {e}", file=sys.stderr)
        return 2
    if not skipped:
        print("check-skips: no test was skipped")
        return 0
    refused = []
    print(f"check-skips: {len(skipped)} test(s) did not run:")
    for name, reason in skipped:
        if name in allowed:
            print(f"  {name}: {reason}  [allowed: {allowed[name]}]")
        else:
            print(f"  {name}: {reason}")
            refused.append(name)
    if refused and ci:
        print(f"check-skips: FAIL (CI=true): {', '.join(refused)} skipped and not in "
              f"{os.path.relpath(a.allowlist, REPO)}; a skipped test is never a passed test "
              f"(docs/testing.md)", file=sys.stderr)
        return 1
    if refused:
        print("check-skips: not a failure here; with CI=true it would be (docs/testing.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

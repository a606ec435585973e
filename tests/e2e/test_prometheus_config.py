#!/usr/bin/env python3
"""The shipped Prometheus configuration (docs/examples/prometheus/): Debian's
promtool accepts it, its alerting rules pass their unit tests, and they name
only metrics routerd serves.

    docs/examples/prometheus/prometheus.yml ──promtool check config──► ok
    docs/examples/prometheus/weft-alerts.yml ──promtool check rules──► ok
    tests/prometheus/weft-alerts.test.yml ──promtool test rules──► ok
    every weft_* name in the rules ∈ `routerctl metrics --doc`

Checks: the three promtool runs succeed; each metric an alert reads is in
the catalogue (a renamed metric breaks this test, not the alerts silently).
"""
import os
import re
import shutil

import harness

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(REPO, "docs", "examples", "prometheus")


def main(t):
    if not shutil.which("promtool"):
        t.fail("promtool is missing", "tools/setup-debian.sh installs Debian's prometheus")
    r = t.run(["promtool", "check", "config", os.path.join(EXAMPLES, "prometheus.yml")])
    t.check(r.ok and "SUCCESS" in r.stdout, "promtool check config prometheus.yml (and the rules it loads)",
            r.stdout + r.stderr)
    r = t.run(["promtool", "check", "rules", os.path.join(EXAMPLES, "weft-alerts.yml")])
    t.check(r.ok and "SUCCESS" in r.stdout, "promtool check rules weft-alerts.yml", r.stdout + r.stderr)
    r = t.run(["promtool", "test", "rules", os.path.join(REPO, "tests", "prometheus", "weft-alerts.test.yml")])
    t.check(r.ok and "SUCCESS" in r.stdout, "promtool test rules: the alerts fire when they must, not otherwise",
            r.stdout + r.stderr)

    doc = t.routerctl("metrics", "--doc")
    t.require(doc.ok, "routerctl metrics --doc", doc.stderr)
    known = set(re.findall(r"`(weft_[a-z0-9_]+)`", doc.stdout))
    rules = open(os.path.join(EXAMPLES, "weft-alerts.yml")).read()
    used = set(re.findall(r"\b(weft_[a-z0-9_]+)", rules))
    t.check(used and used <= known, f"the rules read {len(used)} metrics, all in the catalogue",
            f"unknown: {sorted(used - known)}")


if __name__ == "__main__":
    harness.run(main)

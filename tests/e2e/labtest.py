"""Runs a lab file from graphs/labs/ through the lab runner (tools/weft-lab)
as an e2e test: the runner's exit status is the test's.

    python3 test_lab_X.py --bin build/bin
"""
import argparse
import os
import shutil
import subprocess
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def run(lab, needs=()):
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    a, _ = ap.parse_known_args()
    for prog in needs:
        if not (shutil.which(prog) or os.access(prog, os.X_OK)):
            print(f"SKIP: {prog} is not installed")
            return 0
    path = os.path.join(REPO, "graphs", "labs", lab)
    r = subprocess.run([sys.executable, os.path.join(REPO, "tools", "weft-lab"), "--bin", os.path.abspath(a.bin),
                        "run", path], timeout=600)
    return r.returncode

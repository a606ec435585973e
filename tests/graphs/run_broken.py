#!/usr/bin/env python3
"""Checks `routerctl validate` on the broken-graph corpus.

    python3 tests/graphs/run_broken.py --routerctl build/bin/routerctl [NAME ...]

For every tests/graphs/broken/NAME.yaml (or only the NAMEs given) the runner
runs `routerctl validate tests/graphs/broken/NAME.yaml` with the repository
root as working directory and checks that

  * the exit status is 1,
  * nothing is printed on stdout,
  * stderr is exactly tests/graphs/broken/NAME.expected, where `{file}` stands
    for the path as passed on the command line
    (tests/graphs/broken/NAME.yaml).

A corpus file whose first lines contain `# xfail: REASON` documents a known
validator bug: its .expected file holds what a correct validator would print.
It is reported as XFAIL while the output differs (not a failure) and as a
failure once it matches, so that the marker gets removed with the fix.

Prints PASS/FAIL/XFAIL per file, a diff for each failure, and finally
`N passed, M failed` (plus the number of known failures). Exit status 1 if
anything failed.

--show prints what routerctl prints now, in .expected form ({file}), to help
write a new case. Read every message before saving it as expected: the
corpus must not enshrine a wrong or misleading diagnostic.
"""

import argparse
import difflib
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PLACEHOLDER = "{file}"


def xfail_reason(path):
    """The text after `# xfail:` in the file's leading comment block, or None."""
    reason = None
    with open(path) as f:
        for line in f:
            if not line.startswith("#"):
                break
            text = line[1:].strip()
            if reason is not None:
                if line.startswith("#   "):
                    reason += " " + text
                    continue
                break
            if text.startswith("xfail:"):
                reason = text[len("xfail:"):].strip()
    return reason


def run_validate(routerctl, rel):
    return subprocess.run([routerctl, "validate", rel], cwd=REPO, capture_output=True, text=True)


def rel_path(path):
    return os.path.relpath(os.path.abspath(path), REPO)


def corpus(directory, names):
    files = sorted(f for f in os.listdir(directory) if f.endswith(".yaml"))
    if names:
        wanted = {n[:-5] if n.endswith(".yaml") else n for n in (os.path.basename(n) for n in names)}
        missing = wanted - {f[:-5] for f in files}
        if missing:
            sys.exit(f"no such corpus file(s): {', '.join(sorted(missing))}")
        files = [f for f in files if f[:-5] in wanted]
    return [os.path.join(directory, f) for f in files]


def summarize(passed, failed, xfailed):
    """Prints the closing `N passed, M failed` line; returns the exit status."""
    summary = f"{len(passed)} passed, {len(failed)} failed"
    if xfailed:
        summary += f" ({len(xfailed)} known failure(s), marked xfail: {', '.join(xfailed)})"
    print(summary)
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(description="Checks routerctl validate on tests/graphs/broken/*.yaml.")
    ap.add_argument("--routerctl", default="build/bin/routerctl", help="path to routerctl (default: %(default)s)")
    ap.add_argument("--show", action="store_true", help="print the current output in .expected form; check nothing")
    ap.add_argument("names", nargs="*", help="only these corpus files (NAME or NAME.yaml)")
    args = ap.parse_args()

    routerctl = os.path.abspath(args.routerctl)
    if not os.access(routerctl, os.X_OK):
        sys.exit(f"{args.routerctl}: not an executable (pass --routerctl PATH)")

    files = corpus(os.path.join(HERE, "broken"), args.names)
    if not files:
        sys.exit("no corpus files found in tests/graphs/broken/")

    passed, failed, xfailed = [], [], []
    for path in files:
        rel = rel_path(path)
        name = os.path.basename(path)
        r = run_validate(routerctl, rel)
        got = r.stderr.replace(rel, PLACEHOLDER)
        if args.show:
            print(f"==> {name} (exit {r.returncode})")
            sys.stdout.write(got)
            if r.stdout:
                print(f"[stdout] {r.stdout.rstrip()}")
            continue

        expected_path = path[:-5] + ".expected"
        problems = []
        if not os.path.exists(expected_path):
            problems.append(f"missing {rel_path(expected_path)}")
        else:
            with open(expected_path) as f:
                want = f.read()
            if r.returncode != 1:
                problems.append(f"exit status {r.returncode}, expected 1")
            if r.stdout:
                problems.append("unexpected stdout: " + r.stdout.rstrip())
            if got != want:
                diff = difflib.unified_diff(want.splitlines(), got.splitlines(), "expected", "routerctl stderr",
                                            lineterm="", n=0)
                problems.append("stderr differs:\n" + "\n".join("    " + line for line in diff))

        reason = xfail_reason(path)
        if reason is not None:
            if problems:
                xfailed.append(name)
                print(f"XFAIL {name}: {reason}")
            else:
                failed.append(name)
                print(f"FAIL  {name}: marked xfail but now matches {os.path.basename(expected_path)};"
                      " remove the `# xfail:` comment")
        elif problems:
            failed.append(name)
            print(f"FAIL  {name}")
            for p in problems:
                print("  " + p)
        else:
            passed.append(name)
            print(f"PASS  {name}")

    if args.show:
        return 0
    return summarize(passed, failed, xfailed)


if __name__ == "__main__":
    sys.exit(main())

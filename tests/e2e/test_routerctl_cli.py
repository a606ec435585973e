"""routerctl's command line as an operator meets it: every command answers
--json, exit statuses say what happened, the manual pages name every command
and flag, and bash completion completes commands, options, element ids and
handler names from the running router, and graph files.

    routerd (graphs/quickstart.yaml: quickstart.pcap looped -> cls -> counters -> net_null)
        ▲ control socket
    routerctl ...        each command with --json: stdout is one JSON document
                         exit status 0 ok, 1 refused/invalid, 2 no routerd, 64 bad command line
    build/share/man      routerd.8, routerctl.8 (rendered with man -l): every command, every flag
    build/share/bash-completion/completions/routerctl   sourced in bash, asked as Tab would

The commands come from `routerctl --cli-json` (routerctl's own CLI11
definitions) and, independently, from `routerctl --help`: a command added to
routerctl is checked here too, and this test fails until ARGS says how to
call it.
"""
import json
import os
import re
import subprocess

import harness
from harness import REPO

# How to call each command so that it succeeds against the quickstart router,
# or the exit status it must give there (and why).
ARGS = {
    "status": [],
    "graph": [],
    "elements": [],
    "plugins": [],
    "stats": [],
    "handler read": ["tcp", "count"],
    "handler write": ["tcp", "reset", "1"],
    "service": [],
    "reload": ["@GRAPH"],
    "validate": ["@GRAPH"],
    "memory": [],
    "metrics": [],
    "runtime": [],
    "trace": ["start", "--count", "2", "--wait", "10"],
    "capture": ["--port", "p0:rx", "-c", "5", "-w", "@TMP/c.pcapng", "--wait", "10"],
    "top": ["--once", "-i", "0.2"],
    "overlay": [],
}
# Commands the quickstart refuses (it has no such service): exit 1 and the reason.
REFUSED = {
    "routes": ([], "no service of class 'Fib'"),
    "interfaces": ([], "no service of class 'Interfaces'"),
    "neighbors": ([], "no service of class 'Interfaces'"),
}
# Commands that talk to etcd, not routerd (tests/e2e/test_fleet_*.py run them
# with --json): here, with no etcd, they fail, with neither 0 nor 64.
NOT_HERE = {
    "fleet put": ["-f", "@GRAPH", "x"],
    "fleet list": [],
    "fleet show": ["x"],
    "fleet rm": ["x"],
}


def leaves(app, prefix=""):
    """Every runnable command path: `handler read`, `fleet put`, `status`."""
    out = []
    for sub in app["subcommands"]:
        path = f"{prefix} {sub['name']}".strip()
        out += leaves(sub, path) if sub["subcommands"] else [path]
    return out


def help_commands(text):
    """The command names `routerctl --help` lists under SUBCOMMANDS."""
    m = re.search(r"^SUBCOMMANDS:\n((?:  .*\n?)+)", text, re.M | re.I) or \
        re.search(r"^Subcommands:\n((?:  .*\n?)+)", text, re.M)
    return [ln.split()[0] for ln in m.group(1).splitlines() if ln.strip()] if m else []


def render(page):
    r = subprocess.run(["man", "-l", "-P", "cat", page], capture_output=True, text=True,
                       env=dict(os.environ, MANWIDTH="200", LC_ALL="C.UTF-8"))
    return re.sub(r".\x08", "", r.stdout)


def complete(t, script, words, cwd=REPO):
    """COMPREPLY when Tab is pressed after `words` (the last one: the word being typed)."""
    line = " ".join(words)
    prog = (f"source {script}\nCOMP_WORDS=({' '.join(_q(w) for w in words)})\n"
            f"COMP_CWORD={len(words) - 1}\nCOMP_LINE={_q(line)}\nCOMP_POINT={len(line)}\n"
            "_routerctl\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n")
    r = t.run(["bash", "--norc", "-c", prog], cwd=cwd, env=dict(os.environ, PATH=t.bin + ":" + os.environ["PATH"]))
    return [w for w in r.stdout.splitlines() if w]


def _q(w):
    return "'" + w.replace("'", "'\\''") + "'"


def main(t):
    ctl = t.exe("routerctl")
    cli = json.loads(t.run([ctl, "--cli-json"]).stdout)
    commands = leaves(cli)
    top = [s["name"] for s in cli["subcommands"]]
    t.require(len(commands) > 10 and "handler read" in commands, "routerctl --cli-json lists the commands",
              str(commands))
    listed = help_commands(t.run([ctl, "--help"]).stdout)
    t.check(listed and set(listed) == set(top), "`routerctl --help` lists the same commands", f"{listed} vs {top}")
    known = set(ARGS) | set(NOT_HERE) | set(REFUSED)
    t.check(not [c for c in commands if c not in known], "every command is exercised here (a new one: add it to ARGS)",
            str([c for c in commands if c not in known]))

    graph = os.path.join(REPO, "graphs", "quickstart.yaml")
    with t.routerd(file=graph) as r:
        r.wait_stats(lambda s: harness.element(s, "tcp")["total"]["out"] > 0, what="TCP packets counted")

        # --- every command takes --json ---------------------------------
        for c, (args, why) in REFUSED.items():
            res = r.ctl("--json", *c.split(), *args)
            t.check(res.returncode == 1 and why in res.stderr, f"routerctl {c} --json here: exit 1, {why}",
                    f"exit {res.returncode}: {res.stderr[-300:]}")
        for c in commands:
            if c not in ARGS:
                continue
            args = [a.replace("@GRAPH", graph).replace("@TMP", t.tmp) for a in ARGS[c]]
            res = r.ctl("--json", *c.split(), *args, timeout=60)
            try:
                json.loads(res.stdout)
                parsed = True
            except ValueError:
                parsed = False
            t.check(res.returncode == 0 and parsed, f"routerctl {c} --json: exit 0, one JSON document",
                    f"exit {res.returncode}\n{res.stdout[-500:]}\n{res.stderr[-500:]}")
        bad = t.write("bad.yaml", "name: bad\nworkers: [1]\nelements:\n  x: {class: NoSuchClass}\n")
        v = r.ctl("--json", "validate", bad)
        t.check(v.returncode == 1 and v.json()["ok"] is False and any("NoSuchClass" in d for d in v.json()["diagnostics"]),
                "validate --json on a bad graph: exit 1, ok false, the diagnostics", v.stdout)
        for c, args in NOT_HERE.items():
            args = [a.replace("@GRAPH", graph) for a in args]
            res = r.ctl("--json", "fleet", "--etcd", "http://127.0.0.1:1", "--etcd-timeout", "2", c.split()[1], *args,
                        timeout=60)
            t.check(res.returncode not in (0, 64) and "etcd" in res.stderr,
                    f"routerctl {c} with no etcd: fails and says so", f"exit {res.returncode}: {res.stderr[-300:]}")

        # --- exit statuses -----------------------------------------------
        t.check(r.ctl("status").returncode == 0, "exit 0: success")
        t.check(r.ctl("reload", bad).returncode == 1, "exit 1: reload refused (an invalid graph)")
        t.check(r.ctl("validate", bad).returncode == 1, "exit 1: validate finds errors")
        t.check(r.ctl("handler", "read", "nosuch", "count").returncode == 1, "exit 1: an unknown element")
        t.check(t.routerctl("status", sock=t.path("nobody.sock")).returncode == 2, "exit 2: no routerd on the socket")
        t.check(t.routerctl("stats", sock=t.path("nobody.sock")).returncode == 2, "exit 2: also for stats")
        t.check(t.routerctl("no-such-command").returncode == 64, "exit 64: an unknown command")
        t.check(t.routerctl("stats", "--no-such-flag").returncode == 64, "exit 64: an unknown option")
        t.check(t.routerctl("validate").returncode == 64, "exit 64: a missing argument")
        t.check(t.routerctl("--help").returncode == 0 and t.routerctl("--version").returncode == 0,
                "exit 0: --help, --version")

        # --- manual pages --------------------------------------------------
        man = os.path.join(os.path.dirname(t.bin), "share", "man")
        page = render(os.path.join(man, "man8", "routerctl.8.gz"))
        t.check(page and not [c for c in commands if f"routerctl {c}" not in page],
                "routerctl(8) has a section for every command",
                str([c for c in commands if f"routerctl {c}" not in page]))
        opts = {n for o in cli["options"] for n in o["names"]}
        t.check(not [o for o in opts if o not in page], "routerctl(8) names every global option",
                str([o for o in opts if o not in page]))
        t.check("EXIT STATUS" in page and re.search(r"\b64\b", page) and "No routerd is listening" in page,
                "routerctl(8) documents the exit statuses")
        rd = json.loads(t.run([t.exe("routerd"), "--cli-json"]).stdout)
        rd_page = render(os.path.join(man, "man8", "routerd.8.gz"))
        flags = {n for o in rd["options"] for n in o["names"]}
        # Independently of --cli-json: the flags `routerd --help` prints.
        flags |= set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]+)", t.run([t.exe("routerd"), "--help"]).stdout))
        t.check(len(flags) > 10 and not [f for f in flags if f not in rd_page], "routerd(8) names every flag",
                str(sorted(f for f in flags if f not in rd_page)))
        graph_page = render(os.path.join(man, "man5", "weft-graph.5.gz"))
        t.check("connections" in graph_page and "workers" in graph_page, "weft-graph(5) is the graph format")

        # --- completion ----------------------------------------------------
        script = os.path.join(os.path.dirname(t.bin), "share", "bash-completion", "completions", "routerctl")
        t.require(os.path.exists(script), "the completion script was generated")
        got = complete(t, script, ["routerctl", ""])
        t.check(set(top) <= set(got), "Tab: the commands", str(got))
        got = complete(t, script, ["routerctl", "st"])
        t.check(set(got) == {"status", "stats"}, "Tab after `st`: status, stats", str(got))
        got = complete(t, script, ["routerctl", "stats", "--"])
        t.check("--rate" in got and "--json" in got and "--socket" in got, "Tab after `stats --`: its options and "
                "the global ones", str(got))
        got = complete(t, script, ["routerctl", "-s", r.sock, "handler", "read", ""])
        t.check({"rx", "cls", "tcp", "udp", "arpc", "out", "tx"} <= set(got),
                "Tab after `handler read`: the running router's element ids", str(got))
        got = complete(t, script, ["routerctl", "--socket", r.sock, "handler", "read", "tcp", ""])
        t.check("count" in got, "Tab after `handler read tcp`: its handler names", str(got))
        got = complete(t, script, ["routerctl", "-s", r.sock, "service", "x"])
        t.check(got == [], "Tab on a service name the router has not: nothing", str(got))
        got = complete(t, script, ["routerctl", "validate", "graphs/quick"])
        t.check("graphs/quickstart.yaml" in got, "Tab after `validate graphs/quick`: the graph file", str(got))
        got = complete(t, script, ["routerctl", "-s", r.sock, "reload", "graphs/"])
        t.check("graphs/quickstart.yaml" in got and not [g for g in got if g.endswith(".pcap")],
                "Tab after `reload graphs/`: graph files, not the capture", str(got))
        got = complete(t, script, ["routerctl", "elements", "Cou"])
        t.check(got == ["Counter"], "Tab after `elements Cou`: the class", str(got))


if __name__ == "__main__":
    harness.run(main)

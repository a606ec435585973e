"""routerd under systemd, without a systemd: what the unit routerd@.service
relies on, each checked against what systemd itself reads.

    test ── NOTIFY_SOCKET (a datagram socket of the test's) ──► routerd (quickstart graph)
            READY=1 once it serves; RELOADING=1, READY=1 around a SIGHUP reload; STOPPING=1
    test ── JOURNAL_STREAM = its stderr file's device:inode ──► routerd
            every rte_log line (Weft's and DPDK's) as "<N>text", N its syslog priority;
            without JOURNAL_STREAM, no prefix
    systemd-analyze verify routerd@quickstart.service   (the unit, its ExecStart pointed at this build)
    setpriv: routerd runs the quickstart with only the unit's CapabilityBoundingSet, no new privileges

The package test (tests/package/test_debian_packages.py) verifies the
installed unit as it is, manual pages included.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile

import harness
from harness import REPO


def unit_file(t):
    """The unit as `cmake --install` writes it (it names the installed
    routerd, so it is made at install time): the build's runtime component
    installed to a scratch prefix."""
    build = os.path.dirname(os.path.abspath(t.bin))
    prefix = tempfile.mkdtemp(prefix="weft-systemd-prefix-")
    try:
        r = t.run(["cmake", "--install", build, "--prefix", prefix, "--component", "runtime"], timeout=120)
        path = os.path.join(prefix, "lib", "systemd", "system", "routerd@.service")
        t.require(r.ok and os.path.exists(path), "cmake --install made lib/systemd/system/routerd@.service",
                  r.stdout[-2000:] + r.stderr[-2000:])
        return open(path).read()
    finally:
        shutil.rmtree(prefix, ignore_errors=True)


def spawn_routerd(t, name, graph, env, args=()):
    err = t.path(f"{name}.err")
    log = t.path(f"{name}.log")
    sock = t.path(f"{name}.sock")
    with open(log, "w") as out, open(err, "w") as e:
        p = t.spawn([t.exe("routerd"), "-c", graph, "-s", sock, *args], stdout=out, stderr=e,
                    env=dict(os.environ, **env), cwd=t.tmp)
    t.log_on_failure(err, f"{name} stderr")
    return p, sock, err


def messages(s, until, timeout=20):
    """Notification datagrams until one contains `until`."""
    got = []
    s.settimeout(timeout)
    while True:
        try:
            m = s.recv(4096).decode()
        except socket.timeout:
            return got
        got.append(m)
        if until in m:
            return got


def main(t):
    graph_text = open(os.path.join(REPO, "graphs", "quickstart.yaml")).read().replace(
        "rx_pcap=quickstart.pcap", "rx_pcap=" + os.path.join(REPO, "graphs", "quickstart.pcap"))
    graph = t.write("quickstart.yaml", graph_text)

    # --- readiness, reload and stop notifications ------------------------
    ns_path = t.path("systemd-notify.sock")  # not routerd-notify.sock, its control socket
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(ns_path)
    t.at_cleanup(s.close)
    p, sock, err = spawn_routerd(t, "routerd-notify", graph, {"NOTIFY_SOCKET": ns_path})
    got = messages(s, "READY=1")
    ready = [m for m in got if "READY=1" in m]
    t.require(ready, "routerd sends READY=1 (Type=notify)", str(got))
    t.check(f"MAINPID={p.pid}" in ready[0] and "STATUS=running" in ready[0], "READY=1 with MAINPID and a STATUS",
            ready[0])
    r = t.run([t.exe("routerctl"), "-s", sock, "status"])
    t.check(r.ok, "when READY=1 arrives, the control socket answers", r.stderr)
    p.send_signal(signal.SIGHUP)
    got = messages(s, "READY=1")
    t.check(len(got) >= 2 and "RELOADING=1" in got[0] and "READY=1" in got[-1],
            "SIGHUP: RELOADING=1, then READY=1 once the reload is done", str(got))
    p.send_signal(signal.SIGTERM)
    got = messages(s, "STOPPING=1")
    t.check(any("STOPPING=1" in m for m in got), "SIGTERM: STOPPING=1", str(got))
    t.check(p.wait(timeout=30) == 0, "routerd exits 0")

    # --- journal priorities ----------------------------------------------
    err_path = t.path("journal.err")
    open(err_path, "w").close()
    fst = os.stat(err_path)
    with open(t.path("journal.log"), "w") as out, open(err_path, "a") as e:
        p = t.spawn([t.exe("routerd"), "-c", graph, "-s", t.path("journal.sock")],
                    stdout=out, stderr=e, cwd=t.tmp, env=dict(os.environ, JOURNAL_STREAM=f"{fst.st_dev}:{fst.st_ino}"))
    t.log_on_failure(err_path, "journal stderr")
    harness.wait_until(lambda: t.run([t.exe("routerctl"), "-s", t.path("journal.sock"), "status"]).ok, timeout=30)
    # An invalid graph on SIGHUP: refused (a warning); the running graph stays.
    with open(graph, "w") as f:
        f.write(graph_text.replace("out:   Merge", "out:   NoSuchClass"))
    p.send_signal(signal.SIGHUP)
    harness.wait_until(lambda: "refused" in open(err_path).read(), timeout=20)
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=30)
    with open(graph, "w") as f:
        f.write(graph_text)
    lines = [ln for ln in open(err_path).read().splitlines() if ln]
    rte = [ln for ln in lines if re.match(r"^<[0-7]>", ln)]
    t.check(any(re.match(r"^<[67]>(weft|EAL|[A-Z_]+): ", ln) for ln in rte), "rte_log lines carry <6>/<7> (info, debug)",
            "\n".join(lines[:20]))
    t.check(any(ln.startswith("<4>routerd: SIGHUP: reload") and "refused" in ln for ln in lines),
            "a refused reload is a warning: <4>", "\n".join(lines))
    t.check(not [ln for ln in lines if re.match(r"^(weft|EAL): ", ln)],
            "no rte_log line without its priority", "\n".join(ln for ln in lines if re.match(r"^(weft|EAL): ", ln)))
    bad = t.write("bad-port.yaml", graph_text.replace("net_null1", "net_nosuchdriver1"))
    e2 = t.path("bad.err")
    open(e2, "w").close()
    fst2 = os.stat(e2)
    with open(e2, "a") as e:
        rc = subprocess.run([t.exe("routerd"), "-c", bad, "-s", t.path("bad.sock"), "-d", "1"], stdout=subprocess.DEVNULL,
                            stderr=e, cwd=t.tmp, env=dict(os.environ, JOURNAL_STREAM=f"{fst2.st_dev}:{fst2.st_ino}"),
                            timeout=60).returncode
    text = open(e2).read()
    t.check(rc == 1 and re.search(r"^<3>(routerd: error: |\S+:\d+:\d+: error: )", text, re.M), "an error that stops routerd: <3>", text[-1500:])
    plain = t.path("plain.err")
    with open(plain, "w") as e:
        subprocess.run([t.exe("routerd"), "-c", graph, "-s", t.path("plain.sock"), "-d", "0.5"],
                       stdout=subprocess.DEVNULL, stderr=e, cwd=t.tmp, timeout=60)
    text = open(plain).read()
    t.check(text and not re.search(r"^<[0-7]>", text, re.M), "without JOURNAL_STREAM: no prefixes", text[:1000])

    # --- the unit, as systemd reads it --------------------------------------
    unit = unit_file(t)
    if shutil.which("systemd-analyze"):
        d = t.path("units")
        os.makedirs(d)
        # This build's programs instead of the installed ones; the manual pages are checked installed.
        text = re.sub(r"(Exec\w+=)\S*/(routerd|routerctl)\b", lambda m: m.group(1) + t.exe(m.group(2)), unit)
        with open(os.path.join(d, "routerd@quickstart.service"), "w") as f:
            f.write(text)
        r = t.run(["systemd-analyze", "verify", "--man=no", os.path.join(d, "routerd@quickstart.service")],
                  env=dict(os.environ, SYSTEMD_LOG_LEVEL="notice"))
        t.check(r.ok and not r.stderr.strip(), "systemd-analyze verify: the unit is clean", r.stdout + r.stderr)
    else:
        t.fail("systemd-analyze is missing", "tools/setup-debian.sh installs systemd")
    t.check(re.search(r"^Type=notify$", unit, re.M) and re.search(r"^ExecReload=\S+routerctl .*reload ", unit, re.M),
            "Type=notify; reload is routerctl reload (synchronous: a refused graph fails the reload)")

    # --- the unit's capabilities are enough --------------------------------
    caps = re.search(r"^CapabilityBoundingSet=(.*)$", unit, re.M).group(1).split()
    t.require(caps, "the unit bounds the capabilities", unit)
    t.needs("setpriv")
    keep = ",".join("+" + c.lower().replace("cap_", "") for c in caps)
    argv = ["setpriv", "--bounding-set", "-all," + keep, "--inh-caps", "-all", "--no-new-privs",
            t.exe("routerd"), "-c", graph, "-s", t.path("caps.sock"), "-d", "2",
            "--summary-json", t.path("caps.json")]
    r = t.run(argv, timeout=60, cwd=t.tmp)
    t.check(r.ok, f"routerd runs the quickstart with only {', '.join(caps)} and no new privileges",
            r.stdout[-1000:] + r.stderr[-2000:])
    if r.ok:
        st = json.load(open(t.path("caps.json")))
        out = harness.element(st, "out")["total"]["out"]
        t.check(out > 0, f"and forwards ({out} packets)")


if __name__ == "__main__":
    harness.run(main)

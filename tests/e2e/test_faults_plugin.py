#!/usr/bin/env python3
"""A plugin that throws in every lifecycle call: routerd refuses what it
cannot run, contains what it runs, reports both, and keeps forwarding.

    p0 (net_null) -> rx -> f (TestFaulty) -> c (Counter) -> tx -> p1 (net_null)
    p2 (net_null) -> rx2 -> k (Counter) -> tx2 -> p3 (net_null)
    p4 (net_null) -> rx3 -> q (TestFaulty) -> c3 (Counter) -> tx3 -> p5 (net_null)
    service svc (TestFaultyService)

The test plugin (tests/plugins/faulty.cpp) throws in the calls its
`throw_in` parameter lists. Steps, with traffic measured through c and k
after each:

1. svc throws in status and in its `poke` command: both answer with the
   error, counted in `routerctl status` (health) and logged.
2. Reloads that throw in an element's configure or initialize, a service's
   configure, a new service's initialize, svc's take_state (a service
   kept by a reload takes its predecessor's state): each refused, the
   graph unchanged.
3. f's push throws (its `throw_next` handler): the batch is dropped as
   `exception`, f is out of service (later batches `quarantined`), health
   reports it, the log says so; k keeps forwarding; routerd does not die.
3b. q's run (TestFaulty is polled: the worker calls run() every loop, as a
   source's) throws (its `throw_next_run` handler): q is out of service
   (health names the call `run`), the worker counts a second failure, c3
   stops, k keeps forwarding.
4. A reload replaces f (the old one's cleanup throws a non-std exception:
   logged with its type) and adds a service svs whose start and health
   throw: c and c3 count again, no element is out of service, svs is
   reported failed.
5. A reload keeping f, whose take_state throws, and removing svs, whose
   stop throws: applied, f's state reset and the reason given; the stop
   logged; health ok.
5b. With runtime figures on (probes stand on the outputs), f throws again:
   quarantined behind the probes, called no more, and still so when the
   figures are turned off.
6. routerd stops cleanly though f's cleanup throws at shutdown.
"""
import os

import harness
from harness import drops_of, element, wait_until

GRAPH = """
name: {name}
workers: {{lcores: [1]}}
ports:
  p0: {{device: net_null0, args: "size=64"}}
  p1: net_null1
  p2: {{device: net_null2, args: "size=64"}}
  p3: net_null3
  p4: {{device: net_null4, args: "size=64"}}
  p5: net_null5
services:
  svc: {{class: TestFaultyService, throw_in: "{svc}"}}
{more}elements:
  rx: {{class: PortRx, port: p0}}
  f: {{class: TestFaulty, throw_in: "{f}", tag: "{f_tag}"}}
  c: Counter
  tx: {{class: PortTx, port: p1}}
  rx2: {{class: PortRx, port: p2}}
  k: Counter
  tx2: {{class: PortTx, port: p3}}
  rx3: {{class: PortRx, port: p4}}
  q: TestFaulty
  c3: Counter
  tx3: {{class: PortTx, port: p5}}
connections:
  - rx -> f -> c -> tx
  - rx2 -> k -> tx2
  - rx3 -> q -> c3 -> tx3
"""


def graph(name="faults", f="take_state, cleanup", f_tag="a", svc="status, command", more=""):
    return GRAPH.format(name=name, f=f, f_tag=f_tag, svc=svc, more=more)


def service(name, throw_in):
    """One more TestFaultyService, for the services: section."""
    return f'  {name}: {{class: TestFaultyService, throw_in: "{throw_in}"}}\n'


def main(t):
    plugins = os.path.join(t.test_plugins, "faulty")
    r = t.routerd(graph(), args=["--plugin-path", plugins], check="routerd runs the faulty plugin")
    t.require(r.alive(), "routerd is up")

    def count(eid):
        h = r.read_handler(eid, "count")
        return int(h.stdout.strip()) if h.ok else -1

    def flows(eid, timeout=5):
        c0 = count(eid)
        return wait_until(lambda: count(eid) > c0 >= 0, timeout=timeout)

    def health():
        return r.status()["health"]

    t.check(flows("c") and flows("k"), "traffic crosses c and k")

    # 1. A service that throws in status and in a command.
    res = r.ctl("--json", "service", "svc")
    t.check(res.ok and "status() threw" in res.stdout and "deliberate failure in status" in res.stdout,
            "svc's status throws: the reply says so", res.stdout + res.stderr)
    res = r.ctl("service", "svc", "poke")
    t.check(res.returncode != 0 and "deliberate failure in poke" in res.stderr,
            "svc's command throws: routerctl reports the error", res.stdout + res.stderr)
    h = health()
    svc = next(s for s in h["services"] if s["name"] == "svc")
    t.check(svc["errors"] >= 2 and "poke" in svc["last_error"], "health counts svc's exceptions",
            str(svc))
    t.check(h["faults"]["count"] >= 2, "health.faults counts them", str(h["faults"]))
    t.check(r.wait_output("threw in status") and r.wait_output("threw in command poke"), "and the log says so")
    t.check(r.alive() and flows("c"), "routerd forwards on")

    # 2. Reloads that throw while being built: refused, nothing changes.
    refusals = [
        ("an element that throws in configure", graph(f="configure"), "deliberate failure in configure"),
        ("an element that throws in initialize", graph(f="initialize"), "deliberate failure in initialize"),
        ("a service that throws in configure", graph(svc="configure"), "deliberate failure in configure"),
        ("a service that throws in initialize", graph(more=service("svc2", "initialize")),
         "deliberate failure in initialize"),
        ("a service that throws in take_state", graph(svc="status, command, take_state"),
         "deliberate failure in take_state"),
    ]
    for i, (what, text, error) in enumerate(refusals):
        res = r.reload(t.write(f"refused{i}.yaml", text))
        t.check(res.returncode == 1 and error in res.stderr, f"a reload with {what} is refused",
                res.stdout + res.stderr)
        t.check(r.alive() and r.status()["graph"]["name"] == "faults" and flows("c"),
                f"... and the running graph forwards on ({what})")
    h = health()
    t.check(h["reloads"]["refused"] == len(refusals) and "take_state" in h["reloads"]["last_refused"]["error"],
            "health counts the refused reloads, with the last error", str(h["reloads"]))

    # 3. An element that throws in push.
    t.require(r.write_handler("f", "throw_next", 1).ok, "arm f to throw in its next push")
    t.check(r.wait_output("threw in push"), "the log reports f's exception")
    st = r.wait_stats(lambda s: drops_of(element(s, "f")).get("quarantined", 0) > 0,
                      what="f's batches dropped as quarantined")
    d = drops_of(element(st, "f"))
    t.check(d.get("exception", 0) > 0, "the batch f threw on is counted as `exception`", str(d))
    h = health()
    bad = [e for e in h["elements"] if e["id"] == "f"]
    t.check(h["state"] == "degraded" and bad and bad[0]["call"] == "push"
            and "deliberate failure in push" in bad[0]["error"],
            "health reports f out of service, with its error", str(h["elements"]) + str(h["problems"]))
    t.check(h["workers"][0]["element_failures"] == 1, "the worker counts one element failure", str(h["workers"]))
    c0 = count("c")
    t.check(flows("k"), "k keeps forwarding")
    t.check(count("c") == c0, "nothing crosses c while f is out of service")
    t.check(r.alive(), "routerd is alive")

    # 3b. An element that throws in run, called by the worker every loop.
    t.check(flows("c3"), "traffic crosses c3")
    t.require(r.write_handler("q", "throw_next_run", 1).ok, "arm q to throw in its next run")
    t.check(r.wait_output("threw in run"), "the log reports q's exception in run")
    h = r.wait_for(lambda: (lambda x: x if any(e["id"] == "q" for e in x["elements"]) else None)(health()),
                   "q reported out of service", timeout=5)
    bad = [e for e in h["elements"] if e["id"] == "q"]
    t.check(bad and bad[0]["call"] == "run" and "deliberate failure in run" in bad[0]["error"],
            "health reports q out of service, in call `run`, with its error", str(h["elements"]))
    t.check(any("'q'" in p and "run" in p for p in h["problems"]), "the problem names q and run", str(h["problems"]))
    t.check(h["workers"][0]["element_failures"] == 2, "the worker counts a second element failure", str(h["workers"]))
    st = r.wait_stats(lambda s: drops_of(element(s, "q")).get("quarantined", 0) > 0,
                      what="q's batches dropped as quarantined")
    c3 = count("c3")
    t.check(flows("k"), "k keeps forwarding")
    t.check(count("c3") == c3, "nothing crosses c3 while q is out of service")
    t.check(r.alive(), "routerd is alive")

    # 4. A reload replaces f; svc's start and health throw now.
    res = r.reload(t.write("b.yaml", graph(f="take_state, cleanup", f_tag="b",
                                           more=service("svs", "start, stop, health"))), json=True)
    t.require(res.ok and res.json()["applied"], "a reload replacing f is applied", res.stdout + res.stderr)
    t.check(r.wait_output("threw in cleanup") and r.wait_output("NotAStdException"),
            "the old f's cleanup threw a non-std exception: logged with its type")
    t.check(flows("c") and flows("c3"), "c and c3 forward again: f and q are back in service")
    h = health()
    svs = next(s for s in h["services"] if s["name"] == "svs")
    t.check(not h["elements"] and svs["state"] == "failed" and "start" in svs["last_error"],
            "health: no element out of service; the new service svs failed (its start threw)", str(h))
    t.check(any("'svs'" in p for p in h["problems"]), "svs's failure is in the problems", str(h["problems"]))

    # 5. A reload keeping f (whose take_state throws) and replacing svc (whose stop throws).
    res = r.reload(t.write("c.yaml", graph(f="take_state, cleanup", f_tag="b", svc="")), json=True)
    t.require(res.ok and res.json()["applied"], "a reload keeping f is applied", res.stdout + res.stderr)
    kept = {k["id"]: k for k in res.json()["elements"]["kept"]}
    t.check(kept["f"]["state"] == "reset" and "take_state failed" in kept["f"]["why"],
            "f's take_state threw: its state is reset, and the reply says why", str(kept.get("f")))
    t.check(r.wait_output("threw in stop"), "the removed svs's stop threw: logged")
    h = health()
    t.check(h["state"] == "ok" and not h["problems"], "health is ok again", str(h["problems"]))
    t.check(flows("c") and flows("k"), "c and k forward")
    res = r.ctl("--json", "service", "svc", "poke")
    t.check(res.ok and "pokes" in res.stdout, "svc, given new parameters, answers its command",
            res.stdout + res.stderr)

    # 5b. f throws again while runtime figures watch it: its outputs and the
    # outputs feeding it then point at probes (docs/telemetry.md), and the
    # quarantine must take f's place behind them too, on and after --off.
    t.require(r.ctl("runtime", "--on").ok, "runtime figures on")
    t.require(r.write_handler("f", "throw_next", 1).ok, "arm f to throw in its next push, while watched")
    st = r.wait_stats(lambda s: drops_of(element(s, "f")).get("quarantined", 0) > 0,
                      what="f's batches dropped as quarantined (watched)")
    t.check(health()["workers"][0]["element_failures"] == 3, "the worker counts a third element failure")
    c0 = count("c")
    t.check(flows("k"), "k keeps forwarding (watched)")
    t.check(count("c") == c0, "nothing crosses c while f is out of service (watched)")
    t.require(r.ctl("runtime", "--off").ok, "runtime figures off")
    q0 = drops_of(element(r.stats(), "f")).get("quarantined", 0)
    r.wait_stats(lambda s: drops_of(element(s, "f")).get("quarantined", 0) > q0,
                 what="f's batches still dropped as quarantined once nothing watches")
    t.check(flows("k") and count("c") == c0, "nothing crosses c once nothing watches either")
    t.check(health()["workers"][0]["element_failures"] == 3, "and f was not called again")

    # 6. Shutdown, with f's cleanup throwing once more.
    t.check(r.stop() == 0, "routerd exits 0 on SIGTERM")


if __name__ == "__main__":
    harness.run(main)

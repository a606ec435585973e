#!/usr/bin/env python3
"""What etcd cannot make a fleet router do: load plugins from a directory
outside the router's plugin roots; and what a router will not do once TLS or
credentials are configured: talk to etcd in clear text.

    etcd e1 (plain http, loopback) <── r1 (--plugin-root ROOT, booted from a file)
                                   <── r2 (--plugin-root ROOT, no -c: booted from etcd)
    ROOT/extra/good_extra.so        a test plugin (class TestPassthrough) under the root
    OUTSIDE/good_extra.so           the same plugin, trusted but under no root
    ROOT/escape -> OUTSIDE          a link from inside the root to outside it

Steps and checks:
1. r1 is put graphs using TestPassthrough from OUTSIDE, ROOT/../outside and
   ROOT/escape: each is refused, the status naming the directory, where it
   leads and the roots; r1 keeps its graph. From ROOT/extra: applied, TestPassthrough runs.
2. r2 boots from a graph in etcd naming OUTSIDE: it exits 1 with the reason.
3. No downgrade: routerd with an http:// endpoint and an etcd user, or a CA,
   or a graph whose `fleet:` names a user, and routerctl fleet with a CA:
   each exits 1 before connecting, naming the endpoint; with credentials a
   bare host:port means https:// (so the plain etcd fails the handshake).

Usage: test_fleet_security.py --bin build/bin --test-plugins build/test-plugins
"""
import os
import shutil

import harness
from fleet import Router, fleet_put, graph, start_cluster
from harness import wait_until


def plugin_dir(t, path):
    """A directory holding the test plugin good_extra.so (modes 0755, owner root)."""
    os.makedirs(path, exist_ok=True)
    os.chmod(path, 0o755)
    so = os.path.join(path, "good_extra.so")
    shutil.copyfile(os.path.join(t.test_plugins, "good_extra", "good_extra.so"), so)
    os.chmod(so, 0o755)
    return path


def with_plugins(name, directory):
    return graph(name, extra=f"plugins: {{path: [{directory}]}}\n", counter="TestPassthrough")


def main(t):
    root = plugin_dir(t, t.path("root"))
    os.chmod(root, 0o755)
    extra = plugin_dir(t, t.path("root", "extra"))
    outside = plugin_dir(t, t.path("outside"))
    os.symlink(outside, os.path.join(root, "escape"))
    etcd = start_cluster(t, ["e1"])[0]
    eargs = ["--etcd", etcd.url]

    # 1. A running router: directories outside the roots are refused, the graph keeps running.
    r1 = Router(t, "r1", [etcd.url], boot_graph=True, extra_args=["--plugin-root", root])
    t.require(r1.ready(), "r1 connects to etcd")
    rc, out, err = fleet_put(t, eargs, ["r1"], graph("g1"))
    t.require(rc == 0, "r1 applies g1 " + err)
    for what, d, resolved in (("outside the root", outside, None),
                              ("root/../outside", os.path.join(root, "..", "outside"), None),
                              ("a link in the root leading out", os.path.join(root, "escape"), outside)):
        rc, out, err = fleet_put(t, eargs, ["r1"], with_plugins("bad", d))
        errors = out["nodes"]["r1"]["errors"] if out else []
        want = (f"plugin {os.path.normpath(d)} refused: a graph from etcd may name plugin directories only under "
                f"routerd's plugin roots (")
        t.check(rc == 1 and out["nodes"]["r1"]["result"] == "refused" and any(want in e for e in errors),
                f"a plugin directory {what} is refused", f"{out}\n{err}")
        if resolved:
            t.check(any(e.endswith(f"; this one resolves to {resolved}") for e in errors),
                    f"{what}: the refusal says where it leads", str(errors))
        t.check(r1.graph_name() == "g1", f"{what}: r1 still runs g1")
    t.check(all(root in e and "--plugin-root" in e for e in r1.fleet()["errors"][-1:]),
            "the status names the roots and the flag", str(r1.fleet()["errors"]))
    rc, out, err = fleet_put(t, eargs, ["r1"], with_plugins("good", extra))
    t.check(rc == 0 and out["nodes"]["r1"]["result"] == "applied", "a plugin directory under the root is applied",
            f"{out}\n{err}")
    t.check(r1.graph_name() == "good", "r1 runs the graph with TestPassthrough")
    t.check(r1.ctl("handler", "read", "c", "class").stdout.strip() == "TestPassthrough",
            "element c is a TestPassthrough from ROOT/extra")

    # 2. A router booting from etcd.
    rc, out, err = fleet_put(t, eargs, ["r2"], with_plugins("bad-boot", outside), wait=0)
    t.require(rc == 0, "put r2's graph " + err)
    r2 = Router(t, "r2", [etcd.url], extra_args=["--plugin-root", root])
    t.check(wait_until(lambda: not r2.alive(), timeout=30) and r2.returncode == 1,
            "r2, booting from a graph naming a directory outside its roots, exits 1")
    t.check(f"plugin {outside} refused: a graph from etcd may name plugin directories only under routerd's plugin "
            f"roots" in r2.stderr(), "r2 says why", r2.stderr()[-2000:])

    # 3. No silent downgrade to plain HTTP.
    pw = t.write("weft.password", "secret\n")
    url = etcd.url  # http://127.0.0.1:PORT
    bare = url[len("http://"):]
    cases = [
        ("routerd --etcd-user", [t.exe("routerd"), "--etcd", url, "--node", "x", "--etcd-user", "weft",
                                 "--etcd-password-file", pw], "etcd credentials are configured"),
        ("routerd --etcd-ca", [t.exe("routerd"), "--etcd", url, "--node", "x", "--etcd-ca", pw],
         "TLS is configured"),
        ("routerctl fleet --etcd-ca", [t.exe("routerctl"), "fleet", "--etcd", f"https://{bare},{url}", "--etcd-ca",
                                       pw, "list"], "TLS is configured"),
    ]
    fleet_graph = t.write("fleet.yaml", graph("f").replace(
        "workers:", f"fleet: {{etcd: {url}, node: f, user: weft, password_file: {pw}}}\nworkers:", 1))
    cases.append(("a graph's fleet: section with a user", [t.exe("routerd"), "-c", fleet_graph,
                                                           "-s", t.path("f.sock")], "etcd credentials are configured"))
    for what, argv, why in cases:
        r = t.run(argv, timeout=30)
        t.check(r.returncode == 1 and f"etcd endpoint {url} is plain HTTP, but {why}" in r.stderr and
                f"use https://{bare}" in r.stderr, f"{what} with an http:// endpoint is refused", r.stderr[-1500:])
    r = t.routerctl("fleet", "--etcd", bare, "--etcd-user", "weft", "--etcd-password-file", pw, "--etcd-timeout", "2",
                    "list", timeout=30)
    t.check(r.returncode == 1 and "etcd" in r.stderr and "TLS" in r.stderr,
            "with credentials, a bare host:port is https: the plain etcd fails the TLS handshake", r.stderr[-1500:])


if __name__ == "__main__":
    harness.run(main)

#!/usr/bin/env python3
"""A fleet member reaching etcd over TLS with a client certificate
(etcd --client-cert-auth) and as an etcd user with a password.

    openssl: CA ── server cert (127.0.0.1) ── client cert; a rogue CA's client cert
    etcd e1 (https, --client-cert-auth, auth enabled: users root and weft)
       ^── r1 (--etcd-ca/--etcd-cert/--etcd-key, --etcd-user weft --etcd-password-file)
       ^── routerctl fleet put/list (the same options)

Usage: test_fleet_tls.py --bin build/bin
"""
import harness
from fleet import Router, fleet_put, graph, make_certs, start_cluster


def main(t):
    certs = make_certs(t.tmp)
    members = start_cluster(t, ["e1"], tls=certs)
    etcd = members[0]
    for args in (["user", "add", "root", "--new-user-password", "rootpw"],
                 ["user", "grant-role", "root", "root"],
                 ["user", "add", "weft", "--new-user-password", "weft-secret"],
                 ["role", "add", "weft-rw"],
                 ["role", "grant-permission", "weft-rw", "readwrite", "/weft/", "--prefix=true"],
                 ["user", "grant-role", "weft", "weft-rw"],
                 ["auth", "enable"]):
        r = etcd.etcdctl(*args)
        t.require(r.returncode == 0, f"etcdctl {' '.join(args)}", r.stderr)
    pw = t.write("weft.password", "weft-secret\n")
    tls = ["--etcd-ca", certs["ca"], "--etcd-cert", certs["client_cert"], "--etcd-key", certs["client_key"]]
    auth = ["--etcd-user", "weft", "--etcd-password-file", pw]
    r1 = Router(t, "r1", [etcd.url], boot_graph=True, extra_args=tls + auth)
    t.check(r1.ready(), "r1 connects over TLS with its client certificate, as user weft")
    eargs = ["--etcd", etcd.url] + tls + auth
    rc, out, err = fleet_put(t, eargs, ["r1"], graph("g1"))
    t.check(rc == 0 and out["nodes"]["r1"]["result"] == "applied", "put over TLS: r1 applies it " + err)
    t.check(r1.graph_name() == "g1", "r1 runs g1")
    lst = t.routerctl("fleet", *eargs, "list", timeout=60)
    t.check(lst.returncode == 0 and " ok " in lst.stdout, "fleet list over TLS")

    r = t.routerctl("fleet", "--etcd", etcd.url, "--etcd-ca", certs["ca"], *auth, "list", timeout=60)
    t.check(r.returncode != 0 and "TLS" in r.stderr, "without a client certificate etcd refuses: " +
            r.stderr.strip()[:160])
    r = t.routerctl("fleet", "--etcd", etcd.url, "--etcd-ca", certs["ca"], "--etcd-cert", certs["other_cert"],
                    "--etcd-key", certs["other_key"], *auth, "list", timeout=60)
    t.check(r.returncode != 0, "a certificate from another CA is refused")
    r = t.routerctl("fleet", "--etcd", etcd.url, *auth, "list", timeout=60)
    t.check(r.returncode != 0 and "TLS" in r.stderr, "etcd's certificate is not trusted without --etcd-ca")
    bad = t.write("bad.password", "nope\n")
    r = t.routerctl("fleet", "--etcd", etcd.url, *tls, "--etcd-user", "weft", "--etcd-password-file", bad, "list",
                    timeout=60)
    t.check(r.returncode != 0 and "authentication failed" in r.stderr, "a wrong password is refused: " +
            r.stderr.strip()[:160])
    r = t.routerctl("fleet", "--etcd", etcd.url, *tls, "list", timeout=60)
    t.check(r.returncode != 0, "no user: etcd (auth enabled) refuses the read")


if __name__ == "__main__":
    harness.run(main)

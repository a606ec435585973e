#!/usr/bin/env python3
"""A fleet member reaching etcd over TLS with a client certificate
(etcd --client-cert-auth) and as an etcd user with a password.

    openssl: CA ── server cert (127.0.0.1) ── client cert; a rogue CA's client cert
    etcd e1 (https, --client-cert-auth, auth enabled: users root and weft)
       ^── r1 (--etcd-ca/--etcd-cert/--etcd-key, --etcd-user weft --etcd-password-file)
       ^── routerctl fleet put/list (the same options)

Usage: test_fleet_tls.py --bin build/bin
"""
import argparse
import os
import signal
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fleet  # noqa: E402
from fleet import Router, check, fleet_put, graph, make_certs, routerctl, start_cluster, summary  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    a, _ = ap.parse_known_args()
    bindir = os.path.abspath(a.bin)
    routers, members = [], []
    with tempfile.TemporaryDirectory(prefix=f"weft-fleet-tls-{os.getpid()}-") as tmp:
        try:
            certs = make_certs(tmp)
            members = start_cluster(tmp, ["e1"], tls=certs)
            etcd = members[0]
            for args in (["user", "add", "root", "--new-user-password", "rootpw"],
                         ["user", "grant-role", "root", "root"],
                         ["user", "add", "weft", "--new-user-password", "weft-secret"],
                         ["role", "add", "weft-rw"],
                         ["role", "grant-permission", "weft-rw", "readwrite", "/weft/", "--prefix=true"],
                         ["user", "grant-role", "weft", "weft-rw"],
                         ["auth", "enable"]):
                r = etcd.etcdctl(*args)
                if r.returncode != 0:
                    raise RuntimeError(f"etcdctl {args}: {r.stderr}")
            pw = os.path.join(tmp, "weft.password")
            with open(pw, "w") as f:
                f.write("weft-secret\n")
            tls = ["--etcd-ca", certs["ca"], "--etcd-cert", certs["client_cert"], "--etcd-key", certs["client_key"]]
            auth = ["--etcd-user", "weft", "--etcd-password-file", pw]
            r1 = Router(bindir, tmp, "r1", [etcd.url], boot_graph=True, extra_args=tls + auth)
            routers = [r1]
            check(r1.ready(), "r1 connects over TLS with its client certificate, as user weft")
            eargs = ["--etcd", etcd.url] + tls + auth
            rc, out, err = fleet_put(bindir, eargs, ["r1"], graph("g1"), tmp)
            check(rc == 0 and out["nodes"]["r1"]["result"] == "applied", "put over TLS: r1 applies it " + err)
            check(r1.graph_name() == "g1", "r1 runs g1")
            lst = routerctl(bindir, "fleet", *eargs, "list")
            check(lst.returncode == 0 and " ok " in lst.stdout, "fleet list over TLS")

            r = routerctl(bindir, "fleet", "--etcd", etcd.url, "--etcd-ca", certs["ca"], *auth, "list")
            check(r.returncode != 0 and "TLS" in r.stderr, "without a client certificate etcd refuses: " +
                  r.stderr.strip()[:160])
            r = routerctl(bindir, "fleet", "--etcd", etcd.url, "--etcd-ca", certs["ca"], "--etcd-cert",
                          certs["other_cert"], "--etcd-key", certs["other_key"], *auth, "list")
            check(r.returncode != 0, "a certificate from another CA is refused")
            r = routerctl(bindir, "fleet", "--etcd", etcd.url, *auth, "list")
            check(r.returncode != 0 and "TLS" in r.stderr, "etcd's certificate is not trusted without --etcd-ca")
            bad = os.path.join(tmp, "bad.password")
            with open(bad, "w") as f:
                f.write("nope\n")
            r = routerctl(bindir, "fleet", "--etcd", etcd.url, *tls, "--etcd-user", "weft", "--etcd-password-file",
                          bad, "list")
            check(r.returncode != 0 and "authentication failed" in r.stderr, "a wrong password is refused: " +
                  r.stderr.strip()[:160])
            r = routerctl(bindir, "fleet", "--etcd", etcd.url, *tls, "list")
            check(r.returncode != 0, "no user: etcd (auth enabled) refuses the read")
        finally:
            for r in routers:
                r.stop(signal.SIGKILL)
            for m in members:
                m.stop()
            if fleet.failures:
                for r in routers:
                    print(f"--- {r.node} log ---")
                    print(open(r.log).read()[-2500:])
    return summary()


if __name__ == "__main__":
    sys.exit(main())

"""The fleet tests' peers, built on the harness: real etcd members and
routerd instances on loopback, started by the test and stopped by pid.

    start_cluster(t, names)   etcd members (data dirs in t.tmp), healthy; stopped at the end
    Router(t, node, ...)      one routerd with --etcd/--node (a harness.Routerd)
    Proxy(t, to)              a TCP relay the test can cut and restore (a partition)
    make_certs(dir)           a CA, a server and a client certificate (openssl)
    fleet_put(t, ...)         `routerctl --json fleet put`, its reply parsed
"""
import base64
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request

import harness
from harness import Failure, free_port, wait_until


def b64(s):
    return base64.b64encode(s.encode()).decode()


class Etcd:
    """One etcd member. `cluster` maps member names to (client_port, peer_port)."""

    def __init__(self, t, name, cluster, tls=None):
        self.t, self.tmp, self.name, self.cluster, self.tls = t, t.tmp, name, cluster, tls
        self.client_port, self.peer_port = cluster[name]
        self.datadir = os.path.join(t.tmp, f"etcd-{name}")
        self.proc = None
        self.state = "new"
        t.at_cleanup(self.stop)

    @property
    def scheme(self):
        return "https" if self.tls else "http"

    @property
    def url(self):
        return f"{self.scheme}://127.0.0.1:{self.client_port}"

    def start(self):
        initial = ",".join(f"{n}=http://127.0.0.1:{p[1]}" for n, p in self.cluster.items())
        args = ["etcd", "--name", self.name, "--data-dir", self.datadir,
                "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
                "--listen-peer-urls", f"http://127.0.0.1:{self.peer_port}",
                "--initial-advertise-peer-urls", f"http://127.0.0.1:{self.peer_port}",
                "--initial-cluster", initial, "--initial-cluster-state", self.state,
                "--initial-cluster-token", f"weft-test-{os.getpid()}",
                "--heartbeat-interval", "50", "--election-timeout", "500",
                "--logger", "zap", "--log-outputs", os.path.join(self.tmp, f"etcd-{self.name}.log")]
        if self.tls:
            args += ["--cert-file", self.tls["server_cert"], "--key-file", self.tls["server_key"],
                     "--trusted-ca-file", self.tls["ca"], "--client-cert-auth"]
        self.proc = self.t.spawn(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.state = "existing"

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    def etcdctl(self, *args, user=None):
        cmd = ["etcdctl", "--endpoints", self.url, "--command-timeout", "5s"]
        if self.tls:
            cmd += ["--cacert", self.tls["ca"], "--cert", self.tls["client_cert"], "--key", self.tls["client_key"]]
        if user:
            cmd += ["--user", user]
        return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=30,
                              env={**os.environ, "ETCDCTL_API": "3"})

    def healthy(self):
        if self.tls:
            return self.etcdctl("endpoint", "health").returncode == 0
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=2) as r:
                return json.loads(r.read()).get("health") == "true"
        except Exception:
            return False

    def gateway(self, path, body):
        """A plain-HTTP call to etcd's JSON gateway (no TLS)."""
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(), method="POST")
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.loads(r.read())


def start_cluster(t, names, tls=None):
    """etcd members on loopback, every one healthy (else Failure)."""
    cluster = {n: (free_port(), free_port()) for n in names}
    members = [Etcd(t, n, cluster, tls) for n in names]
    for m in members:
        m.start()
    for m in members:
        if not wait_until(m.healthy, timeout=30, step=0.1):
            raise Failure(f"etcd {m.name} did not become healthy")
    return members


# Graphs: two ports, a counter between them; on net_null the router forwards
# all the time, on net_ring it idles (so many routers fit on two cores).
def graph(name, extra="", device="ring", counter="Counter"):
    if device == "null":
        p0, p1 = 'p0: {device: net_null0, args: "size=64"}', "p1: net_null1"
    elif device == "lo":  # whatever crosses loopback (etcd's traffic, the test's datagrams), into a ring
        p0, p1 = 'p0: {device: net_af_packet0, args: "iface=lo"}', "p1: net_ring0"
    else:
        p0, p1 = "p0: net_ring0", "p1: net_ring1"
    return f"""name: {name}
eal: {{args: [--no-huge, --no-shconf, --no-pci, -m, "96"]}}
workers: {{lcores: [1], idle_sleep_us: 1000}}
ports:
  {p0}
  {p1}
elements:
  rx: {{class: PortRx, port: p0}}
  c: {counter}
  tx: {{class: PortTx, port: p1}}
{extra}connections:
  - rx -> c -> tx
"""


class Router(harness.Routerd):
    """routerd with --etcd/--node, started without waiting (ready() waits for
    etcd). boot_graph: True (graph() on `device`), a graph text, or None (no
    -c: the router waits for its graph in etcd)."""

    def __init__(self, t, node, endpoints, boot_graph=None, extra_args=(), device="ring", lease_ttl=2,
                 sync_interval=1):
        self.node = node
        args = ["--etcd", ",".join(endpoints), "--node", node, "--etcd-lease-ttl", str(lease_ttl),
                "--etcd-sync-interval", str(sync_interval), "--etcd-timeout", "1"] + list(extra_args)
        if boot_graph is not None:
            boot_graph = boot_graph if isinstance(boot_graph, str) else graph(f"boot-{node}", device=device)
        super().__init__(t, graph=boot_graph, name=node, args=args)
        self.start(wait=False)

    def fleet_status(self):
        r = self.ctl("--json", "status")
        return json.loads(r.stdout) if r.returncode == 0 else None

    def fleet(self):
        s = self.fleet_status()
        return s["fleet"] if s else None

    def ready(self, timeout=30):
        return wait_until(lambda: (self.fleet() or {}).get("connected"), timeout=timeout)

    def graph_name(self):
        s = self.fleet_status()
        return s["graph"]["name"] if s else None

    def poke(self):
        """A datagram across loopback (seen by a router reading `lo`)."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.sendto(b"weft-fleet-test", ("127.0.0.1", 9))

    def count(self):
        r = self.read_handler("c", "count")
        return int(r.stdout.strip()) if r.returncode == 0 else -1


def fleet_put(t, etcd_args, nodes, text, wait=20, fragments=()):
    """routerctl --json fleet put -f TEXT NODES [--fragment NAME=TEXT] [--wait];
    (exit status, parsed reply or None, stderr)."""
    path = t.write(f"put-{time.monotonic_ns()}.yaml", text)
    args = ["--json", "fleet", *etcd_args, "put", "-f", path, *nodes]
    for name, ftext in fragments:
        args += ["--fragment", f"{name}={t.write(f'frag-{name}-{time.monotonic_ns()}.yaml', ftext)}"]
    if wait:
        args += ["--wait", str(wait)]
    r = t.routerctl(*args, timeout=60)
    try:
        return r.returncode, json.loads(r.stdout), r.stderr
    except json.JSONDecodeError:
        return r.returncode, None, r.stderr


class Proxy:
    """A TCP relay 127.0.0.1:port -> 127.0.0.1:to that can be cut (every
    connection closed, new ones refused) and restored on the same port."""

    def __init__(self, t, to):
        self.to = to
        self.port = free_port()
        self.conns = []
        self.lock = threading.Lock()
        self.listener = None
        self.restore()
        t.at_cleanup(self.cut)

    def restore(self):
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", self.port))
        ls.listen(64)
        self.listener = ls
        threading.Thread(target=self._accept, args=(ls,), daemon=True).start()

    def _accept(self, ls):
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            try:
                u = socket.create_connection(("127.0.0.1", self.to))
            except OSError:
                c.close()
                continue
            with self.lock:
                self.conns += [c, u]
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        # shutdown() wakes the thread blocked in accept(); close() alone would
        # leave the listening socket alive until it returned.
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        with self.lock:
            for s in self.conns:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            self.conns = []


def make_certs(tmp):
    """A CA, a server certificate for 127.0.0.1 and a client certificate."""
    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=tmp)

    def key(name):
        run("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", f"{name}.key")

    key("ca")
    run("req", "-x509", "-new", "-key", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=weft-test-ca")
    # etcd refuses gateway requests whose client certificate has a CommonName
    # (it would not be used as the user): client certificates carry none.
    for name, subj, ext in (("server", "/CN=127.0.0.1",
                             "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n"),
                            ("client", "/O=weft-router", "extendedKeyUsage=clientAuth\n"),
                            ("other", "/O=weft-router", "extendedKeyUsage=clientAuth\n")):
        key(name)
        run("req", "-new", "-key", f"{name}.key", "-out", f"{name}.csr", "-subj", subj)
        with open(os.path.join(tmp, f"{name}.ext"), "w") as f:
            f.write(ext)
        if name == "other":  # signed by a CA etcd does not trust
            key("rogue")
            run("req", "-x509", "-new", "-key", "rogue.key", "-out", "rogue.crt", "-days", "2", "-subj", "/CN=rogue")
            run("x509", "-req", "-in", f"{name}.csr", "-CA", "rogue.crt", "-CAkey", "rogue.key", "-CAcreateserial",
                "-out", f"{name}.crt", "-days", "2", "-extfile", f"{name}.ext")
        else:
            run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", f"{name}.crt", "-days", "2", "-extfile", f"{name}.ext")
    p = lambda n: os.path.join(tmp, n)
    return {"ca": p("ca.crt"), "server_cert": p("server.crt"), "server_key": p("server.key"),
            "client_cert": p("client.crt"), "client_key": p("client.key"),
            "other_cert": p("other.crt"), "other_key": p("other.key")}

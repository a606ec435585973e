"""Helpers for the fleet tests: real etcd members and routerd instances on
loopback, started by the test and stopped by pid.

    Etcd(tmp, names)   one member of a cluster (data dir under tmp)
    Router(...)        one routerd with --etcd/--node, its control socket in tmp
    Proxy(port, to)    a TCP relay the test can cut and restore (a partition)
    make_certs(tmp)    a CA, a server and a client certificate (openssl)
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

passes, failures = [], []
_t0 = time.monotonic()


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + f"[{time.monotonic() - _t0:5.1f}s] " + what, flush=True)
    (passes if cond else failures).append(what)
    return cond


def summary():
    print(f"{len(passes)} passed, {len(failures)} failed")
    return 1 if failures else 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(cond, timeout=30, step=0.05):
    """Polls cond() until it returns something true; returns it (or None)."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            return None
        time.sleep(step)


def b64(s):
    return base64.b64encode(s.encode()).decode()


class Etcd:
    """One etcd member. `cluster` maps member names to (client_port, peer_port)."""

    def __init__(self, tmp, name, cluster, tls=None):
        self.tmp, self.name, self.cluster, self.tls = tmp, name, cluster, tls
        self.client_port, self.peer_port = cluster[name]
        self.datadir = os.path.join(tmp, f"etcd-{name}")
        self.proc = None
        self.state = "new"

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
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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


def start_cluster(tmp, names, tls=None):
    cluster = {n: (free_port(), free_port()) for n in names}
    members = [Etcd(tmp, n, cluster, tls) for n in names]
    for m in members:
        m.start()
    for m in members:
        if not wait_for(m.healthy, timeout=30, step=0.1):
            raise RuntimeError(f"etcd {m.name} did not become healthy")
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


class Router:
    def __init__(self, bindir, tmp, node, endpoints, boot_graph=None, extra_args=(), device="ring",
                 lease_ttl=2, sync_interval=1):
        self.bindir, self.tmp, self.node = bindir, tmp, node
        self.sock = os.path.join(tmp, f"{node}.sock")
        self.log = os.path.join(tmp, f"{node}.log")
        args = [os.path.join(bindir, "routerd"), "-s", self.sock, "--etcd", ",".join(endpoints),
                "--node", node, "--etcd-lease-ttl", str(lease_ttl), "--etcd-sync-interval", str(sync_interval),
                "--etcd-timeout", "1"]
        if boot_graph is not None:
            path = os.path.join(tmp, f"{node}-boot.yaml")
            with open(path, "w") as f:
                f.write(boot_graph if isinstance(boot_graph, str) else graph(f"boot-{node}", device=device))
            args += ["-c", path]
        args += list(extra_args)
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)

    def ctl(self, *args):
        return subprocess.run([os.path.join(self.bindir, "routerctl"), "-s", self.sock, *args],
                              capture_output=True, text=True, timeout=30)

    def status(self):
        r = self.ctl("--json", "status")
        return json.loads(r.stdout) if r.returncode == 0 else None

    def fleet(self):
        s = self.status()
        return s["fleet"] if s else None

    def ready(self, timeout=30):
        return wait_for(lambda: (self.fleet() or {}).get("connected"), timeout=timeout)

    def graph_name(self):
        s = self.status()
        return s["graph"]["name"] if s else None

    def poke(self):
        """A datagram across loopback (seen by a router reading `lo`)."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.sendto(b"weft-fleet-test", ("127.0.0.1", 9))

    def count(self):
        r = self.ctl("handler", "read", "c", "count")
        return int(r.stdout.strip()) if r.returncode == 0 else -1

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def routerctl(bindir, *args, timeout=60):
    return subprocess.run([os.path.join(bindir, "routerctl"), *args], capture_output=True, text=True,
                          timeout=timeout)


def fleet_put(bindir, etcd_args, nodes, text, tmp, wait=20, fragments=()):
    path = os.path.join(tmp, f"put-{time.monotonic_ns()}.yaml")
    with open(path, "w") as f:
        f.write(text)
    args = ["--json", "fleet", *etcd_args, "put", "-f", path, *nodes]
    for name, ftext in fragments:
        fpath = os.path.join(tmp, f"frag-{name}-{time.monotonic_ns()}.yaml")
        with open(fpath, "w") as f:
            f.write(ftext)
        args += ["--fragment", f"{name}={fpath}"]
    if wait:
        args += ["--wait", str(wait)]
    r = routerctl(bindir, *args)
    try:
        return r.returncode, json.loads(r.stdout), r.stderr
    except json.JSONDecodeError:
        return r.returncode, None, r.stderr


class Proxy:
    """A TCP relay 127.0.0.1:port -> 127.0.0.1:to that can be cut (every
    connection closed, new ones refused) and restored on the same port."""

    def __init__(self, to):
        self.to = to
        self.port = free_port()
        self.conns = []
        self.lock = threading.Lock()
        self.listener = None
        self.restore()

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

"""Hosts in network namespaces, for labs and for tests with real kernel peers.

    with Lab("vx") as lab:
        a = lab.namespace("a")                    # a unique name, deleted at exit
        a_if, r_if = lab.veth(a, None)            # veth pair: one end in `a`, one in the root namespace
        lab.sh(a, f"ip addr add 10.200.1.1/24 dev {a_if}")
        p = lab.spawn(None, ["build/bin/routerd", ...])   # killed (by pid) at exit

    # Named ends created directly inside two namespaces (nothing in the root one):
    lab.veth_pair(a, "eth0", b, "phys0", mac_a="02:00:00:00:00:01")

Every namespace, link and process a Lab creates is removed when it closes,
also after an exception or SIGINT/SIGTERM; `lab.at_close(fn)` adds more
(daemons that detach, known by their pid files). Names carry the caller's
pid so concurrent runs never collide. Traffic stays inside these namespaces
and on their veth links.
"""
import os
import signal
import subprocess
import time


class Lab:
    def __init__(self, tag):
        self.tag = f"{tag}{os.getpid() % 100000}"
        self.namespaces = []
        self.links = []
        self.procs = []
        self.closers = []
        self._n = 0
        self._old = {}

    # --- lifetime -------------------------------------------------------
    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old[sig] = signal.signal(sig, self._on_signal)
        return self

    def __exit__(self, *exc):
        self.close()
        for sig, h in self._old.items():
            signal.signal(sig, h)
        return False

    def _on_signal(self, signum, frame):
        # Ignore a second Ctrl-C while tearing down: the teardown must finish.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
        self.close()
        raise SystemExit(128 + signum)

    def at_close(self, fn):
        """Runs fn() first when the lab closes (last registered, first run)."""
        self.closers.append(fn)

    def close(self):
        for fn in reversed(self.closers):
            try:
                fn()
            except Exception as e:  # teardown goes on whatever one step says
                print(f"lab teardown: {e}")
        self.closers = []
        for p in reversed(self.procs):
            stop_process(p)
        self.procs = []
        for link in self.links:  # root-namespace ends (namespaced ones go with their namespace)
            subprocess.run(["ip", "link", "del", link], capture_output=True)
        self.links = []
        for ns in reversed(self.namespaces):
            pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self.namespaces = []

    # --- building -------------------------------------------------------
    def name(self, what):
        self._n += 1
        return f"{what}{self.tag}{self._n}"[:15]

    def namespace(self, what, exact=None, ipv6=True):
        """A new namespace named `exact`, or a unique name made from `what`.
        With ipv6=False, IPv6 is off on every interface created in it later."""
        ns = exact or self.name("w" + what)
        self.sh(None, f"ip netns add {ns}")
        self.namespaces.append(ns)
        self.sh(ns, "ip link set lo up")
        if not ipv6:
            self.sh(ns, "sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1")
        return ns

    def veth(self, ns_a, ns_b, mtu=1500):
        """A veth pair with one end in each namespace (None: the root one). Both ends up."""
        a, b = self.name("va"), self.name("vb")
        self.sh(None, f"ip link add {a} mtu {mtu} type veth peer name {b} mtu {mtu}")
        for end, ns in ((a, ns_a), (b, ns_b)):
            if ns:
                self.sh(None, f"ip link set {end} netns {ns}")
            else:
                self.links.append(end)
            self.sh(ns, f"ip link set {end} up")
            if ns:
                self.tx_checksums_in_software(ns, end)
            # The kernel must not answer or route on a routerd-owned end.
            if not ns:
                self.sh(None, f"sysctl -qw net.ipv6.conf.{end}.disable_ipv6=1")
        return a, b

    def veth_pair(self, ns_a, name_a, ns_b, name_b, mac_a=None, mac_b=None, mtu=1500):
        """A veth pair created directly inside two namespaces (never in the root
        one), so its ends can carry fixed names: `eth0` in every host. Both ends up."""
        def end(ns, name, mac):
            return f"name {name} netns {ns} mtu {mtu}" + (f" address {mac}" if mac else "")
        self.sh(None, f"ip link add {end(ns_a, name_a, mac_a)} type veth peer {end(ns_b, name_b, mac_b)}")
        for ns, name in ((ns_a, name_a), (ns_b, name_b)):
            self.sh(ns, f"ip link set {name} up")
            self.tx_checksums_in_software(ns, name)
        return name_a, name_b

    def tx_checksums_in_software(self, ns, link):
        # Hosts must put real checksums on the wire: with TX checksum offload
        # a veth hands af_packet packets whose TCP/UDP checksum is only
        # partial, and the far host would drop them.
        self.sh(ns, f"ethtool -K {link} tx off", check=False)

    @staticmethod
    def routerd_port_sysctls(link):
        """The command for a link that is a routerd port (af_packet): the
        namespace's kernel sees its frames too and must leave them alone: no
        IPv6, no ARP answers, and IPv4 fails the strict reverse-path check
        (the sources are routed elsewhere, through the host path's taps)."""
        return (f"sysctl -qw net/ipv6/conf/{link}/disable_ipv6=1 net/ipv4/conf/{link}/arp_ignore=8 "
                f"net/ipv4/conf/{link}/rp_filter=1")  # '/': a name may hold a '.'

    def mac(self, ns, link):
        out = self.sh(ns, f"cat /sys/class/net/{link}/address")
        return out.strip()

    # --- running --------------------------------------------------------
    @staticmethod
    def _wrap(ns, argv):
        return (["ip", "netns", "exec", ns] if ns else []) + argv

    def sh(self, ns, cmd, check=True, timeout=30):
        r = subprocess.run(self._wrap(ns, ["sh", "-c", cmd]), capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError(f"`{cmd}` in {ns or 'root'} failed ({r.returncode}): {r.stderr.strip()}")
        return r.stdout

    def run(self, ns, argv, timeout=30, **kw):
        return subprocess.run(self._wrap(ns, argv), capture_output=True, text=True, timeout=timeout, **kw)

    def spawn(self, ns, argv, **kw):
        p = subprocess.Popen(self._wrap(ns, argv), **kw)
        self.procs.append(p)
        return p

    # routerd runs in a session of its own (start_new_session), as a service
    # runs in a cgroup of its own. With group scheduling (the kernel's
    # autogroup puts each session in a group), a group holding both a
    # thread that sleeps for less than a millisecond at a time (an idle
    # worker's idle_sleep_us, a DeferredTx thread) and a busy thread on the
    # same CPU (here: whatever else the caller's session runs) starves the
    # other groups' tasks on that CPU for tens of seconds on recent kernels
    # (seen on 6.18): an SSH login through the host path took 34 s beside
    # three busy loops, 0.15 s with routerd in its own session. See
    # docs/engine.md, "CPUs shared with other programs".
    ROUTERD_SESSION = {"start_new_session": True}

    def spawn_routerd(self, ns, argv, log_path, up, tries=3, timeout=30, err_path=None, **kw):
        """Starts routerd (argv) with its output in log_path (its standard
        error in err_path, if given) and waits until up() is true or it
        exits; returns the Popen. kw goes to Popen (cwd=...).

        DPDK 22.11's af_packet PMD names its PACKET_FANOUT group
        (pid ^ ifindex) & 0xffff. Two routerds starting at once in one
        network namespace (tests running in parallel) can get the same group
        for different interfaces, and the second is refused. Another pid gets
        another group: start again, at most `tries` times."""
        for _ in range(tries):
            with open(log_path, "w") as log, open(err_path or os.devnull, "w") as err:
                p = self.spawn(ns, argv, stdout=log, stderr=err if err_path else subprocess.STDOUT,
                               **{**self.ROUTERD_SESSION, **kw})
            wait_until(lambda: p.poll() is not None or up(), timeout=timeout)
            if p.poll() is None:
                return p
            said = ""
            for path in filter(None, (log_path, err_path)):
                with open(path) as f:
                    said += f.read()
            if "PACKET_FANOUT" not in said:
                return p
        return p


def stop_process(p, timeout=10):
    """SIGTERM, then SIGKILL after `timeout` seconds; by the Popen's pid."""
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def wait_until(cond, timeout=20, step=0.05):
    """Polls cond() until it returns something true, and returns that; False
    once timeout seconds have passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(step)
    return False

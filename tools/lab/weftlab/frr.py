"""FRR in a network namespace, as Debian's FRR 8.4 runs it: zebra, and
staticd, bgpd, ospfd, ospf6d and bfdd with their configurations.

    frr = Frr(lab, ns, rundir, fpm_port, static_routes=["ip route 10.0.0.0/8 192.0.2.1"])
    frr.start_zebra(); frr.start_staticd()
    frr.vtysh("conf t", "no ip route 10.0.0.0/8 192.0.2.1")

With `fpm_port`, zebra loads dplane_fpm_nl and sends its routes to the FPM
server there (routerd's Fib service, in the same namespace): FRR on Weft's
host path. With `fpm_port=None` it is plain FRR on Linux: zebra installs
routes in the namespace's kernel, as an independent router would.

    peer = Frr(lab, ns, rundir, None, bgpd="router bgp 65002\\n ...")
    peer.start_zebra(); peer.start_bgpd()
    peer = Frr(lab, ns, rundir, None, daemons={"ospfd": "router ospf\\n ...", "bfdd": "bfd\\n ..."})
    peer.start_zebra(); peer.start("ospfd"); peer.start("bfdd")

`rundir` must exist; it is handed to user frr. The daemons detach (-d), so
they are known by their pid files: the lab stops them by pid when it closes.
"""
import os
import shutil
import signal

from .netns import wait_until

FRR_LIB = "/usr/lib/frr"
ZEBRA = f"{FRR_LIB}/zebra"
STATICD = f"{FRR_LIB}/staticd"
BGPD = f"{FRR_LIB}/bgpd"
OSPFD = f"{FRR_LIB}/ospfd"
OSPF6D = f"{FRR_LIB}/ospf6d"
BFDD = f"{FRR_LIB}/bfdd"
DAEMONS = ("bgpd", "ospfd", "ospf6d", "bfdd", "staticd", "zebra")  # stopped in this order: zebra last


def installed(*daemons):
    """True if zebra and the given daemons (default: staticd) can be run."""
    return all(os.access(f"{FRR_LIB}/{d}", os.X_OK) for d in ("zebra",) + (daemons or ("staticd",)))


class Frr:
    def __init__(self, lab, ns, rundir, port, static_routes=(), zebra_extra="", staticd_extra="", bgpd=None,
                 daemons=None):
        self.lab, self.ns, self.dir, self.port = lab, ns, rundir, port
        # The path down to rundir must be searchable by user frr.
        os.chmod(os.path.dirname(os.path.abspath(rundir)), 0o755)
        shutil.chown(rundir, "frr", "frr")
        fpm = f"fpm address 127.0.0.1 port {port}\n" if port else ""
        self._write("zebra.conf", f"hostname weft-zebra\n{fpm}{zebra_extra}")
        self._write("staticd.conf", "hostname weft-staticd\n" + "".join(r + "\n" for r in static_routes) + staticd_extra)
        confs = dict(daemons or {})
        if bgpd is not None:
            confs["bgpd"] = bgpd
        for daemon, conf in confs.items():
            if daemon not in DAEMONS:
                raise ValueError(f"unknown FRR daemon {daemon}")
            self._write(f"{daemon}.conf", conf if conf.endswith("\n") else conf + "\n")
        lab.at_close(self.stop)

    def _write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        shutil.chown(path, "frr", "frr")

    def pid(self, daemon):
        try:
            with open(os.path.join(self.dir, f"{daemon}.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def alive(self, daemon):
        p = self.pid(daemon)
        if not p:
            return False
        try:
            os.kill(p, 0)
            return True
        except ProcessLookupError:
            return False

    def _start(self, daemon, extra=""):
        d = self.dir
        self.lab.sh(self.ns, f"{FRR_LIB}/{daemon} -d -f {d}/{daemon}.conf {extra}-z {d}/zserv.api -i {d}/{daemon}.pid "
                             f"--vty_socket {d} -u frr -g frr --log file:{d}/{daemon}.log")

    def start_zebra(self):
        self._start("zebra", "-M dplane_fpm_nl " if self.port else "")

    def start_staticd(self):
        self._start("staticd")

    def start_bgpd(self):
        # -p 179: bgpd listens for its peers in this namespace.
        self._start("bgpd", "-p 179 ")

    def start(self, daemon):
        """ospfd, ospf6d or bfdd (its own control socket here, so that FRRs in
        other namespaces do not share one), with the configuration given."""
        if daemon == "bgpd":
            return self.start_bgpd()
        self._start(daemon, f"--bfdctl {self.dir}/bfdd.sock " if daemon == "bfdd" else "")

    def kill(self, daemon, sig=signal.SIGTERM):
        p = self.pid(daemon)
        if p:
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass
            wait_until(lambda: not self.alive(daemon), timeout=10)

    def stop(self):
        """Every daemon, by pid: SIGTERM, then SIGKILL if one lingers."""
        stop_all([self])

    def vtysh(self, *cmds, daemon=None):
        argv = ["vtysh", "--vty_socket", self.dir] + (["-d", daemon] if daemon else [])
        for c in cmds:
            argv += ["-c", c]
        return self.lab.run(self.ns, argv)


def stop_all(frrs, timeout=10):
    """Every daemon of every Frr in frrs, by pid, at once: SIGTERM to all, then
    SIGKILL to those still there after `timeout` seconds. (One by one, each
    daemon takes about 2 s to go: a lab with four FRRs would wait 16 s.)"""
    running = [(f, d, f.pid(d)) for f in frrs for d in DAEMONS if f.alive(d)]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for _, _, pid in running:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        wait_until(lambda: not any(f.alive(d) for f, d, _ in running), timeout=timeout)
        running = [(f, d, p) for f, d, p in running if f.alive(d)]
        if not running:
            return

"""FRR's zebra (with the dplane_fpm_nl module, pointed at routerd's FPM server)
and staticd in a network namespace, as Debian's FRR 8.4 runs them:

    frr = Frr(lab, ns, rundir, fpm_port, static_routes=["ip route 10.0.0.0/8 192.0.2.1"])
    frr.start_zebra(); frr.start_staticd()
    frr.vtysh("conf t", "no ip route 10.0.0.0/8 192.0.2.1")

`rundir` must exist; it is handed to user frr. The daemons detach (-d), so
they are known by their pid files: the lab stops them by pid when it closes.
"""
import os
import shutil
import signal

from .netns import wait_until

ZEBRA = "/usr/lib/frr/zebra"
STATICD = "/usr/lib/frr/staticd"


def installed():
    return os.access(ZEBRA, os.X_OK) and os.access(STATICD, os.X_OK)


class Frr:
    def __init__(self, lab, ns, rundir, port, static_routes=(), zebra_extra="", staticd_extra=""):
        self.lab, self.ns, self.dir, self.port = lab, ns, rundir, port
        # The path down to rundir must be searchable by user frr.
        os.chmod(os.path.dirname(os.path.abspath(rundir)), 0o755)
        shutil.chown(rundir, "frr", "frr")
        with open(os.path.join(rundir, "zebra.conf"), "w") as f:
            f.write(f"hostname weft-zebra\nfpm address 127.0.0.1 port {port}\n{zebra_extra}")
        with open(os.path.join(rundir, "staticd.conf"), "w") as f:
            f.write("hostname weft-staticd\n" + "".join(r + "\n" for r in static_routes) + staticd_extra)
        for n in ("zebra.conf", "staticd.conf"):
            shutil.chown(os.path.join(rundir, n), "frr", "frr")
        lab.at_close(self.stop)

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

    def start_zebra(self):
        d = self.dir
        self.lab.sh(self.ns, f"{ZEBRA} -d -f {d}/zebra.conf -M dplane_fpm_nl -z {d}/zserv.api -i {d}/zebra.pid "
                             f"--vty_socket {d} -u frr -g frr --log file:{d}/zebra.log")

    def start_staticd(self):
        d = self.dir
        self.lab.sh(self.ns, f"{STATICD} -d -f {d}/staticd.conf -z {d}/zserv.api -i {d}/staticd.pid "
                             f"--vty_socket {d} -u frr -g frr --log file:{d}/staticd.log")

    def kill(self, daemon, sig=signal.SIGTERM):
        p = self.pid(daemon)
        if p:
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass
            wait_until(lambda: not self.alive(daemon), timeout=10)

    def stop(self):
        """Both daemons, by pid: SIGTERM, then SIGKILL if one lingers."""
        for d in ("staticd", "zebra"):
            if self.alive(d):
                self.kill(d)
            if self.alive(d):
                self.kill(d, signal.SIGKILL)

    def vtysh(self, *cmds, daemon=None):
        argv = ["vtysh", "--vty_socket", self.dir] + (["-d", daemon] if daemon else [])
        for c in cmds:
            argv += ["-c", c]
        return self.lab.run(self.ns, argv)

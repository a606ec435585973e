"""Brings a lab up, runs its checks, tears it down.

Order: every host's namespace; veth links; the hosts' other interfaces
(stubs, virtio NICs, bridges, vxlan), addresses, sysctls, neighbours, routes,
commands; processes that start before routerd (the Portolan server);
each routerd with its graph, in its router's namespace; FRR (zebra pointed at
routerd's FPM server, or at the kernel for plain FRR; staticd, bgpd); the VMs
(one DPDK process each, attached to routerd's vhost-user socket); the other
processes; then the checks.
Everything is removed at the end, also after a failure, Ctrl-C or SIGTERM.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

from . import frr as frrmod
from .checks import CheckRunner, timed
from .netns import Lab, wait_until

TESTPMD = "dpdk-testpmd"


class LabFailure(Exception):
    pass


def _cpus():
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:
        return [0]


class LabRun:
    def __init__(self, spec, bindir, keep=False, workdir=None, only=None, out=sys.stdout):
        self.spec, self.bindir, self.keep, self.only, self.out = spec, bindir, keep, only, out
        self.routerd = os.path.join(bindir, "routerd")
        self.routerctl = os.path.join(bindir, "routerctl")
        self.workdir = workdir
        self.ns = {}
        self.socks = {}          # router name -> its control socket
        self.frrs = {}           # host -> weftlab.frr.Frr
        self.logs = []           # (title, path) printed on failure
        self.results = []
        self.lab = None

    def say(self, msg):
        print(msg, file=self.out, flush=True)

    # --- entry ------------------------------------------------------------
    def run(self):
        own_dir = self.workdir is None
        self.dir = self.workdir or tempfile.mkdtemp(prefix=f"weft-lab-{self.spec.name}-")
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.socks = {r.name: os.path.join(self.dir, r.sock) for r in self.spec.routers}
        self.sock = self.socks[self.spec.routers[0].name]  # routerctl checks that name no router
        failed_up = None
        try:
            with Lab(self.spec.name[:6]) as lab:
                self.lab = lab
                try:
                    self.up()
                except LabFailure as e:
                    failed_up = str(e)
                if failed_up is None:
                    self.run_checks()
                    if self.keep:
                        self.hold()
                failed = failed_up is not None or any(not ok for _, ok, _ in self.results)
                if failed:
                    self.dump_logs()
                self.say(f"tearing down lab {self.spec.name}")
        finally:
            if own_dir and not self.keep:
                shutil.rmtree(self.dir, ignore_errors=True)
        if failed_up is not None:
            self.say(f"FAIL lab {self.spec.name} did not come up: {failed_up}")
            return 1
        n_fail = sum(1 for _, ok, _ in self.results if not ok)
        self.say(f"{'PASS' if not n_fail else 'FAIL'} lab {self.spec.name}: {len(self.results) - n_fail} of "
                 f"{len(self.results)} checks passed")
        return 1 if n_fail else 0

    # --- bring-up ---------------------------------------------------------
    def up(self):
        s, lab = self.spec, self.lab
        for rt in s.routers:
            r = subprocess.run([self.routerctl, "validate", rt.graph], capture_output=True, text=True)
            if r.returncode != 0:
                raise LabFailure(f"the graph {os.path.relpath(rt.graph)} does not validate:\n" + r.stdout + r.stderr)
            self.say(f"lab {s.name}: graph {os.path.relpath(rt.graph)} is valid")
        tag = f"{s.name}-{os.getpid()}"
        for h in s.hosts.values():
            self.ns[h.name] = lab.namespace(h.name, exact=f"{h.name}-{tag}", ipv6=h.ipv6)
        for ha, ia, hb, ib, mtu in s.links:
            lab.veth_pair(self.ns[ha], ia, self.ns[hb], ib, s.interface(ha, ia).mac, s.interface(hb, ib).mac, mtu)
        for h in s.hosts.values():
            self.configure_host(h)
        self.say(f"  {len(s.hosts)} hosts (namespaces *-{tag}), {len(s.links)} links")
        for pr in s.processes:
            if pr["start"] == "before":
                self.start_process(pr)
        for rt in s.routers:
            self.start_routerd(rt)
        for f in s.frr:
            self.start_frr(f)
        if len(self.frrs) > 1:
            # Stopped together at the end (before each one's own stop, which then finds nothing to do).
            self.lab.at_close(lambda: frrmod.stop_all(self.frrs.values()))
        self.start_vms()
        for pr in s.processes:
            if pr["start"] == "after":
                self.start_process(pr)

    def sh(self, host, cmd):
        try:
            return self.lab.sh(self.ns[host], cmd)
        except RuntimeError as e:
            raise LabFailure(f"host {host}: {e}")

    def configure_host(self, h):
        order = {"veth": 0, "stub": 1, "virtio": 1, "bridge": 2, "vxlan": 3}
        for itf in sorted(h.interfaces.values(), key=lambda i: order[i.type]):
            n = itf.name
            if itf.type == "stub":
                # A link that only carries addresses (zebra's connected routes for a
                # graph output): one end of a veth pair whose other end stays down-free.
                self.sh(h.name, f"ip link add name {n} type veth peer name {n[:12]}-sp")
                self.sh(h.name, f"ip link set {n[:12]}-sp up")
            elif itf.type == "virtio":
                # The guest NIC of a VM: the VM (a DPDK process) bridges its
                # virtio-user device to the `-vm` end of this pair.
                self.sh(h.name, f"ip link add name {n} type veth peer name {n[:12]}-vm")
                self.sh(h.name, f"ip link set {n[:12]}-vm up")
                self.lab.tx_checksums_in_software(self.ns[h.name], n)
                self.lab.tx_checksums_in_software(self.ns[h.name], f"{n[:12]}-vm")
            elif itf.type == "bridge":
                self.sh(h.name, f"ip link add name {n} type bridge")
                for port in itf.ports:
                    self.sh(h.name, f"ip link set {port} master {n}")
            elif itf.type == "vxlan":
                self.sh(h.name, f"ip link add name {n} type vxlan id {itf.vni} local {itf.local} remote {itf.remote}"
                                f" dstport {itf.dstport} dev {itf.dev}")
            if itf.mac and itf.type != "veth":
                self.sh(h.name, f"ip link set {n} address {itf.mac}")
            if itf.mtu:
                self.sh(h.name, f"ip link set {n} mtu {itf.mtu}")
            if not itf.rxvlan:
                self.sh(h.name, f"ethtool -K {n} rxvlan off")
            if not itf.kernel:
                self.sh(h.name, Lab.routerd_port_sysctls(n))
            for a in itf.addresses:
                self.sh(h.name, f"ip addr add {a} dev {n}" + (" nodad" if ":" in str(a) else ""))
            self.sh(h.name, f"ip link set {n} up")
        for k, v in h.sysctls.items():
            self.sh(h.name, f"sysctl -qw {k}={v}")
        for nb in h.neighbors:
            self.sh(h.name, f"ip neigh replace {nb['ip']} lladdr {nb['mac']} dev {nb['dev']} nud permanent")
        for rt in h.routes:
            self.sh(h.name, f"ip route add {rt}")
        for c in h.commands:
            self.sh(h.name, str(c))

    def log_file(self, title, name):
        path = os.path.join(self.dir, name)
        self.logs.append((title, path))
        return open(path, "w")

    def start_routerd(self, rt):
        one = len(self.spec.routers) == 1
        log = self.log_file("routerd" if one else f"routerd {rt.name}", "routerd.log" if one else f"{rt.name}.log")
        sock = self.socks[rt.name]
        # cwd: the run directory, so relative paths in the graph (vhost-user
        # sockets) land there.
        p = self.lab.spawn(self.ns[rt.host], [self.routerd, "-c", rt.graph, "-s", sock], cwd=self.dir,
                           stdout=log, stderr=subprocess.STDOUT, **self.lab.ROUTERD_SESSION)
        up = wait_until(lambda: p.poll() is not None or self.ctl("status", sock=sock)[0] == 0, timeout=60, step=0.1)
        if not up or p.poll() is not None:
            raise LabFailure(f"routerd {rt.name} did not start (exit status {p.poll()}); see its log below")
        self.say(f"  routerd{'' if one else ' ' + rt.name} (pid {p.pid}) runs {os.path.basename(rt.graph)} in host "
                 f"{rt.host}; socket {sock}")

    def ctl(self, *args, sock=None):
        r = subprocess.run([self.routerctl, "-s", sock or self.sock, *args], capture_output=True, text=True,
                           timeout=30)
        return r.returncode, r.stdout

    def start_frr(self, f):
        host = f["host"]
        daemons = (["staticd"] if f["static"] is not None else []) + (["bgpd"] if f["bgpd"] else [])
        if not frrmod.installed(*daemons):
            raise LabFailure(f"FRR (zebra, {', '.join(daemons)}) is not installed: apt-get install frr")
        rundir = os.path.join(self.dir, f"frr-{host}")
        os.makedirs(rundir, exist_ok=True)
        frr = frrmod.Frr(self.lab, self.ns[host], rundir, f["port"], f["static"] or (), zebra_extra=f["zebra"],
                         bgpd=f["bgpd"])
        self.frrs[host] = frr
        for d in ["zebra"] + daemons:
            self.logs.append((f"{d} of {host}", os.path.join(rundir, f"{d}.log")))
        frr.start_zebra()
        for d in daemons:
            getattr(frr, f"start_{d}")()
        dead = [d for d in ["zebra"] + daemons if not frr.alive(d)]
        if dead:
            raise LabFailure(f"FRR in host {host}: {', '.join(dead)} did not start; see the logs below")
        to = f"FPM to 127.0.0.1:{f['port']}" if f["port"] else "routes into the kernel"
        self.say(f"  FRR in host {host}: zebra (pid {frr.pid('zebra')}, {to})"
                 + "".join(f", {d} (pid {frr.pid(d)})" for d in daemons) + f"; vtysh --vty_socket {rundir}")

    def start_vms(self):
        cpus = _cpus()
        vms = [(h, i) for h in self.spec.hosts.values() for i in h.interfaces.values() if i.type == "virtio"]
        for k, (h, itf) in enumerate(vms):
            sock = itf.socket if os.path.isabs(itf.socket) else os.path.join(self.dir, itf.socket)
            if not wait_until(lambda: os.path.exists(sock), timeout=10):
                raise LabFailure(f"host {h.name}: routerd serves no vhost-user socket {itf.socket} (is a port of "
                                 f"the graph `net_vhost` with iface={itf.socket}?)")
            main_cpu, fwd_cpu = cpus[0], cpus[(k + 1) % len(cpus)]
            prefix = f"weftvm-{h.name}-{os.getpid()}"
            argv = ["stdbuf", "-oL", TESTPMD, "--no-huge", "-m", "256", "--no-shconf", "--no-pci", f"--file-prefix={prefix}",
                    f"--lcores=0@{main_cpu},1@{fwd_cpu}", "--log-level=*:notice",
                    f"--vdev=net_virtio_user0,path={sock},queues=1,mac={itf.mac or '52:54:00:00:00:01'}",
                    f"--vdev=net_af_packet0,iface={itf.name[:12]}-vm",
                    "--", "--forward-mode=io", "--port-topology=paired", "--total-num-mbufs=8192",
                    "--burst=32", "--txd=512", "--rxd=512"]
            log = self.log_file(f"VM {h.name} (testpmd)", f"vm-{h.name}.log")
            p = self.lab.spawn(self.ns[h.name], argv, cwd=self.dir, stdin=subprocess.PIPE, stdout=log,
                               stderr=subprocess.STDOUT)

            def started():
                with open(log.name) as f:
                    return "Press enter to exit" in f.read()
            if not wait_until(lambda: p.poll() is not None or started(), timeout=60, step=0.1) or p.poll() is not None:
                raise LabFailure(f"the VM of host {h.name} (dpdk-testpmd) did not start; see its log below")
            self.say(f"  VM {h.name} (dpdk-testpmd pid {p.pid}, CPU {fwd_cpu}): virtio-user on {itf.socket} "
                     f"<-> {h.name}:{itf.name}")

    def start_process(self, pr):
        host = pr["host"]
        fmt = {"bin": self.bindir, "dir": self.dir, "lab": self.spec.dir, "listen": pr.get("listen", ""),
               "ns": self.ns[host]}
        if "mappings" in pr:
            fmt["mappings"] = os.path.join(self.dir, f"{pr['name']}-mappings.json")
            with open(fmt["mappings"], "w") as f:
                json.dump(pr["mappings"], f, indent=1)
        argv = [c.format(**fmt) for c in pr["command"]]
        if not (os.path.isabs(argv[0]) and os.access(argv[0], os.X_OK)) and not shutil.which(argv[0]):
            raise LabFailure(f"process {pr['name']}: {argv[0]} is not installed or built")
        log = self.log_file(pr["name"], f"{pr['name']}.log")
        p = self.lab.spawn(self.ns[host], argv, cwd=self.dir, stdout=log, stderr=subprocess.STDOUT)
        ready = pr.get("ready") or {}
        cond = None
        if "tcp" in ready:
            addr, port = str(ready["tcp"]).rsplit(":", 1)
            probe = ["bash", "-c", f"exec 3<>/dev/tcp/{addr.strip('[]')}/{port}"]
            cond = lambda: self.lab.run(self.ns[host], probe).returncode == 0  # noqa: E731
        elif "log" in ready:
            rx = re.compile(str(ready["log"]))
            cond = lambda: rx.search(open(log.name).read()) is not None  # noqa: E731
        elif "file" in ready:
            cond = lambda: os.path.exists(os.path.join(self.dir, str(ready["file"])))  # noqa: E731
        if cond and (not wait_until(lambda: p.poll() is not None or cond(), timeout=30, step=0.1)
                     or p.poll() is not None):
            raise LabFailure(f"process {pr['name']} did not become ready ({ready}); see its log below")
        self.say(f"  {pr['name']} (pid {p.pid}) in host {host}")

    # --- checks -----------------------------------------------------------
    def run_checks(self):
        runner = CheckRunner(self.lab, lambda h: self.ns[h], self.routerctl, self.sock, self.dir,
                             routers=self.socks, frrs=self.frrs)
        checks = [c for c in self.spec.checks if not self.only or any(o in c.name for o in self.only)]
        self.say(f"lab {self.spec.name} is up; {len(checks)} checks")
        for c in checks:
            try:
                ok, detail, took = timed(lambda: runner.run(c))
            except Exception as e:  # a check that breaks is a failed check, the others still run
                ok, detail, took = False, f"{type(e).__name__}: {e}", 0.0
            self.results.append((c.name, ok, detail))
            self.say(f"{'PASS' if ok else 'FAIL'}  {c.name}  ({took:.1f} s; {detail})")

    def hold(self):
        self.say("\nThe lab stays up until Ctrl-C. Try:")
        for sock in self.socks.values():
            self.say(f"  {self.routerctl} -s {sock} stats")
        for host, frr in self.frrs.items():
            self.say(f"  ip netns exec {self.ns[host]} vtysh --vty_socket {frr.dir}        # FRR of host {host}")
        for h, ns in self.ns.items():
            self.say(f"  ip netns exec {ns} bash        # host {h}")
        try:
            while True:
                signal.pause()
        except KeyboardInterrupt:
            pass

    def dump_logs(self):
        for title, path in self.logs:
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    lines = f.readlines()[-30:]
                if lines:
                    self.say(f"--- {title}: last lines of {path} ---\n" + "".join(lines).rstrip())


def run_lab(spec, bindir, **kw):
    return LabRun(spec, bindir, **kw).run()


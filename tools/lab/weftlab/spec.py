"""The lab file: parsing and checking, every mistake reported as FILE:LINE:COL.

The format is described in docs/labs.md. `load(path)` returns a LabSpec or
raises LabFileError listing every problem found.
"""
import ipaddress
import os
import re

import yaml

IFNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$")
HOSTNAME = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
MAC = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")
INTERFACE_TYPES = ("veth", "stub", "bridge", "vxlan", "virtio")
CHECK_TYPES = ("ping", "vlan_ping", "udp", "tcp", "send_udp", "routerctl", "reload", "fib", "bgp", "vtysh",
               "traceroute", "tracepath", "unreachable", "time_exceeded", "neighbor")
# The kernel's neighbour states (ip neigh); a `neighbor` check wants a learned one by default.
NEIGH_STATES = ("REACHABLE", "STALE", "DELAY", "PROBE", "INCOMPLETE", "FAILED", "PERMANENT", "NOARP")
LEARNED_STATES = ("REACHABLE", "STALE", "DELAY", "PROBE")


class LabFileError(Exception):
    def __init__(self, problems):
        self.problems = problems
        super().__init__("\n".join(problems))


# --- YAML with positions ---------------------------------------------------
class MDict(dict):
    """A mapping that remembers where it and each of its values start."""
    mark = None
    marks = None


class MList(list):
    mark = None
    marks = None


class MStr(str):
    mark = None


def _convert(node):
    if isinstance(node, yaml.MappingNode):
        out = MDict()
        out.mark, out.marks = node.start_mark, {}
        for k, v in node.value:
            key = str(_convert(k))
            out[key] = _convert(v)
            out.marks[key] = (k.start_mark, v.start_mark)
        return out
    if isinstance(node, yaml.SequenceNode):
        out = MList(_convert(v) for v in node.value)
        out.mark, out.marks = node.start_mark, [v.start_mark for v in node.value]
        return out
    value = node.value
    if node.style is None and value in ("", "~", "null", "Null", "NULL"):
        return None
    if node.tag.endswith(":int") or (node.style is None and re.fullmatch(r"[-+]?[0-9]+", value or "")):
        try:
            return int(value)
        except ValueError:
            pass
    if node.style is None and value in ("true", "false", "True", "False", "yes", "no"):
        return value in ("true", "True", "yes")
    s = MStr(value)
    s.mark = node.start_mark
    return s


class Problems:
    def __init__(self, path):
        self.path, self.list = path, []

    def add(self, mark, msg):
        where = f"{self.path}:{mark.line + 1}:{mark.column + 1}" if mark else self.path
        self.list.append(f"{where}: error: {msg}")


def _mark(obj, key=None, value=True):
    """Where obj (or obj[key]) starts."""
    if key is not None and isinstance(obj, MDict) and key in obj.marks:
        return obj.marks[key][1 if value else 0]
    if key is not None and isinstance(obj, MList) and isinstance(key, int) and key < len(obj.marks):
        return obj.marks[key]
    return getattr(obj, "mark", None)


def _keys(p, obj, allowed, what, required=()):
    if not isinstance(obj, dict):
        p.add(_mark(obj), f"{what}: expected a mapping")
        return False
    for k in obj:
        if k not in allowed:
            near = [a for a in allowed if a.startswith(k[:3])]
            hint = f" (did you mean '{near[0]}'?)" if near else f" (known: {', '.join(allowed)})"
            p.add(_mark(obj, k, value=False), f"{what}: unknown key '{k}'{hint}")
    for k in required:
        if k not in obj:
            p.add(_mark(obj), f"{what}: missing required key '{k}'")
    return True


def _list(p, obj, key, what):
    v = obj.get(key, [])
    if not isinstance(v, list):
        p.add(_mark(obj, key), f"{what}: '{key}' must be a list")
        return []
    return v


# --- the model -------------------------------------------------------------
class Interface:
    def __init__(self, host, name, d):
        self.host, self.name = host, name
        self.type = d.get("type", "veth")
        self.mac = d.get("mac")
        self.addresses = list(d.get("addresses", []))
        self.mtu = d.get("mtu")
        self.ports = list(d.get("ports", []))            # bridge
        self.vni = d.get("vni")                          # vxlan
        self.local, self.remote = d.get("local"), d.get("remote")
        self.dev = d.get("dev")
        self.dstport = d.get("dstport", 4789)
        self.socket = d.get("socket")                    # virtio
        self.rxvlan = d.get("rx_vlan_offload", True)
        self.kernel = d.get("kernel", True)              # false: routerd's port, the kernel ignores it
        self.mark = getattr(d, "mark", None)


class Host:
    def __init__(self, name, d):
        self.name = name
        self.ipv6 = bool(d.get("ipv6", False))
        self.interfaces = {k: Interface(name, k, v) for k, v in (d.get("interfaces") or {}).items()}
        self.routes = list(d.get("routes", []))
        self.neighbors = list(d.get("neighbors", []))
        self.sysctls = dict(d.get("sysctls", {}))
        self.commands = list(d.get("commands", []))


class Check:
    def __init__(self, kind, args, name, expect, mark, index):
        self.kind, self.args, self.expect, self.mark, self.index = kind, args, expect, mark, index
        self.name = name or describe(kind, args, expect)


def describe(kind, a, expect):
    neg = "" if expect == "pass" else " (must fail)"
    if kind == "ping":
        ttl = f", replies with TTL {a['ttl']}" if "ttl" in a else ""
        return f"ping {a['from']} -> {a['to']}{ttl}{neg}"
    if kind == "vlan_ping":
        return f"ping {a['from']} -> {a['to']} in VLAN {a['vlan']}{neg}"
    if kind in ("udp", "tcp"):
        src = f", seen from {a['source']}" if a.get("source") else ""
        return f"{kind.upper()} {a['from']} -> {a['to']}:{a.get('port', 7777)}{src}{neg}"
    if kind == "send_udp":
        return f"send {a.get('count', 100)} UDP datagrams {a['from']} -> {a['to']}:{a.get('port', 9)}"
    if kind == "reload":
        return f"hot reload to {os.path.basename(a['graph'])}, no packet lost{neg}"
    if kind == "routerctl":
        on = f" ({a['router']})" if a.get("router") else ""
        return f"routerctl{on} {' '.join(str(x) for x in a['args'])} ~ /{a.get('match', '')}/{neg}"
    on = a.get("router") or "the router"
    if kind == "fib":
        if expect != "pass":
            return f"{a['prefix']} is not in {on}'s FIB"
        return f"{a['prefix']} is in {on}'s FIB" + (f", via /{a['via']}/" if a.get("via") else "")
    if kind == "bgp":
        return f"BGP {a['host']} <-> {a['peer']}: Established{neg}"
    if kind == "vtysh":
        return f"vtysh on {a['host']}: {'; '.join(str(c) for c in a['commands'])}{neg}"
    if kind == "traceroute":
        return f"traceroute {a['from']} -> {a['to']}: {', '.join(str(h) for h in a['hops'])}{neg}"
    if kind == "tracepath":
        return f"tracepath {a['from']} -> {a['to']}: pmtu {a['pmtu']}{neg}"
    if kind == "time_exceeded":
        return f"TTL 1 {a['from']} -> {a['to']}: time exceeded from {a['by']} with TTL {a.get('ttl', 64)}{neg}"
    if kind == "unreachable":
        return f"ping {a['from']} -> {a['to']}: destination unreachable from {a['by']}{neg}"
    if kind == "neighbor":
        mac = f" as {a['mac']}" if a.get("mac") else ""
        return f"{a['host']} learned {a['ip']}{mac} on {a['dev']}{neg}"
    return kind


class Router:
    """One routerd of the lab: its name (checks name it), host, graph, socket (in the run directory)."""
    def __init__(self, name, host, graph, sock):
        self.name, self.host, self.graph, self.sock = name, host, graph, sock


class LabSpec:
    def __init__(self, path):
        self.path = os.path.abspath(path)
        self.dir = os.path.dirname(self.path)
        self.name = ""
        self.graph = None        # the first router's (the only one's, with `graph:`)
        self.router_host = "router"
        self.routers = []        # [Router]
        self.hosts = {}
        self.links = []          # [(host, ifname, host, ifname, mtu)]
        self.frr = []            # [dict(host, port, static, bgpd, zebra)], one per host
        self.processes = []      # [dict(name, host, command, ready, start)]
        self.checks = []

    def interface(self, host, name):
        h = self.hosts.get(host)
        return h.interfaces.get(name) if h else None

    def router(self, name=None):
        """The router of that name (None: the first)."""
        if name is None:
            return self.routers[0] if self.routers else None
        return next((r for r in self.routers if r.name == name), None)

    def frr_of(self, host):
        return next((f for f in self.frr if f["host"] == host), None)


def _endpoint(p, spec, obj, key, what):
    v = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(v, str) or ":" not in v:
        p.add(_mark(obj, key), f"{what}: '{key}' must be HOST:INTERFACE, got {v!r}")
        return None
    host, ifname = v.split(":", 1)
    if host not in spec.hosts:
        p.add(_mark(obj, key), f"{what}: unknown host '{host}' (hosts: {', '.join(spec.hosts)})")
        return None
    if not IFNAME.match(ifname):
        p.add(_mark(obj, key), f"{what}: bad interface name '{ifname}' (at most 15 characters)")
        return None
    return host, ifname


def _address(p, obj, key, what, prefix=False):
    v = obj.get(key)
    try:
        return str(ipaddress.ip_interface(v) if prefix else ipaddress.ip_address(v))
    except ValueError:
        p.add(_mark(obj, key), f"{what}: '{key}' is not an IP {'address with a prefix length' if prefix else 'address'}:"
                               f" {v!r}")
        return None


def load(path):
    p = Problems(path)
    try:
        with open(path) as f:
            node = yaml.compose(f, Loader=yaml.SafeLoader)
    except OSError as e:
        raise LabFileError([f"{path}: error: {e.strerror}"])
    except yaml.YAMLError as e:
        m = getattr(e, "problem_mark", None)
        p.add(m, f"YAML syntax: {getattr(e, 'problem', e)}")
        raise LabFileError(p.list)
    doc = _convert(node) if node is not None else MDict()
    spec = LabSpec(path)
    top = ("name", "graph", "router", "routers", "hosts", "links", "frr", "portolan", "processes", "checks")
    if not _keys(p, doc, top, "lab file", required=("name", "hosts") + (() if "routers" in doc else ("graph",))):
        raise LabFileError(p.list)
    spec.name = str(doc.get("name", ""))
    if spec.name and not HOSTNAME.match(spec.name.split("-")[0][:20]):
        p.add(_mark(doc, "name"), "name: letters, digits and '-', starting with a letter")
    if "routers" in doc:
        # Several routerds, each in its host with its graph and its socket NAME.sock.
        for k in ("graph", "router"):
            if k in doc:
                p.add(_mark(doc, k, value=False), f"{k}: not with routers: (give each router its host and graph)")
        rs = doc["routers"]
        if _keys(p, rs, list(rs.keys()) if isinstance(rs, dict) else [], "routers"):
            if not rs:
                p.add(_mark(doc, "routers"), "routers: at least one router")
            for rn, rd in rs.items():
                what = f"router '{rn}'"
                if not HOSTNAME.match(rn):
                    p.add(_mark(rs, rn, value=False), f"{what}: name must be lower-case letters, digits and '-'")
                if not _keys(p, rd, ("host", "graph"), what, required=("host", "graph")) or "graph" not in rd:
                    continue
                graph = os.path.join(spec.dir, str(rd["graph"]))
                if not os.path.exists(graph):
                    p.add(_mark(rd, "graph"), f"{what}: graph file '{rd['graph']}' does not exist (relative to the "
                                              "lab file)")
                spec.routers.append(Router(str(rn), str(rd.get("host")), graph, f"{rn}.sock"))
                spec.routers[-1].mark = _mark(rd, "host")
    else:
        if "graph" in doc:
            spec.graph = os.path.join(spec.dir, str(doc["graph"]))
            if not os.path.exists(spec.graph):
                p.add(_mark(doc, "graph"), f"graph file '{doc['graph']}' does not exist (relative to the lab file)")
        router = doc.get("router", MDict())
        if _keys(p, router, ("host",), "router"):
            spec.router_host = str(router.get("host", "router"))
        spec.routers.append(Router(spec.router_host, spec.router_host, spec.graph, "routerd.sock"))
        spec.routers[-1].mark = _mark(doc, "router") or _mark(doc, "hosts")
    if spec.routers:
        spec.graph, spec.router_host = spec.routers[0].graph, spec.routers[0].host

    # hosts and their interfaces
    hosts = doc.get("hosts", MDict())
    if _keys(p, hosts, list(hosts.keys()) if isinstance(hosts, dict) else [], "hosts"):
        for hn, hd in hosts.items():
            what = f"host '{hn}'"
            if not HOSTNAME.match(hn):
                p.add(_mark(hosts, hn, value=False), f"{what}: name must be lower-case letters, digits and '-'"
                                                      " (at most 20)")
            hd = hd if isinstance(hd, dict) else MDict()
            _keys(p, hd, ("ipv6", "interfaces", "routes", "neighbors", "sysctls", "commands"), what)
            ifs = hd.get("interfaces") or MDict()
            for ifn, ifd in (ifs.items() if isinstance(ifs, dict) else []):
                iw = f"{what}, interface '{ifn}'"
                if not IFNAME.match(ifn):
                    p.add(_mark(ifs, ifn, value=False), f"{iw}: bad interface name (at most 15 characters)")
                ifd = ifd if isinstance(ifd, dict) else MDict()
                _keys(p, ifd, ("type", "mac", "addresses", "mtu", "ports", "vni", "local", "remote", "dev",
                               "dstport", "socket", "rx_vlan_offload", "kernel"), iw)
                if not isinstance(ifd.get("kernel", True), bool):
                    p.add(_mark(ifd, "kernel"), f"{iw}: kernel is true or false (false: routerd's port)")
                elif ifd.get("kernel") is False and ifd.get("addresses"):
                    p.add(_mark(ifd, "addresses"), f"{iw}: routerd's port (kernel: false) has no kernel addresses")
                t = ifd.get("type", "veth")
                if t not in INTERFACE_TYPES:
                    p.add(_mark(ifd, "type"), f"{iw}: unknown type '{t}' (types: {', '.join(INTERFACE_TYPES)})")
                if "mac" in ifd and not MAC.match(str(ifd["mac"])):
                    p.add(_mark(ifd, "mac"), f"{iw}: bad MAC address {ifd['mac']!r}")
                for i, a in enumerate(_list(p, ifd, "addresses", iw)):
                    try:
                        ipaddress.ip_interface(a)
                        if "/" not in str(a):
                            raise ValueError
                    except ValueError:
                        p.add(_mark(ifd["addresses"], i), f"{iw}: '{a}' is not ADDRESS/PREFIXLEN")
                if t == "vxlan":
                    for k in ("vni", "local", "remote", "dev"):
                        if k not in ifd:
                            p.add(_mark(ifd), f"{iw}: a vxlan interface needs '{k}'")
                if t == "virtio" and "socket" not in ifd:
                    p.add(_mark(ifd), f"{iw}: a virtio interface needs 'socket' (routerd's vhost-user socket)")
            for i, n in enumerate(_list(p, hd, "neighbors", what)):
                if not (isinstance(n, dict) and _keys(p, n, ("ip", "mac", "dev"), f"{what}, neighbor",
                                                      required=("ip", "mac", "dev"))):
                    continue
                _address(p, n, "ip", f"{what}, neighbor")
                if not MAC.match(str(n.get("mac", ""))):
                    p.add(_mark(n, "mac"), f"{what}, neighbor: bad MAC address {n.get('mac')!r}")
            _list(p, hd, "routes", what)
            _list(p, hd, "commands", what)
            spec.hosts[hn] = Host(hn, hd)
            for ifn, ifd in (ifs.items() if isinstance(ifs, dict) else []):
                spec.hosts[hn].interfaces[ifn].mark = _mark(ifs, ifn)
    for r in spec.routers:
        if r.host not in spec.hosts:
            p.add(r.mark, f"routerd's host '{r.host}' is not in hosts: add it (routerd runs in its own namespace)")
    if len({r.host for r in spec.routers}) != len(spec.routers):
        p.add(_mark(doc, "routers"), "routers: one routerd per host (each runs in its own namespace)")

    # links
    seen = {}
    for i, ln in enumerate(_list(p, doc, "links", "links")):
        what = f"links[{i}]"
        if isinstance(ln, list) and len(ln) == 2:
            ln_d = MDict(a=ln[0], b=ln[1])
            ln_d.mark, ln_d.marks = ln.mark, {"a": (ln.marks[0], ln.marks[0]), "b": (ln.marks[1], ln.marks[1])}
            ln = ln_d
        if not _keys(p, ln, ("a", "b", "mtu"), what, required=("a", "b")):
            continue
        ends = [_endpoint(p, spec, ln, k, what) for k in ("a", "b")]
        if None in ends:
            continue
        for k, (h, i_) in zip(("a", "b"), ends):
            if (h, i_) in seen:
                p.add(_mark(ln, k), f"{what}: {h}:{i_} is already the end of {seen[(h, i_)]}")
            seen[(h, i_)] = what
            itf = spec.interface(h, i_)
            if itf is None:
                spec.hosts[h].interfaces[i_] = Interface(h, i_, {})
            elif itf.type != "veth":
                p.add(_mark(ln, k), f"{what}: {h}:{i_} is a {itf.type} interface, not a veth end")
        spec.links.append((ends[0][0], ends[0][1], ends[1][0], ends[1][1], ln.get("mtu", 1500)))
    for h in spec.hosts.values():
        for itf in h.interfaces.values():
            if itf.type == "veth" and (h.name, itf.name) not in seen:
                p.add(itf.mark, f"host '{h.name}', interface '{itf.name}': a veth end that no link names "
                                "(add it to links:, or give it a type)")
            for port in itf.ports:
                if port not in h.interfaces:
                    p.add(itf.mark, f"host '{h.name}', bridge '{itf.name}': no interface '{port}' in this host")
            if itf.dev and itf.dev not in h.interfaces:
                p.add(itf.mark, f"host '{h.name}', interface '{itf.name}': no interface '{itf.dev}' in this host")

    # FRR: one mapping, or a list of them (one per host)
    if "frr" in doc:
        fl = doc["frr"]
        for i, f in enumerate(fl if isinstance(fl, list) else [fl]):
            what = f"frr[{i}]" if isinstance(fl, list) else "frr"
            _frr(p, spec, f, what)

    # Portolan (the lab SVP server) and other processes
    if "portolan" in doc:
        spec.processes.append(_portolan(p, spec, doc["portolan"]))
    for i, pr in enumerate(_list(p, doc, "processes", "processes")):
        what = f"processes[{i}]"
        if not _keys(p, pr, ("name", "host", "command", "ready", "start"), what, required=("name", "host",
                                                                                          "command")):
            continue
        if pr.get("host") not in spec.hosts:
            p.add(_mark(pr, "host"), f"{what}: unknown host '{pr.get('host')}'")
        if pr.get("start", "after") not in ("before", "after"):
            p.add(_mark(pr, "start"), f"{what}: start is 'before' or 'after' (routerd)")
        ready = pr.get("ready", MDict())
        _keys(p, ready, ("tcp", "log", "file"), f"{what}, ready")
        spec.processes.append({"name": str(pr["name"]), "host": str(pr.get("host")),
                               "command": [str(c) for c in _list(p, pr, "command", what)],
                               "ready": dict(ready), "start": pr.get("start", "after")})

    # checks
    for i, c in enumerate(_list(p, doc, "checks", "checks")):
        what = f"checks[{i}]"
        if not isinstance(c, dict):
            p.add(_mark(doc["checks"], i), f"{what}: expected a mapping like {{ping: {{from: a, to: 10.0.0.2}}}}")
            continue
        kinds = [k for k in c if k in CHECK_TYPES]
        if len(kinds) != 1:
            p.add(_mark(c), f"{what}: exactly one of {', '.join(CHECK_TYPES)}")
            continue
        kind = kinds[0]
        _keys(p, c, (kind, "name", "expect"), what)
        expect = c.get("expect", "pass")
        if expect not in ("pass", "fail"):
            p.add(_mark(c, "expect"), f"{what}: expect is 'pass' or 'fail'")
        a = c[kind]
        before = len(p.list)
        # A check with a mistake is not made (the file is refused anyway).
        if _check_args(p, spec, kind, a, what) and len(p.list) == before:
            spec.checks.append(Check(kind, dict(a), c.get("name"), expect, _mark(c), i))
    if p.list:
        raise LabFileError(p.list)
    return spec


def _text(p, obj, key, what):
    """A configuration: one block of text, or a list of lines."""
    v = obj.get(key)
    if v is None:
        return None
    if isinstance(v, list):
        return "".join(f"{x}\n" for x in v)
    if isinstance(v, str):
        return v if v.endswith("\n") else v + "\n"
    p.add(_mark(obj, key), f"{what}: '{key}' is text (a block, `|`) or a list of lines")
    return None


def _frr(p, spec, f, what):
    """zebra on a host, with staticd (`static:`) and bgpd (`bgpd:`). Its
    dataplane is routerd's Fib over FPM (`fpm_port`: FRR on Weft's host path)
    or the host's kernel (`dataplane: kernel`: plain FRR on Linux)."""
    if not _keys(p, f, ("host", "fpm_port", "dataplane", "static", "bgpd", "zebra"), what):
        return
    dataplane = f.get("dataplane", "fpm")
    if dataplane not in ("fpm", "kernel"):
        p.add(_mark(f, "dataplane"), f"{what}: dataplane is 'fpm' (routerd's Fib, fpm_port) or 'kernel' (plain FRR)")
        return
    if dataplane == "fpm" and "fpm_port" not in f:
        p.add(_mark(f), f"{what}: missing required key 'fpm_port' (or dataplane: kernel, for plain FRR on Linux)")
        return
    if dataplane == "kernel" and "fpm_port" in f:
        p.add(_mark(f, "fpm_port"), f"{what}: fpm_port is for dataplane: fpm (zebra feeding routerd's Fib)")
        return
    port = f.get("fpm_port")
    if dataplane == "fpm" and (not isinstance(port, int) or not 0 < port < 65536):
        p.add(_mark(f, "fpm_port"), f"{what}: fpm_port is a TCP port (the graph's Fib `listen` port)")
    host = str(f.get("host", spec.router_host))
    if host not in spec.hosts:
        p.add(_mark(f, "host"), f"{what}: unknown host '{host}'")
    elif spec.frr_of(host):
        p.add(_mark(f, "host"), f"{what}: host '{host}' has its FRR already (one per host)")
    spec.frr.append({"host": host, "port": port if dataplane == "fpm" else None,
                     "static": [str(r) for r in _list(p, f, "static", what)] if "static" in f else None,
                     "bgpd": _text(p, f, "bgpd", what), "zebra": _text(p, f, "zebra", what) or ""})


def _router_arg(p, spec, a, w):
    """`router:` names a router of the lab; needed when it has several (or `socket:`)."""
    if "router" in a:
        if spec.router(str(a["router"])) is None:
            p.add(_mark(a, "router"), f"{w}: unknown router '{a['router']}' (routers: "
                                      f"{', '.join(r.name for r in spec.routers)})")
    elif len(spec.routers) > 1 and "socket" not in a:
        p.add(_mark(a), f"{w}: the lab has several routers: say which (router: NAME)")


def _frr_arg(p, spec, a, w, daemon=None):
    f = spec.frr_of(a.get("host"))
    if f is None:
        p.add(_mark(a, "host"), f"{w}: host '{a.get('host')}' runs no FRR (frr:)")
    elif daemon and not f.get(daemon):
        p.add(_mark(a, "host"), f"{w}: the FRR of host '{a.get('host')}' runs no {daemon} (give it `{daemon}:`)")


def _regex(p, a, key, w):
    try:
        re.compile(str(a.get(key)))
    except re.error as e:
        p.add(_mark(a, key), f"{w}: bad regular expression: {e}")


def _host_arg(p, spec, a, key, what):
    if a.get(key) not in spec.hosts:
        p.add(_mark(a, key), f"{what}: '{key}' must be a host (hosts: {', '.join(spec.hosts)})")


def _check_args(p, spec, kind, a, what):
    w = f"{what} ({kind})"
    if kind == "ping":
        ok = _keys(p, a, ("from", "to", "count", "ttl"), w, required=("from", "to"))
        if ok:
            _host_arg(p, spec, a, "from", w)
            _address(p, a, "to", w)
            if "ttl" in a and (not isinstance(a["ttl"], int) or not 1 <= a["ttl"] <= 255):
                p.add(_mark(a, "ttl"), f"{w}: ttl is the TTL (hop limit) every reply arrives with, 1..255")
        return ok
    if kind == "vlan_ping":
        ok = _keys(p, a, ("from", "dev", "vlan", "src", "to", "dst_mac", "count"), w,
                   required=("from", "dev", "vlan", "src", "to", "dst_mac"))
        if ok:
            _host_arg(p, spec, a, "from", w)
            _address(p, a, "src", w)
            _address(p, a, "to", w)
        return ok
    if kind in ("udp", "tcp"):
        ok = _keys(p, a, ("from", "to", "server", "port", "count", "source"), w, required=("from", "to", "server"))
        if ok:
            _host_arg(p, spec, a, "from", w)
            _host_arg(p, spec, a, "server", w)
            _address(p, a, "to", w)
            if "source" in a:
                _address(p, a, "source", w)
        return ok
    if kind == "send_udp":
        ok = _keys(p, a, ("from", "to", "port", "count", "size"), w, required=("from", "to"))
        if ok:
            _host_arg(p, spec, a, "from", w)
            _address(p, a, "to", w)
        return ok
    if kind == "reload":
        ok = _keys(p, a, ("graph", "router"), w, required=("graph",))
        if ok:
            _router_arg(p, spec, a, w)
        if ok and "graph" in a:
            path = os.path.join(spec.dir, str(a["graph"]))
            if not os.path.exists(path):
                p.add(_mark(a, "graph"), f"{w}: graph file '{a['graph']}' does not exist (relative to the lab file)")
            a["graph"] = path
        return ok
    if kind == "neighbor":
        ok = _keys(p, a, ("host", "ip", "dev", "mac", "state", "wait"), w, required=("host", "ip", "dev"))
        if ok:
            _host_arg(p, spec, a, "host", w)
            _address(p, a, "ip", w)
            if "mac" in a and not MAC.match(str(a["mac"])):
                p.add(_mark(a, "mac"), f"{w}: bad MAC address {a['mac']!r}")
            states = a.get("state", list(LEARNED_STATES))
            if not isinstance(states, list) or any(str(x).upper() not in NEIGH_STATES for x in states):
                p.add(_mark(a, "state"), f"{w}: state is a list of {', '.join(NEIGH_STATES)}")
            else:
                a["state"] = [str(x).upper() for x in states]
        return ok
    if kind == "routerctl":
        ok = _keys(p, a, ("args", "match", "wait", "socket", "router"), w, required=("args", "match"))
        if ok:
            if not isinstance(a.get("args"), list):
                p.add(_mark(a, "args"), f"{w}: args is a list, e.g. [handler, read, nat, count]")
            _regex(p, a, "match", w)
            _router_arg(p, spec, a, w)
        return ok
    if kind == "fib":
        ok = _keys(p, a, ("router", "prefix", "via", "wait"), w, required=("prefix",))
        if ok:
            _router_arg(p, spec, a, w)
            try:
                a["prefix"] = str(ipaddress.ip_network(str(a.get("prefix"))))
            except ValueError:
                p.add(_mark(a, "prefix"), f"{w}: 'prefix' is not a network prefix (host bits clear): {a.get('prefix')!r}")
            if "via" in a:
                _regex(p, a, "via", w)
        return ok
    if kind == "bgp":
        ok = _keys(p, a, ("host", "peer", "wait"), w, required=("host", "peer"))
        if ok:
            _frr_arg(p, spec, a, w, "bgpd")
        return ok
    if kind == "vtysh":
        ok = _keys(p, a, ("host", "commands", "match", "wait"), w, required=("host", "commands"))
        if ok:
            _frr_arg(p, spec, a, w)
            if not isinstance(a.get("commands"), list) or not a.get("commands"):
                p.add(_mark(a, "commands"), f"{w}: commands is a list, e.g. [conf t, router bgp 65002, ...]")
            if "match" in a:
                _regex(p, a, "match", w)
        return ok
    if kind == "time_exceeded":
        ok = _keys(p, a, ("from", "to", "by", "ttl"), w, required=("from", "to", "by"))
        if ok:
            _host_arg(p, spec, a, "from", w)
            _address(p, a, "to", w)
            _address(p, a, "by", w)
            if "ttl" in a and (not isinstance(a["ttl"], int) or not 1 <= a["ttl"] <= 255):
                p.add(_mark(a, "ttl"), f"{w}: ttl is the TTL (hop limit) the error arrives with, 1..255")
        return ok
    if kind in ("traceroute", "tracepath", "unreachable"):
        extra = {"traceroute": "hops", "tracepath": "pmtu", "unreachable": "by"}[kind]
        ok = _keys(p, a, ("from", "to", extra), w, required=("from", "to", extra))
        if ok and all(k in a for k in ("from", "to", extra)):
            _host_arg(p, spec, a, "from", w)
            _address(p, a, "to", w)
            if kind == "traceroute":
                hops = a.get("hops")
                if not isinstance(hops, list) or not hops:
                    p.add(_mark(a, "hops"), f"{w}: hops is a list of addresses, one per hop, the last one 'to'")
                else:
                    for i, h in enumerate(hops):
                        try:
                            ipaddress.ip_address(str(h))
                        except ValueError:
                            p.add(_mark(hops, i), f"{w}: hops[{i}] is not an IP address: {h!r}")
            elif kind == "tracepath" and (not isinstance(a.get("pmtu"), int) or not 68 <= a["pmtu"] <= 65535):
                p.add(_mark(a, "pmtu"), f"{w}: pmtu is the path MTU tracepath must find (68..65535)")
            elif kind == "unreachable":
                _address(p, a, "by", w)
        return ok
    return False


def _portolan(p, spec, d):
    """`portolan:` is shorthand for a process: the lab SVP server (tools/svp-server),
    started before routerd in `host`, ready when its TCP port accepts, given the
    mappings (vl2, vl3, cns: the server's own file format) as a file."""
    what = "portolan"
    _keys(p, d, ("host", "listen", "vl2", "vl3", "cns", "command"), what)
    host = str(d.get("host", spec.router_host))
    if host not in spec.hosts:
        p.add(_mark(d, "host"), f"{what}: unknown host '{host}'")
    listen = str(d.get("listen", "127.0.0.1:1296"))
    command = [str(c) for c in d.get("command", ["{bin}/svp-server", "-c", "{mappings}", "-l", "{listen}"])]
    mappings = {k: list(d.get(k, [])) for k in ("vl2", "vl3", "cns") if k in d}
    return {"name": "portolan", "host": host, "command": command, "ready": {"tcp": listen}, "start": "before",
            "mappings": mappings, "listen": listen}

#!/usr/bin/env python3
"""End-to-end test of the plugin SDK: install, an out-of-tree plugin, traffic.

    python3 tests/e2e/test_sdk.py --bin build/bin --test-plugins build/test-plugins [--keep]
    python3 tests/e2e/test_sdk.py --sync-doc    # rewrite the doc's file blocks from plugins/example

                               ┌[ping]─ echo ─┬[reply]──────── txr ── reply.pcap
    in.pcap ── pin ── rx ── cls┤              └[other]──┐
                               ├[voice]─ ef ─────────── txm ── marked.pcap
                               └[default]───────────────┴─ txo ── other.pcap
    echo: IcmpEchoResponder (example.so), answering for the service `local`
    local: LocalAddresses (example.so)       ef: DscpMark dscp ef (example.so)

Steps, in a fresh temporary directory (kept on failure or with --keep):

 1. docs/writing-an-element.md is the script: each file block (marked
    "File `PATH`:") must equal plugins/example/PATH; the test writes the
    blocks and runs every `sh` block, in order, in one bash (set -eu) in an
    empty folder, with WEFT_BUILD = this build tree and WEFT_PREFIX = a
    temporary prefix. That installs the SDK (`cmake --install`), builds the
    example out of tree with find_package(Weft), runs its Catch2 tests (the
    shipped harness, scapy-made pcaps), lists it with routerctl, runs it in
    routerd (changing its service's addresses with routerctl) and installs
    it. Any other fenced block must be `text` (output, not a command), so no
    command in the doc goes untested.
 2. The install: exactly the public headers under include/weft, none
    including a framework-internal header; everything in the prefix's
    <libdir> (the tree's WEFT_INSTALL_LIBDIR); etc/weft/quickstart.yaml and
    the systemd unit under the prefix, naming it; a relocatable RPATH
    ($ORIGIN/..); weft.pc and weft-testing.pc:
    a tiny program including every installed header, compiled and linked
    with `pkg-config --cflags --libs weft-testing` only, loads the built-in
    plugins through the harness; a plugin compiled with `pkg-config
    --cflags --libs weft` against a copy of the headers that says plugin
    ABI 99.0 (a plugin "built for another Weft").
 3. The installed routerd runs the example plugin from its own directory
    (--plugin-path) on net_pcap ports: ICMP echo requests (plain, VLAN
    tagged, various sizes) to the addresses of the service `local` must
    come back as replies identical to the ones scapy builds (checksums
    computed by scapy), requests with a bad ICMP checksum are dropped and
    counted, pings to other addresses pass; SIP traffic (IPv4 and IPv6)
    comes out with DSCP EF and everything else unchanged, byte for byte.
 4. routerctl (against the running routerd): `plugins` shows the example's
    path, manifest, element classes and service class; `elements --doc`
    prints DscpMark and LocalAddresses exactly as it prints built-ins (all
    checked against one rendering of their JSON).
 5. Plugin refusals on the running router: reloading a graph whose plugin
    path holds a plugin built for ABI 99.0, one built against the previous
    SDK (ABI 1.0), one with an undefined symbol or one exporting no class is
    refused with the reason; routerd keeps running and a good reload still
    applies. At start, routerd refuses the same plugins.
 6. The service, live: `routerctl service local add address=A` makes echo
    answer for A (pings to A read after a reload that adds a port); bad
    arguments are refused; that reload carries the service's table (its
    state: carried), one changing its `addresses` resets it to the new list.
"""

import json
import os
import re
import shutil
import subprocess
import time

import harness
from harness import Failure, drops_of, element, frames_diff, read_pcap, write_pcap
from scapy.all import ICMP, IP, TCP, UDP, Dot1Q, Ether, IPv6, Raw

SOURCE = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DOC = os.path.join(SOURCE, "docs", "writing-an-element.md")
EXAMPLE = os.path.join(SOURCE, "plugins", "example")
ROUTER_MAC, HOST_MAC = "02:00:00:00:00:01", "02:00:00:00:00:07"
ADDRESSES = ["192.0.2.1", "192.0.2.2"]
EF = 46


def run(cmd, what, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise Failure(f"{what} failed (exit {r.returncode}): {' '.join(cmd)}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r


# --------------------------------------------------------------------------
# 1. The doc as a script
# --------------------------------------------------------------------------
FENCE = re.compile(r"^```(\w*)\s*$")
FILE_MARK = re.compile(r"^File `(\S+)`:\s*$")


def doc_blocks(text):
    """[(kind, lang, path, body)]: kind is 'file' or 'block'."""
    out, lines, i, pending = [], text.split("\n"), 0, None
    while i < len(lines):
        m = FILE_MARK.match(lines[i])
        if m:
            pending = m.group(1)
            i += 1
            continue
        f = FENCE.match(lines[i])
        if f:
            lang, body, i = f.group(1), [], i + 1
            while i < len(lines) and lines[i] != "```":
                body.append(lines[i])
                i += 1
            if i == len(lines):
                raise Failure(f"{DOC}: unterminated ``` block")
            out.append(("file" if pending else "block", lang, pending, "\n".join(body) + "\n"))
            pending = None
        elif lines[i].strip():
            pending = None  # a file mark applies to the block right after it
        i += 1
    return out


def sync_doc():
    """Rewrites every file block of the doc from plugins/example."""
    text = open(DOC).read()

    def repl(m):
        return f"File `{m.group(1)}`:\n```{m.group(2)}\n" + open(os.path.join(EXAMPLE, m.group(1))).read() + "```"
    text = re.sub(r"^File `(\S+)`:\n```(\w*)\n.*?\n```", repl, text, flags=re.S | re.M)
    with open(DOC, "w") as f:
        f.write(text)


def doc_script():
    """The doc as one bash script; checks its file blocks against plugins/example."""
    blocks = doc_blocks(open(DOC).read())
    script, files, commands = ["set -eu", "set -x"], [], 0
    for kind, lang, path, body in blocks:
        if kind == "file":
            with open(os.path.join(EXAMPLE, path)) as f:
                if f.read() != body:
                    raise Failure(f"{DOC}: the block for {path} differs from plugins/example/{path} "
                                  f"(run tests/e2e/test_sdk.py --sync-doc)")
            files.append(path)
            d = os.path.dirname(path)
            if d:
                script.append(f"mkdir -p '{d}'")
            script.append(f"cat > '{path}' <<'WEFT_DOC_EOF'\n{body}WEFT_DOC_EOF")
        elif lang == "sh":
            script.append(body)
            commands += 1
        elif lang != "text":
            raise Failure(f"{DOC}: a ```{lang} block that is neither a file of plugins/example nor a command "
                          f"the test runs (introduce it with 'File `PATH`:', or make it ```sh or ```text)")
    # Every file of the example is in the doc, so the walkthrough builds all of it.
    on_disk = sorted(os.path.relpath(os.path.join(r, n), EXAMPLE)
                     for r, _, ns in os.walk(EXAMPLE) for n in ns if "__pycache__" not in r)
    if sorted(files) != on_disk:
        raise Failure(f"the doc shows {sorted(files)} but plugins/example holds {on_disk}")
    return "\n".join(script) + "\n", commands



def install_libdir(build):
    """The tree's WEFT_INSTALL_LIBDIR: lib/<multiarch> on Debian, else lib."""
    with open(os.path.join(build, "CMakeCache.txt")) as f:
        for line in f:
            if line.startswith("WEFT_INSTALL_LIBDIR:"):
                return line.split("=", 1)[1].strip()
    raise Failure(f"{build}/CMakeCache.txt has no WEFT_INSTALL_LIBDIR")

def run_doc(build, prefix, work):
    script, commands = doc_script()
    path = os.path.join(work, "walkthrough.sh")
    with open(path, "w") as f:
        f.write(script)
    env = dict(os.environ, WEFT_BUILD=build, WEFT_PREFIX=prefix, CMAKE_BUILD_PARALLEL_LEVEL="2")
    # The doc's python3 (and the example's, found by CMake) is Debian's, which has scapy.
    env["PATH"] = "/usr/bin:" + env.get("PATH", "")
    env["CXXFLAGS"] = "-Werror"  # the example must build warning-free (CMake reads CXXFLAGS once)
    if shutil.which("ccache"):  # faster reruns; the build is the same without it
        env.setdefault("CMAKE_CXX_COMPILER_LAUNCHER", "ccache")
        env["CCACHE_BASEDIR"], env["CCACHE_NOHASHDIR"] = work, "1"  # hits despite a new temp dir per run
    empty = os.path.join(work, "doc")
    os.makedirs(empty)
    t0 = time.monotonic()
    r = subprocess.run(["bash", path], cwd=empty, env=env, capture_output=True, text=True, timeout=900)
    with open(os.path.join(work, "walkthrough.log"), "w") as f:
        f.write(r.stdout + r.stderr)
    if r.returncode != 0:
        raise Failure(f"the walkthrough failed (exit {r.returncode}); its last lines:\n" +
                      "\n".join((r.stdout + r.stderr).splitlines()[-60:]))
    print(f"  doc: {commands} sh blocks ran in {time.monotonic() - t0:.0f} s")
    out = r.stdout
    # What the doc promises its commands show.
    for want in [r"example 1\.0\.0 — DSCP marking and ICMP echo answering",
                 r"DscpMark — Sets the DSCP of IPv4 and IPv6 packets\.",
                 r"LocalAddresses — The router's own IPv4 addresses",
                 r"100% tests passed, 0 tests failed out of 2",
                 r'"192\.0\.2\.1",\s+"192\.0\.2\.2"',  # routerctl service local add address=192.0.2.2
                 r"IcmpEchoResponder — Answers ICMP echo requests .*\n  element class, plugin: " + re.escape(prefix) +
                 "/" + re.escape(install_libdir(build)) + r"/weft/plugins/example\.so\n"]:
        if not re.search(want, out):
            raise Failure(f"the walkthrough's output lacks /{want}/:\n{out[-4000:]}")
    plugin = os.path.join(empty, "myplugin", "build", "example.so")
    replies = [l for l in out.splitlines() if "echo-reply" in l]
    if len(replies) != 2:
        raise Failure(f"the walkthrough's routerd run should show 2 echo replies in out.pcap:\n{out[-3000:]}")
    return plugin


# --------------------------------------------------------------------------
# 2. The install
# --------------------------------------------------------------------------
TINY = r"""
%s
#include <cstdio>
int main() {
  weft::testing::Plugins p;
  p.load_builtin();
  std::printf("weft %%s abi %%u.%%u classes %%zu builtin %%s\n", weft::kVersion, weft::kPluginAbiMajor,
              weft::kPluginAbiMinor, p.classes().size(), weft::testing::Plugins::builtin_dir().c_str());
  return p.find("Classifier") && p.find("Capture") ? 0 : 1;
}
"""

ABI3_PLUGIN = r"""
#include <weft/plugin.hpp>
namespace {
class Other final : public weft::Element {
 public:
  void push(uint16_t, weft::Batch& b) override { output(0, b); }
};
const weft::ElementClass& klass() {
  static const weft::ElementClass k = weft::ElementClass::make<Other>("OtherAbi").input("in").output("out");
  return k;
}
}  // namespace
WEFT_PLUGIN("other_abi", "1.0", "built against a Weft with plugin ABI 99.0");
WEFT_EXPORT_CLASS(OtherAbi, klass())
"""


def check_install(build, prefix, work):
    lib = install_libdir(build)
    src_headers = sorted(os.listdir(os.path.join(SOURCE, "framework", "include", "weft")))
    inc = os.path.join(prefix, "include")
    installed = sorted(os.path.relpath(os.path.join(r, n), inc) for r, _, ns in os.walk(inc) for n in ns)
    if installed != ["weft/" + h for h in src_headers]:
        raise Failure(f"installed headers {installed} are not exactly the public ones {src_headers}")
    internal = set(os.listdir(os.path.join(SOURCE, "framework", "src")))
    for h in src_headers:
        text = open(os.path.join(inc, "weft", h)).read()
        for m in re.finditer(r'#include\s+["<]([^">]+)[">]', text):
            name = m.group(1)
            if os.path.basename(name) in internal and not name.startswith("weft/"):
                raise Failure(f"installed header weft/{h} includes the framework-internal {name}")
        if not text.lstrip().startswith("//"):
            raise Failure(f"installed header weft/{h} does not open with its documentation")
    for f in [f"{lib}/libweft.so", f"{lib}/libweft_testing.so", f"{lib}/cmake/Weft/WeftConfig.cmake",
              f"{lib}/cmake/Weft/WeftPlugin.cmake", f"{lib}/pkgconfig/weft.pc", f"{lib}/pkgconfig/weft-testing.pc",
              f"{lib}/weft/plugins/weft_basic.so", "bin/routerd", "bin/routerctl"]:
        if not os.path.exists(os.path.join(prefix, f)):
            raise Failure(f"{f} is not installed")
    # What depends on the prefix is decided at install time (cmake/WeftInstallPrefix.cmake.in): under
    # this prefix, not /etc or /lib/systemd; a relocatable RPATH (only /usr, the packages', has none).
    qs = open(os.path.join(prefix, "etc", "weft", "quickstart.yaml")).read()
    if f"rx_pcap={prefix}/share/weft/quickstart.pcap," not in qs or \
            not os.path.exists(os.path.join(prefix, "share", "weft", "quickstart.pcap")):
        raise Failure(f"PREFIX/etc/weft/quickstart.yaml should name PREFIX/share/weft/quickstart.pcap:\n{qs}")
    unit = open(os.path.join(prefix, "lib", "systemd", "system", "routerd@.service")).read()
    if f"ExecStart={prefix}/bin/routerd " not in unit:
        raise Failure(f"PREFIX/lib/systemd/system/routerd@.service should run PREFIX/bin/routerd:\n{unit}")
    for f, want in [("bin/routerd", f"$ORIGIN/../{lib}"), (f"{lib}/weft/plugins/weft_basic.so", "$ORIGIN/../..")]:
        dyn = run(["readelf", "-d", os.path.join(prefix, f)], "readelf").stdout
        if f"[{want}]" not in dyn:
            raise Failure(f"{f} should carry the RPATH {want}:\n{dyn}")

    env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(prefix, lib, "pkgconfig"))
    pc = lambda *a: run(["pkg-config", *a], "pkg-config", env=env).stdout.split()  # noqa: E731
    plugindir = pc("--variable=plugindir", "weft")[0]
    if os.path.realpath(plugindir) != os.path.realpath(os.path.join(prefix, lib, "weft", "plugins")):
        raise Failure(f"weft.pc's plugindir is {plugindir}")
    tiny = os.path.join(work, "tiny.cpp")
    with open(tiny, "w") as f:
        f.write(TINY % "\n".join(f"#include <weft/{h}>" for h in src_headers))
    exe = os.path.join(work, "tiny")
    run(["c++", "-O0", tiny, "-o", exe, *pc("--cflags", "--libs", "weft-testing")], "compiling with pkg-config")
    r = run([exe], "the pkg-config-built program")
    if f"builtin {os.path.realpath(os.path.join(prefix, lib, 'weft', 'plugins'))}\n" not in r.stdout:
        raise Failure(f"the harness looked for the built-in plugins elsewhere: {r.stdout}")
    print("  pkg-config:", r.stdout.strip())

    # A plugin built against another Weft: the installed headers, except that
    # they say plugin ABI 99.0. Built with weft.pc's flags.
    other_inc = os.path.join(work, "other-weft", "include")
    shutil.copytree(inc, other_inc)
    vh = os.path.join(other_inc, "weft", "version.hpp")
    text = open(vh).read()
    text, n = re.subn(r"#define WEFT_PLUGIN_ABI_MAJOR \d+", "#define WEFT_PLUGIN_ABI_MAJOR 99", text)
    text, m = re.subn(r"#define WEFT_PLUGIN_ABI_MINOR \d+", "#define WEFT_PLUGIN_ABI_MINOR 0", text)
    if n != 1 or m != 1:
        raise Failure("weft/version.hpp has no WEFT_PLUGIN_ABI_MAJOR/MINOR to change")
    with open(vh, "w") as f:
        f.write(text)
    src = os.path.join(work, "other_abi.cpp")
    with open(src, "w") as f:
        f.write(ABI3_PLUGIN)
    d = os.path.join(work, "abi3")
    os.makedirs(d)
    os.chmod(d, 0o755)
    run(["c++", "-shared", "-fPIC", "-fvisibility=hidden", "-Wl,--no-undefined", "-I" + other_inc, src,
         "-o", os.path.join(d, "other_abi.so"), *pc("--cflags", "--libs", "weft")], "building the ABI 99.0 plugin")
    return d


# --------------------------------------------------------------------------
# 3. Traffic through the example's elements
# --------------------------------------------------------------------------
def echo_reply(req, ttl=64):
    """What the router must send back, computed by scapy from the request."""
    r = Ether(bytes(req))
    vlan = r[Dot1Q].vlan if Dot1Q in r else None
    ip, icmp = r[IP], r[ICMP]
    rep = Ether(src=r.dst, dst=r.src)
    if vlan is not None:
        rep = rep / Dot1Q(vlan=vlan)
    return bytes(rep / IP(src=ip.dst, dst=ip.src, ttl=ttl, id=ip.id, tos=ip.tos, flags=ip.flags) /
                 ICMP(type=0, code=0, id=icmp.id, seq=icmp.seq) / bytes(icmp.payload))


def traffic():
    """Input frames, and the frames each output must carry, built by scapy."""
    frames, replies, marked, other = [], [], [], []
    host = Ether(src=HOST_MAC, dst=ROUTER_MAC)

    for i, size in enumerate([0, 1, 56, 57, 200, 1000, 1472]):
        req = host / IP(src=f"198.51.100.{i + 10}", dst=ADDRESSES[i % 2], id=100 + i) / \
            ICMP(type=8, id=7, seq=i) / Raw(bytes((i + k) % 256 for k in range(size)))
        frames.append(bytes(req))
        replies.append(echo_reply(req))
    for i in range(3):
        req = host / Dot1Q(vlan=10 + i) / IP(src="198.51.100.50", dst=ADDRESSES[0], tos=0x10) / \
            ICMP(type=8, id=9, seq=i) / b"tagged"
        frames.append(bytes(req))
        replies.append(echo_reply(req))
    for i in range(2):  # to an address the router does not answer for
        req = bytes(host / IP(src="198.51.100.9", dst="192.0.2.99") / ICMP(type=8, id=5, seq=i) / b"x")
        frames.append(req)
        other.append(req)
    for i in range(2):  # a bad ICMP checksum: dropped
        frames.append(bytes(host / IP(src="198.51.100.9", dst=ADDRESSES[0]) /
                            ICMP(type=8, id=6, seq=i, chksum=0x1234) / b"bad"))
    for i, tos in enumerate([0x00, 0x01, 0x02, 0xb8, 0xfc, 0x28]):  # ECN bits kept, DSCP replaced
        sip = host / IP(src="198.51.100.20", dst="203.0.113.5", tos=tos, id=i) / UDP(sport=5060, dport=5060) / \
            (b"INVITE sip:%d" % i)
        frames.append(bytes(sip))
        marked.append(bytes(host / IP(src="198.51.100.20", dst="203.0.113.5", tos=EF << 2 | (tos & 3), id=i) /
                            UDP(sport=5060, dport=5060) / (b"INVITE sip:%d" % i)))
    for tc in (0x00, 0x03):
        sip6 = host / IPv6(src="2001:db8::20", dst="2001:db8::5", tc=tc) / UDP(sport=5060, dport=5060) / b"REGISTER"
        frames.append(bytes(sip6))
        marked.append(bytes(host / IPv6(src="2001:db8::20", dst="2001:db8::5", tc=EF << 2 | (tc & 3)) /
                            UDP(sport=5060, dport=5060) / b"REGISTER"))
    for i in range(3):
        web = bytes(host / IP(src="198.51.100.20", dst="203.0.113.80") / TCP(sport=40000 + i, dport=80))
        frames.append(web)
        other.append(web)
    return frames, replies, marked, other


def graph_text(tmp, addresses=ADDRESSES, second_input=False):
    """The test's graph; second_input: a port reading in2.pcap into the classifier too."""
    port2 = f"  pin2: {{device: net_pcap4, args: {json.dumps('rx_pcap=' + os.path.join(tmp, 'in2.pcap'))}}}\n"
    rx2 = "  rx2: {class: PortRx, port: pin2}\n"
    return f"""# Generated by tests/e2e/test_sdk.py
name: e2e_sdk
workers: [1]
ports:
  pin: {{device: net_pcap0, args: {json.dumps('rx_pcap=' + os.path.join(tmp, 'in.pcap'))}}}
  preply: {{device: net_pcap1, args: {json.dumps('tx_pcap=' + os.path.join(tmp, 'reply.pcap'))}}}
  pmark: {{device: net_pcap2, args: {json.dumps('tx_pcap=' + os.path.join(tmp, 'marked.pcap'))}}}
  pother: {{device: net_pcap3, args: {json.dumps('tx_pcap=' + os.path.join(tmp, 'other.pcap'))}}}
{port2 if second_input else ""}services:
  local: {{class: LocalAddresses, addresses: {json.dumps(addresses)}}}
elements:
  rx: {{class: PortRx, port: pin}}
{rx2 if second_input else ""}  cls:
    class: Classifier
    rules:
      - {{output: ping, ip_proto: icmp}}
      - {{output: voice, ip_proto: udp, dst_port: 5060}}
  echo: {{class: IcmpEchoResponder, addresses: local}}
  ef: {{class: DscpMark, dscp: ef}}
  txr: {{class: PortTx, port: preply}}
  txm: {{class: PortTx, port: pmark}}
  txo: {{class: PortTx, port: pother}}
connections:
  - rx -> cls
{"  - rx2 -> cls" + chr(10) if second_input else ""}  - cls[ping] -> echo
  - echo[reply] -> txr
  - echo[other] -> txo
  - cls[voice] -> ef -> txm
  - cls[default] -> txo
"""


def check_icmp_checksums(frames):
    """Every reply's IP and ICMP checksums, recomputed by scapy, are the ones sent."""
    for i, b in enumerate(frames):
        p = Ether(b)
        fresh = p.copy()
        del fresh[IP].chksum
        del fresh[ICMP].chksum
        fresh = Ether(bytes(fresh))
        if (fresh[IP].chksum, fresh[ICMP].chksum) != (p[IP].chksum, p[ICMP].chksum):
            raise Failure(f"reply {i}: checksums IP {p[IP].chksum:#x} ICMP {p[ICMP].chksum:#x}, "
                          f"scapy says {fresh[IP].chksum:#x} {fresh[ICMP].chksum:#x}")


# --------------------------------------------------------------------------
# 4. routerctl: plugins, and docs rendered alike
# --------------------------------------------------------------------------
def render_doc(k):
    """routerctl's documented text layout of a class, from its JSON."""
    service = k["kind"] == "service"
    out = [f"{k['name']} — {k['summary']}", f"  {'service' if service else 'element'} class, plugin: {k['plugin']}"]
    if k["doc"]:
        out.append("")
        out += ["  " + l for l in k["doc"].split("\n")]

    def params():
        if not k["params"]:
            return []
        lines = ["", "  parameters:"]
        for p in k["params"]:
            d = "required" if p["required"] else (f"default {p['default']}" if p["default"] else "optional")
            kind = p["type"] + (f" ({p['service']})" if "service" in p else "")
            lines.append(f"    {p['name']:<12} {kind:<7} {d:<16} {p['doc']}")
        return lines
    def metrics():
        if not k.get("metrics"):
            return []
        return ["", "  metrics:"] + [f"    {m['name']:<36} {m['type']:<7} {{{','.join(m['labels'])}}} {m['help']}"
                                     for m in k["metrics"]]
    if service:
        out += ["", "  declared under services:; elements name it in a parameter"] + params()
        if k["provides"]:
            out += ["", "  provides (handles elements use):"]
            out += [f"    {h['type']:<16} {h['doc']}" for h in k["provides"]]
        out += ["", "  commands (routerctl service NAME COMMAND [key=value...]):"]
        for c in k["commands"]:
            syn = c["name"] + (" " + c["args"] if c["args"] else "")
            out.append(f"    {syn:<28} {c['doc']}")
        return "\n".join(out + metrics()) + "\n\n"
    ins = "any number ([0], [1], ...)" if k["variadic_inputs"] else ", ".join(k["inputs"])
    outs = k["outputs_doc"] if k["dynamic_outputs"] else ", ".join(k["outputs"])
    out += ["", f"  inputs:  {ins or 'none (source)'}", f"  outputs: {outs or 'none'}"] + params()
    if k["drops"]:
        out += ["", "  drop reasons:"] + [f"    {d['name']:<16} {d['doc']}" for d in k["drops"]]
    if k["handlers"]:
        out += ["", "  handlers:"]
        for h in k["handlers"]:
            rw = ("r" if h["read"] else "") + ("w" if h["write"] else "")
            out.append(f"    {h['name']:<12} {rw:<3} {h['doc']}")
    return "\n".join(out + metrics()) + "\n\n"


def check_routerctl(g, plugin_path):
    r = g.ctl("--json", "plugins")
    if r.returncode != 0:
        raise Failure(f"routerctl plugins: {r.stderr}")
    plugins = {p["name"]: p for p in json.loads(r.stdout)}
    ex = plugins.get("example")
    if not ex:
        raise Failure(f"routerctl plugins does not list the example: {sorted(plugins)}")
    want = {"path": plugin_path, "version": "1.0.0", "description": "DSCP marking and ICMP echo answering",
            "classes": ["DscpMark", "IcmpEchoResponder"], "services": ["LocalAddresses"],
            "abi": plugins["basic"]["abi"],
            "compiler_abi": plugins["basic"]["compiler_abi"], "dpdk_version": plugins["basic"]["dpdk_version"],
            "framework_version": plugins["basic"]["framework_version"]}
    for k, v in want.items():
        if ex[k] != v:
            raise Failure(f"routerctl plugins: example's {k} is {ex[k]!r}, expected {v!r}")
    text = g.ctl("plugins").stdout
    block = f"example 1.0.0 — DSCP marking and ICMP echo answering\n  path: {plugin_path}\n"
    if block not in text or "  classes: DscpMark IcmpEchoResponder\n  services: LocalAddresses\n" not in text:
        raise Failure(f"routerctl plugins (text) does not show the example's path and classes:\n{text}")

    for cls, origin in [("DscpMark", plugin_path), ("IcmpEchoResponder", plugin_path), ("LocalAddresses", plugin_path),
                        ("Classifier", "weft_basic.so"), ("IpLookup", "weft_route.so"), ("Fib", "weft_route.so")]:
        j = g.ctl("--json", "elements", cls)
        k = json.loads(j.stdout)[0]
        if not k["plugin"].endswith(origin):
            raise Failure(f"{cls} comes from {k['plugin']}, not {origin}")
        text = g.ctl("elements", "--doc", cls).stdout
        if text != render_doc(k):
            raise Failure(f"routerctl elements --doc {cls} is not laid out like every class:\n{text}\n"
                          f"expected:\n{render_doc(k)}")
        if cls == "DscpMark" and "    dscp         string  required         0-63 or a name" not in text:
            raise Failure(f"DscpMark's parameter docs are missing:\n{text}")
        if cls == "IcmpEchoResponder" and "    addresses    service (example.local_addresses) required" not in text:
            raise Failure(f"IcmpEchoResponder's service parameter is not shown with its handle:\n{text}")


# --------------------------------------------------------------------------
# 5. ABI safety on a running router
# --------------------------------------------------------------------------
def framework_abi():
    """The plugin ABI this source tree says it has ("MAJOR.MINOR")."""
    text = open(os.path.join(SOURCE, "framework", "include", "weft", "version.hpp")).read()
    major = re.search(r"#define WEFT_PLUGIN_ABI_MAJOR (\d+)", text).group(1)
    minor = re.search(r"#define WEFT_PLUGIN_ABI_MINOR (\d+)", text).group(1)
    return f"{major}.{minor}"


def check_refusals(g, prefix, tmp, abi3_dir, test_plugins, example_dir):
    cases = [
        (abi3_dir, f"plugin ABI 99.0 is not compatible with the framework's ABI {framework_abi()}"),
        (os.path.join(test_plugins, "old_abi"),
         f"plugin ABI 1.0 is not compatible with the framework's ABI {framework_abi()}"),
        (os.path.join(test_plugins, "undefined_symbol"), "undefined symbol: weft_test_symbol_that_does_not_exist"),
        (os.path.join(test_plugins, "no_classes"), "exports no element or service class"),
    ]
    base = open(g.file).read()
    for d, msg in cases:
        bad = os.path.join(tmp, "graph-bad.yaml")
        with open(bad, "w") as f:
            f.write(base + f"plugins: {{path: [{json.dumps(d)}]}}\n")
        r = g.ctl("reload", bad)
        if r.returncode == 0 or msg not in r.stdout + r.stderr:
            raise Failure(f"reload with {d} should be refused with {msg!r}:\n{r.stdout}{r.stderr}")
        if not g.alive():
            raise Failure("routerd exited after a refused plugin")
        if g.ctl("status").returncode != 0:
            raise Failure("routerd does not answer after a refused plugin")
        # At start: refused the same way, before any worker starts.
        s = subprocess.run([os.path.join(prefix, "bin", "routerd"), "-c", g.file, "--check",
                            "--plugin-path", f"{example_dir}:{d}"], capture_output=True, text=True, timeout=60)
        if s.returncode == 0 or msg not in s.stderr:
            raise Failure(f"routerd --check with {d} should fail with {msg!r}: {s.returncode}\n{s.stderr}")
    r = g.ctl("--json", "reload", g.file)
    if r.returncode != 0 or not json.loads(r.stdout).get("applied"):
        raise Failure(f"a good reload after the refusals did not apply:\n{r.stdout}{r.stderr}")
    print(f"  refusals: {len(cases)} plugins refused on reload and at start; routerd kept running")


# --------------------------------------------------------------------------
# 6. The service, live
# --------------------------------------------------------------------------
LIVE = "192.0.2.9"  # added with routerctl while routerd runs


def service_addresses(g):
    return g.json("service", "local")[0]["result"]["addresses"]


def check_service(g, tmp, replies_so_far):
    """Changes the LocalAddresses service with routerctl; returns the replies
    the pings read after that (through a port a reload adds) must get."""
    if service_addresses(g) != ADDRESSES:
        raise Failure(f"routerctl service local: addresses {service_addresses(g)}, expected {ADDRESSES}")
    listing = g.ctl("service").stdout
    if not re.search(r"^local\s+LocalAddresses\s+2 addresses$", listing, re.M):
        raise Failure(f"routerctl service does not list local, its class and state:\n{listing}")
    r = g.json("service", "local", "add", f"address={LIVE}")
    if r[0]["result"]["addresses"] != ADDRESSES + [LIVE]:
        raise Failure(f"routerctl service local add address={LIVE} answered {r}")
    for args, msg in [(["add", "address=192.0.2.300"], "address: expected an IPv4 address such as 192.0.2.1"),
                      (["add", f"address={LIVE}"], f"{LIVE} is in the table already"),
                      (["remove", "address=192.0.2.77"], "192.0.2.77 is not in the table"),
                      (["add"], "expected address=A"),
                      (["flush"], "has no command 'flush' (commands: status, add, remove)")]:
        r = g.ctl("service", "local", *args)
        if r.ok or msg not in r.stdout + r.stderr:
            raise Failure(f"routerctl service local {' '.join(args)} should fail with {msg!r}:\n{r.stdout}{r.stderr}")

    # Pings to the new address, read by a port the next reload adds; that
    # reload keeps the service (same name, class and addresses): its table,
    # as the command left it, is carried.
    host = Ether(src=HOST_MAC, dst=ROUTER_MAC)
    pings = [host / IP(src="198.51.100.30", dst=LIVE, id=200 + i) / ICMP(type=8, id=11, seq=i) / b"live"
             for i in range(3)]
    write_pcap(os.path.join(tmp, "in2.pcap"), [bytes(p) for p in pings])
    live = os.path.join(tmp, "graph-live.yaml")
    with open(live, "w") as f:
        f.write(graph_text(tmp, second_input=True))
    r = g.reload(live, json=True)
    rep = json.loads(r.stdout) if r.stdout.strip() else {}
    kept = {k["name"]: k for k in rep.get("services", {}).get("kept", [])}
    if not r.ok or kept.get("local", {}).get("state") != "carried":
        raise Failure(f"a reload keeping the service should carry its table:\n{r.stdout}{r.stderr}")
    g.wait_stats(lambda s: element(s, "txr")["total"]["in"] >= replies_so_far + len(pings),
                 what=f"the {len(pings)} pings to {LIVE} answered")
    if service_addresses(g) != ADDRESSES + [LIVE]:
        raise Failure(f"after the reload, the service's addresses are {service_addresses(g)}")

    # A reload that changes `addresses`: the table is the new list.
    changed = os.path.join(tmp, "graph-changed.yaml")
    with open(changed, "w") as f:
        f.write(graph_text(tmp, addresses=ADDRESSES[:1]))
    r = g.reload(changed, json=True)
    rep = json.loads(r.stdout) if r.stdout.strip() else {}
    kept = {k["name"]: k for k in rep.get("services", {}).get("kept", [])}
    if not r.ok or kept.get("local", {}).get("state") != "reset":
        raise Failure(f"a reload changing the service's addresses should reset its table:\n{r.stdout}{r.stderr}")
    if service_addresses(g) != ADDRESSES[:1]:
        raise Failure(f"after a reload with addresses {ADDRESSES[:1]}, the service holds {service_addresses(g)}")
    return [echo_reply(p) for p in pings]


def main(t):
    if t.args.sync_doc:
        sync_doc()
        t.check(True, f"{DOC}: file blocks rewritten from plugins/example")
        return
    build = os.path.abspath(os.path.join(t.bin, ".."))
    prefix = t.path("prefix")
    t0 = time.monotonic()
    with t.step("docs/writing-an-element.md runs as a script: SDK installed, example built, tested, run"):
        built = run_doc(build, prefix, t.tmp)
    with t.step("the install: public headers only, weft.pc and weft-testing.pc work, an ABI 99.0 plugin built"):
        abi3_dir = check_install(build, prefix, t.tmp)

    # The doc installed the plugin into the prefix; run it from a
    # directory of its own instead, as a third party would deploy it.
    installed = os.path.join(prefix, install_libdir(build), "weft", "plugins", "example.so")
    t.require(os.path.exists(installed), "the walkthrough's `cmake --install build` installed example.so")
    os.remove(installed)
    example_dir = t.path("plugins")
    os.makedirs(example_dir)
    os.chmod(example_dir, 0o755)
    plugin = os.path.join(example_dir, "example.so")
    shutil.copy(built, plugin)

    frames, replies, marked, other = traffic()
    write_pcap(t.path("in.pcap"), frames)
    n_bad = 2
    with t.routerd(graph_text(t.tmp), bindir=os.path.join(prefix, "bin"), args=["--plugin-path", example_dir]) as g:
        # Every frame is sent (PortTx's input) or dropped by the responder.
        st = g.wait_stats(lambda s: sum(element(s, x)["total"]["in"] for x in ("txr", "txm", "txo"))
                          + element(s, "echo")["total"]["dropped"] >= len(frames))
        drops = drops_of(element(st, "echo"))
        t.check(drops.get("bad_checksum") == n_bad and drops.get("truncated", 0) == 0,
                f"IcmpEchoResponder drops {n_bad} bad checksums, nothing else",
                f"IcmpEchoResponder drops {drops}, expected bad_checksum {n_bad}")
        h = g.read_handler("echo", "answered")
        t.check(h.returncode == 0 and str(len(replies)) in h.stdout, f"handler answered: {len(replies)}",
                f"handler answered: {h.stdout}{h.stderr}")
        with t.step("routerctl plugins and elements --doc show the example like a built-in"):
            check_routerctl(g, plugin)
        with t.step("a plugin of another ABI, with a bad symbol or no class is refused on reload and at start"):
            check_refusals(g, prefix, t.tmp, abi3_dir, t.test_plugins, example_dir)
        with t.step(f"the service, live: `add` makes echo answer {LIVE}; reloads carry or reset its table"):
            replies += check_service(g, t.tmp, len(replies))

    def summary(b):
        return Ether(b).summary()
    got_replies = read_pcap(t.path("reply.pcap"))
    t.check(got_replies == replies, f"{len(replies)} echo replies (3 to {LIVE}), byte for byte the ones scapy builds",
            frames_diff(got_replies, replies, summary))
    with t.step("every reply's IP and ICMP checksums are the ones scapy computes"):
        check_icmp_checksums(got_replies)
    got = read_pcap(t.path("marked.pcap"))
    t.check(got == marked, f"{len(marked)} SIP frames marked DSCP EF, ECN kept", frames_diff(got, marked, summary))
    got = read_pcap(t.path("other.pcap"))
    t.check(got == other, f"{len(other)} other frames unchanged", frames_diff(got, other, summary))
    t.info(f"traffic: {len(frames)} frames in; {len(replies)} echo replies, {len(marked)} marked, "
           f"{len(other)} unchanged, {n_bad} dropped (bad checksum); {time.monotonic() - t0:.0f} s in all")


def flags(ap):
    ap.add_argument("--sync-doc", action="store_true", help="rewrite the doc's file blocks from plugins/example")


if __name__ == "__main__":
    harness.run(main, flags=flags)

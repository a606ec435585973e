"""The Debian packages on a bare Debian 12: installed with apt (which pulls
their dependencies from the Debian mirror), then used as an operator and a
plugin author would.

    mmdebstrap --variant=apt bookworm ROOT        a bare Debian 12 (apt and the essential set)
    chroot ROOT (own mount namespace: /dev, /proc, /sys; gone with it)
      apt-get install ./weft_*.deb ./weft-dev_*.deb + man-db, bash-completion, g++, cmake, ...
      routerd -c /etc/weft/quickstart.yaml        from /usr/bin, plugins from /usr/lib/<multiarch>/weft/plugins
      routerctl stats / reload                    every classifier output counts; a reload is applied
      man routerctl, man weft-graph               the pages are installed
      bash completion of routerctl                commands, element ids from the running router
      systemd-analyze verify routerd@quickstart.service   the unit, its programs and manual pages
      cmake plugins/example against weft-dev      built, its tests pass (Weft::testing), loaded by routerd

Nothing is cached between runs: the root is made, used and deleted. The
packages come from tools/build-debs.sh (tools/run-tests.sh runs it first);
without them the test is skipped, which fails a CI run.

    python3 tests/package/test_debian_packages.py --debs build/debs [--mirror URL] [--root DIR]
"""
import glob
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import harness  # noqa: E402
from harness import REPO  # noqa: E402

SUITE = "bookworm"
# What the checks need beside the packages (weft-dev's own dependencies come with it).
TOOLS = ["man-db", "bash-completion", "g++", "make", "cmake", "catch2", "python3-scapy", "systemd"]

# Runs in the root as /tmp/check.sh; prints "ok<TAB>what" or "FAIL<TAB>what<TAB>detail" per check.
CHECKS = r'''
set -u
export LC_ALL=C.UTF-8 PATH=/usr/sbin:/usr/bin:/sbin:/bin MANPAGER=cat MANWIDTH=120
check() {  # WHAT COMMAND...: one check, the command's output as its detail when it fails
  local what="$1"; shift
  local out
  if out=$("$@" 2>&1); then printf 'ok\t%s\n' "$what"
  else printf 'FAIL\t%s\t%s\n' "$what" "$(printf '%s' "$out" | tail -n 15 | tr '\n\t' '\r ')"; fi
}
has() { grep -q -- "$1"; }
sock=/run/weft/quickstart.sock
mkdir -p /run/weft

check "routerd, routerctl, svp-server and weft-lab are in /usr/bin" \
  test -x /usr/bin/routerd -a -x /usr/bin/routerctl -a -x /usr/bin/svp-server -a -x /usr/bin/weft-lab
check "the built-in plugins are in /usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)/weft/plugins" \
  sh -c 'ls /usr/lib/*-linux-gnu/weft/plugins/weft_basic.so'
check "routerctl elements (offline) finds the installed plugins" sh -c 'routerctl elements | grep -q "^Classifier"'
check "weft-lab runs (its package installed beside it)" sh -c 'weft-lab --help | grep -q "run,validate"'
check "routerctl validate /etc/weft/quickstart.yaml" routerctl validate /etc/weft/quickstart.yaml

routerd -c /etc/weft/quickstart.yaml -s $sock -d 20 --summary-json /tmp/summary.json >/tmp/routerd.log 2>&1 &
pid=$!
for i in $(seq 200); do routerctl -s $sock status >/dev/null 2>&1 && break; sleep 0.1; done
check "routerd from /usr runs the quickstart graph" routerctl -s $sock status
sleep 1
check "every classifier output counts (the capture's mix)" sh -c '
  for e in vlan tcp udp icmp v6 arpc other; do
    routerctl -s '$sock' handler read $e count | grep -qv "^0$" || { echo "$e counted nothing"; exit 1; }
  done'
check "routerctl reload (what systemctl reload runs) is applied" \
  sh -c "routerctl -s $sock reload /etc/weft/quickstart.yaml | grep -q applied"

# Tab after `routerctl -s SOCK handler read `: the running router's elements.
check "bash completion: commands" bash -c '
  . /usr/share/bash-completion/bash_completion
  _completion_loader routerctl
  COMP_WORDS=(routerctl ""); COMP_CWORD=1; _routerctl
  printf "%s\n" "${COMPREPLY[@]}" | grep -qx reload && printf "%s\n" "${COMPREPLY[@]}" | grep -qx validate'
check "bash completion: element ids from the running router" bash -c '
  . /usr/share/bash-completion/bash_completion
  _completion_loader routerctl
  COMP_WORDS=(routerctl -s '$sock' handler read ""); COMP_CWORD=5; _routerctl
  printf "%s\n" "${COMPREPLY[@]}" | grep -qx tcp || { echo "got: ${COMPREPLY[*]}"; exit 1; }'
kill -TERM $pid; wait $pid
check "routerd stops cleanly and prints its summary" sh -c "grep -q 'routerd summary' /tmp/routerd.log"

check "man routerctl shows the page" sh -c 'man routerctl | grep -q "EXIT STATUS" && man routerctl | grep -q "routerctl handler read"'
check "man routerd, man svp-server, man 5 weft-graph" sh -c 'man routerd | grep -q -- "--plugin-path" && man svp-server | grep -q SHOOTDOWN && man 5 weft-graph | grep -q connections'
check "systemd-analyze verify routerd@quickstart.service (programs, manual pages)" sh -c '
  out=$(SYSTEMD_LOG_LEVEL=notice systemd-analyze verify routerd@quickstart.service 2>&1); rc=$?
  printf "%s" "$out"; [ $rc -eq 0 ] && [ -z "$out" ]'
check "the unit notifies (Type=notify) and reloads with routerctl" sh -c '
  grep -q "^Type=notify" /lib/systemd/system/routerd@.service && grep -q "^ExecReload=/usr/bin/routerctl" /lib/systemd/system/routerd@.service'

# The example plugin, built against the installed SDK, its tests run, then loaded by routerd.
rm -rf /tmp/example && cp -r /usr/share/doc/weft-dev/examples/plugin /tmp/example
check "plugins/example configures and builds against weft-dev (find_package(Weft))" \
  sh -c 'cd /tmp/example && cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/tmp/example-cmake.log 2>&1 && cmake --build build -j2 2>&1 | tail -20'
check "its tests pass (Weft::testing, net_pcap)" sh -c 'cd /tmp/example/build && ctest --output-on-failure 2>&1 | tail -20'
check "routerctl loads it: its classes are listed" sh -c 'routerctl --plugin-path /tmp/example/build elements | grep -q "^DscpMark"'
check "routerd runs its graph: echo replies in out.pcap" sh -c '
  cd /tmp/example && routerd -c graph.yaml --plugin-path build -s /tmp/example.sock -d 2 >/tmp/example-run.log 2>&1 &&
  grep -q "echo " /tmp/example-run.log && test -s out.pcap'
check "pkg-config weft and weft-testing name /usr/lib/<multiarch> and its plugin directory" sh -c '
  pkg-config --cflags --libs weft weft-testing >/dev/null || exit 1
  lib=$(pkg-config --variable=libdir weft); plugins=$(pkg-config --variable=plugindir weft)
  echo "libdir $lib, plugindir $plugins"
  test "$(realpath "$lib")" = "$(dirname /usr/lib/*-linux-gnu/libweft.so.0)" &&
  test "$(realpath "$plugins")" = "$(dirname /usr/lib/*-linux-gnu/weft/plugins/weft_basic.so)"'
check "no RPATH in the programs, libraries and plugins (libweft is in the system library directory)" sh -c '
  for f in /usr/bin/routerd /usr/bin/routerctl /usr/bin/svp-server /usr/lib/*-linux-gnu/libweft*.so.0 \
           /usr/lib/*-linux-gnu/weft/plugins/*.so; do
    test -f "$f" || { echo "$f missing"; exit 1; }
    readelf -d "$f" | grep -E "RPATH|RUNPATH" && { echo "in $f"; exit 1; }
  done; true'
'''


def flags(ap):
    ap.add_argument("--debs", default=os.path.join(REPO, "build", "debs"),
                    help="directory with weft_*.deb and weft-dev_*.deb (tools/build-debs.sh)")
    ap.add_argument("--mirror", help="Debian mirror (default: the one this machine's apt uses, else deb.debian.org)")
    ap.add_argument("--root", help="use this bare root (made by mmdebstrap) instead of making one; left in place")


def mirrors(t, given):
    """The Debian archive and security URIs of this machine's apt (deb822 or one-line), or the given mirror."""
    if given:
        return given.rstrip("/"), given.rstrip("/").rsplit("/", 1)[0] + "/debian-security"
    main, sec = "http://deb.debian.org/debian", "http://deb.debian.org/debian-security"
    for path in glob.glob("/etc/apt/sources.list.d/*.sources") + ["/etc/apt/sources.list"]:
        if not os.path.exists(path):
            continue
        text = open(path).read()
        for uri in re.findall(r"(?:^URIs:\s*|^deb\s+(?:\[[^]]*\]\s+)?)(\S+)", text, re.M):
            if uri.rstrip("/").endswith("/debian-security"):
                sec = uri.rstrip("/")
            elif uri.rstrip("/").endswith("/debian"):
                main = uri.rstrip("/")
    return main, sec


def in_root(t, root, script, timeout):
    """Runs a shell script in the root, in a mount namespace of its own (/dev, /proc, /sys are mounted
    in it and gone when it ends: nothing to unmount, whatever happens)."""
    inner = (f'mount --rbind /dev "{root}/dev" && mount -t proc proc "{root}/proc" && '
             f'mount -t sysfs sysfs "{root}/sys" && mount -t tmpfs tmpfs "{root}/run" && '
             f'exec chroot "{root}" /bin/sh -c "$0"')
    return t.run(["unshare", "--mount", "--propagation", "private", "--fork", "--pid", "--",
                  "sh", "-c", inner, script], timeout=timeout)


def main(t):
    debs = t.args.debs
    weft = sorted(glob.glob(os.path.join(debs, "weft_*.deb")))
    dev = sorted(glob.glob(os.path.join(debs, "weft-dev_*.deb")))
    if not weft or not dev:
        t.skip(f"no packages in {debs}: build them with `bash tools/build-debs.sh`")
    t.needs("mmdebstrap", "unshare", "chroot")
    root = t.args.root or t.path("root")
    main_uri, sec_uri = mirrors(t, t.args.mirror)

    if not t.args.root:
        with t.step(f"mmdebstrap: a bare Debian 12 ({main_uri})"):
            t.at_cleanup(lambda: shutil.rmtree(root, ignore_errors=True))
            r = t.run(["mmdebstrap", "--variant=apt", "--mode=root", "--format=directory",
                       "--dpkgopt=force-unsafe-io", "--aptopt=Acquire::Retries \"3\"",
                       SUITE, root,
                       f"deb {main_uri} {SUITE} main", f"deb {main_uri} {SUITE}-updates main",
                       f"deb {sec_uri} {SUITE}-security main"], timeout=900)
            if not r.ok:
                raise harness.Failure("mmdebstrap failed", r.stderr[-3000:])
    os.makedirs(os.path.join(root, "tmp", "debs"), exist_ok=True)
    for f in weft + dev:
        shutil.copy(f, os.path.join(root, "tmp", "debs"))
    shutil.copy("/etc/resolv.conf", os.path.join(root, "etc", "resolv.conf"))

    names = " ".join(f"/tmp/debs/{os.path.basename(f)}" for f in weft + dev)
    install = ("set -e; export DEBIAN_FRONTEND=noninteractive; "
               "echo 'man-db man-db/auto-update boolean false' | debconf-set-selections; "
               "apt-get update -q >/dev/null; "
               "apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-unsafe-io "
               f"{names} {' '.join(TOOLS)} >/tmp/apt.log 2>&1 || {{ tail -40 /tmp/apt.log; exit 1; }}; "
               "dpkg-query -W -f '${Package} ${Version} ${Status}\\n' weft weft-dev; "
               "grep -c '^Setting up' /tmp/apt.log")
    r = in_root(t, root, install, timeout=1200)
    t.require(r.ok and r.stdout.count("install ok installed") == 2,
              "apt-get installs weft and weft-dev, pulling their dependencies from Debian", r.stdout + r.stderr[-3000:])
    t.info(f"packages set up by apt: {r.stdout.strip().splitlines()[-1]}")
    deps = in_root(t, root, "dpkg-query -W -f '${Depends}' weft", timeout=60).stdout
    t.check(all(d in deps for d in ("librte-", "libyaml-cpp", "libboost-filesystem", "libmnl", "libssl")),
            "weft depends on Debian's DPDK, yaml-cpp, Boost, libmnl and OpenSSL runtime packages", deps)

    with open(os.path.join(root, "tmp", "check.sh"), "w") as f:
        f.write(CHECKS)
    r = in_root(t, root, "sh /tmp/check.sh", timeout=900)
    seen = 0
    for line in r.stdout.splitlines():
        parts = line.split("\t")
        if parts[0] in ("ok", "FAIL") and len(parts) >= 2:
            seen += 1
            t.check(parts[0] == "ok", parts[1], parts[2].replace("\r", "\n") if len(parts) > 2 else "")
    t.check(seen >= 20, f"every check in the root ran ({seen})", r.stdout[-2000:] + r.stderr[-2000:])
    if t.failed:
        for log in ("routerd.log", "example-cmake.log", "example-run.log"):
            p = os.path.join(root, "tmp", log)
            if os.path.exists(p):
                t.info(f"--- {log}\n" + open(p).read()[-3000:])


if __name__ == "__main__":
    harness.run(main, flags=flags)

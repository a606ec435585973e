#!/usr/bin/env python3
"""Checks the rules of the code layout that a compiler does not check.

  1. The fence: in every element family, datapath/ and tables/ (what runs on
     workers, and the tables workers read) include nothing from control/,
     and no protocol or control-plane library: Boost.Asio, nlohmann json,
     libmnl/netlink, yaml-cpp.
  2. Public SDK headers (framework/include/weft) include neither yaml-cpp,
     nor Boost.Asio, nor nlohmann/json.hpp (json_fwd.hpp only).
  3. One parser per network type: MAC addresses, IP addresses and their
     printers live in framework/src/core/net.cpp (weft/net.hpp) and nowhere else
     in framework/, elements/, plugins/ and tools/.
  4. Every element family has the layout: plugin.cpp and datapath/, with
     tables/ and control/ where it has such code; nothing else holds code.

    python3 tools/check-layout.py [REPO]      exit 0: clean; 1: findings (listed)
"""
import os
import re
import sys

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
CODE = (".hpp", ".cpp", ".h", ".cc")

FENCE = [
    (re.compile(r'#\s*include\s*"control/'), "includes control-plane code"),
    (re.compile(r"#\s*include\s*<boost/asio"), "includes Boost.Asio"),
    (re.compile(r"#\s*include\s*<nlohmann/"), "includes nlohmann json"),
    (re.compile(r"#\s*include\s*<libmnl/"), "includes libmnl"),
    (re.compile(r"#\s*include\s*<linux/(rt)?netlink"), "includes netlink"),
    (re.compile(r"#\s*include\s*<yaml-cpp/"), "includes yaml-cpp"),
]
PUBLIC = [
    (re.compile(r"#\s*include\s*<yaml-cpp/"), "includes yaml-cpp"),
    (re.compile(r"#\s*include\s*<boost/asio"), "includes Boost.Asio"),
    (re.compile(r"#\s*include\s*<nlohmann/json\.hpp>"), "includes nlohmann/json.hpp (use json_fwd.hpp)"),
]
PARSERS = [
    (re.compile(r"rte_ether_unformat_addr"), "parses a MAC (use weft::Mac::parse)"),
    (re.compile(r"%02x:%02x:%02x"), "prints a MAC (use weft::Mac::str)"),
    (re.compile(r"%2x:%2x:%2x"), "parses a MAC (use weft::Mac::parse)"),
    (re.compile(r"\binet_pton\b"), "parses an IP address (use weft::IpAddr/Ip4/Ip6/Prefix::parse)"),
]
PARSER_HOME = {os.path.join("framework", "src", "core", "net.cpp")}


def files(top):
    for d, _, names in os.walk(os.path.join(ROOT, top)):
        for n in sorted(names):
            if n.endswith(CODE):
                yield os.path.join(d, n)


def rel(p):
    return os.path.relpath(p, ROOT)


def scan(path, rules):
    out = []
    with open(path, errors="replace") as f:
        for no, line in enumerate(f, 1):
            code = line.split("//", 1)[0]
            for rx, why in rules:
                if rx.search(code):
                    out.append(f"{rel(path)}:{no}: {why}: {line.strip()}")
    return out


def main():
    findings = []
    elements = os.path.join(ROOT, "elements")
    for fam in sorted(os.listdir(elements)):
        d = os.path.join(elements, fam)
        if not os.path.isdir(d):
            continue
        if not os.path.exists(os.path.join(d, "plugin.cpp")):
            findings.append(f"elements/{fam}: no plugin.cpp")
        for entry in sorted(os.listdir(d)):
            p = os.path.join(d, entry)
            if os.path.isdir(p) and entry not in ("datapath", "tables", "control"):
                findings.append(f"elements/{fam}/{entry}: a family holds datapath/, tables/ and control/ only")
            if os.path.isfile(p) and entry.endswith(CODE) and entry != "plugin.cpp":
                findings.append(f"elements/{fam}/{entry}: code belongs in datapath/, tables/ or control/")
        for side in ("datapath", "tables"):
            if os.path.isdir(os.path.join(d, side)):
                for f in files(os.path.join("elements", fam, side)):
                    findings += scan(f, FENCE)
    for f in files(os.path.join("framework", "include")):
        findings += scan(f, PUBLIC)
    for top in ("framework", "elements", "plugins", "tools"):
        for f in files(top):
            if rel(f) not in PARSER_HOME:
                findings += scan(f, PARSERS)
    if findings:
        print("\n".join(findings))
        print(f"check-layout: {len(findings)} finding(s)")
        return 1
    print("check-layout: the fence holds, public headers are clean, one parser per network type")
    return 0


if __name__ == "__main__":
    sys.exit(main())

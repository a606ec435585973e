#!/usr/bin/env python3
"""Generates Weft's manual pages from one source the documentation shares.

  routerd(8), routerctl(8), svp-server(8)  docs/man/NAME.SECTION.md, where
      @OPTIONS@ and @COMMANDS@ are filled from the program's own command line
      (`PROGRAM --cli-json`: its CLI11 definitions), so a new command or flag
      appears in the page without an edit;
  weft-graph(5)  docs/graph-format.md itself, under a manual page's header.

Each page is markdown turned into roff by go-md2man (Debian: go-md2man).

    python3 tools/gen-man.py --bin build/bin --docs docs --out build/share/man --version 0.2.0
"""
import argparse
import gzip
import json
import os
import re
import subprocess
import sys

PAGES = [("routerd", 8), ("routerctl", 8), ("svp-server", 8)]
SECTION_NAMES = {5: "File Formats Manual", 8: "System Manager's Manual"}


def cli(bindir, prog):
    out = subprocess.run([os.path.join(bindir, prog), "--cli-json"], check=True, capture_output=True, text=True,
                         env=dict(os.environ, WEFT_SOCKET="/nonexistent")).stdout
    return json.loads(out)


def esc(text):
    """Markdown-escapes text that goes into a page verbatim."""
    return re.sub(r"([\\`*_\[\]<>|])", r"\\\1", text)


def option_entry(o):
    names = ", ".join(f"**{esc(n)}**" for n in o["names"])
    value = f" *{esc(o['value'])}*" if o["value"] else ""
    return f"{names}{value}\n:   {esc(o['description']) or '(no description)'}\n"


def options(app, skip_help=False):
    opts = [o for o in app["options"] if not (skip_help and "--help" in o["names"])]
    return "\n".join(option_entry(o) for o in opts)


def positionals(app):
    """The arguments as a heading shows them: NAME, [NAME], NAME..."""
    words = []
    for p in app["positionals"]:
        w = p["name"].upper() + ("..." if p["repeatable"] else "")
        words.append(w if p["required"] else f"[{w}]")
    return " ".join(words)


def commands(app, prefix):
    """One subsection per command (and per subcommand), depth first."""
    out = []
    for sub in app["subcommands"]:
        path = f"{prefix} {sub['name']}"
        syn = f"{path} {positionals(sub)}".rstrip()
        if sub["subcommands"]:
            syn += " COMMAND"
        out.append(f"## {esc(syn)}\n\n{esc(sub['description'])}\n")
        for p in sub["positionals"]:
            if p["description"]:
                out.append(f"*{esc(p['name'].upper())}*\n:   {esc(p['description'])}\n")
        opts = options(sub, skip_help=True)
        if opts:
            out.append(opts)
        out.append(commands(sub, path))
    return "\n".join(x for x in out if x)


def header(name, section, version):
    return f'% {name.upper()} {section} "" "Weft {version}" "{SECTION_NAMES[section]}"\n\n'


def program_page(docs, bindir, name, section, version):
    src = open(os.path.join(docs, "man", f"{name}.{section}.md")).read()
    app = cli(bindir, name)
    src = src.replace("@OPTIONS@", options(app)).replace("@COMMANDS@", commands(app, name))
    if m := re.search(r"@[A-Z]+@", src):
        sys.exit(f"{name}: unknown placeholder {m.group(0)}")
    return header(name, section, version) + src


def graph_page(docs, version):
    """docs/graph-format.md under weft-graph(5)'s header: its first heading is the
    title; the others move up a level (## -> a section, ### -> a subsection)."""
    body = open(os.path.join(docs, "graph-format.md")).read()
    lines, out, in_code = body.splitlines(), [], False
    for line in lines:
        if line.startswith("```"):
            in_code = not in_code
        if not in_code and re.match(r"^# ", line):
            continue
        if not in_code and line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            text = line[level:].strip()
            line = "# " + text.upper() if level == 2 else "#" * (level - 1) + " " + text
        # Links to other pages: their text, and the file in parentheses.
        if not in_code:
            line = re.sub(r"\[([^\]]+)\]\(([^)#]+)(#[^)]*)?\)", r"\1 (\2)", line)
        out.append(line)
    return (header("weft-graph", 5, version) +
            "# NAME\n\nweft-graph - the YAML graph format of the Weft router (routerd, routerctl)\n\n"
            "# SYNOPSIS\n\n*/etc/weft/NAME.yaml*, read by **routerd -c** and **routerctl validate**\n\n"
            "# DESCRIPTION\n\n" + "\n".join(out) +
            "\n\n# SEE ALSO\n\n**routerd**(8), **routerctl**(8)\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", required=True, help="directory with routerd, routerctl and svp-server")
    ap.add_argument("--docs", required=True)
    ap.add_argument("--out", required=True, help="writes OUT/man8/*.8.gz and OUT/man5/weft-graph.5.gz")
    ap.add_argument("--version", required=True)
    ap.add_argument("--md2man", default="go-md2man")
    ap.add_argument("--markdown", action="store_true", help="write the markdown (.md) next to each page too")
    a = ap.parse_args()
    pages = [(n, s, program_page(a.docs, a.bin, n, s, a.version)) for n, s in PAGES]
    pages.append(("weft-graph", 5, graph_page(a.docs, a.version)))
    for name, section, md in pages:
        d = os.path.join(a.out, f"man{section}")
        os.makedirs(d, exist_ok=True)
        target = os.path.join(d, f"{name}.{section}.gz")
        roff = subprocess.run([a.md2man], input=md, capture_output=True, text=True, check=True).stdout
        # Compressed, as Debian installs manual pages; no name or time in the header (reproducible).
        with open(target, "wb") as f:
            f.write(gzip.compress(roff.encode(), compresslevel=9, mtime=0))
        if a.markdown:
            with open(target[:-len(".gz")] + ".md", "w") as f:
                f.write(md)


if __name__ == "__main__":
    main()

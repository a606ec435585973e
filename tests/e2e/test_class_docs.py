#!/usr/bin/env python3
"""Every class's documentation shows everything the class declares.

    routerctl elements --json      what each class declares: parameters,
                                   drops, handlers, handles, commands, metrics
    routerctl elements --doc CLASS what a user reads: must show all of it
    docs/elements.md, ## CLASS     the generated page: that same text

For every class the built-in plugins export (element and service classes),
loaded by routerctl itself (no daemon):

 1. `routerctl elements --doc CLASS` shows its summary and description and,
    each in its own section, every parameter (name, type, `required` or its
    default, doc; for a service parameter, the handle it needs), every drop
    reason, every handler (readable, writable, as declared), every handle a
    service provides, every command (with its arguments) and every metric
    (name, type, labels, help) — and nothing
    the class does not declare.
 2. docs/elements.md (tools/gen-element-docs.sh; `docs.elements_up_to_date`
    compares the whole page) has one section per class holding exactly that
    text, and none for a class that is gone.
 3. The checker sees what it checks: the doc of every class with any one
    declared item removed, or with an item's doc changed, is reported.
"""
import os
import re

import harness

DOCS = os.path.join(harness.REPO, "docs", "elements.md")
# Section titles of `routerctl elements --doc` (tools/routerctl/main.cpp).
SECTIONS = {
    "params": "  parameters:",
    "drops": "  drop reasons:",
    "handlers": "  handlers:",
    "provides": "  provides (handles elements use):",
    "commands": "  commands (routerctl service NAME COMMAND [key=value...]):",
    "metrics": "  metrics:",
}


def line_re(*fields):
    """A doc line: four spaces, then the fields in order, separated by spaces."""
    return re.compile("^    " + r"\s+".join(re.escape(f) for f in fields) + r"\s*$")


def declared(k):
    """[(section, what, regex of its line)] for everything class k declares."""
    items = []
    for p in k["params"]:
        kind = p["type"] + (f" ({p['service']})" if "service" in p else "")
        default = "required" if p["required"] else f"default {p['default']}" if p["default"] else "optional"
        items.append(("params", f"parameter {p['name']} ({kind}, {default})",
                      line_re(p["name"], kind, default, p["doc"])))
    for d in k.get("drops", []):
        items.append(("drops", f"drop reason {d['name']}", line_re(d["name"], d["doc"])))
    for h in k.get("handlers", []):
        rw = ("r" if h["read"] else "") + ("w" if h["write"] else "")
        items.append(("handlers", f"handler {h['name']} ({rw})", line_re(h["name"], rw, h["doc"])))
    for h in k.get("provides", []):
        items.append(("provides", f"handle {h['type']}", line_re(h["type"], h["doc"])))
    for c in k.get("commands", []):
        synopsis = c["name"] + (" " + c["args"] if c["args"] else "")
        items.append(("commands", f"command {synopsis}", line_re(synopsis, c["doc"])))
    for m in k.get("metrics", []):
        items.append(("metrics", f"metric {m['name']}",
                      line_re(m["name"], m["type"], "{" + ",".join(m["labels"]) + "}", m["help"])))
    return items


def sections(text):
    """{section: [its item lines]} of a class's doc text."""
    out, current = {}, None
    for line in text.split("\n"):
        titles = [s for s, title in SECTIONS.items() if line == title]
        if titles:
            current = titles[0]
            out[current] = []
        elif current and line.startswith("    "):
            out[current].append(line)
        else:
            current = None
    return out


def problems(k, text):
    """What the doc text of class k lacks or shows beyond what it declares."""
    found = []
    lines = text.split("\n")
    if lines[0] != f"{k['name']} — {k['summary']}":
        found.append(f"first line is {lines[0]!r}, not the name and summary")
    for doc_line in k["doc"].split("\n") if k["doc"] else []:
        if "  " + doc_line not in lines:
            found.append(f"description line {doc_line!r} missing")
    if k["kind"] == "element":
        ins = "any number ([0], [1], ...)" if k["variadic_inputs"] else ", ".join(k["inputs"]) or "none (source)"
        outs = k["outputs_doc"] if k["dynamic_outputs"] else ", ".join(k["outputs"]) or "none"
        for want in (f"  inputs:  {ins}", f"  outputs: {outs}"):
            if want not in lines:
                found.append(f"{want.strip()!r} missing")
    secs = sections(text)
    items = declared(k)
    for sec, what, rx in items:
        if not any(rx.match(line) for line in secs.get(sec, [])):
            found.append(f"{what} missing from {SECTIONS[sec].strip()!r}")
    for sec, shown in secs.items():
        n = sum(1 for s, _, _ in items if s == sec)
        if len(shown) != n:
            found.append(f"{SECTIONS[sec].strip()!r} shows {len(shown)} lines for {n} declared")
    return found


def elements_md():
    """{class: its block's text} of docs/elements.md."""
    text = open(DOCS).read()
    return {m.group(1): m.group(2) for m in re.finditer(r"^## (\S+)\n\n```\n(.*?)```\n", text, re.S | re.M)}


def main(t):
    env = dict(os.environ, WEFT_SOCKET="/nonexistent")  # classes loaded by routerctl, never a daemon's
    r = t.routerctl("--json", "elements", env=env)
    t.require(r.ok, "routerctl elements --json lists the built-in classes", r.stderr)
    classes = r.json()
    kinds = {k["kind"] for k in classes}
    t.require(len(classes) > 1 and kinds == {"element", "service"},
              f"{len(classes)} classes, element and service classes among them", f"kinds: {kinds}")

    docs, bad = {}, {}
    for k in classes:
        d = t.routerctl("elements", "--doc", k["name"], env=env)
        docs[k["name"]] = d.stdout
        p = problems(k, d.stdout) if d.ok else [f"routerctl failed: {d.stderr.strip()}"]
        if p:
            bad[k["name"]] = p
    n_items = sum(len(declared(k)) for k in classes)
    t.check(not bad, f"elements --doc shows all {n_items} declared items of {len(classes)} classes, and no more",
            "\n".join(f"{c}: " + "; ".join(p) for c, p in bad.items()))

    page = elements_md()
    stale = []
    for k in classes:
        want = re.sub(r"plugin: .*/lib/weft/plugins/", "plugin: ", docs[k["name"]])
        if k["name"] not in page:
            stale.append(f"{k['name']}: no section")
        elif page[k["name"]] != want:
            stale.append(f"{k['name']}: its section differs from `routerctl elements --doc {k['name']}`")
    gone = sorted(set(page) - {k["name"] for k in classes})
    if gone:
        stale.append("sections for classes no plugin exports: " + ", ".join(gone))
    t.check(not stale, f"docs/elements.md holds each class's doc text ({len(page)} sections)",
            "\n".join(stale) + "\n(regenerate: bash tools/gen-element-docs.sh > docs/elements.md)")

    # The checker itself: every item dropped from (or altered in) a good doc is seen.
    unseen = []
    for k in classes:
        text = docs[k["name"]]
        if k["name"] in bad:
            continue
        for sec, what, rx in declared(k):
            lines = text.split("\n")
            i = next(n for n, line in enumerate(lines) if rx.match(line))
            without = "\n".join(lines[:i] + lines[i + 1:])
            altered = "\n".join(lines[:i] + [lines[i] + " (changed)"] + lines[i + 1:])
            if not problems(k, without) or not problems(k, altered):
                unseen.append(f"{k['name']}: {what}")
    t.check(not unseen, f"each of the {n_items} items, removed from or changed in its doc, is reported",
            "not reported: " + "; ".join(unseen))


if __name__ == "__main__":
    harness.run(main)

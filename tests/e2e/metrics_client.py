"""A small client of routerd's metrics endpoint for the tests: GET over HTTP
(urllib), and a parser of the text exposition format 0.0.4 written from
Prometheus's specification, not from routerd's renderer."""
import re
import urllib.error
import urllib.request

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$')
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?')


def _unescape(v):
    return re.sub(r'\\(.)', lambda m: {"n": "\n", "\\": "\\", '"': '"'}.get(m.group(1), "\\" + m.group(1)), v)


def parse(text):
    """{(name, ((label, value), ...sorted)): float}; raises ValueError on a bad line."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            raise ValueError(f"not a sample line: {line!r}")
        labels = []
        body = m.group(3) or ""
        pos = 0
        while pos < len(body):
            lm = _LABEL.match(body, pos)
            if not lm:
                raise ValueError(f"bad labels in {line!r}")
            labels.append((lm.group(1), _unescape(lm.group(2))))
            pos = lm.end()
        key = (m.group(1), tuple(sorted(labels)))
        if key in out:
            raise ValueError(f"sample twice: {line!r}")
        out[key] = float(m.group(4))
    return out


def value(samples, name, /, **labels):
    """The value of the one sample of `name` whose labels include `labels`; None if there is none."""
    found = [v for (n, ls), v in samples.items() if n == name and all((k, str(x)) in ls for k, x in labels.items())]
    if len(found) > 1:
        raise ValueError(f"{len(found)} samples of {name} match {labels}")
    return found[0] if found else None


def total(samples, name, /, **labels):
    """The sum of the samples of `name` whose labels include `labels`."""
    return sum(v for (n, ls), v in samples.items() if n == name and all((k, str(x)) in ls for k, x in labels.items()))


def get(url, accept=None, method="GET", timeout=10):
    """(status, content type, body text)."""
    req = urllib.request.Request(url, method=method, headers={"Accept": accept} if accept else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode()

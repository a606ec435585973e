#!/usr/bin/env python3
"""routerd's Prometheus/OpenMetrics endpoint (GET /metrics), its figures, and
misbehaving clients.

    p0 (net_null, endless) ─► rx ─► c (Counter) ─► tx ─► p1 (net_null)
    p2 (net_pcap, finite)  ─► rx2 ─► cls ─[v4]──► nat (Nat44) ─► bin (Discard)
                                         ─[arp]─► arpc (Counter) ─► bin
                                         ─[other: dropped, no_match]
    curl-like clients ──HTTP──► routerd 127.0.0.1:PORT/metrics

Steps and checks:
 1. routerd starts with `telemetry.metrics` in its graph; it says where the
    endpoint is and `routerctl status` says it too.
 2. Once the finite traffic is done, GET /metrics: text format 0.0.4, which
    `promtool check metrics` (Prometheus's own parser and linter) accepts;
    the finite path's figures equal `routerctl stats --json` exactly
    (outputs, drops by reason, port RX) and the NAT's own metrics equal what
    the frames must make (50 UDP sessions, 50 mappings); the endless path's
    counter lies between two `stats` read before and after, and grows.
 3. Accept: application/openmetrics-text gives OpenMetrics (counter families
    without _total, `# EOF`); HEAD, 404 and 405; `routerctl metrics` serves
    the same families.
 4. Reloads are counted: one applied, one refused, with their durations.
 5. Bad clients: garbage gets 400; a client that sends nothing is closed at
    the timeout; one that sends requests and never reads is closed at the
    timeout; a thousand connections at once cannot stop routerctl nor a new
    scrape. Each is counted in weft_metrics_http_*.
"""
import os
import resource
import shutil
import socket
import time

import harness
from harness import element, drops_of, outputs_of, port, wait_until, write_pcap
from metrics_client import get, parse, total, value
from scapy.all import ARP, IP, UDP, Ether, IPv6, Raw

FLOWS, PER_FLOW, ARPS, V6 = 50, 6, 20, 10


def frames():
    out = []
    for i in range(FLOWS * PER_FLOW):
        f = i % FLOWS
        out.append(bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") /
                         IP(src=f"10.0.0.{f + 1}", dst="203.0.113.9") / UDP(sport=40000 + f, dport=53) / Raw(b"q" * 20)))
    out += [bytes(Ether(src="02:00:00:00:00:01", dst="ff:ff:ff:ff:ff:ff") / ARP(pdst="10.0.0.254"))] * ARPS
    out += [bytes(Ether(src="02:00:00:00:00:01") / IPv6(dst="2001:db8::1") / UDP(dport=9))] * V6
    return out


def graph(pcap, http_port):
    return f"""
name: metrics-test
workers: {{lcores: [1]}}
telemetry:
  metrics: {{listen: "127.0.0.1:{http_port}", max_connections: 8, timeout: 1}}
ports:
  p0: {{device: net_null0, args: "size=64"}}
  p1: net_null1
  p2: {{device: net_pcap0, args: "rx_pcap={pcap}"}}
elements:
  rx: {{class: PortRx, port: p0}}
  c: Counter
  tx: {{class: PortTx, port: p1}}
  rx2: {{class: PortRx, port: p2}}
  cls:
    class: Classifier
    rules: [{{output: v4, ethertype: ipv4}}, {{output: arp, ethertype: arp}}]
    default: drop
  nat: {{class: Nat44, pool: [198.51.100.1], inside: [10.0.0.0/8], max_sessions: 4096}}
  arpc: Counter
  bin: Discard
connections:
  - rx -> c -> tx
  - rx2 -> cls
  - cls[v4] -> [from_inside]nat
  - nat[to_outside] -> bin
  - nat[to_inside] -> bin
  - cls[arp] -> arpc -> bin
"""


def raw_exchange(addr, data, wait):
    """Sends data on a new connection, then reads until the server closes it (at most `wait` s).
    (what came back, seconds until the close or None if it stayed open)."""
    s = socket.create_connection(addr, timeout=wait)
    t0 = time.monotonic()
    got = b""
    try:
        if data:
            s.sendall(data)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return got, time.monotonic() - t0
            got += chunk
    except (socket.timeout, TimeoutError):
        return got, None
    except ConnectionResetError:
        return got, time.monotonic() - t0
    finally:
        s.close()


def main(t):
    pcap = t.path("in.pcap")
    write_pcap(pcap, frames())
    http_port = harness.free_port()
    url = f"http://127.0.0.1:{http_port}/metrics"
    addr = ("127.0.0.1", http_port)

    with t.routerd(graph(pcap, http_port)) as r:
        # 1. where it is
        t.check(r.wait_output(f"metrics at {url}"), "routerd says where the metrics are")
        st = r.json("status")
        t.check(st.get("telemetry", {}).get("metrics") == url, "status names the endpoint",
                str(st.get("telemetry")))

        # 2. the figures, against routerctl stats
        n_finite = FLOWS * PER_FLOW + ARPS + V6
        stats = r.wait_stats(lambda s: element(s, "bin")["total"]["in"] + drops_of(element(s, "cls")).get("no_match", 0)
                             >= n_finite, what="the finite traffic through cls")
        before = r.json("stats")
        time.sleep(0.2)  # the endpoint reuses a rendering for 100 ms: this one is newer than `before`
        code, ctype, text = get(url)
        after = r.json("stats")
        t.require(code == 200, "GET /metrics answers 200", text[:500])
        t.check(ctype.startswith("text/plain") and "version=0.0.4" in ctype, "text format 0.0.4", ctype)
        if not shutil.which("promtool"):
            t.fail("promtool is missing", "tools/setup-debian.sh installs Debian's prometheus")
        lint = t.run(["promtool", "check", "metrics"], input=text)
        t.check(lint.returncode == 0, "promtool check metrics accepts the page", lint.stdout + lint.stderr)
        m = parse(text)
        cls = element(stats, "cls")
        for out, n in outputs_of(cls).items():
            t.check(value(m, "weft_element_output_packets_total", element="cls", output=out, worker=0) == n,
                    f"cls output {out}: {n} packets, as stats says")
        t.check(value(m, "weft_element_drops_total", element="cls", reason="no_match") == V6 ==
                drops_of(cls)["no_match"], f"cls dropped {V6} no_match, as stats says")
        t.check(value(m, "weft_element_drops_total", element="bin", reason="discarded") ==
                drops_of(element(stats, "bin"))["discarded"] == FLOWS * PER_FLOW + ARPS, "bin's drops, as stats says")
        t.check(value(m, "weft_element_output_bytes_total", element="arpc", output="out") ==
                outputs_and_bytes(stats, "arpc"), "arpc's bytes, as stats says")
        t.check(value(m, "weft_port_rx_packets_total", port="p2") == port(stats, "p2")["rx_packets"] == n_finite,
                "port p2 received every frame, as stats says")
        t.check(value(m, "weft_port_info", port="p2", driver="net_pcap") == 1, "port_info names the driver")
        t.check(value(m, "weft_nat_sessions", element="nat", **{"class": "Nat44"}, protocol="udp") == FLOWS,
                f"nat holds {FLOWS} UDP sessions", str([k for k in m if k[0].startswith("weft_nat")]))
        t.check(value(m, "weft_nat_sessions_created_total", element="nat", protocol="udp") == FLOWS,
                f"nat created {FLOWS} UDP sessions")
        t.check(value(m, "weft_nat_mappings", element="nat") == FLOWS, f"nat holds {FLOWS} mappings")
        t.check(value(m, "weft_nat_allocation_failures_total", element="nat") == 0, "no allocation failure")
        t.check(value(m, "weft_nat_pool_free_ports", element="nat", protocol="udp") == 64512 - FLOWS,
                "the UDP pool lost one port per mapping")
        lo = output_packets(before, "c")
        hi = output_packets(after, "c")
        got = value(m, "weft_element_output_packets_total", element="c", output="out", worker=0)
        t.check(got is not None and lo <= got <= hi, "the endless counter lies between two stats reads",
                f"{lo} <= {got} <= {hi}")
        t.check(value(m, "weft_worker_polls_total", worker=0, lcore=1) > 0, "worker polls")
        ratio = value(m, "weft_worker_busy_ratio", worker=0, lcore=1)
        t.check(ratio is not None and 0 < ratio <= 1, "worker busy ratio in (0, 1]", str(ratio))
        t.check(value(m, "weft_build_info") == 1 and value(m, "weft_graph_info", name="metrics-test") == 1,
                "build and graph info")
        wait_until(lambda: (value(parse(get(url)[2]), "weft_element_output_packets_total", element="c", output="out",
                                  worker=0) or 0) > hi, timeout=10)
        t.check(value(parse(get(url)[2]), "weft_element_output_packets_total", element="c", output="out",
                      worker=0) > hi, "the endless counter grows between scrapes")

        # 3. formats, methods, routerctl metrics
        code, ctype, om = get(url, accept="application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5")
        t.check(code == 200 and ctype.startswith("application/openmetrics-text"), "OpenMetrics when asked", ctype)
        t.check(om.endswith("# EOF\n") and "# TYPE weft_element_output_packets counter\n" in om
                and "# TYPE weft_build info\n" in om, "OpenMetrics families, types and # EOF")
        code, _, body = get(url, method="HEAD")
        t.check(code == 200 and body == "", "HEAD answers without a body")
        t.check(get(f"http://127.0.0.1:{http_port}/nothing")[0] == 404, "another path: 404")
        t.check(get(url, method="POST")[0] == 405, "POST: 405")
        ctl = r.ctl("metrics")
        fams = {k[0] for k in parse(ctl.stdout)} if ctl.ok else set()
        t.check(ctl.ok and fams >= {k[0] for k in m if not k[0].startswith("weft_metrics_http")},
                "routerctl metrics serves the same families", ctl.stderr)

        # 4. reloads
        bad = t.write("bad.yaml", "name: bad\nelements: {x: NoSuchClass}\n")
        t.check(r.reload(r.file).ok, "a reload applies")
        t.check(not r.reload(bad).ok, "a bad reload is refused")

        def reloads():
            s = parse(get(url)[2])
            return (value(s, "weft_reloads_total", result="applied"), value(s, "weft_reloads_total", result="refused"),
                    value(s, "weft_reload_last_duration_seconds", phase="total"))
        wait_until(lambda: reloads()[:2] == (1, 1), timeout=5)
        applied, refused, last = reloads()
        t.check((applied, refused) == (1, 1), "weft_reloads_total: 1 applied, 1 refused", str((applied, refused)))
        t.check(last is not None and 0 <= last < 30, "the last reload's duration", str(last))

        # 5. bad clients
        got, closed = raw_exchange(addr, b"\x16\x03\x01\x00\xa5garbage\r\n\r\n", wait=5)
        t.check(got.startswith(b"HTTP/1.1 400") and closed is not None, "garbage: 400, then closed", repr(got[:80]))
        got, closed = raw_exchange(addr, b"", wait=5)
        t.check(got == b"" and closed is not None and closed < 3, "a silent client is closed at the timeout (1 s)",
                str(closed))
        # A client that asks and never reads: a tiny receive buffer, thousands of requests in one write.
        def timeouts():
            return value(parse(get(url)[2]), "weft_metrics_http_dropped_connections_total", reason="timeout")
        before_lazy = timeouts()
        lazy = socket.socket()
        lazy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        lazy.connect(addr)
        lazy.setblocking(False)
        try:
            lazy.send(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" * 2000)
        except BlockingIOError:
            pass
        t0 = time.monotonic()
        t.check(wait_until(lambda: timeouts() > before_lazy, timeout=10),
                "a client that never reads its replies is closed at the timeout, others are served meanwhile",
                f"after {time.monotonic() - t0:.1f} s")
        lazy.close()

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = 1000
        if soft < want + 100:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, want + 200), hard))
        n = min(want, resource.getrlimit(resource.RLIMIT_NOFILE)[0] - 100)
        crowd = []
        try:
            for _ in range(n):
                s = socket.socket()
                s.setblocking(False)
                s.connect_ex(addr)
                crowd.append(s)
            t0 = time.monotonic()
            ok = r.ctl("status", timeout=10).ok
            t.check(ok and time.monotonic() - t0 < 5, f"routerctl answers with {n} HTTP connections open",
                    f"{time.monotonic() - t0:.1f} s")
            code = 0
            for _ in range(20):  # the listen backlog is drained in turn; each new connection evicts an idle one
                try:
                    code = get(url, timeout=5)[0]
                except OSError:
                    code = 0
                if code == 200:
                    break
            t.check(code == 200, f"a scrape is answered with {n} connections opened")
            # Under load the server may still be accepting the crowd: scrape
            # (each scrape is a new connection) until one found it full.
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    cur = parse(get(url, timeout=5)[2])
                except OSError:
                    continue
                if (value(cur, "weft_metrics_http_dropped_connections_total", reason="evicted") or 0) >= 1:
                    break
                time.sleep(0.1)
        finally:
            for s in crowd:
                s.close()
        s = parse(get(url)[2])
        dropped = {k: value(s, "weft_metrics_http_dropped_connections_total", reason=k)
                   for k in ("evicted", "timeout", "bad_request", "refused")}
        t.check(dropped["bad_request"] >= 1 and dropped["timeout"] >= 2 and dropped["evicted"] >= 1,
                "bad, silent, lazy and crowding clients are counted", str(dropped))
        t.check(total(s, "weft_metrics_http_requests_total", code=200) >= 5 and
                value(s, "weft_metrics_http_requests_total", code=400) >= 1, "requests are counted by status code")
        t.check(r.alive() and r.ctl("status").ok, "routerd is still up")
        t.check(r.stop() == 0, "routerd exits 0")


def output_packets(stats, eid):
    return sum(outputs_of(element(stats, eid)).values())


def outputs_and_bytes(stats, eid):
    return harness.output(stats, eid, "out")[1]


if __name__ == "__main__":
    harness.run(main)

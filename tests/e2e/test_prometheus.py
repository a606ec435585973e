#!/usr/bin/env python3
"""A real Prometheus (Debian's) scrapes routerd; its query API must agree with
`routerctl stats --json`.

    p0 (quickstart.pcap, looped) ─► rx ─► cls ─► tcp/udp/.../other ─► out ─► tx ─► p1    (the quickstart)
    p2 (net_pcap, finite)  ─► rx2 ─► filt (Classifier, default: drop) ─[arp]─► arpc2 ─► bin

    prometheus (127.0.0.1:Q, scrape_interval 1 s, the shipped alerting rules)
        ──GET /metrics──► routerd (127.0.0.1:P, --metrics flag)

Steps and checks:
 1. routerd starts with the metrics endpoint from its --metrics flag (the
    graph has no telemetry section); Prometheus starts with a scrape config
    pointing at it and docs/examples/prometheus/weft-alerts.yml.
 2. The target is up (Prometheus parsed the page it negotiated:
    OpenMetrics), with no scrape error.
 3. Counters exist and increase: the endless path's packets per output and
    port TX grow between two queries, and rate() is positive.
 4. They agree with routerctl: the finite path's packets, bytes, drops by
    reason and port RX, as Prometheus stored them, equal `routerctl stats
    --json` exactly; the endless path's lies between two stats reads around
    the scrape Prometheus made.
 5. Every shipped alerting rule evaluates on this data without error.
"""
import json
import os
import shutil
import time
import urllib.parse
import urllib.request

import harness
from harness import drops_of, element, output, outputs_of, port, wait_until, write_pcap
from scapy.all import ARP, IP, UDP, Ether

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ARPS, V4 = 40, 25


def graph(pcap):
    quick = open(os.path.join(REPO, "graphs", "quickstart.yaml")).read()
    quick = quick.replace("name: quickstart", "name: prometheus-test")
    # The graph runs from the test's directory: its capture, by its full path.
    quick = quick.replace("rx_pcap=quickstart.pcap", "rx_pcap=" + os.path.join(REPO, "graphs", "quickstart.pcap"))
    quick = quick.replace("  p1: {device: net_null1}",
                          f"  p1: {{device: net_null1}}\n  p2: {{device: net_pcap1, args: \"rx_pcap={pcap}\"}}")
    quick = quick.replace("  tx:    {class: PortTx, port: p1}", """  tx:    {class: PortTx, port: p1}
  rx2:   {class: PortRx, port: p2}
  filt:  {class: Classifier, rules: [{output: arp, ethertype: arp}], default: drop}
  arpc2: Counter
  bin:   Discard""")
    quick += "  - rx2 -> filt\n  - filt[arp] -> arpc2 -> bin\n"
    return quick


class Prometheus:
    def __init__(self, t, target, rules):
        self.port = harness.free_port()
        self.api = f"http://127.0.0.1:{self.port}/api/v1/"
        shutil.copy(rules, t.path("weft-alerts.yml"))
        cfg = t.write("prometheus.yml", f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: [weft-alerts.yml]
scrape_configs:
  - job_name: weft
    static_configs: [{{targets: ["{target}"]}}]
""")
        self.log = t.path("prometheus.log")
        t.log_on_failure(self.log)
        with open(self.log, "w") as log:
            self.proc = t.spawn(["prometheus", f"--config.file={cfg}", f"--storage.tsdb.path={t.path('tsdb')}",
                                 f"--web.listen-address=127.0.0.1:{self.port}"], stdout=log, stderr=log)

    def get(self, path, **params):
        url = self.api + path + ("?" + urllib.parse.urlencode(params) if params else "")
        with urllib.request.urlopen(url, timeout=10) as r:
            j = json.load(r)
        if j.get("status") != "success":
            raise harness.Failure(f"Prometheus {path}: {j}")
        return j["data"]

    def query(self, q):
        """{frozenset(labels): value} of an instant query."""
        try:
            res = self.get("query", query=q)["result"]
        except OSError:
            return {}
        return {frozenset((k, v) for k, v in x["metric"].items() if k not in ("job", "instance")): float(x["value"][1])
                for x in res}

    def one(self, q):
        r = self.query(q)
        return next(iter(r.values())) if len(r) == 1 else None


def main(t):
    if not shutil.which("prometheus"):
        t.fail("prometheus is missing", "tools/setup-debian.sh installs Debian's prometheus")
    pcap = t.path("in.pcap")
    frames = [bytes(Ether(dst="ff:ff:ff:ff:ff:ff") / ARP(pdst=f"10.0.0.{i}")) for i in range(ARPS)]
    frames += [bytes(Ether() / IP(dst="192.0.2.1") / UDP())] * V4
    write_pcap(pcap, frames)
    http_port = harness.free_port()
    target = f"127.0.0.1:{http_port}"

    with t.routerd(graph(pcap), args=["--metrics", target]) as r:
        t.check(r.wait_output(f"metrics at http://{target}/metrics"), "routerd serves metrics (--metrics)")
        stats = r.wait_stats(lambda s: element(s, "bin")["total"]["in"] + drops_of(element(s, "filt")).get("no_match", 0)
                             >= ARPS + V4, what="the finite traffic through filt")
        p = Prometheus(t, target, os.path.join(REPO, "docs", "examples", "prometheus", "weft-alerts.yml"))

        # 2. up
        t.require(wait_until(lambda: p.one('up{job="weft"}') == 1, timeout=60), "Prometheus scrapes routerd: up == 1")
        targets = p.get("targets")["activeTargets"]
        t.check(len(targets) == 1 and targets[0]["health"] == "up" and targets[0]["lastError"] == "",
                "the target is healthy, no scrape error", str(targets))
        t.check((p.one('scrape_samples_scraped{job="weft"}') or 0) > 50, "it stored the page's samples")

        # 3. they exist and increase
        q = 'weft_element_output_packets_total{element="out",output="out"}'
        first = p.one(q)
        t.require(first is not None and first > 0, "weft_element_output_packets_total is stored", str(p.query(q)))
        t.check(wait_until(lambda: (p.one(q) or 0) > first, timeout=20), "it increases from scrape to scrape")
        t.check(wait_until(lambda: (p.one(f"rate({q}[5s])") or 0) > 0, timeout=20), "its rate() is positive")
        t.check(wait_until(lambda: (p.one('rate(weft_port_tx_packets_total{port="p1"}[5s])') or 0) > 0, timeout=20),
                "port p1's TX rate is positive")

        # 4. agreement with routerctl stats
        filt = element(stats, "filt")
        for out, n in outputs_of(filt).items():
            t.check(p.one(f'weft_element_output_packets_total{{element="filt",output="{out}"}}') == n,
                    f"filt output {out}: {n}, as routerctl says")
        t.check(p.one('weft_element_drops_total{element="filt",reason="no_match"}') == drops_of(filt)["no_match"] == V4,
                f"filt dropped {V4} (no_match), as routerctl says")
        t.check(p.one('weft_element_output_bytes_total{element="arpc2",output="out"}') == output(stats, "arpc2", "out")[1],
                "arpc2's bytes, as routerctl says")
        t.check(p.one('weft_port_rx_packets_total{port="p2"}') == port(stats, "p2")["rx_packets"] == ARPS + V4,
                "port p2's RX, as routerctl says")
        # The endless path: every sample Prometheus took between two stats reads lies between them.
        # (A sample's timestamp is its scrape's start; routerd may reuse a rendering 100 ms old and
        # answers within milliseconds: the window leaves margins for both.)
        def samples():
            res = p.get("query", query=q + "[30s]")["result"]
            return [(float(ts), float(v)) for ts, v in res[0]["values"]] if res else []
        lo_time = time.time()
        lo = sum(outputs_of(element(r.json("stats"), "out")).values())
        t.require(wait_until(lambda: [x for x in samples() if x[0] > lo_time + 0.2], timeout=10),
                  "Prometheus scrapes again")
        time.sleep(0.5)
        hi = sum(outputs_of(element(r.json("stats"), "out")).values())
        hi_time = time.time()
        inside = [v for ts, v in samples() if lo_time + 0.2 < ts < hi_time - 0.5]
        t.check(inside and all(lo <= v <= hi for v in inside),
                "the endless counter: stats before <= Prometheus's samples <= stats after", f"{lo} <= {inside} <= {hi}")

        # 5. the shipped rules evaluate
        def rules():
            return [x for g in p.get("rules")["groups"] for x in g["rules"]]
        t.check(wait_until(lambda: rules() and all(x.get("health") != "unknown" for x in rules()), timeout=20),
                "Prometheus evaluated every rule")
        rules = rules()
        t.check(len(rules) >= 9, f"{len(rules)} shipped rules loaded")
        bad = [(x["name"], x.get("lastError")) for x in rules if x.get("health") != "ok"]
        t.check(not bad, "every rule evaluates without error", str(bad))
        alerts = {a["labels"]["alertname"] for a in p.get("alerts")["alerts"]}
        t.check("WeftDown" not in alerts and "WeftFpmDown" not in alerts, "no Weft alert fires on a healthy router",
                str(alerts))
        t.check(r.stop() == 0, "routerd exits 0")


if __name__ == "__main__":
    harness.run(main)

#!/usr/bin/env python3
"""Portolan sends garbage, then disappears: routerd keeps forwarding through
the overlay entries it resolved, reports the Svp service degraded, and takes
the fresh answers once a server is back.

    svp-server / garbage server (127.0.0.1:P, loopback)
          ▲ SVP/TCP
          │
    routerd: Svp service (ttl 1 s: every entry expires during the outage)
    pin (net_pcap, in.pcap looped) ─► rx ─► res (SvpResolver vni 100) ─► enc (VxlanEncap) ─► c (Counter) ─► tx ─► pout (net_null)

Steps, with traffic measured through c (its `count` handler) at each:

1. svp-server (build/bin/svp-server) maps 02:77:00:00:00:09 (vni 100) to
   underlay 192.0.2.9; routerd resolves it and the looped frames to that MAC
   cross c;
2. svp-server stops; a server in its place answers the SVP connection with
   64 bytes of garbage and goes away: the client counts the malformed reply
   and resets the connection; nothing listens on P any more (connect
   failures counted);
3. during the outage: `routerctl status` reports the Svp service degraded
   with its error, the log says the connection was reset; the cache entry is
   still resolved (and past its ttl), traffic keeps crossing c, and
   SvpResolver drops nothing as `timeout`;
4. svp-server comes back with the MAC moved to underlay 192.0.2.10: the
   session is up, the expired entry is refreshed to the new underlay, health
   is ok again (its past errors still counted), c keeps counting;
5. routerd and svp-server stop cleanly.

Everything listens on 127.0.0.1 on a free port; processes are stopped by pid.
Usage: test_faults_svp.py --bin build/bin
"""
import signal
import subprocess

import harness
from harness import GARBAGE_SVP_SERVER, drops_of, element, free_port, wait_until, write_pcap
from scapy.all import IP, UDP, Ether, Raw

MAC = "02:77:00:00:00:09"
KEY = f"vl2 {MAC} vni 100"

MAPPINGS = """vl2:
  - {{mac: "{mac}", vni: 100, ip: {underlay}, port: 4789}}
"""

GRAPH = """
name: faults-svp
workers: {{lcores: [1]}}
services:
  portolan:
    class: Svp
    servers: ["127.0.0.1:{port}"]
    timeout: 0.5
    backoff_min: 0.1
    backoff_max: 0.5
    ttl: 1
    refresh_retry: 0.2
ports:
  pin: {{device: net_pcap0, args: "rx_pcap={pcap},infinite_rx=1"}}
  pout: net_null0
elements:
  rx: {{class: PortRx, port: pin}}
  res: {{class: SvpResolver, svp: portolan, vni: 100}}
  enc: {{class: VxlanEncap, local_ip: 192.0.2.1, local_mac: "02:00:00:00:00:01", remote_mac: "02:00:00:00:00:fe"}}
  c: Counter
  tx: {{class: PortTx, port: pout}}
connections:
  - rx -> res -> enc -> c -> tx
"""

def main(t):
    server = t.exe("svp-server")
    t.needs(t.exe("routerd"), t.exe("routerctl"), server)
    port = free_port()
    pcap = t.path("in.pcap")
    write_pcap(pcap, [bytes(Ether(dst=MAC, src="02:00:00:00:aa:01") / IP(src="10.0.0.1", dst="10.0.0.9")
                            / UDP(sport=1000 + i, dport=7) / Raw(b"x" * 18)) for i in range(8)])
    slog_path = t.path("svp-server.log")
    t.log_on_failure(slog_path)

    def start_server(underlay):
        mfile = t.write("mappings.yaml", MAPPINGS.format(mac=MAC, underlay=underlay))
        with open(slog_path, "a") as slog:
            return t.spawn([server, "-c", mfile, "-l", f"127.0.0.1:{port}"], stdout=slog, stderr=subprocess.STDOUT)

    # 1. Portolan up, the destination resolved, traffic flowing.
    srv = start_server("192.0.2.9")
    r = t.routerd(GRAPH.format(port=port, pcap=pcap))

    def overlay():
        res = r.ctl("--json", "overlay")
        return res.json()[0] if res.ok and res.stdout.strip() else {}

    def entry():
        return next((e for e in overlay().get("cache", []) if e["key"] == KEY), {})

    def svp_health():
        res = r.ctl("--json", "status")
        return next((s for s in res.json()["health"]["services"] if s["name"] == "portolan"), {}) if res.ok else {}

    def count():
        h = r.read_handler("c", "count")
        return int(h.stdout.strip()) if h.ok else -1

    def flows(timeout=5):
        c0 = count()
        return wait_until(lambda: count() > c0 >= 0, timeout=timeout)

    def res_drops(reason):
        return drops_of(element(r.stats(), "res")).get(reason, 0)

    t.require(wait_until(lambda: overlay().get("status", {}).get("state") == "up", 20),
              f"the SVP session is up with svp-server (pid {srv.pid}) on 127.0.0.1:{port}")
    t.require(wait_until(lambda: entry().get("underlay") == "192.0.2.9:4789", 20),
              f"{KEY} resolved to underlay 192.0.2.9:4789", str(overlay().get("cache")))
    t.check(flows(), "frames to the resolved MAC cross c")
    t.check(svp_health().get("state") == "ok", "health: the Svp service is ok", str(svp_health()))

    # 2. svp-server goes; a server that sends garbage takes its place, then goes too.
    srv.send_signal(signal.SIGTERM)
    srv.wait(timeout=10)
    t.check(srv.returncode == 0, "svp-server stopped (exit status 0)", f"status {srv.returncode}")
    garbage = t.spawn(["python3", "-c", GARBAGE_SVP_SERVER, str(port)])

    def malformed():
        m = overlay().get("status", {}).get("portolan", {}).get("counters", {}).get("malformed", {})
        return sum(m.values())
    t.check(wait_until(lambda: malformed() >= 1, 20),
            "the garbage is counted as a malformed reply and the connection reset", str(overlay().get("status")))
    garbage.wait(timeout=10)
    t.check(garbage.returncode == 0, "the garbage server is gone")
    failures0 = overlay()["status"]["portolan"]["counters"]["connect_failures"]
    t.check(wait_until(lambda: overlay()["status"]["portolan"]["counters"]["connect_failures"] > failures0, 10),
            "nothing listens any more: connection attempts fail (and go on, with backoff)")

    # 3. The outage: last good state kept, traffic measured, the fault reported.
    h = svp_health()
    t.check(h.get("state") == "degraded" and h.get("errors", 0) >= 1 and h.get("last_error"),
            "`routerctl status`: the Svp service is degraded, with its error", str(h))
    st = r.status()
    t.check(st["health"]["state"] == "degraded" and any("portolan" in p for p in st["health"]["problems"]),
            "health is degraded, the problem names the service", str(st["health"]["problems"]))
    t.check(r.wait_output("(connection reset)"), "the log reports the malformed reply and the reset")
    t.check(wait_until(lambda: entry().get("expired") is True, 5),
            f"{KEY} is past its ttl (1 s) with no server to refresh it", str(entry()))
    e = entry()
    t.check(e.get("state") == "resolved" and e.get("underlay") == "192.0.2.9:4789",
            "the cache keeps the entry as it was resolved", str(e))
    timeouts0 = res_drops("timeout")
    c0 = count()
    ok = all(flows() for _ in range(3))
    t.check(ok, f"traffic keeps crossing c through the expired entry ({count() - c0} frames in the outage)")
    t.check(res_drops("timeout") == timeouts0 and res_drops("not_found") == 0,
            "SvpResolver drops nothing as timeout or not_found", str(drops_of(element(r.stats(), "res"))))
    t.check(overlay()["status"]["state"] != "up", "routerctl overlay: Portolan is not up")

    # 4. A server is back, with the MAC moved: the expired entry is refreshed.
    srv = start_server("192.0.2.10")
    t.check(wait_until(lambda: overlay().get("status", {}).get("state") == "up", 20),
            f"the session comes up again once svp-server (pid {srv.pid}) is back")
    t.check(wait_until(lambda: entry().get("underlay") == "192.0.2.10:4789", 20),
            f"{KEY} is refreshed to its new underlay 192.0.2.10:4789", str(entry()))
    h = svp_health()
    t.check(h.get("state") == "ok" and h.get("errors", 0) >= 1,
            "health: the Svp service is ok again, its past errors still counted", str(h))
    t.check(r.status()["health"]["state"] == "ok", "health is ok")
    t.check(flows(), "traffic crosses c")

    # 5. Clean stop.
    t.check(r.stop(timeout=30) == 0, "routerd stopped cleanly (exit status 0)", f"status {r.returncode}")
    srv.send_signal(signal.SIGTERM)
    srv.wait(timeout=10)
    t.check(srv.returncode == 0, "svp-server stopped cleanly (exit status 0)", f"status {srv.returncode}")


if __name__ == "__main__":
    harness.run(main)

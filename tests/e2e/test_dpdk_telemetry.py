#!/usr/bin/env python3
"""Weft's figures on DPDK's telemetry socket, read with DPDK's own client
(Debian's dpdk-telemetry.py).

    dpdk-telemetry.py -f weft<pid> ──unix seqpacket──► RUNTIME_DIR/dpdk/weft<pid>/dpdk_telemetry.v2
                                                        (routerd, the quickstart graph on net_null)

Checks: `routerctl status --json` names the socket and the EAL file prefix;
the client lists the /weft/... commands beside DPDK's; /weft/info names the
graph and routerd's pid; /weft/elements lists the graph's elements;
/weft/element,out counts packets between two `routerctl stats` reads;
/weft/ports maps the ports to DPDK port ids that /ethdev/stats reads;
/weft/metric,NAME gives a family's samples; an unknown element answers
null; with `telemetry: {dpdk: false}` no /weft command is registered.
"""
import json
import os
import shutil

import harness
from harness import element, outputs_of

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COMMANDS = ["/weft/info", "/weft/elements", "/weft/element", "/weft/workers", "/weft/ports", "/weft/services",
            "/weft/service", "/weft/reloads", "/weft/metrics", "/weft/metric"]


def ask(t, prefix, *commands):
    """Runs dpdk-telemetry.py -f prefix with the commands on its standard input: {command: reply}."""
    r = t.run(["dpdk-telemetry.py", "-f", prefix], input="\n".join(commands) + "\n", timeout=30)
    if not r.ok:
        raise harness.Failure("dpdk-telemetry.py failed", r.stdout + r.stderr)
    # One JSON line per command, in order, keyed by the command without its parameter.
    replies = [json.loads(line) for line in r.stdout.splitlines() if line.strip().startswith("{")]
    if len(replies) != len(commands):
        raise harness.Failure(f"{len(replies)} replies to {len(commands)} commands", r.stdout + r.stderr)
    out = {}
    for c, reply in zip(commands, replies):
        if list(reply) != [c.split(",")[0]]:
            raise harness.Failure(f"the reply to {c} is {reply}")
        out[c] = reply[c.split(",")[0]]
    return out


def main(t):
    if not shutil.which("dpdk-telemetry.py"):
        t.fail("dpdk-telemetry.py is missing", "tools/setup-debian.sh installs Debian's dpdk-dev")
    quick = open(os.path.join(REPO, "graphs", "quickstart.yaml")).read()
    # The graph runs from the test's directory: its capture, by its full path.
    quick = quick.replace("rx_pcap=quickstart.pcap", "rx_pcap=" + os.path.join(REPO, "graphs", "quickstart.pcap"))
    with t.routerd(quick) as r:
        st = r.json("status")["telemetry"]
        prefix = st["dpdk_file_prefix"]
        t.check(prefix == f"weft{r.pid}", "the EAL file prefix is weft<pid>", prefix)
        t.require(st["dpdk_socket"] and os.path.exists(st["dpdk_socket"]) and
                  st["dpdk_socket"].endswith(f"/dpdk/{prefix}/dpdk_telemetry.v2"), "status names the socket", str(st))
        r.wait_stats(lambda s: element(s, "out")["total"]["out"] > 1000, what="traffic through out (Merge)")

        listed = ask(t, prefix, "/")["/"]
        t.check(all(c in listed for c in COMMANDS) and "/ethdev/stats" in listed,
                "the client lists every /weft command beside DPDK's", str(listed))
        before = sum(outputs_of(element(r.json("stats"), "out")).values())
        got = ask(t, prefix, "/weft/info", "/weft/elements", "/weft/element,out", "/weft/ports", "/weft/workers",
                  "/weft/metric,weft_element_output_packets_total", "/weft/metrics", "/weft/reloads",
                  "/weft/element,nosuch")
        after = sum(outputs_of(element(r.json("stats"), "out")).values())
        info = got.get("/weft/info") or {}
        t.check(info.get("graph") == "quickstart" and info.get("pid") == r.pid and info.get("workers") == 1,
                "/weft/info: the graph, routerd's pid, one worker", str(info))
        t.check(got.get("/weft/elements") == ["rx", "cls", "vlan", "tcp", "udp", "icmp", "v6", "arpc", "other", "out", "tx"],
                "/weft/elements lists the graph's elements", str(got.get("/weft/elements")))
        out = got.get("/weft/element,out") or {}
        t.check(out.get("class") == "Merge" and before <= out.get("out/out", -1) <= after,
                "/weft/element,out: packets between two routerctl stats reads", f"{before} <= {out} <= {after}")
        ports = got.get("/weft/ports") or {}
        t.check(set(ports) == {"p0", "p1"}, "/weft/ports names p0 and p1", str(ports))
        eth = ask(t, prefix, f"/ethdev/stats,{ports.get('p0', 0)}").get(f"/ethdev/stats,{ports.get('p0', 0)}") or {}
        t.check(eth.get("ipackets", 0) > 0, "DPDK's /ethdev/stats reads the port /weft/ports gives", str(eth)[:300])
        t.check((got.get("/weft/workers") or {}).get("0/lcore") == 1, "/weft/workers: worker 0 on lcore 1")
        fam = got.get("/weft/metric,weft_element_output_packets_total") or {}
        t.check(fam.get("type") == "counter" and fam.get("labels") == "element/class/output/worker" and
                fam.get("out/Merge/out/0", 0) >= before, "/weft/metric gives a family's samples", str(fam)[:300])
        t.check("weft_port_rx_packets_total" in (got.get("/weft/metrics") or []), "/weft/metrics lists the families")
        t.check((got.get("/weft/reloads") or {}).get("applied") == 0, "/weft/reloads")
        t.check("/weft/element,nosuch" in got and got["/weft/element,nosuch"] is None,
                "an unknown element answers null", str(got.get("/weft/element,nosuch")))
        t.check(r.stop() == 0, "routerd exits 0")

    off = quick.replace("name: quickstart", "name: quickstart\ntelemetry: {dpdk: false}")
    with t.routerd(off, name="routerd-off") as r:
        prefix = r.json("status")["telemetry"]["dpdk_file_prefix"]
        listed = ask(t, prefix, "/")["/"]
        t.check(listed and not [c for c in listed if c.startswith("/weft")],
                "telemetry.dpdk false: no /weft command", str(listed))
        t.check(r.stop() == 0, "routerd exits 0")


if __name__ == "__main__":
    harness.run(main)

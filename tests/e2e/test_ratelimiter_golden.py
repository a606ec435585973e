#!/usr/bin/env python3
"""Golden pcap test of RateLimiter with a frozen clock: colors are exact.

                              ┌[out0]─ mark (srTCM, action mark) ── txM ── out_mark.pcap
    in.pcap ── pin ── rx ── t ┤
                              └[out1]─ split (trTCM, action split) ─┬[green]── txG ── out_green.pcap
                                                                    ├[yellow]─ txY ── out_yellow.pcap
                                                                    └[red]──── txR ── out_red.pcap

`clock: manual` freezes the meters' time, so no token is ever added: the
buckets hold exactly their configured bursts, and RFC 2697/2698 say which
packet gets which color. scapy builds the inputs and, from those rules alone,
the expected outputs (DSCP rewritten, IPv4 checksum recomputed by scapy).

Usage: test_ratelimiter_golden.py --bin build/bin
"""
import json

import harness
from harness import element, frames_diff, outputs_of, read_pcap, write_pcap
from scapy.all import ARP, IP, UDP, Ether, IPv6, Raw

DSCP = {"green": 10, "yellow": 12, "red": 14}  # AF11, AF12, AF13


def inputs():
    frames = []
    for i in range(12):
        kind = i % 3
        if kind == 0:
            p = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src="10.0.0.1", dst="10.0.0.2", tos=1) \
                / UDP(sport=1000 + i, dport=53) / Raw(b"v4 %02d" % i)
        elif kind == 1:
            p = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IPv6(src="2001:db8::1", dst="2001:db8::2",
                                                                               tc=2, fl=i) \
                / UDP(sport=2000 + i, dport=53) / Raw(b"v6 %02d" % i)
        else:
            p = Ether(src="02:00:00:00:00:01", dst="ff:ff:ff:ff:ff:ff") / ARP(psrc="10.0.0.1", pdst="10.0.0.%d" % i)
        frames.append(bytes(p))
    return frames


def srtcm_colors(n, cbs, ebs):
    """RFC 2697, color-blind, no refill: cbs green, then ebs yellow, then red."""
    return ["green"] * min(n, cbs) + ["yellow"] * min(max(n - cbs, 0), ebs) + ["red"] * max(n - cbs - ebs, 0)


def trtcm_colors(n, cbs, pbs):
    """RFC 2698, color-blind, no refill: red if Tp is empty, yellow if Tc is."""
    tc, tp, out = cbs, pbs, []
    for _ in range(n):
        if tp < 1:
            out.append("red")
        elif tc < 1:
            out.append("yellow")
            tp -= 1
        else:
            out.append("green")
            tp -= 1
            tc -= 1
    return out


def marked(frame, color):
    p = Ether(frame)
    d = DSCP[color]
    if IP in p:
        p[IP].tos = d << 2 | (p[IP].tos & 3)
        del p[IP].chksum  # scapy recomputes it
    elif IPv6 in p:
        p[IPv6].tc = d << 2 | (p[IPv6].tc & 3)
    return bytes(p)


def main(t):
    frames = inputs()
    n = len(frames)
    mark_colors = srtcm_colors(n, cbs=5, ebs=3)
    split_colors = trtcm_colors(n, cbs=4, pbs=6)
    want_mark = [marked(f, c) for f, c in zip(frames, mark_colors)]
    want_split = {c: [f for f, k in zip(frames, split_colors) if k == c] for c in ("green", "yellow", "red")}
    pin = t.path("in.pcap")
    write_pcap(pin, frames)
    out = {k: t.path(f"out_{k}.pcap") for k in ("mark", "green", "yellow", "red")}
    graph = f"""
name: ratelimiter-golden
workers: {{lcores: [1]}}
ports:
  pin: {{device: net_pcap0, args: {json.dumps('rx_pcap=' + pin)}}}
  pm: {{device: net_pcap1, args: {json.dumps('tx_pcap=' + out['mark'])}}}
  pg: {{device: net_pcap2, args: {json.dumps('tx_pcap=' + out['green'])}}}
  py: {{device: net_pcap3, args: {json.dumps('tx_pcap=' + out['yellow'])}}}
  pr: {{device: net_pcap4, args: {json.dumps('tx_pcap=' + out['red'])}}}
elements:
  rx: {{class: PortRx, port: pin}}
  t: {{class: Tee, outputs: 2}}
  mark: {{class: RateLimiter, mode: srtcm, unit: pps, rate: 1000, burst: 5, excess_burst: 3, action: mark,
          dscp_green: 10, dscp_yellow: 12, dscp_red: 14, clock: manual}}
  split: {{class: RateLimiter, mode: trtcm, unit: pps, rate: 1000, burst: 4, peak_rate: 2000, peak_burst: 6,
           action: split, clock: manual}}
  txM: {{class: PortTx, port: pm}}
  txG: {{class: PortTx, port: pg}}
  txY: {{class: PortTx, port: py}}
  txR: {{class: PortTx, port: pr}}
connections:
  - rx -> t
  - t[out0] -> mark -> txM
  - t[out1] -> split
  - split[green] -> txG
  - split[yellow] -> txY
  - split[red] -> txR
"""
    with t.routerd(graph) as r:
        st = r.wait_stats(lambda s: element(s, "mark")["total"]["out"] == n
                          and element(s, "split")["total"]["out"] == n)
    got = outputs_of(element(st, "split"))
    want = {c: len(v) for c, v in want_split.items()}
    t.check(got == want, f"split outputs {want}", f"split outputs {got}, expected {want}")
    mark = read_pcap(out["mark"])
    t.check(mark == want_mark, f"mark: srTCM colors {mark_colors}, DSCP rewritten as scapy says",
            frames_diff(mark, want_mark))
    for c in ("green", "yellow", "red"):
        got_c = read_pcap(out[c])
        t.check(got_c == want_split[c], f"{c}: the {len(want_split[c])} frame(s) trTCM colors {c}",
                frames_diff(got_c, want_split[c]))


if __name__ == "__main__":
    harness.run(main)

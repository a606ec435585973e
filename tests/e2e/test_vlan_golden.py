#!/usr/bin/env python3
"""End-to-end test: VlanPop and VlanPush rewrite frames read from a pcap file.

    python3 tests/e2e/test_vlan_golden.py --bin build/bin [--keep] [-v]

                               ┌[out0]─ popA ── pushA ──────────── txA ── out_retag.pcap
    in.pcap ── pin ── rx ── t ─┼[out1]─ popB ── restoreB ── stagB ── txB ── out_qinq.pcap
                               └[out2]─ popC ── pcpC ───────────── txC ── out_pcp.pcap

    t         Tee (a copy of every frame for each chain)
    popA      VlanPop                                pushA     VlanPush vid 200 pcp 3
    popB      VlanPop count 2, untagged drop         restoreB  VlanPush (tag from metadata)
    stagB     VlanPush vid 30 tpid 0x88a8 dei        popC      VlanPop
    pcpC      VlanPush (tag from metadata) pcp 7

Steps, inside a fresh temporary directory:

 1. describe every input frame by its VLAN tags and what follows them, and
    build it with scapy; malformed frames (a runt, a TPID without its TCI,
    a tag cut short, a QinQ frame whose inner tag is cut short) are raw byte
    strings with the outcome written next to them;
 2. from the same descriptions, build with scapy the frame each chain must
    emit (the tags a chain leaves, then the same payload) or the drop reason
    it must count: the expectation never runs the elements' logic on bytes;
 3. run routerd on net_pcap vdevs, poll `routerctl --json stats` until every
    chain has forwarded or dropped every frame, stop routerd with SIGTERM;
 4. compare each output pcap with the expected frames byte for byte, and
    each element's drop counters with the expected reasons.

The temporary directory is kept on failure or with --keep.
"""

import json

import harness
from harness import drops_of, element, read_pcap, write_pcap
from scapy.all import ARP, IP, UDP, Dot1Q, Ether, IPv6, Raw

TIMEOUT_S = 20.0
MAC_A, MAC_B = "02:00:00:00:00:01", "02:00:00:00:00:02"
Q, AD = 0x8100, 0x88A8

# The chains: id of their VlanPop, the elements in order, and their output file.
CHAINS = {
    "retag": {"elements": ["popA", "pushA", "txA"]},
    "qinq": {"elements": ["popB", "restoreB", "stagB", "txB"]},
    "pcp": {"elements": ["popC", "pcpC", "txC"]},
}


def tag(tpid, vid, pcp=0, dei=0):
    return {"tpid": tpid, "vid": vid, "pcp": pcp, "dei": dei}


def build(tags, ethertype, payload):
    """Ethernet with the given tags (outermost first), then `ethertype` and payload bytes."""
    types = [t["tpid"] for t in tags] + [ethertype]
    p = Ether(dst=MAC_B, src=MAC_A, type=types[0])
    for i, t in enumerate(tags):
        p = p / Dot1Q(prio=t["pcp"], id=t["dei"], vlan=t["vid"], type=types[i + 1])
    if payload:
        p = p / Raw(payload)
    return bytes(p)


# Chain behaviour on a well-formed frame, as tag lists (None: dropped, with reason).
def expect_retag(tags):
    # VlanPop (count 1, untagged pass), then VlanPush vid 200 pcp 3 (tpid 0x8100).
    rest = tags[1:] if tags else []
    return [tag(Q, 200, pcp=3)] + rest, None


def expect_qinq(tags):
    # VlanPop count 2 (untagged drop); VlanPush from metadata puts back the
    # outermost removed tag; VlanPush vid 30 tpid 0x88a8 dei adds an S-tag.
    if not tags:
        return None, ("popB", "untagged")
    return [tag(AD, 30, dei=1), tags[0]] + tags[2:], None


def expect_pcp(tags):
    # VlanPop (count 1), then VlanPush from metadata with pcp 7: the same tag, priority 7.
    if not tags:
        return None, ("pcpC", "no_vid")
    t = dict(tags[0], pcp=7)
    return [t] + tags[1:], None


EXPECT = {"retag": expect_retag, "qinq": expect_qinq, "pcp": expect_pcp}


def well_formed():
    """(description, tags, ethertype, payload bytes)."""
    ip4 = bytes(IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1000, dport=53) / Raw(b"weft vlan"))
    ip6 = bytes(IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(sport=7, dport=7) / Raw(b"six"))
    arp = bytes(ARP(psrc="10.0.0.1", pdst="10.0.0.2"))
    return [
        ("802.1Q vid 10 pcp 5, ipv4 udp", [tag(Q, 10, pcp=5)], 0x0800, ip4),
        ("QinQ: 802.1ad vid 20 pcp 1 dei, 802.1Q vid 10", [tag(AD, 20, pcp=1, dei=1), tag(Q, 10)], 0x0800, ip4),
        ("untagged ipv4", [], 0x0800, ip4),
        ("untagged arp", [], 0x0806, arp),
        ("802.1Q vid 4095 dei, ipv6", [tag(Q, 4095, dei=1)], 0x86DD, ip6),
        ("802.1Q vid 0 (priority tag) pcp 6", [tag(Q, 0, pcp=6)], 0x0800, ip4),
        ("two 802.1Q tags (vid 100 over vid 200)", [tag(Q, 100), tag(Q, 200, pcp=2)], 0x0800, ip4),
        ("three tags: 802.1ad 5, 802.1Q 6, 802.1Q 7", [tag(AD, 5), tag(Q, 6), tag(Q, 7)], 0x0800, ip4),
        ("802.1Q vid 33, nothing after the ethertype (18 bytes)", [tag(Q, 33)], 0x0800, b""),
        ("TPID 0x9100 is not a tag here: untagged", [], 0x9100, bytes.fromhex("0064") + ip4),
    ]


def malformed():
    """(description, raw bytes, {chain: tags after or (element, reason)})."""
    qinq = build([tag(AD, 20), tag(Q, 10)], 0x0800, b"")
    cut_inner = qinq[:20]  # outer tag complete; inner TPID and TCI, no ethertype
    inner_tci = cut_inner[18:20]
    out = {}
    out["runt (13 bytes)"] = (qinq[:13], {c: (CHAINS[c]["elements"][0], "runt") for c in CHAINS})
    out["TPID without its TCI (14 bytes)"] = (qinq[:14], {c: (CHAINS[c]["elements"][0], "truncated_vlan")
                                                            for c in CHAINS})
    out["tag cut short (16 bytes)"] = (qinq[:16], {c: (CHAINS[c]["elements"][0], "truncated_vlan") for c in CHAINS})
    # One tag is popped whole: what remains after the addresses is 0x8100 and two bytes.
    out["QinQ, inner tag cut short (20 bytes)"] = (cut_inner, {
        "retag": build([tag(Q, 200, pcp=3)], Q, inner_tci),
        "qinq": ("popB", "truncated_vlan"),
        "pcp": build([tag(AD, 20, pcp=7)], Q, inner_tci),
    })
    return out


def write_graph(path, in_pcap, outs):
    text = f"""# Generated by tests/e2e/test_vlan_golden.py
name: e2e_vlan_golden
workers: {{lcores: [1]}}
ports:
  pin: {{device: net_pcap0, args: {json.dumps('rx_pcap=' + in_pcap)}}}
  pA: {{device: net_pcap1, args: {json.dumps('tx_pcap=' + outs['retag'])}}}
  pB: {{device: net_pcap2, args: {json.dumps('tx_pcap=' + outs['qinq'])}}}
  pC: {{device: net_pcap3, args: {json.dumps('tx_pcap=' + outs['pcp'])}}}
elements:
  rx: {{class: PortRx, port: pin}}
  t: {{class: Tee, outputs: 3}}
  popA: VlanPop
  pushA: {{class: VlanPush, vid: 200, pcp: 3}}
  txA: {{class: PortTx, port: pA}}
  popB: {{class: VlanPop, count: 2, untagged: drop}}
  restoreB: VlanPush
  stagB: {{class: VlanPush, vid: 30, tpid: 0x88a8, dei: true}}
  txB: {{class: PortTx, port: pB}}
  popC: VlanPop
  pcpC: {{class: VlanPush, pcp: 7}}
  txC: {{class: PortTx, port: pC}}
connections:
  - rx -> t
  - t[out0] -> popA -> pushA -> txA
  - t[out1] -> popB -> restoreB -> stagB -> txB
  - t[out2] -> popC -> pcpC -> txC
"""
    with open(path, "w") as f:
        f.write(text)


def expectations():
    """Input frames and, per chain, the expected output frames and drop counts."""
    frames = []  # (description, bytes)
    want = {c: [] for c in CHAINS}
    want_drops = {}  # (element, reason) -> count
    verdicts = []
    for desc, tags, etype, payload in well_formed():
        frames.append((desc, build(tags, etype, payload)))
        for chain in CHAINS:
            out_tags, dropped = EXPECT[chain](tags)
            if dropped:
                want_drops[dropped] = want_drops.get(dropped, 0) + 1
                verdicts.append(f"{chain:6s} {desc}: drop {dropped[1]}")
            else:
                want[chain].append(build(out_tags, etype, payload))
                verdicts.append(f"{chain:6s} {desc}: out")
    for desc, (raw, outcome) in malformed().items():
        frames.append((desc, raw))
        for chain in CHAINS:
            o = outcome[chain]
            if isinstance(o, tuple):
                want_drops[o] = want_drops.get(o, 0) + 1
                verdicts.append(f"{chain:6s} {desc}: drop {o[1]}")
            else:
                want[chain].append(o)
                verdicts.append(f"{chain:6s} {desc}: out")
    return frames, want, want_drops, verdicts


def main(t):
    frames, want, want_drops, verdicts = expectations()
    if t.verbose:
        print("\n".join("  " + v for v in verdicts))
    in_pcap = t.path("in.pcap")
    write_pcap(in_pcap, [b for _, b in frames])
    t.require(read_pcap(in_pcap) == [b for _, b in frames], "the input pcap holds the frames unchanged")
    outs = {c: t.path(f"out_{c}.pcap") for c in CHAINS}
    graph = t.path("graph.yaml")
    write_graph(graph, in_pcap, outs)
    t.validate(graph)
    r = t.routerd(file=graph, timeout=TIMEOUT_S)
    n_in = len(frames)

    def done(stats):
        for c in CHAINS.values():
            els = [element(stats, e) for e in c["elements"]]
            if els[-1]["total"]["in"] + sum(e["total"]["dropped"] for e in els) < n_in:
                return False
        return True
    stats = r.wait_stats(done, what=f"every chain to forward or drop {n_in} frames")
    rc = r.stop(timeout=TIMEOUT_S)
    t.require(rc == 0, "routerd exits 0 on SIGTERM", f"routerd exited with status {rc} after SIGTERM")

    t.check(not sum(drops_of(element(stats, "t")).values()), "the Tee dropped nothing",
            f"the Tee dropped packets: {drops_of(element(stats, 't'))}")
    for chain, c in CHAINS.items():
        wrong = []
        for eid in c["elements"]:
            for reason, n in drops_of(element(stats, eid)).items():
                if n != want_drops.get((eid, reason), 0):
                    wrong.append(f"{eid} drop reason {reason}: routerd counted {n}, "
                                 f"expected {want_drops.get((eid, reason), 0)}")
        t.check(not wrong, f"{chain:6s} drops by element and reason as expected", "\n".join(wrong))
    for chain in CHAINS:
        got = read_pcap(outs[chain])
        problems = []
        if got != want[chain]:
            problems.append(f"output {chain}: {len(got)} frame(s), expected {len(want[chain])}")
            for i in range(max(len(got), len(want[chain]))):
                g = got[i].hex() if i < len(got) else "(none)"
                w = want[chain][i].hex() if i < len(want[chain]) else "(none)"
                if g != w:
                    problems.append(f"    frame {i}: got      {g}\n              expected {w}")
        t.check(not problems, f"{chain:6s} {len(got)} frame(s) byte-identical", "\n".join(problems))
    drops_text = ", ".join(f"{e}.{r}={n}" for (e, r), n in sorted(want_drops.items()))
    t.info(f"{len(frames)} frames through 3 chains; outputs "
           + ", ".join(f"{c}={len(want[c])}" for c in CHAINS) + f"; drops {drops_text}")


if __name__ == "__main__":
    harness.run(main)

#!/usr/bin/env python3
"""Sends prebuilt Ethernet frames out of one interface through an AF_PACKET
socket, for the e2e tests that need load (test_host_path_flood.py): no IP
stack, no ARP on the sender's side, one send() per frame, so a Python loop
offers some 10^5 frames per second.

    packet_sender.py --iface IF --src-mac M --dst-mac M --src IP --dst IP
                     --kind udp|icmp|mix|arp [--port N] [--rate PPS] --seconds S

--kind mix alternates a UDP datagram (to --port) and an ICMP echo request;
--kind arp sends broadcast ARP requests for --dst from --src.
--rate 0 (the default) sends as fast as the loop goes; otherwise the frames
leave in bursts of at most 1 ms of the rate, paced on the monotonic clock.
Stops after --seconds or at SIGTERM/SIGINT, and prints one JSON line:
{"sent": N, "udp": N, "icmp": N, "arp": N, "errors": N, "seconds": S}.
"""
import argparse
import json
import signal
import socket
import struct
import time


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4(src, dst, proto, payload, ident):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident & 0xFFFF, 0, 64, proto, 0,
                      socket.inet_aton(src), socket.inet_aton(dst))
    hdr = hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]
    return hdr + payload


def udp(src, dst, sport, dport, data):
    length = 8 + len(data)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 17, length)
    seg = struct.pack("!HHHH", sport, dport, length, 0) + data
    c = checksum(pseudo + seg) or 0xFFFF
    return seg[:6] + struct.pack("!H", c) + seg[8:]


def icmp_echo(ident, seq, data):
    msg = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + data
    return msg[:2] + struct.pack("!H", checksum(msg)) + msg[4:]


def frames(a):
    eth = bytes.fromhex(a.dst_mac.replace(":", "")) + bytes.fromhex(a.src_mac.replace(":", "")) + b"\x08\x00"
    data = b"weft-flood" + bytes(8)
    out = []
    if a.kind in ("udp", "mix"):
        out.append(("udp", eth + ipv4(a.src, a.dst, 17, udp(a.src, a.dst, 40000, a.port, data), 1)))
    if a.kind in ("icmp", "mix"):
        out.append(("icmp", eth + ipv4(a.src, a.dst, 1, icmp_echo(0x5746, 1, data), 2)))
    if a.kind == "arp":
        mac = bytes.fromhex(a.src_mac.replace(":", ""))
        req = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, mac, socket.inet_aton(a.src), bytes(6),
                          socket.inet_aton(a.dst))
        out.append(("arp", b"\xff" * 6 + mac + b"\x08\x06" + req + bytes(18)))  # padded to 60 bytes
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--iface", required=True)
    ap.add_argument("--src-mac", required=True)
    ap.add_argument("--dst-mac", required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("--dst", required=True)
    ap.add_argument("--kind", choices=("udp", "icmp", "mix", "arp"), default="udp")
    ap.add_argument("--port", type=int, default=9)
    ap.add_argument("--rate", type=float, default=0.0, help="frames per second; 0: as fast as possible")
    ap.add_argument("--seconds", type=float, required=True)
    a = ap.parse_args()

    stop = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.append(1))
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((a.iface, 0))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 22)
    fs = frames(a)
    n = len(fs)
    counts = [0] * n
    tries = errors = 0
    t0 = time.monotonic()
    end = t0 + a.seconds
    send = s.send
    while not stop:
        now = time.monotonic()
        if now >= end:
            break
        if a.rate > 0:
            due = int((now - t0) * a.rate) - tries
            if due <= 0:
                time.sleep(min(0.0005, end - now))
                continue
            burst = min(due, max(1, int(a.rate / 1000)))
        else:
            burst = 256
        for _ in range(burst):
            i = tries % n
            tries += 1
            try:
                send(fs[i][1])
                counts[i] += 1
            except OSError:  # ENOBUFS: the queue is full, the frame was not sent
                errors += 1
    out = {"sent": sum(counts), "errors": errors, "seconds": round(time.monotonic() - t0, 3)}
    out.update({k: c for (k, _), c in zip(fs, counts)})
    print(json.dumps(out), flush=True)

if __name__ == "__main__":
    main()

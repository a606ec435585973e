#!/usr/bin/env python3
"""Writes the binary seed corpora of the fuzz targets (fuzz/corpus/<target>/).

Seeds are small valid inputs, built here from the protocols' layouts (FPM's
netlink route messages, SVP v1 messages, rtnetlink neighbour and link
messages, etcd's JSON gateway replies), independently of Weft's encoders.
Run from anywhere; it rewrites only the files it names.

    python3 fuzz/corpus/make-seeds.py
"""
import json
import os
import socket
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    d = os.path.join(HERE, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# --- netlink (host order, 4-byte aligned) -----------------------------------
def align(b):
    return b + b"\0" * (-len(b) % 4)


def attr(t, payload):
    return align(struct.pack("=HH", 4 + len(payload), t) + payload)


def nlmsg(t, body, flags=0, seq=1):
    return struct.pack("=IHHII", 16 + len(body), t, flags, seq, 0) + body


RTM_NEWROUTE, RTM_DELROUTE, RTM_NEWNEXTHOP = 24, 25, 104
RTM_NEWLINK, RTM_DELLINK, RTM_GETNEIGH = 16, 17, 30
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PRIORITY, RTA_MULTIPATH, RTA_TABLE, RTA_NH_ID = 1, 4, 5, 6, 9, 15, 30
NHA_ID, NHA_GROUP, NHA_BLACKHOLE, NHA_OIF, NHA_GATEWAY = 1, 2, 3, 5, 6


def rtmsg(family, dst_len, rtype=1, proto=196, table=254):
    return struct.pack("=BBBBBBBBI", family, dst_len, 0, 0, table, proto, 0, rtype, 0)


def route(new, family, dst, plen, attrs, rtype=1):
    a = socket.inet_pton(family, dst)
    body = rtmsg(family, plen, rtype) + attr(RTA_DST, a) + b"".join(attrs)
    return nlmsg(RTM_NEWROUTE if new else RTM_DELROUTE, body)


def fpm(*msgs):
    body = b"".join(msgs)
    return struct.pack(">BBH", 1, 1, 4 + len(body)) + body


v4 = socket.AF_INET
v6 = socket.AF_INET6
gw = lambda f, a: attr(RTA_GATEWAY, socket.inet_pton(f, a))
oif = lambda i: attr(RTA_OIF, struct.pack("=I", i))
put("fpm", "route4", fpm(route(True, v4, "10.1.0.0", 16, [gw(v4, "192.0.2.1"), oif(7)])))
put("fpm", "route6", fpm(route(True, v6, "2001:db8:1::", 48, [gw(v6, "2001:db8::1"), oif(8)])))
put("fpm", "del_new", fpm(route(False, v4, "10.1.0.0", 16, []), route(True, v4, "10.1.0.0", 16, [oif(8)])))
rtnh = lambda ifindex, g: (lambda inner: struct.pack("=HBBi", 8 + len(inner), 0, 0, ifindex) + inner)(gw(v4, g))
put("fpm", "multipath", fpm(route(True, v4, "10.2.0.0", 16,
                                  [attr(RTA_MULTIPATH, rtnh(7, "192.0.2.1") + rtnh(8, "192.0.2.2"))])))
nh = nlmsg(RTM_NEWNEXTHOP, struct.pack("=BBBBI", v4, 0, 0, 0, 0) + attr(NHA_ID, struct.pack("=I", 5)) +
           attr(NHA_GATEWAY, socket.inet_pton(v4, "192.0.2.1")) + attr(NHA_OIF, struct.pack("=I", 7)))
grp = nlmsg(RTM_NEWNEXTHOP, struct.pack("=BBBBI", 0, 0, 0, 0, 0) + attr(NHA_ID, struct.pack("=I", 6)) +
            attr(NHA_GROUP, struct.pack("=IBBH", 5, 1, 0, 0)))
put("fpm", "nexthops", fpm(nh, grp, route(True, v4, "10.3.0.0", 16, [attr(RTA_NH_ID, struct.pack("=I", 6))])))
put("fpm", "blackhole", fpm(route(True, v4, "10.4.0.0", 24, [], rtype=6)) + fpm(route(True, v4, "0.0.0.0", 0, [oif(7)])))

# --- rtnetlink for the neighbour sink: {len u16 little-endian}{datagram} ----
def dgram(b):
    return struct.pack("<H", len(b)) + b


ndmsg = lambda fam, ifindex, state: struct.pack("=BBHiHBB", fam, 0, 0, ifindex, state, 0, 0)
miss4 = nlmsg(RTM_GETNEIGH, ndmsg(v4, 1, 0x01) + attr(1, socket.inet_pton(v4, "10.0.0.1")))
miss6 = nlmsg(RTM_GETNEIGH, ndmsg(v6, 1, 0x10) + attr(1, socket.inet_pton(v6, "fd00::2")))
ifinfo = lambda idx: struct.pack("=BBHiII", 0, 0, 1, idx, 0, 0)
newlink = nlmsg(RTM_NEWLINK, ifinfo(77) + attr(3, b"wfz-absent0\0"))
dellink = nlmsg(RTM_DELLINK, ifinfo(77))
err = nlmsg(2, struct.pack("=i", -17) + nlmsg(28, b""))
put("neighbor", "miss4", dgram(miss4))
put("neighbor", "miss6_two", dgram(miss6 + miss4))
put("neighbor", "links", dgram(newlink) + dgram(nlmsg(RTM_GETNEIGH, ndmsg(v4, 77, 1) + attr(1, b"\x0a\0\0\x01"))) +
    dgram(dellink))
put("neighbor", "error", dgram(err))
# A miss, then a header claiming 2^31 bytes (libmnl's mnl_nlmsg_ok took it: a finding, tests/unit/test_svp.cpp).
put("neighbor", "len_2_31", dgram(miss4 + struct.pack("=IHHII", 0x80000000, RTM_GETNEIGH, 0, 2, 0)))

# --- SVP: the fuzz target's structure (fuzz/fuzz_svp.cpp) -------------------
# settings, request count, request kinds (with their fields), then messages
# {form, op, id choice, length...} where form & 2 means "a size fitting op".
def req(kind, extra=b""):
    return bytes([kind]) + extra


reqs = req(1, struct.pack("<I", 100)) + req(2, bytes([1]) + struct.pack("<I", 100)) + req(0)
msg = lambda form, op, idsel, extra=b"": bytes([form, op, idsel]) + extra
vl2ack = struct.pack(">HH", 0, 4789) + socket.inet_pton(v6, "::ffff:192.0.2.11")
vl3ack = struct.pack(">I", 0) + bytes.fromhex("020820000001") + struct.pack(">H", 4789) + \
    socket.inet_pton(v6, "::ffff:192.0.2.11")
put("svp", "handshake_replies", bytes([1, 3]) + reqs + msg(3, 2, 0) + msg(3, 4, 1, vl2ack) + msg(3, 6, 2, vl3ack))
put("svp", "no_ping", bytes([0, 2]) + req(1, struct.pack("<I", 7)) + req(0) + msg(3, 4, 0, vl2ack) + msg(3, 2, 1))
log = struct.pack(">I", 0) + struct.pack(">I", 1) + b"\x11" * 16 + bytes.fromhex("020820000001") + b"\0\0" + \
    struct.pack(">I", 100)
put("svp", "log", bytes([1, 1]) + req(3, struct.pack("<I", 4096)) + msg(3, 2, 0) + msg(3, 10, 1, bytes([1, 0])) + log)
put("svp", "shootdown_ping", bytes([1, 0]) + msg(3, 2, 0) + msg(3, 13, 0x80, bytes.fromhex("020820000001") + b"\0\0" +
                                                                  struct.pack(">I", 100)) + msg(3, 1, 0x85))
put("svp", "bad_crc", bytes([1, 1]) + req(0) + msg(1, 2, 0))

# --- control requests: one JSON per line ------------------------------------
for name, r in {
    "status": {"cmd": "status"}, "graph": {"cmd": "graph"}, "stats": {"cmd": "stats"},
    "elements": {"cmd": "elements"}, "plugins": {"cmd": "plugins"}, "services": {"cmd": "services"},
    "handler_list": {"cmd": "handler", "args": {"element": "c"}},
    "handler_read": {"cmd": "handler", "args": {"element": "cls", "name": "rules", "worker": 0}},
    "handler_write": {"cmd": "handler", "args": {"element": "c", "name": "reset", "value": "1"}},
    "fib_routes": {"cmd": "service", "args": {"name": "fib", "command": "routes", "args": {"prefix": "10.0.0.0/8"}}},
    "svp_lookup": {"cmd": "service", "args": {"name": "svp", "command": "lookup",
                                              "args": {"ip": "10.0.0.1", "vni": 100}}},
}.items():
    put("control", name, json.dumps(r) + "\n")
put("control", "two_lines", '{"cmd":"status"}\n{"cmd":"handler","args":{"element":"sw","name":"macs"}}\n')

# --- etcd's gateway: the reply to a read, 0xff 0x00, the watch stream -------
b64 = lambda s: __import__("base64").b64encode(s.encode()).decode()


def http(body, chunked=False, status="200 OK"):
    if not chunked:
        return (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n" +
                body).encode()
    out = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    for line in body:
        out += f"{len(line):x}\r\n{line}\r\n"
    return (out + "0\r\n\r\n").encode()


kv = lambda k, v, rev: {"key": b64(k), "value": b64(v), "mod_revision": str(rev), "create_revision": "2"}
txn = {"header": {"revision": "9"}, "succeeded": True, "responses": [
    {"response_range": {"kvs": [kv("/weft/desired/graphs/n1", "workers: [1]\n", 8)], "count": "1"}},
    {"response_range": {}}]}
watch = [json.dumps({"result": {"header": {"revision": "9"}, "created": True}}) + "\n",
         json.dumps({"result": {"header": {"revision": "10"}, "events": [
             {"kv": kv("/weft/desired/graphs/n1", "workers: [2]\n", 10)},
             {"type": "DELETE", "kv": {"key": b64("/weft/desired/fragments/a"), "mod_revision": "10"}}]}}) + "\n"]
put("etcd", "read_watch", http(json.dumps(txn)) + b"\xff\x00" + http(watch, chunked=True))
put("etcd", "compacted", http(json.dumps(txn)) + b"\xff\x00" + http(
    [json.dumps({"result": {"canceled": True, "compact_revision": "5"}}) + "\n"], chunked=True))
put("etcd", "errors", http(json.dumps({"error": "etcdserver: no leader", "code": 14}), status="503 Service Unavailable") +
    b"\xff\x00" + http(json.dumps({"error": "auth", "code": 16}), status="401 Unauthorized"))

# --- element packets: case, input, then frames (fuzz/fuzz_elements.cpp) -----
for case in range(26):
    # two template frames (TCP over IPv4, VXLAN) and a short raw one
    put("elements", f"case{case:02d}", bytes([case, 0, 0x40, 0, 0, 0x49, 0, 0, 0x05]) + b"\x52\x54\x00\x00\x00")

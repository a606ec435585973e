#!/usr/bin/env python3
"""SVP v1 test vectors, computed independently of Weft's codec.

Each message is laid out from the C structures of illumos'
libvarpd_svp_prot.h with Python's struct (big-endian, no padding beyond the
explicit pad fields) and checksummed with zlib.crc32 over the header (crc
field zero) followed by the payload. Prints one line per message:

    NAME HEX

tests/unit/data/svp_vectors.txt is this script's output; test_svp.cpp
encodes and decodes the same messages and compares them byte for byte, and
the ctest svp.vectors_up_to_date checks the file still matches the script.
"""
import ipaddress
import struct
import zlib


def mac(text):
    return bytes(int(x, 16) for x in text.split(":"))


def ip16(text):
    a = ipaddress.ip_address(text)
    if a.version == 4:
        return ipaddress.IPv6Address("::ffff:" + text).packed
    return a.packed


def msg(op, ident, payload=b""):
    # svp_req_t {uint16_t svp_ver; uint16_t svp_op; uint32_t svp_size; uint32_t svp_id; uint32_t svp_crc32;}
    hdr0 = struct.pack(">HHIII", 1, op, len(payload), ident, 0)
    crc = zlib.crc32(payload, zlib.crc32(hdr0)) & 0xFFFFFFFF
    return struct.pack(">HHIII", 1, op, len(payload), ident, crc) + payload


UUID_A = bytes(range(1, 17))
UUID_B = bytes(range(0x11, 0x21))

vectors = [
    ("ping", msg(1, 1)),
    ("pong", msg(2, 1)),
    # svp_vl2_req_t {uint8_t mac[6]; uint8_t pad[2]; uint32_t vnetid;}
    ("vl2_req", msg(3, 2, mac("02:08:20:aa:bb:cc") + b"\0\0" + struct.pack(">I", 0x1234))),
    # svp_vl2_ack_t {uint16_t status; uint16_t port; uint8_t addr[16];}
    ("vl2_ack", msg(4, 2, struct.pack(">HH", 0, 4789) + ip16("192.0.2.11"))),
    ("vl2_ack_notfound", msg(4, 3, struct.pack(">HH", 2, 0) + bytes(16))),
    # svp_vl3_req_t {uint8_t ip[16]; uint32_t type; uint32_t vnetid;}
    ("vl3_req", msg(5, 4, ip16("10.0.0.7") + struct.pack(">II", 1, 0xABCDEF))),
    ("vl3_req_v6", msg(5, 5, ip16("2001:db8::7") + struct.pack(">II", 2, 100))),
    # svp_vl3_ack_t {uint32_t status; uint8_t mac[6]; uint16_t uport; uint8_t uip[16];}
    ("vl3_ack", msg(6, 4, struct.pack(">I", 0) + mac("02:08:20:00:00:07") + struct.pack(">H", 4789)
                    + ip16("192.0.2.12"))),
    ("vl3_ack_v6_underlay", msg(6, 5, struct.pack(">I", 0) + mac("02:08:20:00:00:08") + struct.pack(">H", 8472)
                                + ip16("2001:db8:ff::12"))),
    # svp_bulk_req_t {uint32_t type;}   svp_bulk_ack_t {uint32_t status; uint32_t type; data[]}
    ("bulk_req", msg(7, 6, struct.pack(">I", 1))),
    ("bulk_ack", msg(8, 6, struct.pack(">II", 1, 1))),
    # svp_log_req_t {uint32_t count; uint8_t ip[16];}
    ("log_req", msg(9, 7, struct.pack(">I", 1024) + ip16("192.0.2.1"))),
    # svp_log_ack_t {uint32_t status; records...}
    # svp_log_vl2_t {uint32_t type = 1; uint8_t id[16]; uint8_t mac[6]; uint8_t pad[2]; uint32_t vnetid;}
    # svp_log_vl3_t {uint32_t type = 2; uint8_t id[16]; uint8_t ip[16]; uint8_t pad[2]; uint16_t vlan; uint32_t vnetid;}
    ("log_ack", msg(10, 7, struct.pack(">I", 0)
                    + struct.pack(">I", 1) + UUID_A + mac("02:08:20:aa:bb:cc") + b"\0\0" + struct.pack(">I", 0x1234)
                    + struct.pack(">I", 2) + UUID_B + ip16("10.0.0.7") + b"\0\0" + struct.pack(">HI", 12, 0xABCDEF))),
    ("log_ack_empty", msg(10, 9, struct.pack(">I", 0))),
    # svp_lrm_req_t {uint32_t count; uint8_t ids[16 * count];}
    ("log_rm", msg(11, 8, struct.pack(">I", 2) + UUID_A + UUID_B)),
    # svp_lrm_ack_t {uint32_t status;}
    ("log_rm_ack", msg(12, 8, struct.pack(">I", 0))),
    # svp_shootdown_t {uint8_t mac[6]; uint8_t pad[2]; uint32_t vnetid;}
    ("shootdown", msg(13, 0, mac("02:08:20:aa:bb:cc") + b"\0\0" + struct.pack(">I", 0x1234))),
]

for name, data in vectors:
    print(name, data.hex())

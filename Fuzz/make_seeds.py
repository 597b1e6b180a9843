#!/usr/bin/env python3
"""Seeds the fuzz corpora from the RTP fixtures (run scripts/make_h264_fixtures.sh first) and the SDP ones.

corpus/rtp: real datagrams from ffmpeg's RTP muxer. corpus/h264: runs of those packets written in
FuzzH264Depacketizer's script format (mode byte, then 2-byte length, flags, payload per packet).
corpus/sdp: the real browser offers of RiverSDPTests (Chromium's and Firefox's bundle-only one).
corpus/stun: RFC 5769's test vectors (read from RiverICETests) and ICE checks as a browser sends
them, signed with FuzzSTUN's password, in its record format. corpus/dcep: DATA_CHANNEL_OPEN/ACK as
browsers send them. corpus/wire: one header of each broker message kind, in FuzzBrokerWire's format.
corpus/sctp: SCTP packets (INIT, DATA carrying a DCEP OPEN) with their CRC32c, for
FuzzSCTPPacketCheck. The generators below mirror the writers (docs/protocol.md, RFC 8489, RFC 8832,
RFC 4960); the fuzz targets check that each seed round-trips through the Swift writers.
"""
import base64
import hmac
import os
import re
import struct
import sys
import zlib

here = os.path.dirname(os.path.abspath(__file__))
fixtures = os.path.join(here, "..", "fixtures", "h264")


def packets(name):
    data = open(os.path.join(fixtures, name), "rb").read()
    i, out = 0, []
    while i + 4 <= len(data):
        (n,) = struct.unpack("!I", data[i:i + 4])
        out.append(data[i + 4:i + 4 + n])
        i += 4 + n
    return out


for d in ("corpus/rtp", "corpus/h264", "corpus/rtcp", "corpus/sdp", "corpus/stun", "corpus/dcep", "corpus/wire",
          "corpus/sctp"):
    os.makedirs(os.path.join(here, d), exist_ok=True)
for clip, mode in (("clip-a.ffrtp", 1), ("clip-b.ffrtp", 0)):
    ps = packets(clip)
    for k, p in enumerate(ps[:40]):
        open(os.path.join(here, "corpus/rtp", f"{clip}-{k}"), "wb").write(p)
    for start in range(0, min(len(ps), 200), 20):
        script = bytearray([mode])
        prev_ts = None
        for p in ps[start:start + 12]:
            cc = p[0] & 0x0F
            payload = p[12 + 4 * cc:]
            ts = struct.unpack("!I", p[4:8])[0]
            step = 0 if prev_ts in (None, ts) else 1
            prev_ts = ts
            flags = (9 << 3) | (step << 1) | (p[1] >> 7)
            script += struct.pack("!HB", len(payload), flags) + payload
        open(os.path.join(here, "corpus/h264", f"{clip}-{start}"), "wb").write(bytes(script))
# RTCP seeds: an RR, a PLI and a generic NACK (RFC 3550 §6.4.2, RFC 4585 §6.3.1, §6.2.1).
rr = struct.pack("!BBHI", 0x81, 201, 7, 1) + struct.pack("!IIIIII", 2, 0x01000005, 100, 20, 0, 0)
pli = struct.pack("!BBHII", 0x81, 206, 2, 1, 2)
nack = struct.pack("!BBHIIHH", 0x81, 205, 3, 1, 2, 1000, 0x8001)
for name, seed in (("rr", rr), ("pli", pli), ("nack", nack), ("compound", rr + pli + nack)):
    open(os.path.join(here, "corpus/rtcp", name), "wb").write(seed)


sdp_fixtures = os.path.join(here, "..", "Tests", "RiverSDPTests", "Fixtures")
for name in sorted(os.listdir(sdp_fixtures)):
    if name.endswith(".sdp"):
        data = open(os.path.join(sdp_fixtures, name), "rb").read()
        open(os.path.join(here, "corpus/sdp", name), "wb").write(data)


def write(corpus, name, data):
    open(os.path.join(here, "corpus", corpus, name), "wb").write(bytes(data))


# STUN (RFC 8489): FuzzSTUN's responder is rvUf / riverpasswordriverpass and expects the browser's
# ufrag brwz. A record is flags, address index, 2-byte length, datagram.
def stun_attr(kind, value, pad=b"\0"):
    return struct.pack("!HH", kind, len(value)) + value + pad * ((4 - len(value) % 4) % 4)


def stun(msg_type, tid, attrs, key=None, fingerprint=True):
    body = b"".join(attrs)
    if key is not None:
        head = struct.pack("!HHI", msg_type, len(body) + 24, 0x2112A442) + tid
        body += stun_attr(0x0008, hmac.new(key, head + body, "sha1").digest())
    if fingerprint:
        head = struct.pack("!HHI", msg_type, len(body) + 8, 0x2112A442) + tid
        crc = zlib.crc32(head + body) ^ 0x5354554E
        body += stun_attr(0x8028, struct.pack("!I", crc))
    return struct.pack("!HHI", msg_type, len(body), 0x2112A442) + tid + body


def record(datagram, address=0, flags=0):
    return struct.pack("!BBH", flags, address, len(datagram)) + datagram


password = b"riverpasswordriverpass"
checks = []
for k in range(10):
    tid = bytes(range(k, k + 12))
    attrs = [stun_attr(0x0006, b"rvUf:brwz"), stun_attr(0x8022, b"Chromium"), stun_attr(0x0024, struct.pack("!I", 0x6E7F1EFF)),
             stun_attr(0x802A, struct.pack("!Q", 0x1122334455667788 + k))]
    if k % 2 == 0:
        attrs.append(stun_attr(0x0025, b""))
    checks.append(stun(0x0001, tid, attrs, key=password))
write("stun", "check", b"\0" + record(checks[0]))
write("stun", "check-lite", b"\1" + record(checks[1], 4, 4))
write("stun", "checks-many-addresses", b"\0" + b"".join(record(c, a, 4) for a, c in enumerate(checks)))
write("stun", "check-wrong-password", b"\0" + record(stun(0x0001, bytes(12), [stun_attr(0x0006, b"rvUf:brwz")], key=b"x")))
write("stun", "check-resign", b"\0" + record(stun(0x0001, bytes(12), [stun_attr(0x0006, b"rvUf:brwz"), stun_attr(0x0025, b"")]), 2, 1))
vectors = open(os.path.join(here, "..", "Tests", "RiverICETests", "RFC5769Tests.swift")).read()
for name in ("request", "ipv4Response", "ipv6Response", "longTermRequest"):
    block = re.search(r"static let " + name + r": \[UInt8\] = \[(.*?)\]", vectors, re.S).group(1)
    datagram = bytes(int(h, 16) for h in re.findall(r"0x([0-9a-fA-F]{2})", block))
    write("stun", "rfc5769-" + name, b"\0" + record(datagram, 1))
# Not STUN: what else shares the port (RFC 7983), for DatagramKind.
write("stun", "demux", b"\0" + record(bytes([22, 254, 253]) + bytes(10)) + record(bytes([0x80, 102]) + bytes(10))
      + record(bytes([0x81, 201]) + bytes(6)) + record(bytes([17])) + record(bytes([66, 0, 0, 4])))

# DCEP (RFC 8832 §5): what Chromium and Firefox send for `createDataChannel`.
def dcep_open(label, protocol=b"", channel_type=0, priority=256, parameter=0):
    return struct.pack("!BBHIHH", 3, channel_type, priority, parameter, len(label), len(protocol)) + label + protocol


write("dcep", "ack", b"\x02")
write("dcep", "open-reliable", dcep_open(b"river"))
write("dcep", "open-unordered-rtx", dcep_open(b"results", channel_type=0x81, parameter=0))
write("dcep", "open-lifetime", dcep_open("r\u00e9sultats".encode(), b"json", channel_type=0x02, priority=512, parameter=150))
write("dcep", "open-empty", dcep_open(b""))

# Broker header frames (docs/protocol.md): control byte (0xC0: frame count and body length from the
# header), body length, header.
def wire(msg_type, fields=b"", body=0, control=0xC0):
    return struct.pack("!BI", control, body) + b"RV\x03" + bytes([msg_type]) + fields


def request(fmt, width, height, planes, byte_count, request_id=7):
    head = struct.pack("!QQIIHHBBH", request_id, 3, 90000, 40000, width, height, fmt, len(planes), 0)
    for plane in range(3):
        head += struct.pack("!II", *(planes[plane] if plane < len(planes) else (0, 0)))
    return head + struct.pack("!I", byte_count)


write("wire", "ready", wire(1, struct.pack("!HHHB", 4, 256, 192, 8) + b"worker-1"))
write("wire", "ready-any-size", wire(1, struct.pack("!HHHB", 1, 0, 0, 2) + b"w2"))
write("wire", "heartbeat", wire(2))
write("wire", "request-i420", wire(3, request(1, 640, 480, [(640, 0), (320, 307200), (320, 384000)], 460800), 460800))
write("wire", "request-rgb24", wire(3, request(2, 33, 17, [(100, 0)], 1700), 1700))
write("wire", "reply", wire(4, struct.pack("!QBBHIII", 7, 0, 0, 0, 120, 30, 9000), 42, 0x82))
write("wire", "error", wire(5, struct.pack("!QBBH", 7, 5, 0, 0), 16, 0x82))
write("wire", "disconnect", wire(6))
write("wire", "capacity", wire(7, struct.pack("!HHIIHH", 2, 1, 8, 3, 256, 192)))
# FuzzBrokerWire's finding, kept as a regression input (RiverBrokerTests' readyNameMustBeUTF8): a READY
# name of invalid UTF-8, once decoded with replacements that re-encoded differently. Found in version
# 2; the same slots and name in version 3's layout (no input size).
found = base64.b64decode("wAAAAABSVgIBJCQkJCQkJCQkJCQkJCQkJCQk+/v7+/skJCQkJCQkJCQkJCQkIQAECHdvcmtlci0x")[9:]
write("wire", "ready-bad-utf8", wire(1, found[:2] + bytes(4) + found[2:3] + found[3:3 + found[2]]))


# SCTP (RFC 4960 §3): 5000 → 5000, CRC32c stored least significant byte first. A leading control
# byte of 0 leaves the packet as it is.
def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def sctp(chunks, tag=0):
    packet = struct.pack("!HHII", 5000, 5000, tag, 0) + chunks
    return packet[:8] + struct.pack("<I", crc32c(packet)) + packet[12:]


init = struct.pack("!BBHIIHHI", 1, 0, 20, 0x0BADCAFE, 131072, 1024, 1024, 1)
data = dcep_open(b"river")
data_chunk = struct.pack("!BBHIHHI", 0, 3, 16 + len(data), 1, 0, 0, 50) + data
write("sctp", "init", b"\0" + sctp(init))
write("sctp", "data-dcep-open", b"\0" + sctp(data_chunk + bytes((4 - len(data_chunk) % 4) % 4), 0x0BADCAFE))
write("sctp", "fix-port-and-crc", b"\3" + sctp(init)[:2] + b"\x13\x89" + sctp(init)[4:])
# FuzzSDP's finding, kept as a regression input (RiverSDPTests' crInsideALineIsRefused): a CR inside a
# line, once kept in the m= proto and written back where a stray CR is dropped.
open(os.path.join(here, "corpus/sdp", "cr-inside-line"), "wb").write(b"v=0\no=- 3 2 I 4 2\ns=\nt=\nm=D 4 \r ")
print("seeded", file=sys.stderr)

#!/usr/bin/env python3
"""Seeds the fuzz corpora from the RTP fixtures (run scripts/make_h264_fixtures.sh first) and the SDP ones.

corpus/rtp: real datagrams from ffmpeg's RTP muxer. corpus/h264: runs of those packets written in
FuzzH264Depacketizer's script format (mode byte, then 2-byte length, flags, payload per packet).
corpus/sdp: the real browser offers of RiverSDPTests (Chromium's and Firefox's bundle-only one).
"""
import os
import struct
import sys

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


for d in ("corpus/rtp", "corpus/h264", "corpus/rtcp", "corpus/sdp"):
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
print("seeded", file=sys.stderr)

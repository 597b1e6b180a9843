#!/usr/bin/env python3
"""Captures what ffmpeg's RTP muxer sends for an H264 file.

usage: capture_ffmpeg_rtp.py CLIP.h264 OUT.ffrtp OUT.sdp [RTPFLAGS]

Binds a UDP socket on a free 127.0.0.1 port, runs `ffmpeg -re -i CLIP -c copy -f rtp rtp://127.0.0.1:PORT`
and stores every datagram as a 4-byte big-endian length followed by its bytes. Exits non-zero when
sequence numbers show a datagram was lost on the way (the caller retries), so fixtures are complete.
"""
import socket
import struct
import subprocess
import sys


def main() -> int:
    clip, out_path, sdp_path = sys.argv[1:4]
    flags = sys.argv[4] if len(sys.argv) > 4 else None
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # ffmpeg sends RTCP to port+1; nobody listens there, which is fine for UDP.
    cmd = ["ffmpeg", "-nostdin", "-loglevel", "error", "-re", "-i", clip, "-an", "-c:v", "copy"]
    if flags:
        cmd += ["-rtpflags", flags]
    cmd += ["-payload_type", "96", "-ssrc", "305419896", "-sdp_file", sdp_path + ".tmp",
            "-f", "rtp", f"rtp://127.0.0.1:{port}?pkt_size=1200"]
    proc = subprocess.Popen(cmd)
    packets = []
    sock.settimeout(0.5)
    try:
        while True:
            try:
                data = sock.recv(65536)
            except socket.timeout:
                if proc.poll() is not None:
                    break
                continue
            packets.append(data)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    if proc.returncode != 0 or not packets:
        print(f"ffmpeg exited {proc.returncode}, {len(packets)} packets", file=sys.stderr)
        return 1
    seqs = [struct.unpack("!H", p[2:4])[0] for p in packets]
    for a, b in zip(seqs, seqs[1:]):
        if (a + 1) & 0xFFFF != b:
            print(f"gap or reorder after seq {a}: next {b}", file=sys.stderr)
            return 1
    with open(out_path + ".tmp", "wb") as f:
        for p in packets:
            f.write(struct.pack("!I", len(p)))
            f.write(p)
    import os
    os.replace(out_path + ".tmp", out_path)
    os.replace(sdp_path + ".tmp", sdp_path)
    print(f"{len(packets)} packets on port {port}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

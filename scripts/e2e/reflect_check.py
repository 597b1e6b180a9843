"""Runs one reflect session in headless Chromium against a running `river serve --reflect`.

    python3 scripts/e2e/reflect_check.py --url http://127.0.0.1:PORT/ --y4m fixtures/clip.y4m \
        [--audio] [--seconds 10]

Opens river's page with a fake camera, calls `river.start()` (offer → POST /whip → answer),
samples `getStats()` once a second for --seconds, hangs up with DELETE, and prints one JSON
object: the WHIP status, the last stats, and the highest one-second send bitrate. The caller
(RiverEndToEndTests) asserts on it.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import random
import re
import signal
import socket
import struct
import sys
import threading
import time
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "browser"))
from cdp import Browser  # noqa: E402


def stun_request(username: str, key: bytes | None) -> bytes:
    """A Binding request with USERNAME, MESSAGE-INTEGRITY under `key` (if given) and FINGERPRINT
    (RFC 8489 §14.5, §14.7)."""
    name = username.encode()
    attrs = struct.pack("!HH", 0x0006, len(name)) + name + b"\0" * (-len(name) % 4)
    transaction = os.urandom(12)

    def header(length: int) -> bytes:
        return struct.pack("!HHI", 0x0001, length, 0x2112A442) + transaction

    if key is not None:
        mac = hmac.new(key, header(len(attrs) + 24) + attrs, hashlib.sha1).digest()
        attrs += struct.pack("!HH", 0x0008, 20) + mac
    crc = zlib.crc32(header(len(attrs) + 8) + attrs) ^ 0x5354554E
    attrs += struct.pack("!HHI", 0x8028, 4, crc)
    return header(len(attrs)) + attrs


def send_noise(port: int, answer: str, offer_ufrag: str, seconds: float, report: dict) -> None:
    """Bad input at the server's port while the browser streams: STUN naming the live session
    with a wrong key or no integrity, random datagrams, and truncated RTP, RTCP and DTLS records.
    Counts every reply; the server must send none. First, as a control, one correct check: it must
    be answered, and it makes this socket an authenticated address of the live session, so the
    truncated records reach that session's DTLS and SRTP code, not just the demux."""
    ufrag = re.search(r"a=ice-ufrag:(\S+)", answer).group(1)
    password = re.search(r"a=ice-pwd:(\S+)", answer).group(1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    sock.sendto(stun_request(f"{ufrag}:{offer_ufrag}", password.encode()), ("127.0.0.1", port))
    try:
        control = sock.recv(2048)
        report["controlReply"] = control[:2] == b"\x01\x01"
    except socket.timeout:
        report["controlReply"] = False
    sock.setblocking(False)
    sent = replies = 0
    reply_heads: list[str] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        batch = [
            stun_request(f"{ufrag}:{offer_ufrag}", b"wrong password for this session"),
            stun_request(f"{ufrag}:{offer_ufrag}", None),
            os.urandom(random.randint(1, 1200)),
            bytes([0x80, 102]) + os.urandom(random.randint(0, 10)),
            bytes([0x81, 200, 0, 6]) + os.urandom(3),
            bytes([22, 0xFE, 0xFD, 0, 0]) + os.urandom(random.randint(0, 20)),
        ]
        for datagram in batch:
            sock.sendto(datagram, ("127.0.0.1", port))
            sent += 1
        time.sleep(0.02)
        try:
            while True:
                reply = sock.recv(2048)
                replies += 1
                reply_heads.append(reply[:16].hex())
        except BlockingIOError:
            pass
    sock.close()
    report.update(noiseSent=sent, noiseReplies=replies, noiseReplyHeads=reply_heads[:10])


def main() -> int:
    # Turn SIGTERM into SystemExit so the `with Browser` block still kills Chromium's group.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--y4m", required=True)
    parser.add_argument("--audio", action="store_true")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--noise-port", type=int, help="send bad input to this UDP port during the session")
    args = parser.parse_args()

    result: dict = {}
    with Browser(y4m=args.y4m, timeout=60) as browser:
        page = browser.open(args.url)
        started = page.evaluate(f"river.start({{audio: {'true' if args.audio else 'false'}}})")
        result["status"] = started.get("status")
        result["answer"] = started.get("answer")
        result["location"] = started.get("location")
        samples = []
        noise = None
        if started.get("status") == 201 and args.noise_port:
            # Start once the browser is connected (ICE nominated, DTLS done), so the noise meets
            # a live session rather than racing its set-up.
            wait_end = time.monotonic() + 20
            while time.monotonic() < wait_end and page.evaluate("river.stats()").get("connectionState") != "connected":
                time.sleep(0.2)
            offer_ufrag = re.search(r"a=ice-ufrag:(\S+)", started["offer"]).group(1)
            noise = threading.Thread(
                target=send_noise, args=(args.noise_port, started["answer"], offer_ufrag, args.seconds - 2, result))
            noise.start()
        if started.get("status") == 201:
            end = time.monotonic() + args.seconds
            while time.monotonic() < end:
                time.sleep(1)
                samples.append(page.evaluate("river.stats()"))
        if noise is not None:
            noise.join()
        best = 0.0
        for a, b in zip(samples, samples[1:]):
            if a.get("bytesSent") is not None and b.get("bytesSent") is not None and b["sentTimestamp"] > a["sentTimestamp"]:
                rate = (b["bytesSent"] - a["bytesSent"]) * 8 / ((b["sentTimestamp"] - a["sentTimestamp"]) / 1000)
                best = max(best, rate)
        result["maxSendBitrate"] = best
        result["samples"] = samples
        result["final"] = samples[-1] if samples else {}
        result["stopped"] = page.evaluate("river.stop()") if started.get("status") == 201 else False
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

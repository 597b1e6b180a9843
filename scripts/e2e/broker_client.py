#!/usr/bin/env python3
"""An outside client of `river proxy`, written from docs/protocol.md alone (pyzmq, CURVE).

It proves the protocol document is enough to write a client: it speaks version 3 of the wire
format with its own struct layouts (no river code), over CURVE with river's key files.

    broker_client.py --frontend tcp://127.0.0.1:5555 --proxy-key proxy.pub --key client.key \\
        [--count 1000] [--window 8] [--budget-ms 2000] [--kill-pid PID --kill-after N] [--silent-ms MS]

It first sends HEARTBEATs until CAPACITY says `--workers` workers are registered, then submits
`--count` 32x24 I420 frames with at most `--window` in flight. With `--kill-pid`, it SIGKILLs that
process (a worker) after `--kill-after` answers. Every request must end in exactly one REPLY or
ERROR. It prints one JSON line with what it saw and exits 0 when that held, 1 otherwise.

With `--silent-ms`, it only sends a few requests and heartbeats and checks that nothing at all
comes back within that time (a client whose key the proxy does not allow).

With `--run-seconds S --timeline FILE`, it keeps `--window` requests in flight for S seconds,
whatever happens to workers and the proxy meanwhile, and writes every request's fate to FILE as
JSON: [sent, answered, outcome, worker] (wall-clock seconds; outcome "reply", an error code, or
"timeout" when nothing came within the budget + 250 ms, as river's own client gives up; worker from
an echo worker's document).
"""

import argparse
import json
import os
import re
import signal
import struct
import sys
import time

import zmq

VERSION = 3
READY, HEARTBEAT, REQUEST, REPLY, ERROR, DISCONNECT, CAPACITY = range(1, 8)
ERROR_CODES = {1: "badVersion", 2: "malformed", 3: "expired", 4: "workerLost", 5: "overloaded",
               6: "workerFailed", 7: "noWorker"}
WIDTH, HEIGHT = 32, 24


def read_key(path, field):
    """A `public-key` or `secret-key` (Z85, 40 characters) from a zcert-style key file."""
    with open(path) as f:
        match = re.search(field + r'\s*=\s*"([^"]{40})"', f.read())
    if not match:
        sys.exit(f"{path}: no {field}")
    return match.group(1).encode()


def prefix(message_type):
    return b"RV" + bytes([VERSION, message_type])


def request(request_id, budget_us):
    """REQUEST header (64 bytes) and an I420 body: planes Y, U, V packed one after another."""
    luma = WIDTH * HEIGHT
    chroma = (WIDTH // 2) * (HEIGHT // 2)
    planes = [(WIDTH, 0), (WIDTH // 2, luma), (WIDTH // 2, luma + chroma)]
    body = bytes([request_id % 251]) * (luma + 2 * chroma)
    header = prefix(REQUEST) + struct.pack(
        "!QQIIHHBBH", request_id, 42, request_id * 3000, budget_us, WIDTH, HEIGHT, 1, 3, 0)
    for stride, offset in planes:
        header += struct.pack("!II", stride, offset)
    header += struct.pack("!I", len(body))
    assert len(header) == 64
    return [header, body]


def parse(frames):
    """(type, fields) of a message from the proxy; raises ValueError on anything off-spec."""
    header = frames[0]
    if len(header) < 4 or header[:2] != b"RV" or header[2] != VERSION:
        raise ValueError(f"bad prefix {header[:4]!r}")
    kind = header[3]
    if kind == REPLY:
        if len(header) != 28 or len(frames) != 2:
            raise ValueError("REPLY layout")
        request_id, status = struct.unpack("!QB", header[4:13])
        return kind, {"id": request_id, "status": status, "document": frames[1]}
    if kind == ERROR:
        if len(header) != 16 or len(frames) != 2:
            raise ValueError("ERROR layout")
        request_id, code = struct.unpack("!QB", header[4:13])
        return kind, {"id": request_id, "code": ERROR_CODES.get(code, str(code)), "text": frames[1]}
    if kind == CAPACITY:
        if len(header) != 20 or len(frames) != 1:
            raise ValueError("CAPACITY layout")
        workers, queued, total, free, width, height = struct.unpack("!HHIIHH", header[4:20])
        return kind, {"workers": workers, "total": total, "free": free, "input": (width, height)}
    if kind in (HEARTBEAT, DISCONNECT):
        return kind, {}
    raise ValueError(f"unexpected type {kind}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--frontend", required=True)
    parser.add_argument("--proxy-key", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--window", type=int, default=8)
    parser.add_argument("--budget-ms", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--kill-pid", type=int)
    parser.add_argument("--kill-after", type=int, default=300)
    parser.add_argument("--silent-ms", type=int)
    parser.add_argument("--run-seconds", type=float)
    parser.add_argument("--timeline")
    args = parser.parse_args()

    context = zmq.Context()
    socket = context.socket(zmq.DEALER)
    socket.linger = 0
    socket.curve_serverkey = read_key(args.proxy_key, "public-key")
    socket.curve_publickey = read_key(args.key, "public-key")
    socket.curve_secretkey = read_key(args.key, "secret-key")
    socket.connect(args.frontend)
    poller = zmq.Poller()
    poller.register(socket, zmq.POLLIN)

    if args.silent_ms is not None:
        for i in range(1, 4):
            socket.send(prefix(HEARTBEAT), zmq.DONTWAIT)
            socket.send_multipart(request(i, 1_000_000), zmq.DONTWAIT)
        end = time.monotonic() + args.silent_ms / 1000
        received = 0
        while time.monotonic() < end:
            if poller.poll(50):
                socket.recv_multipart()
                received += 1
        print(json.dumps({"received": received}))
        return 0 if received == 0 else 1

    if args.run_seconds is not None:
        return run_for(socket, poller, args)

    # Registration: CAPACITY answers each HEARTBEAT.
    capacity = None
    end = time.monotonic() + 20
    while time.monotonic() < end and (capacity is None or capacity["workers"] < args.workers):
        socket.send(prefix(HEARTBEAT))
        if poller.poll(200):
            kind, fields = parse(socket.recv_multipart())
            if kind == CAPACITY:
                capacity = fields
    if capacity is None or capacity["workers"] < args.workers:
        print(json.dumps({"error": f"workers never registered: {capacity}"}))
        return 1

    outcomes = {}  # request id -> "reply" or the error code
    duplicates = unknown = malformed = 0
    sent_at = {}
    next_id = 1
    killed = False
    last_heartbeat = time.monotonic()
    deadline_slack = 2.0
    while True:
        now = time.monotonic()
        in_flight = [i for i in sent_at if i not in outcomes]
        while next_id <= args.count and len(in_flight) < args.window:
            socket.send_multipart(request(next_id, args.budget_ms * 1000))
            sent_at[next_id] = now
            in_flight.append(next_id)
            next_id += 1
        if next_id > args.count and not in_flight:
            break
        # Nothing may stay unanswered long past its deadline.
        oldest = min(sent_at[i] for i in in_flight)
        if now - oldest > args.budget_ms / 1000 + deadline_slack:
            break
        if now - last_heartbeat > 1:
            socket.send(prefix(HEARTBEAT))
            last_heartbeat = now
        if not poller.poll(100):
            continue
        try:
            kind, fields = parse(socket.recv_multipart())
        except ValueError:
            malformed += 1
            continue
        if kind not in (REPLY, ERROR):
            continue
        request_id = fields["id"]
        if request_id not in sent_at:
            unknown += 1
            continue
        if request_id in outcomes:
            duplicates += 1
            continue
        outcomes[request_id] = "reply" if kind == REPLY else fields["code"]
        if args.kill_pid and not killed and len(outcomes) >= args.kill_after:
            os.kill(args.kill_pid, signal.SIGKILL)
            killed = True

    tally = {}
    for outcome in outcomes.values():
        tally[outcome] = tally.get(outcome, 0) + 1
    missing = args.count - len(outcomes)
    result = {
        "sent": next_id - 1, "answered": len(outcomes), "outcomes": tally, "missing": missing,
        "duplicates": duplicates, "unknown": unknown, "malformed": malformed, "killed": killed,
        "capacity": {"workers": capacity["workers"], "input": list(capacity["input"])},
    }
    print(json.dumps(result))
    return 0 if missing == 0 and duplicates == 0 and unknown == 0 and malformed == 0 else 1


def run_for(socket, poller, args):
    """The `--run-seconds` mode: a steady window of requests through whatever happens."""
    budget = args.budget_ms / 1000
    in_flight = {}  # id -> wall-clock send time
    timeline = []
    next_id = 1
    end = time.time() + args.run_seconds
    last_heartbeat = 0
    while time.time() < end or in_flight:
        now = time.time()
        while now < end and len(in_flight) < args.window:
            try:
                socket.send_multipart(request(next_id, args.budget_ms * 1000), zmq.DONTWAIT)
            except zmq.Again:
                break
            in_flight[next_id] = now
            next_id += 1
        for request_id, sent in list(in_flight.items()):
            if now - sent > budget + 0.25:
                timeline.append([sent, now, "timeout", None])
                del in_flight[request_id]
        if now - last_heartbeat > 1:
            try:
                socket.send(prefix(HEARTBEAT), zmq.DONTWAIT)
            except zmq.Again:
                pass
            last_heartbeat = now
        if not poller.poll(20):
            continue
        try:
            kind, fields = parse(socket.recv_multipart())
        except ValueError:
            timeline.append([time.time(), time.time(), "malformed", None])
            continue
        if kind not in (REPLY, ERROR) or fields["id"] not in in_flight:
            continue
        sent = in_flight.pop(fields["id"])
        worker = None
        if kind == REPLY:
            try:
                worker = json.loads(fields["document"]).get("worker")
            except ValueError:
                pass
        timeline.append([sent, time.time(), "reply" if kind == REPLY else fields["code"], worker])
    with open(args.timeline, "w") as f:
        json.dump(timeline, f)
    print(json.dumps({"requests": next_id - 1, "recorded": len(timeline)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

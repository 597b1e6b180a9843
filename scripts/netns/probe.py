"""Small senders and receivers that measure a lab's network (scripts/netns/lab.sh) with real packets.

Run each inside a host's namespace (`lab.sh exec NAME HOST python3 probe.py ...`). Standard library
only. Every mode prints one JSON object on stdout when it is done; a listener first prints
`listening` on a line of its own once its socket is bound, so the caller knows it may send.

    probe.py udp-recv --bind ADDR --port P [--idle 1.5] [--timeout 20]
        counts datagrams until --idle seconds pass after the later of the last datagram and a
        SIGUSR1 (the caller's "the sender is done"), or --timeout seconds in all:
        {"received": N, "distinct": N, "bytes": N}
    probe.py udp-send --to ADDR --port P --count N [--size 200]
        sends N numbered datagrams, paced so that no queue on the way overflows:
        {"sent": N, "errors": N, "firstError": "..."}
    probe.py tcp-echo --bind ADDR --port P
        echoes every connection until killed
    probe.py tcp-connect --to ADDR --port P [--timeout 5]
        connects, sends a line, reads it back: {"connected": bool, "echoed": bool, "error": "..."}
    probe.py https --bind ADDR --port P --cert FILE --key FILE
        serves a tiny page over TLS until killed

The caller (RiverEndToEndTests/NetworkLabTests.swift) asserts on the JSON; this script asserts nothing.
"""

from __future__ import annotations

import argparse
import http.server
import json
import signal
import socket
import socketserver
import ssl
import struct
import sys
import time

PAGE = b"<!doctype html><title>river lab</title><p>ok</p>\n"


def family(address: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def listening() -> None:
    print("listening", flush=True)


def udp_recv(args: argparse.Namespace) -> dict:
    sock = socket.socket(family(args.bind), socket.SOCK_DGRAM)
    # A burst must be lost only where the test drops it, not in a full receive buffer: ask for 8 MiB
    # (SO_RCVBUFFORCE passes rmem_max as root; SO_RCVBUF is the fallback).
    try:
        sock.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.bind((args.bind, args.port))
    sender_done: list[float] = []
    signal.signal(signal.SIGUSR1, lambda *_: sender_done.append(time.monotonic()))
    listening()
    received = 0
    size = 0
    seen: set[int] = set()
    start = time.monotonic()
    last = None
    while True:
        now = time.monotonic()
        end = start + args.timeout
        marks = [t for t in (last, *sender_done[-1:]) if t is not None]
        if marks:
            end = min(end, max(marks) + args.idle)
        if now >= end:
            break
        # Short waits, so a SIGUSR1 that arrives during one takes effect without waiting it out.
        sock.settimeout(min(end - now, 0.1))
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue
        last = time.monotonic()
        received += 1
        size += len(data)
        if len(data) >= 4:
            seen.add(struct.unpack_from("!I", data)[0])
    return {"received": received, "distinct": len(seen), "bytes": size}


def udp_send(args: argparse.Namespace) -> dict:
    sock = socket.socket(family(args.to), socket.SOCK_DGRAM)
    padding = b"\0" * max(0, args.size - 4)
    sent = errors = 0
    first_error = None
    for n in range(args.count):
        try:
            sock.sendto(struct.pack("!I", n) + padding, (args.to, args.port))
            sent += 1
        except OSError as error:  # EPERM when an OUTPUT rule drops it
            errors += 1
            first_error = first_error or str(error)
        # 100 datagrams every 2 ms: far below what a veth and the kernel's backlog (1000 packets) hold,
        # so a drop is the rule's, not a queue's.
        if n % 100 == 99:
            time.sleep(0.002)
    return {"sent": sent, "errors": errors, "firstError": first_error}


class _Echo(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        for line in self.rfile:
            self.wfile.write(line)


def server_class(base: type, address: str) -> type:
    return type("Server", (socketserver.ThreadingMixIn, base),
                {"address_family": family(address), "allow_reuse_address": True, "daemon_threads": True})


def tcp_echo(args: argparse.Namespace) -> dict:
    server = server_class(socketserver.TCPServer, args.bind)((args.bind, args.port), _Echo)
    listening()
    server.serve_forever()
    return {}


def tcp_connect(args: argparse.Namespace) -> dict:
    result: dict = {"connected": False, "echoed": False, "error": None}
    try:
        with socket.create_connection((args.to, args.port), timeout=args.timeout) as sock:
            result["connected"] = True
            sock.sendall(b"river lab\n")
            reply = b""
            while not reply.endswith(b"\n"):
                chunk = sock.recv(100)
                if not chunk:
                    break
                reply += chunk
            result["echoed"] = reply == b"river lab\n"
    except OSError as error:
        result["error"] = str(error)
    return result


class _Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *args: object) -> None:
        pass


def https(args: argparse.Namespace) -> dict:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    base = server_class(http.server.HTTPServer, args.bind)

    class Server(base):  # type: ignore[misc, valid-type]
        # The handshake runs in the connection's thread, so a client that stalls in it (a browser's
        # preconnect) cannot hold up accept().
        def finish_request(self, request: socket.socket, client_address: object) -> None:
            super().finish_request(context.wrap_socket(request, server_side=True), client_address)

        # A browser that rejects the certificate aborts the handshake: not the server's failure.
        def handle_error(self, request: object, client_address: object) -> None:
            pass

    server = Server((args.bind, args.port), _Page)
    listening()
    server.serve_forever()
    return {}


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser()
    modes = parser.add_subparsers(dest="mode", required=True)
    p = modes.add_parser("udp-recv")
    p.add_argument("--bind", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--idle", type=float, default=1.5)
    p.add_argument("--timeout", type=float, default=20)
    p = modes.add_parser("udp-send")
    p.add_argument("--to", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--size", type=int, default=200)
    for name in ("tcp-echo", "https"):
        p = modes.add_parser(name)
        p.add_argument("--bind", required=True)
        p.add_argument("--port", type=int, required=True)
        if name == "https":
            p.add_argument("--cert", required=True)
            p.add_argument("--key", required=True)
    p = modes.add_parser("tcp-connect")
    p.add_argument("--to", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--timeout", type=float, default=5)
    args = parser.parse_args()
    run = {"udp-recv": udp_recv, "udp-send": udp_send, "tcp-echo": tcp_echo, "tcp-connect": tcp_connect,
           "https": https}[args.mode]
    print(json.dumps(run(args)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

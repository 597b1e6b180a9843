"""A results-webhook receiver for the end-to-end tests: accepts POSTs on 127.0.0.1, appends each body
(one JSON document) as a line to --out, and answers 204.

    python3 scripts/e2e/webhook_receiver.py --out bodies.jsonl

Prints `listening PORT` once bound (port 0 picks a free one). Stops on SIGTERM.
"""

from __future__ import annotations

import argparse
import http.server
import signal
import sys


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    out = open(args.out, "a", buffering=1)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length).decode()
            out.write(body.strip() + "\n")
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", args.port), Handler)
    print(f"listening {server.server_address[1]}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())

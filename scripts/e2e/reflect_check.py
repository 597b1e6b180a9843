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
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "browser"))
from cdp import Browser  # noqa: E402


def main() -> int:
    # Turn SIGTERM into SystemExit so the `with Browser` block still kills Chromium's group.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--y4m", required=True)
    parser.add_argument("--audio", action="store_true")
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()

    result: dict = {}
    with Browser(y4m=args.y4m, timeout=60) as browser:
        page = browser.open(args.url)
        started = page.evaluate(f"river.start({{audio: {'true' if args.audio else 'false'}}})")
        result["status"] = started.get("status")
        result["answer"] = started.get("answer")
        result["location"] = started.get("location")
        samples = []
        if started.get("status") == 201:
            end = time.monotonic() + args.seconds
            while time.monotonic() < end:
                time.sleep(1)
                samples.append(page.evaluate("river.stats()"))
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

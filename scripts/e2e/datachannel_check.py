"""Runs one data-channel session in headless Chromium against a running `river serve --reflect`.

    python3 scripts/e2e/datachannel_check.py --url http://127.0.0.1:PORT/ --y4m fixtures/clip.y4m \
        [--count 1000] [--megabytes 32]

Opens river's page, calls `river.start({dataChannels: true})`, then through `window.riverData`:
echoes --count mixed text/binary messages (0 B to 64 KiB) on the page's channel "river", collects
the messages of the channel river opens itself ("river-server", which river then closes), times
--megabytes one way to river on a sink channel, closes "river" from the page, and hangs up (WHIP
DELETE); then a second session that the page just closes. After each close it polls
`GET /debug/datachannels` until river's counts drop. Prints one JSON object;
RiverEndToEndTests asserts on it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "browser"))
from cdp import Browser  # noqa: E402


def counts(url: str) -> dict:
    with urllib.request.urlopen(url + "debug/datachannels", timeout=10) as response:
        return json.loads(response.read())


def wait_counts(url: str, key: str, value: int, seconds: float = 20) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        current = counts(url)
        if current.get(key) == value or time.monotonic() > deadline:
            return current
        time.sleep(0.2)


def main() -> int:
    # Turn SIGTERM into SystemExit so the `with Browser` block still kills Chromium's group.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--y4m", required=True)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--megabytes", type=int, default=32)
    args = parser.parse_args()
    url = args.url if args.url.endswith("/") else args.url + "/"

    result: dict = {"before": counts(url)}
    with Browser(y4m=args.y4m, timeout=240) as browser:
        page = browser.open(url)
        started = page.evaluate("river.start({dataChannels: true})")
        result["status"] = started.get("status")
        result["answer"] = started.get("answer")
        if started.get("status") == 201:
            result["echo"] = page.evaluate(f"riverData.echo({{count: {args.count}}})")
            result["server"] = page.evaluate("riverData.serverChannelResult()")
            result["duringSession"] = counts(url)
            if args.megabytes > 0:
                result["throughput"] = page.evaluate(f"riverData.throughput({{megabytes: {args.megabytes}}})")
            result["riverState"] = page.evaluate("riverData.closeRiver()")
            result["afterChannelsClosed"] = wait_counts(url, "channels", 0)
            result["stopped"] = page.evaluate("river.stop()")
            result["afterSessionClosed"] = wait_counts(url, "associations", 0)
            # A second session that the page simply closes (no DELETE): Chromium's SCTP ABORT and
            # DTLS close_notify must free river's association as well.
            again = page.evaluate("river.start({dataChannels: true})")
            if again.get("status") == 201:
                result["secondEcho"] = page.evaluate("riverData.echo({count: 20})")
                result["secondDuring"] = counts(url)
                page.evaluate("riverData.pc.close(), true")
                result["afterPeerClosed"] = wait_counts(url, "associations", 0)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

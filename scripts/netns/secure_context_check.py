"""Opens an https:// page in headless Chromium, optionally inside a lab namespace and trusting given
certificates through its NSS database, and reports whether it loaded as a secure context.

    python3 scripts/netns/secure_context_check.py --url https://10.1.2.2:8443/ \
        [--netns NAME-c] [--trust cert.pem ...]

Prints one JSON object: {"loaded": bool, "error": "net::ERR_..." or null, "href": "...",
"title": "...", "secure": bool, "getUserMedia": "function" | "undefined"}. Without --trust, a
self-signed certificate must not load (the trust path is what is under test); the caller
(RiverEndToEndTests/NetworkLabTests.swift) asserts, this script asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "browser"))
from cdp import Browser, CDPError  # noqa: E402

PROBE = """({
  href: location.href,
  title: document.title,
  secure: window.isSecureContext === true,
  getUserMedia: typeof navigator.mediaDevices?.getUserMedia,
})"""


def main() -> int:
    # Turn SIGTERM into SystemExit so the `with Browser` block still kills Chromium's group.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--netns", help="run Chromium in this network namespace (ip netns exec)")
    parser.add_argument("--trust", action="append", default=[], help="a PEM certificate to trust (repeatable)")
    args = parser.parse_args()
    prefix = ["ip", "netns", "exec", args.netns] if args.netns else None
    result: dict = {"loaded": False, "error": None}
    with Browser(prefix=prefix, trust=args.trust or None, timeout=30) as browser:
        page = browser.open()
        try:
            page.navigate(args.url)
            result["loaded"] = True
        except CDPError as error:
            result["error"] = str(error)
        result.update(page.evaluate(PROBE))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

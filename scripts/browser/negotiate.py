"""Lets a test negotiate with live Chromium: Chromium offers, the test answers, Chromium applies.

    python3 scripts/browser/negotiate.py

Line protocol on stdin/stdout, one JSON object per line, for each scenario of capture_offers.py:
  out: {"scenario": name, "offer": sdp}
  in:  {"answer": sdp}
  out: {"scenario": name, "ok": bool, "error": str|null, "signalingState": ...,
        "transceivers": [{"mid", "currentDirection", "stopped", "codecs": [mime/pt]}], "sctp": bool}
Then {"done": true}. EOF on stdin (the test went away) ends the script and the browser.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from capture_offers import SCENARIOS, offer_js  # noqa: E402
from cdp import Browser, make_clip, serve_directory  # noqa: E402

APPLY_JS = """
(async () => {
  const pc = window.riverPeers[%s];
  const result = {ok: true, error: null};
  try {
    await pc.setRemoteDescription({type: 'answer', sdp: %s});
  } catch (e) {
    result.ok = false;
    result.error = String(e);
  }
  result.signalingState = pc.signalingState;
  result.transceivers = pc.getTransceivers().map(t => ({
    mid: t.mid, currentDirection: t.currentDirection, stopped: t.currentDirection === 'stopped',
    // What the transceiver sends; a receive-only one (a viewer's) lists what its receiver takes.
    codecs: ((t.currentDirection === 'recvonly' ? t.receiver : t.sender).getParameters().codecs || [])
      .map(c => c.mimeType + '/' + c.payloadType),
  }));
  result.sctp = pc.sctp !== null;
  pc.close();
  return result;
})()
"""


def emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main() -> None:
    # SIGTERM from a test's watchdog unwinds through the `with` blocks, which kill the browser.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    with tempfile.TemporaryDirectory() as tmp:
        clip = make_clip(os.path.join(tmp, "clip.y4m"), seconds=1)
        with open(os.path.join(tmp, "index.html"), "w") as f:
            f.write("<!doctype html><title>river negotiation</title>")
        with serve_directory(tmp) as url, Browser(y4m=clip, timeout=60) as browser:
            page = browser.open(url)
            for name, (audio, body) in SCENARIOS.items():
                emit({"scenario": name, "offer": page.evaluate(offer_js(audio, body, keep_as=name))})
                line = sys.stdin.readline()
                if not line:
                    return
                answer = json.loads(line)["answer"]
                result = page.evaluate(APPLY_JS % (json.dumps(name), json.dumps(answer)))
                emit({"scenario": name, **result})
            emit({"done": True})


if __name__ == "__main__":
    main()

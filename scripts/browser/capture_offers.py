"""Captures real Chromium SDP offers as text fixtures for RiverSDP's tests.

    python3 scripts/browser/capture_offers.py [output-dir]

Default output: Tests/RiverSDPTests/Fixtures/. Launches Debian's headless Chromium with a fake
camera (a short ffmpeg testsrc2 clip), serves an empty page on 127.0.0.1 (getUserMedia needs a
secure context; about:blank is not one), and for each scenario below creates a peer connection,
waits for ICE gathering to finish (river is non-trickle, like WHIP) and writes the offer's SDP.
Re-run it when Chromium changes; the tests only assume what any Chromium offer holds.
"""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cdp import Browser  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# name -> JavaScript body: gets `stream` (camera, plus microphone when asked) and `pc`.
SCENARIOS = {
    "chromium-video-sendonly": (False, """
        pc.addTransceiver(stream.getVideoTracks()[0], {direction: 'sendonly', streams: [stream]});
    """),
    "chromium-video-audio": (True, """
        pc.addTransceiver(stream.getVideoTracks()[0], {direction: 'sendonly', streams: [stream]});
        pc.addTransceiver(stream.getAudioTracks()[0], {direction: 'sendonly', streams: [stream]});
    """),
    "chromium-video-datachannel": (False, """
        pc.addTransceiver(stream.getVideoTracks()[0], {direction: 'sendonly', streams: [stream]});
        pc.createDataChannel('results');
    """),
    "chromium-video-sendrecv": (False, """
        pc.addTransceiver(stream.getVideoTracks()[0], {direction: 'sendrecv', streams: [stream]});
    """),
    "chromium-sendrecv-audio-datachannel": (True, """
        pc.addTransceiver(stream.getVideoTracks()[0], {direction: 'sendrecv', streams: [stream]});
        pc.addTransceiver(stream.getAudioTracks()[0], {direction: 'sendonly', streams: [stream]});
        pc.createDataChannel('results');
    """),
}

OFFER_JS = """
(async () => {
  const stream = await navigator.mediaDevices.getUserMedia({video: {width: 640, height: 480}, audio: %s});
  const pc = new RTCPeerConnection();
  %s
  await pc.setLocalDescription(await pc.createOffer());
  if (pc.iceGatheringState !== 'complete') {
    await new Promise(resolve => {
      pc.addEventListener('icegatheringstatechange', () => {
        if (pc.iceGatheringState === 'complete') resolve();
      });
      setTimeout(resolve, 5000);
    });
  }
  const sdp = pc.localDescription.sdp;
  pc.close();
  stream.getTracks().forEach(t => t.stop());
  return sdp;
})()
"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def main() -> None:
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "Tests", "RiverSDPTests", "Fixtures")
    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        clip = os.path.join(tmp, "clip.y4m")
        subprocess.run(
            ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=640x480:rate=30",
             "-t", "1", "-pix_fmt", "yuv420p", clip],
            check=True,
        )
        with open(os.path.join(tmp, "index.html"), "w") as f:
            f.write("<!doctype html><title>river offer capture</title>")
        handler = lambda *a, **k: _Quiet(*a, directory=tmp, **k)  # noqa: E731
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            with Browser(y4m=clip) as browser:
                version = browser.send("Browser.getVersion")["product"]
                page = browser.open(f"http://127.0.0.1:{server.server_address[1]}/")
                for name, (audio, body) in SCENARIOS.items():
                    sdp = page.evaluate(OFFER_JS % (json.dumps(audio), body), timeout=30)
                    path = os.path.join(out_dir, name + ".sdp")
                    with open(path, "w", newline="") as f:
                        f.write(sdp)
                    print(f"{version}: wrote {os.path.relpath(path, REPO)} ({len(sdp)} bytes)")
        finally:
            server.shutdown()


if __name__ == "__main__":
    main()

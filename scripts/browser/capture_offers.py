"""Captures real Chromium SDP offers as text fixtures for RiverSDP's tests.

    python3 scripts/browser/capture_offers.py [output-dir]

Default output: Tests/RiverSDPTests/Fixtures/. Launches Debian's headless Chromium with a fake
camera (a short ffmpeg testsrc2 clip), serves an empty page on 127.0.0.1 (getUserMedia needs a
secure context; about:blank is not one), and for each scenario below creates a peer connection,
waits for ICE gathering to finish (river is non-trickle, like WHIP) and writes the offer's SDP.
Re-run it when Chromium changes; the tests only assume what any Chromium offer holds.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cdp import Browser, make_clip, serve_directory  # noqa: E402

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
    # river's page with the microphone on: both tracks sent and received, one stream.
    "chromium-sendrecv-video-audio-datachannel": (True, """
        pc.addTransceiver(stream.getVideoTracks()[0], {direction: 'sendrecv', streams: [stream]});
        pc.addTransceiver(stream.getAudioTracks()[0], {direction: 'sendrecv', streams: [stream]});
        pc.createDataChannel('river');
    """),
    # river's viewer page (/watch/{session}): video received only, the results channel.
    "chromium-video-recvonly-datachannel": (False, """
        pc.addTransceiver('video', {direction: 'recvonly'});
        pc.createDataChannel('river');
    """),
}

def offer_js(audio: bool, body: str, keep_as: str | None = None) -> str:
    """JavaScript that builds a scenario's peer connection and resolves to its complete offer.

    With `keep_as`, the connection stays open as `window.riverPeers[keep_as]` so an answer can be
    applied to it later; otherwise it is closed.
    """
    keep = (
        f"(window.riverPeers ||= {{}})[{json.dumps(keep_as)}] = pc;"
        if keep_as
        else "pc.close(); stream.getTracks().forEach(t => t.stop());"
    )
    return f"""
(async () => {{
  const stream = await navigator.mediaDevices.getUserMedia({{video: {{width: 640, height: 480}}, audio: {json.dumps(audio)}}});
  const pc = new RTCPeerConnection();
  {body}
  await pc.setLocalDescription(await pc.createOffer());
  if (pc.iceGatheringState !== 'complete') {{
    await new Promise(resolve => {{
      pc.addEventListener('icegatheringstatechange', () => {{
        if (pc.iceGatheringState === 'complete') resolve();
      }});
      setTimeout(resolve, 5000);
    }});
  }}
  const sdp = pc.localDescription.sdp;
  {keep}
  return sdp;
}})()
"""


def main() -> None:
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "Tests", "RiverSDPTests", "Fixtures")
    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        clip = make_clip(os.path.join(tmp, "clip.y4m"), seconds=1)
        with open(os.path.join(tmp, "index.html"), "w") as f:
            f.write("<!doctype html><title>river offer capture</title>")
        with serve_directory(tmp) as url, Browser(y4m=clip) as browser:
            version = browser.send("Browser.getVersion")["product"]
            page = browser.open(url)
            for name, (audio, body) in SCENARIOS.items():
                sdp = page.evaluate(offer_js(audio, body), timeout=30)
                path = os.path.join(out_dir, name + ".sdp")
                with open(path, "w", newline="") as f:
                    f.write(sdp)
                print(f"{version}: wrote {os.path.relpath(path, REPO)} ({len(sdp)} bytes)")


if __name__ == "__main__":
    main()

"""Captures a real Firefox SDP offer as a text fixture for RiverSDP's tests.

    python3 scripts/browser/capture_firefox_offer.py [output-dir]

Default output: Tests/RiverSDPTests/Fixtures/firefox-sendrecv-datachannel.sdp. Needs Debian's
`firefox-esr` (`apt-get install -y --no-install-recommends firefox-esr`; only this script uses it,
the tests read the captured file).

Firefox has no DevTools pipe like Chromium's, so the page reports back over HTTP: this script serves
a page on 127.0.0.1 (a secure context, so getUserMedia works) that builds the peer connection the
way river's own page does (`Sources/RiverServe/App/connection.js`: max-bundle, one sendrecv video
transceiver, the `river` data channel), waits for ICE gathering to finish (river is non-trickle,
like WHIP) and POSTs the offer's SDP to /offer. Under max-bundle Firefox offers every section after
the first with port 0 and `a=bundle-only` (RFC 8843 §6), which is what the fixture is for.

The profile is fresh and temporary; its prefs (marionette.py's) give a fake camera without a
permission prompt and let Firefox offer H264 (OpenH264 is not downloaded here, so the hardware-H264
path is forced on).
Firefox runs in its own process group, killed when the offer arrives, on a timeout, or on failure.
"""

from __future__ import annotations

import http.server
import os
import signal
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from marionette import FIREFOX, PREFS, user_js  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
NAME = "firefox-sendrecv-datachannel"
TIMEOUT = 60.0

PAGE = """<!doctype html>
<title>river offer capture</title>
<script type="module">
const report = (path, body) => fetch(path, {method: 'POST', body});
try {
  const stream = await navigator.mediaDevices.getUserMedia({video: {width: 640, height: 480}});
  const pc = new RTCPeerConnection({bundlePolicy: 'max-bundle'});
  pc.addTransceiver(stream.getVideoTracks()[0], {direction: 'sendrecv'});
  pc.createDataChannel('river');
  await pc.setLocalDescription(await pc.createOffer());
  if (pc.iceGatheringState !== 'complete') {
    await new Promise(resolve => {
      pc.addEventListener('icegatheringstatechange', () => {
        if (pc.iceGatheringState === 'complete') resolve();
      });
      setTimeout(resolve, 10000);
    });
  }
  await report('/offer', pc.localDescription.sdp);
  pc.close();
} catch (e) {
  await report('/error', String(e));
}
</script>
"""


def main() -> None:
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "Tests", "RiverSDPTests", "Fixtures")
    os.makedirs(out_dir, exist_ok=True)
    outcome: dict[str, str] = {}
    done = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            body = PAGE.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            text = self.rfile.read(length).decode()
            self.send_response(204)
            self.end_headers()
            outcome[self.path.lstrip("/")] = text
            done.set()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/"

    with tempfile.TemporaryDirectory(prefix="river-firefox-") as profile:
        with open(os.path.join(profile, "user.js"), "w") as f:
            f.write(user_js(PREFS))
        firefox = subprocess.Popen(
            [FIREFOX, "--headless", "--no-remote", "--profile", profile, url],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        try:
            if not done.wait(TIMEOUT):
                sys.exit(f"no offer from Firefox within {TIMEOUT:.0f} s")
        finally:
            # The whole group: Firefox forks content and socket processes.
            try:
                os.killpg(firefox.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            firefox.wait()
            server.shutdown()

    if "error" in outcome:
        sys.exit(f"the page failed: {outcome['error']}")
    sdp = outcome["offer"]
    if "H264/90000" not in sdp:
        sys.exit("Firefox offered no H264 (check the H264 prefs above); not writing a fixture")
    version = subprocess.run([FIREFOX, "--version"], capture_output=True, text=True).stdout.strip()
    path = os.path.join(out_dir, NAME + ".sdp")
    with open(path, "w", newline="") as f:
        f.write(sdp)
    print(f"{version}: wrote {os.path.relpath(path, REPO)} ({len(sdp)} bytes)")


if __name__ == "__main__":
    main()

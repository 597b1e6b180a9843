"""Runs one session of headless Firefox against a running river and reports what the page got.

    python3 scripts/browser/firefox_session_check.py --url http://10.99.0.1:8080/ [--seconds 15]

A manual check, not run by any test (it needs Debian's `firefox-esr`). Firefox gathers and pairs
no loopback candidates and needs a default route to find its host address, so run river and this
script in a network namespace of their own (as root):

    ip netns add rvff && ip -n rvff link set lo up
    ip -n rvff link add d0 type veth peer name d1 && ip -n rvff link set d1 up
    ip -n rvff addr add 10.99.0.1/24 dev d0 && ip -n rvff link set d0 up
    ip -n rvff route add default dev d0
    ip netns exec rvff river serve --reflect --host 10.99.0.1 &     # or `river up --host …`
    ip netns exec rvff python3 scripts/browser/firefox_session_check.py --url http://10.99.0.1:8080/

The page is served from this script's own 127.0.0.1 server, which forwards its WHIP POST to river.
It connects the way river's page does (`Sources/RiverServe/App/connection.js`: max-bundle, one
sendrecv video transceiver, the data channel `river`), so Firefox offers the data channel with port
0 and `a=bundle-only`; on open it sends one probe message (reflect mode echoes it). For --seconds
after the answer it counts the messages on `river` and reads the connection's stats, then prints
one JSON object (the profile is marionette.py's). Without the OpenH264 plugin (Firefox downloads it; this machine has no network)
Firefox offers H264 but encodes no frames, so there is no video and, under `river up`, no result.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from marionette import FIREFOX, PREFS, user_js  # noqa: E402

PAGE = """<!doctype html>
<title>river Firefox check</title>
<script type="module">
const report = (body) => fetch('/report', {method: 'POST', body: JSON.stringify(body)});
const seconds = %(seconds)d;
const result = {messages: 0, firstMessage: null, channelState: null, errors: []};
try {
  const stream = await navigator.mediaDevices.getUserMedia({video: {width: 640, height: 480}});
  const pc = new RTCPeerConnection({bundlePolicy: 'max-bundle'});
  pc.addTransceiver(stream.getVideoTracks()[0], {direction: 'sendrecv'});
  const channel = pc.createDataChannel('river');
  channel.onopen = () => channel.send('probe from firefox');
  channel.onmessage = (event) => {
    result.messages += 1;
    if (result.firstMessage === null) result.firstMessage = String(event.data).slice(0, 300);
  };
  await pc.setLocalDescription(await pc.createOffer());
  result.offerHasBundleOnly = pc.localDescription.sdp.includes('a=bundle-only');
  const response = await fetch('/whip', {method: 'POST', body: pc.localDescription.sdp});
  result.whipStatus = response.status;
  const answer = await response.text();
  if (response.status !== 201) throw new Error('river refused the offer: ' + answer);
  result.answerHasApplication = answer.includes('m=application 9 ');
  await pc.setRemoteDescription({type: 'answer', sdp: answer});
  await new Promise(resolve => setTimeout(resolve, seconds * 1000));
  result.channelState = channel.readyState;
  result.connectionState = pc.connectionState;
  result.iceConnectionState = pc.iceConnectionState;
  result.sctp = pc.sctp !== null;
  const stats = await pc.getStats();
  stats.forEach(s => {
    if (s.type === 'outbound-rtp' && s.kind === 'video') {
      result.framesEncoded = s.framesEncoded;
      result.packetsSent = s.packetsSent;
    }
    if (s.type === 'inbound-rtp' && s.kind === 'video') result.framesDecoded = s.framesDecoded;
    if (s.type === 'codec') (result.codecs ||= []).push(s.mimeType);
    if (s.type === 'candidate-pair') (result.pairs ||= []).push(s.state);
    if (s.type === 'local-candidate') (result.localCandidates ||= []).push(s.address + ' ' + s.protocol);
  });
  pc.close();
} catch (e) {
  result.errors.push(String(e));
}
await report(result);
</script>
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True, help="river's page, e.g. http://127.0.0.1:8080/")
    parser.add_argument("--seconds", type=int, default=15)
    args = parser.parse_args()
    river = args.url.rstrip("/")
    outcome: dict = {}
    done = threading.Event()
    page = (PAGE % {"seconds": args.seconds}).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a: object) -> None:
            pass

        def reply(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            self.reply(200, page, "text/html; charset=utf-8")

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path == "/whip":
                request = urllib.request.Request(
                    river + "/whip", data=body, method="POST", headers={"Content-Type": "application/sdp"})
                try:
                    with urllib.request.urlopen(request, timeout=20) as response:
                        self.reply(response.status, response.read(), "application/sdp")
                except urllib.error.HTTPError as error:
                    self.reply(error.code, error.read())
                return
            outcome.update(json.loads(body))
            self.reply(204, b"")
            done.set()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory(prefix="river-firefox-") as profile:
        with open(os.path.join(profile, "user.js"), "w") as f:
            f.write(user_js(PREFS))
        firefox = subprocess.Popen(
            [FIREFOX, "--headless", "--no-remote", "--profile", profile, f"http://127.0.0.1:{server.server_port}/"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            if not done.wait(args.seconds + 60):
                outcome["errors"] = ["no report from the page"]
        finally:
            try:
                os.killpg(firefox.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            firefox.wait()
            server.shutdown()
    print(json.dumps(outcome))
    sys.exit(0 if not outcome.get("errors") else 1)


if __name__ == "__main__":
    main()

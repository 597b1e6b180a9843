"""Drive Debian's headless Chromium with the DevTools protocol over --remote-debugging-pipe.

Standard library only. Chromium reads commands on fd 3 and writes replies and events on fd 4,
each message one NUL-terminated JSON object. Typical use:

    from cdp import Browser
    with Browser(y4m="/abs/clip.y4m") as browser:
        page = browser.open("http://127.0.0.1:8080/")
        offer = page.evaluate("makeOffer()")   # awaits promises, returns the JSON value

The browser runs in its own process group; leaving the `with` block (or `close()`) kills that
group, so no renderer or GPU helper survives a failed test.

Inside a network namespace, trusting a certificate the way a user's machine would (no
--ignore-certificate-errors, no insecure-origin flags):

    with Browser(prefix=["ip", "netns", "exec", "lab-c"], trust=["/tmp/x/cert.pem"]) as browser:
        ...

`prefix` is exec'd in front of Chromium (it must exec, as `ip netns exec` does, so the process
group stays Chromium's); `trust` makes a temporary HOME whose NSS database (`$HOME/.pki/nssdb`, the
one Chromium reads on Linux) trusts those certificates; `home` uses a HOME prepared by the caller
(see `make_nss_home`).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import http.server
import json
import os
import select
import signal
import subprocess
import tempfile
import threading
import time
from typing import Any, Iterator

CHROMIUM = os.environ.get("RIVER_CHROMIUM", "/usr/lib/chromium/chromium")

# Flags from DESIGN.md ("Testing with a real browser"): headless WebRTC with a fake camera.
BASE_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-extensions",
    "--mute-audio",
]


# NSS trust for a self-signed server certificate (certutil -t, SSL column): "C" makes it a trust
# anchor for server certificates, "P" a trusted peer (a leaf trusted as it is). Measured with Chromium
# 156, whose own verifier reads these flags from NSS: a CA:TRUE self-signed certificate loads with C, P
# or CP; a CA:FALSE one needs P (C alone gives ERR_CERT_INVALID). "CP" covers both. The server's IP
# address or name must be in subjectAltName either way.
NSS_TRUST = "CP,,"


def make_nss_home(home: str, certificates: list[str]) -> str:
    """Creates `home/.pki/nssdb` with an empty password and adds each PEM certificate as trusted
    (`NSS_TRUST`), nicknamed river-0, river-1, ...; returns `home`. Needs certutil (libnss3-tools)."""
    database = os.path.join(home, ".pki", "nssdb")
    os.makedirs(database, exist_ok=True)
    subprocess.run(["certutil", "-N", "--empty-password", "-d", f"sql:{database}"], check=True,
                   stdout=subprocess.DEVNULL)
    for index, certificate in enumerate(certificates):
        subprocess.run(["certutil", "-A", "-d", f"sql:{database}", "-n", f"river-{index}", "-t", NSS_TRUST,
                        "-i", certificate], check=True)
    return home


class CDPError(Exception):
    """A DevTools command failed, JavaScript threw, or the browser went away."""


class Browser:
    """One headless Chromium process driven over the DevTools pipe."""

    def __init__(
        self,
        y4m: str | None = None,
        extra_flags: list[str] | None = None,
        chromium: str = CHROMIUM,
        timeout: float = 30.0,
        prefix: list[str] | None = None,
        home: str | None = None,
        trust: list[str] | None = None,
        wav: str | None = None,
    ) -> None:
        """`prefix`: argv exec'd before Chromium (e.g. `ip netns exec NAME`); `home`: Chromium's HOME;
        `trust`: PEM certificates to trust, in a temporary HOME made here (not with `home`); `wav`:
        the fake microphone's sound (looped, like the y4m)."""
        if home is not None and trust:
            raise ValueError("give either home (prepared by the caller) or trust, not both")
        self.timeout = timeout
        self._next_id = 0
        self._buffer = b""
        self._events: list[dict[str, Any]] = []
        self._profile = tempfile.TemporaryDirectory(prefix="river-chromium-")
        self._home: tempfile.TemporaryDirectory[str] | None = None
        environment = None
        if trust:
            self._home = tempfile.TemporaryDirectory(prefix="river-chromium-home-")
            home = make_nss_home(self._home.name, trust)
        if home is not None:
            environment = dict(os.environ, HOME=home)
        flags = list(BASE_FLAGS) + ["--remote-debugging-pipe", f"--user-data-dir={self._profile.name}"]
        if y4m is not None:
            flags += ["--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={os.path.abspath(y4m)}"]
        else:
            flags += ["--use-fake-device-for-media-stream"]
        if wav is not None:
            flags += [f"--use-file-for-fake-audio-capture={os.path.abspath(wav)}"]
        flags += extra_flags or []
        # to_child: we write commands, Chromium reads them on fd 3; from_child: Chromium writes on fd 4.
        child_in, self._write_fd = os.pipe()
        self._read_fd, child_out = os.pipe()

        def place_pipes() -> None:
            # Move both ends above the low fds first so the dup2 onto 3 and 4 cannot clobber either.
            r = fcntl.fcntl(child_in, fcntl.F_DUPFD, 10)
            w = fcntl.fcntl(child_out, fcntl.F_DUPFD, 10)
            os.dup2(r, 3)
            os.dup2(w, 4)

        self.process = subprocess.Popen(
            [*(prefix or []), chromium, *flags, "about:blank"],
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=place_pipes,
            # Python opens every fd close-on-exec, so only the two dup2'd pipe ends (and stdio) reach
            # Chromium; close_fds must stay off or it would close fds 3 and 4 after preexec_fn.
            close_fds=False,
            start_new_session=True,
        )
        os.close(child_in)
        os.close(child_out)

    # MARK: lifecycle

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Kills the browser's whole process group and removes its profile directory."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for fd in (self._write_fd, self._read_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        self._write_fd = self._read_fd = -1
        self._profile.cleanup()
        if self._home is not None:
            self._home.cleanup()

    # MARK: protocol

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None,
             timeout: float | None = None) -> dict[str, Any]:
        """Sends one command and waits for its reply; events that arrive meanwhile are kept."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        while data:
            written = os.write(self._write_fd, data)
            data = data[written:]
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            reply = self._read_message(deadline, method)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise CDPError(f"{method}: {reply['error'].get('message')} {reply['error'].get('data', '')}")
                return reply.get("result", {})
            if "method" in reply:
                self._events.append(reply)

    def wait_event(self, method: str, timeout: float | None = None) -> dict[str, Any]:
        """Returns the first event named `method` (already received or yet to come)."""
        for i, event in enumerate(self._events):
            if event["method"] == method:
                return self._events.pop(i)
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            message = self._read_message(deadline, method)
            if message.get("method") == method:
                return message
            if "method" in message:
                self._events.append(message)

    def _read_message(self, deadline: float, waiting_for: str) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CDPError(f"timed out waiting for {waiting_for}")
            ready, _, _ = select.select([self._read_fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._read_fd, 1 << 20)
            if not chunk:
                raise CDPError(f"browser closed the pipe while waiting for {waiting_for} (exit {self.process.poll()})")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    # MARK: pages

    def open(self, url: str = "about:blank", new_window: bool = False) -> "Page":
        """Opens a new tab at `url`, attaches to it and waits for its load event. With `new_window`
        the tab gets a window of its own: Chromium stops painting a tab behind another, and with it
        its video frame callbacks, so pages that must all play side by side each need one."""
        target = self.send("Target.createTarget", {"url": "about:blank", "newWindow": new_window})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session, target)
        self.send("Page.enable", session=session)
        self.send("Runtime.enable", session=session)
        if url != "about:blank":
            page.navigate(url)
        return page


class Page:
    """One tab, addressed by its flattened DevTools session."""

    def __init__(self, browser: Browser, session: str, target: str) -> None:
        self.browser = browser
        self.session = session
        self.target = target

    def navigate(self, url: str, timeout: float | None = None) -> None:
        self.browser._events = [e for e in self.browser._events if e["method"] != "Page.loadEventFired"]
        result = self.browser.send("Page.navigate", {"url": url}, session=self.session)
        if result.get("errorText"):
            raise CDPError(f"navigate {url}: {result['errorText']}")
        self.browser.wait_event("Page.loadEventFired", timeout)

    def add_init_script(self, source: str) -> str:
        """Runs `source` in every document this tab loads from now on, before any of its own
        scripts (Page.addScriptToEvaluateOnNewDocument); returns the script's identifier."""
        result = self.browser.send("Page.addScriptToEvaluateOnNewDocument", {"source": source},
                                   session=self.session)
        return result.get("identifier", "")

    def evaluate(self, expression: str, timeout: float | None = None) -> Any:
        """Evaluates `expression`, awaiting it if it is a promise, and returns its JSON value."""
        result = self.browser.send(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True},
            session=self.session,
            timeout=timeout,
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise CDPError(f"JavaScript threw: {text}")
        return result.get("result", {}).get("value")

    def screenshot(self, format: str = "png", timeout: float | None = None) -> bytes:
        """The tab's viewport as an image (`Page.captureScreenshot`): PNG bytes, or `format`
        ("jpeg", "webp") as Chromium encodes it."""
        result = self.browser.send("Page.captureScreenshot", {"format": format}, session=self.session,
                                   timeout=timeout)
        return base64.b64decode(result["data"])



def make_clip(path: str, seconds: float = 5, size: str = "640x480", rate: int = 30) -> str:
    """Writes an ffmpeg `testsrc2` clip as y4m for --use-file-for-fake-video-capture."""
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}",
         "-t", str(seconds), "-pix_fmt", "yuv420p", path],
        check=True,
    )
    return path


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def serve_directory(directory: str) -> Iterator[str]:
    """Serves `directory` on a free 127.0.0.1 port and yields its base URL.

    getUserMedia needs a secure context; about:blank is not one, http://127.0.0.1 is.
    """
    handler = lambda *a, **k: _QuietHandler(*a, directory=directory, **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()

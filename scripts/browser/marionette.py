"""Drive Debian's headless Firefox (`firefox-esr`) over Marionette, its own remote protocol.

Firefox has no DevTools pipe like Chromium's (scripts/browser/cdp.py); Marionette is what geckodriver
itself speaks to it, and it is built in: `--marionette` opens it on the port of the profile's
`marionette.port` pref. With port 0 Firefox picks a free one and writes it to `MarionetteActivePort`
in the profile, so runs side by side never collide. Each message is `<length>:<json>`; a command is
`[0, id, name, parameters]` and its answer `[1, id, error, result]`.

    with Firefox() as firefox:
        page = firefox.open("http://127.0.0.1:8080/watch/abc?autostart")
        page.evaluate("river.state")

The profile is fresh and temporary. Its prefs (``PREFS``) are what river's page needs in headless
Firefox: H264 decoded through the system FFmpeg (Debian ships no OpenH264 plugin), host candidates on
127.0.0.1 (Firefox offers loopback candidates only to a page that may use the camera), and autoplay.
Firefox runs in its own process group, killed on exit.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import tempfile
import time
from typing import Any

FIREFOX = os.environ.get("RIVER_FIREFOX", "firefox-esr")

PREFS: dict[str, object] = {
    "marionette.port": 0,
    # H264 without the OpenH264 plugin download: Firefox's own (hardware/FFmpeg) H264 path.
    "gfx.blacklist.webrtc.hw.acceleration.h264": 1,
    "media.webrtc.hw.h264.enabled": True,
    # ICE to 127.0.0.1 needs a page allowed the camera and microphone, even one that only receives.
    "permissions.default.camera": 1,
    "permissions.default.microphone": 1,
    "media.navigator.permission.disabled": True,
    "media.navigator.streams.fake": True,
    "media.peerconnection.ice.obfuscate_host_addresses": False,
    "media.peerconnection.ice.loopback": True,
    "media.autoplay.default": 0,
    # A quiet, self-contained profile: no first-run pages, updates or telemetry.
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False,
    "app.update.auto": False,
    "app.update.enabled": False,
}


class MarionetteError(RuntimeError):
    pass


def user_js(prefs: dict[str, object]) -> str:
    def value(v: object) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int):
            return str(v)
        return json.dumps(str(v))

    return "".join(f'user_pref("{k}", {value(v)});\n' for k, v in prefs.items())


class Firefox:
    """One headless Firefox process with one Marionette session (one window)."""

    def __init__(self, timeout: float = 60, prefs: dict[str, object] | None = None) -> None:
        self.timeout = timeout
        self._profile = tempfile.TemporaryDirectory(prefix="river-firefox-")
        with open(os.path.join(self._profile.name, "user.js"), "w") as f:
            f.write(user_js({**PREFS, **(prefs or {})}))
        self.process = subprocess.Popen(
            [FIREFOX, "--headless", "--marionette", "--no-remote", "--profile", self._profile.name],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self._next_id = 0
        self._buffer = b""
        try:
            self._socket = self._connect()
            self.version = self.command("WebDriver:NewSession", {"capabilities": {"alwaysMatch": {}}})[
                "capabilities"].get("browserVersion")
            self.command("WebDriver:SetTimeouts", {"script": int(timeout * 1000), "pageLoad": int(timeout * 1000)})
        except BaseException:
            self.close()
            raise

    def _connect(self) -> socket.socket:
        port_file = os.path.join(self._profile.name, "MarionetteActivePort")
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise MarionetteError(f"{FIREFOX} exited with {self.process.returncode} before Marionette came up")
            try:
                with open(port_file) as f:
                    port = int(f.read().strip())
                self._socket = socket.create_connection(("127.0.0.1", port), timeout=self.timeout)
            except (OSError, ValueError):
                time.sleep(0.2)
                continue
            self._read()  # the greeting: {"applicationType": "gecko", "marionetteProtocol": 3}
            return self._socket
        raise MarionetteError(f"no Marionette port from {FIREFOX} within {self.timeout:.0f} s")

    def __enter__(self) -> "Firefox":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        # The whole group: Firefox forks content, GPU and socket processes.
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()
        self._profile.cleanup()

    def _read(self) -> Any:
        while b":" not in self._buffer:
            chunk = self._socket.recv(65536)
            if not chunk:
                raise MarionetteError("Marionette closed the connection")
            self._buffer += chunk
        length, rest = self._buffer.split(b":", 1)
        size = int(length)
        while len(rest) < size:
            chunk = self._socket.recv(max(65536, size - len(rest)))
            if not chunk:
                raise MarionetteError("Marionette closed the connection")
            rest += chunk
        self._buffer = rest[size:]
        return json.loads(rest[:size])

    def command(self, name: str, parameters: dict[str, Any] | None = None) -> Any:
        self._next_id += 1
        body = json.dumps([0, self._next_id, name, parameters or {}]).encode()
        self._socket.sendall(str(len(body)).encode() + b":" + body)
        while True:
            message = self._read()
            if message[0] == 1 and message[1] == self._next_id:
                break
        if message[2]:
            raise MarionetteError(f"{name}: {message[2].get('error')}: {message[2].get('message')}")
        return message[3]

    def open(self, url: str, new_window: bool = False) -> "FirefoxPage":
        """Navigates the session's one window to `url` and waits for its load (`new_window` is
        accepted for cdp.Browser's signature: this window is always its own)."""
        self.command("WebDriver:Navigate", {"url": url})
        return FirefoxPage(self)


class FirefoxPage:
    """The session's window, with cdp.Page's `evaluate`."""

    def __init__(self, firefox: Firefox) -> None:
        self.firefox = firefox

    def evaluate(self, expression: str, timeout: float | None = None) -> Any:
        """The value of a JavaScript expression in the page; a promise is awaited."""
        script = (
            "const done = arguments[arguments.length - 1];"
            f"Promise.resolve().then(() => ({expression}))"
            ".then(done, (e) => done({__riverError: String(e && e.stack || e)}));"
        )
        value = self.firefox.command("WebDriver:ExecuteAsyncScript", {"script": script, "args": []})["value"]
        if isinstance(value, dict) and "__riverError" in value:
            raise MarionetteError(f"evaluate {expression[:60]}…: {value['__riverError']}")
        return value

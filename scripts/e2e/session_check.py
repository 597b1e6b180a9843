"""Runs river's page in headless Chromium against a running `river up` / `river serve --proxy` and
reports, per session, how the delayed video and its results lined up.

    python3 scripts/e2e/session_check.py --url http://127.0.0.1:PORT/ --y4m fixtures/pan.y4m \
        [--sessions 4] [--seconds 15] [--warmup 3]

The fake camera is the panning-astronaut clip (scripts/make_pan_clip.py): its bar code tells which
clip frame each displayed frame is, and the clip's JSON side file gives the true face centre of that
frame. Opens `/?probe&autostart&sessions=N`, lets it run, reads `river.views[i].frames` (one entry
per displayed frame, see Sources/RiverServe/App/view.js), hangs up, and prints one JSON object:

    {"state": "live", "views": [{"displayed", "afterWarmup", "exact", "coverage", "withBox",
      "accurate", "accuracy", "delay": {...}, "wrongFrameDrawn", "unreadable", "statuses",
      "framesDecoded", "turnaround": {...},
      "timeline": [[receivedWall, status, delay, turnaround], ...]}, ...], "stopped": true}

`turnaround` is the server's frame-received → result-ready time (`timings.total`) of the displayed
frames' own results after the warm-up; `delay` the page's receive time minus the server's.

Each view also has `pairing` (the page's `river.views[i].pairing`: 'timestamp', or 'arrival' where
the browser gives no RTP timestamp per frame), `approximateDrawn` (frames after the warm-up drawn
with arrival-paired boxes) and `exactDrawn` (all frames drawn as exact). Under arrival pairing the
paired result counts as the frame's "own" (`exact`, `accuracy`), and `arrivalOffsets` says by how
many clip frames the pairing was off:
{offset: frames}, the offset in -6..6 whose true face position is nearest the box (0: right).
The result also has `notice` and `errorText`, the page's notice and error lines as shown (null
when hidden), read before hanging up (or once the page failed to start), and `finalState`, the
page's state then.

With `--viewers N` the publisher's page is watched over WHEP once it is live: after `--warmup`
seconds with no viewer, N more pages open `/watch/{session}?probe&autostart` in the same browser;
all of them play for `--phase` seconds, then the first viewer leaves (`river.stop()`), and the rest
play on for another `--phase` seconds; then they leave too, and the publisher plays alone for a last
`--phase`. The result then has `viewers`, each page's summary like a view's, and `phases`: for
"alone", "watched" (N viewers), "afterLeave" (N-1) and "aloneAgain", the wall-clock
span, serve's CPU in it when `--cpu-pid` names serve (`serveCPU`, and `serveLoopsCPU` for its event
loops alone, in cores), and the figures of every page still
playing then (`coverage`, `accuracy`, `delay`, `longestGapMs`, ...), publisher first. With
`--viewer-browser firefox` each viewer is a headless Firefox of its own (scripts/browser/marionette.py);
`viewerBrowser` then says which version.

    --hide-frame-metadata   the page sees requestVideoFrameCallback metadata without rtpTimestamp
    --hide-frame-callback   the page sees no requestVideoFrameCallback at all
(both injected before any page script runs, as a browser without them would be).

The caller (RiverEndToEndTests) asserts on it; this script asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import urllib.parse
import math
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "browser"))
from cdp import Browser  # noqa: E402
from marionette import Firefox  # noqa: E402

# Injected with --hide-frame-metadata: callbacks get the frame metadata less its rtpTimestamp.
HIDE_FRAME_METADATA = """
(() => {
  const original = HTMLVideoElement.prototype.requestVideoFrameCallback;
  if (!original) return;
  HTMLVideoElement.prototype.requestVideoFrameCallback = function (callback) {
    return original.call(this, (now, metadata) => {
      const copy = { ...metadata };
      delete copy.rtpTimestamp;
      callback(now, copy);
    });
  };
})();
"""

# Injected with --hide-frame-callback: no requestVideoFrameCallback (and no `in` finds it).
HIDE_FRAME_CALLBACK = """
delete HTMLVideoElement.prototype.requestVideoFrameCallback;
delete HTMLVideoElement.prototype.cancelVideoFrameCallback;
"""

# The text of the element with this id as shown on the page, or null when hidden or empty.
READ_VISIBLE = """
((id) => {
  const element = document.getElementById(id);
  if (!element || element.getClientRects().length === 0) return null;
  return element.textContent.trim() || null;
})(%s)
"""

READ_VIEWS = """
(async () => Promise.all(river.views.map(async (v) => {
  let framesDecoded = null, framesEncoded = null;
  const network = {};
  if (v.session) {
    const report = await v.session.pc.getStats();
    let pair = null;
    report.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') {
        framesDecoded = s.framesDecoded;
        Object.assign(network, { packetsReceived: s.packetsReceived, packetsLostDown: s.packetsLost,
          nacksSent: s.nackCount, freezeCount: s.freezeCount, totalFreezesDuration: s.totalFreezesDuration,
          pliSent: s.pliCount });
      }
      if (s.type === 'outbound-rtp' && s.kind === 'video') {
        framesEncoded = s.framesEncoded;
        Object.assign(network, { packetsSent: s.packetsSent, nacksReceived: s.nackCount,
          retransmittedPacketsSent: s.retransmittedPacketsSent, pliReceived: s.pliCount });
      }
      if (s.type === 'remote-inbound-rtp' && s.kind === 'video') network.packetsLostUp = s.packetsLost;
      if (s.type === 'transport' && s.selectedCandidatePairId) pair = report.get(s.selectedCandidatePairId);
    });
    if (pair) {
      const local = report.get(pair.localCandidateId), remote = report.get(pair.remoteCandidateId);
      network.protocol = local && local.protocol;
      network.remoteAddress = remote && remote.address;
      network.remotePort = remote && remote.port;
      network.rtt = pair.currentRoundTripTime;
    }
  }
  const audio = {};
  if (v.session) {
    const report = await v.session.pc.getStats();
    report.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'audio') Object.assign(audio, {
        packetsReceived: s.packetsReceived, packetsLost: s.packetsLost, concealedSamples: s.concealedSamples,
        totalSamplesReceived: s.totalSamplesReceived, jitterBufferDelay: s.jitterBufferDelay,
        jitterBufferEmittedCount: s.jitterBufferEmittedCount });
      if (s.type === 'outbound-rtp' && s.kind === 'audio') audio.packetsSent = s.packetsSent;
    });
  }
  const sync = v.sync ? { pairs: v.sync.pairs, flashes: v.sync.flashes.length, onsets: v.sync.onsets.length } : null;
  return { frames: v.frames, results: v.resultCount, closed: v.closed, framesDecoded, framesEncoded, network,
           audio, sync, pairing: v.pairing };
})))()
"""


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def arrival_offsets(frames: list[dict], path: list[dict], width: int, height: int) -> dict[str, int]:
    """For arrival-paired frames with a box and a readable bar code: how many clip frames the
    result drawn belonged to away from the frame shown, as {offset: frames} (the offset in -6..6
    whose true face centre is nearest the box; the clip loops, so indices wrap)."""
    counts: dict[str, int] = {}
    for f in frames:
        if f["box"] is None or f["clipFrame"] is None or f["clipFrame"] >= len(path):
            continue
        def error(k: int) -> float:
            truth = path[(f["clipFrame"] + k) % len(path)]
            return math.hypot((f["box"]["x"] - truth["x"]) * width, (f["box"]["y"] - truth["y"]) * height)
        best = min(range(-6, 7), key=lambda k: (error(k), abs(k)))
        counts[str(best)] = counts.get(str(best), 0) + 1
    return dict(sorted(counts.items(), key=lambda item: int(item[0])))


def summarise(view: dict, path: list[dict], width: int, height: int, warmup_ms: float, tolerance: float) -> dict:
    frames = view["frames"]
    if not frames:
        return {"displayed": 0, "results": view["results"], "closed": view["closed"],
                "framesDecoded": view["framesDecoded"], "framesEncoded": view["framesEncoded"],
                "pairing": view.get("pairing"), "approximateDrawn": 0}
    start = frames[0]["receivedWall"] + warmup_ms
    after = [f for f in frames if f["receivedWall"] >= start]
    exact = [f for f in after if f["exact"]]
    with_box = [f for f in exact if f["box"] is not None and f["clipFrame"] is not None
                and f["clipFrame"] < len(path)]
    errors = []
    for f in with_box:
        truth = path[f["clipFrame"]]
        dx = (f["box"]["x"] - truth["x"]) * width
        dy = (f["box"]["y"] - truth["y"]) * height
        errors.append(math.hypot(dx, dy) / width)
    accurate = sum(1 for e in errors if e <= tolerance)
    delays = [f["delay"] for f in after if f["delay"] is not None and math.isfinite(f["delay"])]
    turnarounds = [f["turnaround"] for f in after if f.get("turnaround") is not None]
    statuses: dict[str, int] = {}
    for f in after:
        key = f["status"] or "none"
        statuses[key] = statuses.get(key, 0) + 1
    return {
        "displayed": len(frames),
        "afterWarmup": len(after),
        "exact": len(exact),
        "coverage": len(exact) / len(after) if after else 0,
        "withBox": len(with_box),
        "accurate": accurate,
        "accuracy": accurate / len(with_box) if with_box else 0,
        "errorP50": percentile(errors, 50),
        "errorP95": percentile(errors, 95),
        "delay": {"n": len(delays), "min": min(delays, default=None), "p5": percentile(delays, 5),
                  "p50": percentile(delays, 50), "p95": percentile(delays, 95), "max": max(delays, default=None)},
        # A box drawn as a frame's own that came from another frame's result.
        "turnaround": {"n": len(turnarounds), "p50": percentile(turnarounds, 50),
                       "p99": percentile(turnarounds, 99), "max": max(turnarounds, default=None)},
        "wrongFrameDrawn": sum(1 for f in frames if f["drawn"] == "exact" and f["drawnFrom"] != f["rtpTimestamp"]),
        "staleDrawn": sum(1 for f in frames if f["drawn"] == "stale"),
        # How the page paired frames with results, and the frames after the warm-up it drew
        # with arrival-paired (approximate) boxes.
        "pairing": view.get("pairing"),
        "approximateDrawn": sum(1 for f in after if f["drawn"] == "approximate"),
        "exactDrawn": sum(1 for f in frames if f["drawn"] == "exact"),
        "unreadable": sum(1 for f in after if f["clipFrame"] is None),
        "statuses": statuses,
        "results": view["results"],
        "closed": view["closed"],
        "framesDecoded": view["framesDecoded"],
        "framesEncoded": view["framesEncoded"],
        # getStats of the session's peer connection: loss, NACKs and freezes both ways, and the pair.
        "network": view.get("network") or {},
        # With --wav: the audio's getStats figures, and sound against picture at each flash (ms).
        "audio": view.get("audio") or {},
        "sync": view.get("sync"),
        **({"arrivalOffsets": arrival_offsets(with_box, path, width, height)}
           if view.get("pairing") == "arrival" else {}),
        "timeline": [[round(f["receivedWall"]), f["status"],
                      None if f["delay"] is None or not math.isfinite(f["delay"]) else round(f["delay"]),
                      None if f.get("turnaround") is None else round(f["turnaround"], 1)]
                     for f in frames],
    }


def cpu_seconds(pid: int | None, threads: str | None = None) -> float | None:
    """utime + stime of a process, in seconds (/proc/PID/stat fields 14 and 15); with `threads`,
    of its live threads whose name starts with that only (/proc/PID/task/TID/stat)."""
    if pid is None:
        return None
    stats = [f"/proc/{pid}/stat"]
    if threads is not None:
        stats = []
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/comm") as f:
                    if f.read().startswith(threads):
                        stats.append(f"/proc/{pid}/task/{tid}/stat")
            except FileNotFoundError:
                pass
    ticks = 0
    for path in stats:
        try:
            with open(path) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def window_figures(frames: list[dict], path: list[dict], width: int, height: int, start: float, end: float,
                   tolerance: float) -> dict:
    """A page's figures over the frames it received in [start, end) (wall-clock ms)."""
    inside = [f for f in frames if start <= f["receivedWall"] < end]
    summary = summarise({"frames": inside, "results": None, "closed": None, "framesDecoded": None,
                         "framesEncoded": None}, path, width, height, 0, tolerance)
    walls = [f["receivedWall"] for f in inside]
    gaps = [b - a for a, b in zip(walls, walls[1:])]
    keep = ("displayed", "exact", "coverage", "withBox", "accurate", "accuracy", "delay", "wrongFrameDrawn")
    figures = {key: summary.get(key) for key in keep}
    figures["longestGapMs"] = round(max(gaps, default=0), 1)
    return figures


def watch_phases(browser: Browser, page: "Page", args: argparse.Namespace, clip: dict, fragment: str,
                 stack: contextlib.ExitStack) -> dict:
    """The `--viewers` run (see the module's note): the viewer pages and the three phases."""
    session = page.evaluate("river.session && river.session.id")
    out: dict = {"watched": session, "phases": {}}
    marks: list[tuple[str, float, float | None, float | None]] = []

    def mark(name: str) -> None:
        # Serve in all, and its event loops (SwiftNIO's threads): sockets, SRTP and every session's
        # engine, where a viewer's cost lands, without the decode and inference threads' noise.
        marks.append((name, time.time() * 1000, cpu_seconds(args.cpu_pid), cpu_seconds(args.cpu_pid, "NIO-")))

    time.sleep(args.warmup)
    mark("alone")
    time.sleep(args.phase)
    mark("opening")
    base = args.url.rstrip("/")
    hosts = [browser] * args.viewers
    if args.viewer_browser == "firefox":
        hosts = [stack.enter_context(Firefox()) for _ in range(args.viewers)]
        out["viewerBrowser"] = f"Firefox {hosts[0].version}"
    viewers = [host.open(f"{base}/watch/{session}?probe&autostart{fragment}", new_window=True) for host in hosts]
    read_state = "(typeof river === 'undefined') ? 'loading' : river.state"
    deadline = time.monotonic() + 30
    states = ["loading"] * len(viewers)
    while any(s in ("loading", "idle", "starting") for s in states) and time.monotonic() < deadline:
        time.sleep(0.2)
        states = [v.evaluate(read_state) for v in viewers]
    out["viewerStates"] = states
    out["viewerErrors"] = [v.evaluate("(typeof river === 'undefined') ? null : river.error") for v in viewers]
    if any(s != "live" for s in states):
        return out
    # The first key frame after a viewer joins leaves the publisher's delay line a delay later.
    time.sleep(args.warmup)
    mark("watched")
    time.sleep(args.phase)
    mark("leaving")
    viewers[0].evaluate("river.stop()")
    out["leftState"] = viewers[0].evaluate(read_state)
    time.sleep(1)
    mark("afterLeave")
    time.sleep(args.phase)
    mark("end")
    # The publisher alone once more: its first seconds (start-up, the first key frames) made the
    # first "alone" phase dearer than a settled session.
    for v in viewers[1:]:
        v.evaluate("river.stop()")
    time.sleep(1)
    mark("aloneAgain")
    time.sleep(args.phase)
    mark("last")

    pages = [page] + viewers
    read = [p.evaluate(READ_VIEWS)[0] for p in pages]
    out["viewers"] = [summarise(v, clip["path"], clip["width"], clip["height"], args.warmup * 1000,
                                args.tolerance) for v in read[1:]]
    at = {name: (wall, cpu, loops) for name, wall, cpu, loops in marks}
    spans = {"alone": ("alone", "opening", pages[:1]), "watched": ("watched", "leaving", pages),
             "afterLeave": ("afterLeave", "end", [page] + viewers[1:]), "aloneAgain": ("aloneAgain", "last", [page])}
    for name, (begin, end, playing) in spans.items():
        (start, cpu0, loops0), (stop, cpu1, loops1) = at[begin], at[end]
        phase = {"seconds": round((stop - start) / 1000, 2), "pages": len(playing),
                 "figures": [window_figures(read[pages.index(p)]["frames"], clip["path"], clip["width"],
                                            clip["height"], start, stop, args.tolerance) for p in playing]}
        if cpu0 is not None and cpu1 is not None:
            phase["serveCPU"] = round((cpu1 - cpu0) / ((stop - start) / 1000), 4)
            phase["serveLoopsCPU"] = round((loops1 - loops0) / ((stop - start) / 1000), 4)
        out["phases"][name] = phase
    return out


def added_offsets(received: list[dict], sent: list[dict], delay: float | None) -> list[dict]:
    """What river (and the browser's playout) added to sound against picture, per flash received:
    [{"flash": its display time on performance.now()'s clock, "added": ms}].

    Chromium's fake camera and microphone loop their files on separate timers, so the clip's flash and
    beep already drift apart on the page's own tracks, by up to a frame or more per loop. Each flash
    received is therefore compared with the same flash as sent: the one `delay` (the page's measured
    median) earlier, within half the 4 s loop. Its sent offset is subtracted from its received one.
    """
    if delay is None:
        return []
    added = []
    for r in received:
        nearest = min(sent, key=lambda s: abs(r["flash"] - delay - s["flash"]), default=None)
        if nearest is not None and abs(r["flash"] - delay - nearest["flash"]) < 1000:
            added.append({"flash": r["flash"], "added": r["offset"] - nearest["offset"]})
    return added


def main() -> int:
    # Turn SIGTERM into SystemExit so the `with Browser` block still kills Chromium's group.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True, help="the server's base URL")
    parser.add_argument("--y4m", required=True, help="the pan clip; its .json side file must be next to it")
    parser.add_argument("--sessions", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--warmup", type=float, default=3, help="seconds after the first displayed frame to ignore")
    parser.add_argument("--wav", help="the fake microphone (the page then sends audio: ?audio)")
    parser.add_argument("--token", help="the server's bearer token, handed to the page as #token=")
    parser.add_argument("--tolerance", type=float, default=0.025, help="box centre error, fraction of frame width")
    parser.add_argument("--netns", help="run Chromium inside this network namespace (ip netns exec)")
    parser.add_argument("--trust", action="append", default=[],
                        help="a PEM certificate Chromium's NSS database trusts (repeatable)")
    parser.add_argument("--hide-frame-metadata", action="store_true",
                        help="hide rtpTimestamp from requestVideoFrameCallback's metadata")
    parser.add_argument("--hide-frame-callback", action="store_true",
                        help="hide requestVideoFrameCallback from the page")
    parser.add_argument("--viewers", type=int, default=0, help="pages that watch the session over WHEP")
    parser.add_argument("--phase", type=float, default=8, help="seconds of each --viewers phase")
    parser.add_argument("--viewer-browser", choices=["chromium", "firefox"], default="chromium")
    parser.add_argument("--cpu-pid", type=int, help="serve's PID, whose CPU each --viewers phase reports")
    args = parser.parse_args()
    with open(args.y4m.rsplit(".", 1)[0] + ".json") as f:
        clip = json.load(f)

    result: dict = {}
    prefix = ["ip", "netns", "exec", args.netns] if args.netns else None
    # With sound, the page plays the returned audio unmuted, which autoplay would refuse without a click.
    flags = ["--window-size=1280,1024"] + (["--autoplay-policy=no-user-gesture-required"] if args.wav else [])
    with Browser(y4m=args.y4m, timeout=60, extra_flags=flags, prefix=prefix,
                 trust=args.trust or None, wav=args.wav) as browser:
        fragment = f"#token={urllib.parse.quote(args.token)}" if args.token else ""
        audio = "&audio" if args.wav else ""
        url = f"{args.url.rstrip('/')}/?probe&autostart&sessions={args.sessions}{audio}{fragment}"
        if args.hide_frame_metadata or args.hide_frame_callback:
            page = browser.open()
            if args.hide_frame_metadata:
                page.add_init_script(HIDE_FRAME_METADATA)
            if args.hide_frame_callback:
                page.add_init_script(HIDE_FRAME_CALLBACK)
            page.navigate(url)
        else:
            page = browser.open(url)
        opened = time.monotonic()
        deadline = time.monotonic() + 30
        # The page is a module with top-level await: `river` exists once it has run, after load.
        read_state = "(typeof river === 'undefined') ? 'loading' : river.state"
        state = page.evaluate(read_state)
        while state in ("loading", "idle", "starting") and time.monotonic() < deadline:
            time.sleep(0.2)
            state = page.evaluate(read_state)
        result["state"] = state
        result["error"] = page.evaluate("(typeof river === 'undefined') ? null : river.error")
        if state == "loading":
            result["error"] = [e["params"]["exceptionDetails"].get("exception", {}).get("description")
                               for e in browser._events if e["method"] == "Runtime.exceptionThrown"]

        def read_page() -> None:
            # What the page shows in words: its notice and error lines, and its state.
            result["notice"] = page.evaluate(READ_VISIBLE % json.dumps("notice"))
            result["errorText"] = page.evaluate(READ_VISIBLE % json.dumps("error"))
            result["finalState"] = page.evaluate(read_state)

        if state != "live":
            read_page()
        if state == "live":
            # From the page's load to live: WHIP, ICE, DTLS and the first frame (polled every 0.2 s).
            result["connectSeconds"] = round(time.monotonic() - opened, 2)
            result["startedAt"] = time.time() * 1000
            if args.viewers:
                with contextlib.ExitStack() as stack:
                    result.update(watch_phases(browser, page, args, clip, fragment, stack))
            else:
                time.sleep(args.seconds)
            views = page.evaluate(READ_VIEWS)
            result["views"] = [summarise(v, clip["path"], clip["width"], clip["height"],
                                         args.warmup * 1000, args.tolerance) for v in views]
            if args.wav:
                local = page.evaluate(
                    "river.localSync && {pairs: river.localSync.pairs, flashes: river.localSync.flashes.length,"
                    + " onsets: river.localSync.onsets.length}")
                result["localSync"] = local
                for view, summary in zip(views, result["views"]):
                    if view.get("sync") and local:
                        summary["sync"]["added"] = added_offsets(view["sync"]["pairs"], local["pairs"],
                                                                 summary["delay"]["p50"])
            read_page()
            page.evaluate("river.stop()")
            result["stopped"] = page.evaluate("river.state") == "idle"
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

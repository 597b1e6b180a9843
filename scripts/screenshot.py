"""Takes the README's screenshot: river's page in headless Chromium, live, with a face box drawn.

    python3 scripts/screenshot.py --url http://127.0.0.1:PORT/ --y4m fixtures/pan.y4m \
        --out docs/screenshot.png [--seconds 8] [--width 1280 --height 800]

It starts nothing but Chromium: run `river up` (or `river serve --proxy`) first and give its URL.
The fake camera is the panning-astronaut clip (scripts/make_pan_clip.py), so the model finds a
face. The script opens `URL?autostart` at a fixed viewport size (deviceScaleFactor 1), waits until
`river.state` is 'live' and the page has drawn frames with their own result ('exact', the solid
'#3f6' boxes of Sources/RiverServe/App/overlay.js), lets it run `--seconds` longer so the stats panel
has figures, then pauses the video (see PAUSE) and captures the viewport as PNG
(`Page.captureScreenshot`, as Chromium encodes it).

The layout is fixed (the size, no scrollbars); the pixels are not: the video is live. So the shot
is checked for what it must show instead: the script decodes its own PNG (a small reader for the
8-bit RGB/RGBA PNGs Chromium writes, zlib from the standard library), counts pixels of the exact box
colour and, with the clip's JSON side file next to `--y4m`, reads the clip frame on screen from its
bar code and checks that the drawn box is on that frame's face (`analyse`). It retries the capture
(`--attempts`) while a shot fails that, and writes `--out` (and the facts, as JSON, to `--json`,
default `--out` with `.json`) only for a shot that was live, had exact frames and shows the box on
the face; otherwise it writes nothing and exits 1. Either way it prints one JSON line of facts last:

    {"ok": true, "width": 1280, "height": 800, "bytes": N, "state": "live", "frames": N,
     "exact": N, "lastDrawn": "exact", "boxColour": "#33ff66", "boxPixels": N, "frame": N,
     "box": {"x", "y"}, "truth": {"x", "y"}, "boxError": 0.001, "aligned": true,
     "stats": {"delay": "2000 ms", ...}, "attempts": N}

`--check PNG` (no browser) prints the same analysis of an existing shot, with the video rectangle
from its facts file, and exits 1 unless it shows the box on the face:

    python3 scripts/screenshot.py --y4m fixtures/pan.y4m --check docs/screenshot.png

ScreenshotEndToEndTests runs it against `river up` and compares the new shot with
docs/screenshot.png (the README's) in what two shots of live video can share.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import struct
import sys
import time
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "browser"))
from cdp import Browser, CDPError  # noqa: E402

# overlay.js: a frame's own result is stroked (and labelled) in '#3f6'.
BOX_COLOUR = (0x33, 0xFF, 0x66)
# Per channel: antialiased edges blend with the video, the middle of the 2 px stroke does not.
TOLERANCE = 12

READ_PAGE = """
(() => {
  if (typeof river === 'undefined') return { state: 'loading' };
  const frames = river.frames;
  const stats = {};
  document.querySelectorAll('.stats dt').forEach((dt) => {
    stats[dt.textContent] = dt.nextElementSibling ? dt.nextElementSibling.textContent : null;
  });
  const last = frames[frames.length - 1];
  return {
    state: river.state, error: river.error, frames: frames.length,
    exact: frames.filter((f) => f.drawn === 'exact').length,
    lastDrawn: last ? last.drawn : null, lastHasBox: !!(last && last.box),
    stats,
  };
})()
"""


# The first session's video element, where it is in the page (CSS px; deviceScaleFactor is 1).
READ_VIDEO = """
(() => {
  const r = document.querySelector('.screen video').getBoundingClientRect();
  return { x: r.x, y: r.y, width: r.width, height: r.height };
})()
"""


# Freezes the first session's video for the capture, two animation frames on. Capturing while it
# plays can take the video layer's newest frame before the page's requestVideoFrameCallback has drawn
# that frame's boxes (3 of 15 live captures in one run showed the box a frame behind the face; 0 of 8
# paused ones did); `analyse` checks each shot either way.
#
# The camera list shows the fake camera's label, which is the clip's path on this machine; the shot
# shows what a user's list would, a plain name.
PAUSE = """
(async () => {
  document.querySelectorAll('#camera option').forEach((o, i) => { o.textContent = `Camera ${i + 1}`; });
  document.querySelector('.screen video').pause();
  await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
})()
"""


def read_png(data: bytes) -> tuple[int, int, int, bytes]:
    """(width, height, channels, pixels) of an 8-bit, non-interlaced RGB or RGBA PNG; pixels are
    the unfiltered rows, `width * channels` bytes each, top to bottom."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    position, idat, header = 8, [], None
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        position += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if header is None:
        raise ValueError("no IHDR")
    width, height, depth, colour_type, _, _, interlace = header
    channels = {2: 3, 6: 4}.get(colour_type)
    if depth != 8 or channels is None or interlace != 0:
        raise ValueError(f"unsupported PNG: depth {depth}, colour type {colour_type}, interlace {interlace}")
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    pixels = bytearray(stride * height)
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind = raw[start]
        row = bytearray(raw[start + 1:start + 1 + stride])
        if kind == 1:  # Sub
            for i in range(channels, stride):
                row[i] = (row[i] + row[i - channels]) & 0xFF
        elif kind == 2:  # Up
            row = bytearray((a + b) & 0xFF for a, b in zip(row, previous))
        elif kind == 3:  # Average
            for i in range(stride):
                left = row[i - channels] if i >= channels else 0
                row[i] = (row[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind == 4:  # Paeth
            for i in range(stride):
                a = row[i - channels] if i >= channels else 0
                b = previous[i]
                c = previous[i - channels] if i >= channels else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        elif kind != 0:
            raise ValueError(f"bad filter type {kind} in row {y}")
        pixels[y * stride:(y + 1) * stride] = row
        previous = row
    return width, height, channels, bytes(pixels)


def is_box_colour(pixels: bytes, i: int, colour: tuple[int, int, int] = BOX_COLOUR,
                  tolerance: int = TOLERANCE) -> bool:
    """Whether the pixel at byte offset `i` is within `tolerance` of `colour` on each of R, G and B."""
    return abs(pixels[i + 1] - colour[1]) <= tolerance and abs(pixels[i] - colour[0]) <= tolerance \
        and abs(pixels[i + 2] - colour[2]) <= tolerance


def analyse(data: bytes, video: dict | None = None, clip: dict | None = None) -> dict:
    """What the PNG `data` shows: `boxPixels`, the pixels of the exact box colour anywhere in it;
    with `video` (the video element's rectangle in the page, CSS px = image px) and `clip` (the pan
    clip's JSON side file), also the clip frame on screen from its bar code, the drawn box's centre
    and that frame's true face centre (fractions of the video), `boxError`, their horizontal
    distance as a fraction of the video's width, and `aligned`: within 0.025, where the
    neighbouring frame's face is 0.0375 away (the same tolerance as scripts/e2e/session_check.py)."""
    width, height, channels, pixels = read_png(data)
    stride = width * channels
    count = sum(1 for i in range(0, len(pixels), channels) if is_box_colour(pixels, i))
    facts: dict = {"boxPixels": count}
    if video is None or clip is None or count == 0:
        return facts
    left, top = round(video["x"]), round(video["y"])
    right = min(width, round(video["x"] + video["width"]))
    bottom = min(height, round(video["y"] + video["height"]))
    scale = video["width"] / clip["width"]
    # The bar code: one row through its middle, the centre of each block; black is a 1 bit.
    code = clip["barcode"]
    row = min(bottom - 1, round(top + (clip["height"] - code["height"] / 2) * scale))
    frame = 0
    for bit in range(code["bits"]):
        x = round(left + (bit + 0.5) * code["blockWidth"] * scale)
        i = row * stride + x * channels
        luma = (pixels[i] + pixels[i + 1] + pixels[i + 2]) / 3
        if 64 < luma < 192:
            return dict(facts, frame=None)
        if luma <= 64:
            frame |= 1 << bit
    facts["frame"] = frame
    if frame >= len(clip["path"]):
        return facts
    # The box: its left and right edges are the columns with the most box-coloured pixels (the label
    # above it and the landmark dots inside it are short in any one column).
    columns = [0] * width
    rows_of: dict[int, list[int]] = {}
    for y in range(top, bottom):
        base = y * stride
        for x in range(left, right):
            if is_box_colour(pixels, base + x * channels):
                columns[x] += 1
                rows_of.setdefault(x, []).append(y)
    tallest = max(columns)
    if tallest < 8:
        return facts
    edges = [x for x in range(width) if columns[x] >= tallest / 2]
    edge_rows = rows_of[edges[0]]
    centre_x = ((edges[0] + edges[-1]) / 2 - left) / video["width"]
    centre_y = ((min(edge_rows) + max(edge_rows)) / 2 - top) / video["height"]
    truth = clip["path"][frame]
    error = abs(centre_x - truth["x"])
    facts.update(box={"x": round(centre_x, 4), "y": round(centre_y, 4)},
                 truth={"x": round(truth["x"], 4), "y": round(truth["y"], 4)},
                 boxError=round(error, 4), aligned=error <= 0.025)
    return facts


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk (bytes 16 to 23 of the file, big-endian)."""
    return struct.unpack(">II", data[16:24])


def check(path: str, facts_path: str, clip: dict | None) -> int:
    """`--check`: prints one JSON line of what the PNG at `path` shows (`analyse`, with the video
    rectangle its facts file recorded) and its size; exits 1 unless it shows the box on the face."""
    with open(path, "rb") as f:
        data = f.read()
    recorded = {}
    if os.path.exists(facts_path):
        with open(facts_path) as f:
            recorded = json.load(f)
    width, height = png_size(data)
    seen = analyse(data, recorded.get("video"), clip)
    seen.update(width=width, height=height, bytes=len(data))
    seen["ok"] = seen["boxPixels"] > 0 and (clip is None or seen.get("aligned") is True)
    print(json.dumps(seen, sort_keys=True))
    return 0 if seen["ok"] else 1


def main() -> int:
    # Turn SIGTERM into SystemExit so the `with Browser` block still kills Chromium's group.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="the page of a running river up / serve --proxy")
    parser.add_argument("--y4m", required=True, help="the fake camera: fixtures/pan.y4m")
    parser.add_argument("--out", help="the PNG to write")
    parser.add_argument("--json", help="where to write the facts (default: --out with .json)")
    parser.add_argument("--seconds", type=float, default=8,
                        help="how long to let the page run after its first exact frame")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=800)
    parser.add_argument("--attempts", type=int, default=10, help="captures to try for one showing a box")
    parser.add_argument("--check", metavar="PNG",
                        help="no browser: print what an existing shot shows (its video rectangle from its .json)")
    args = parser.parse_args()

    clip = None
    side_file = os.path.splitext(args.y4m)[0] + ".json"
    if os.path.exists(side_file):
        with open(side_file) as f:
            clip = json.load(f)
    if args.check:
        return check(args.check, args.json or os.path.splitext(args.check)[0] + ".json", clip)
    if not args.url or not args.out:
        parser.error("--url and --out are needed to take a shot")
    facts_path = args.json or os.path.splitext(args.out)[0] + ".json"

    facts: dict = {"ok": False}
    shot: bytes | None = None
    flags = [f"--window-size={args.width},{args.height}", "--hide-scrollbars"]
    try:
        with Browser(y4m=args.y4m, timeout=60, extra_flags=flags) as browser:
            page = browser.open()
            browser.send("Emulation.setDeviceMetricsOverride",
                         {"width": args.width, "height": args.height, "deviceScaleFactor": 1, "mobile": False},
                         session=page.session)
            page.navigate(f"{args.url.rstrip('/')}/?autostart")
            # Live, and the first frame drawn with its own result (model and delay warm).
            deadline = time.monotonic() + 90
            state: dict = {}
            while time.monotonic() < deadline:
                state = page.evaluate(READ_PAGE) or {}
                if state.get("state") in ("failed", "closed") or state.get("exact", 0) > 0:
                    break
                time.sleep(0.5)
            if state.get("exact", 0) > 0:
                time.sleep(args.seconds)
                video = page.evaluate(READ_VIDEO)
                facts["video"] = video
                for attempt in range(1, args.attempts + 1):
                    # Capture when the frame on screen was drawn with its own box.
                    for _ in range(20):
                        state = page.evaluate(READ_PAGE) or {}
                        if state.get("lastDrawn") == "exact" and state.get("lastHasBox"):
                            break
                        time.sleep(0.1)
                    page.evaluate(PAUSE)
                    data = page.screenshot()
                    page.evaluate("document.querySelector('.screen video').play()")
                    seen = analyse(data, video, clip)
                    good = seen["boxPixels"] > 0 and (clip is None or seen.get("aligned") is True)
                    if shot is None or good:
                        shot = data
                        facts.update({k: None for k in ("frame", "box", "truth", "boxError", "aligned")})
                        facts.update(seen)
                    facts["attempts"] = attempt
                    if good:
                        break
                    time.sleep(0.3)
            facts.update({k: state.get(k) for k in ("state", "error", "frames", "exact", "lastDrawn", "stats")})
            try:
                page.evaluate("river.stop()", timeout=10)
            except CDPError:
                pass
    except CDPError as error:
        facts["error"] = str(error)
    if shot is not None:
        width, height = png_size(shot)
        facts.update(width=width, height=height, bytes=len(shot))
    facts["boxColour"] = "#%02x%02x%02x" % BOX_COLOUR
    facts["ok"] = bool(shot is not None and facts.get("state") == "live" and facts.get("exact", 0) > 0
                       and facts.get("boxPixels", 0) > 0 and (clip is None or facts.get("aligned") is True))
    if facts["ok"]:
        with open(args.out, "wb") as f:
            f.write(shot)
        with open(facts_path, "w") as f:
            json.dump({k: v for k, v in facts.items() if k != "ok"}, f, indent=2, sort_keys=True)
            f.write("\n")
    else:
        print("screenshot.py: no capture showed live video with its own box on the face; nothing written",
              file=sys.stderr)
    print(json.dumps(facts, sort_keys=True))
    return 0 if facts["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

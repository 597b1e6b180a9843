#!/usr/bin/env python3
"""Checks one session's recording (`river serve --record DIR`) against the clip the browser sent.

Reads the MP4 with ffprobe (streams, duration, frames that decode), decodes its video with ffmpeg,
reads each picture's frame index from the bar code along its bottom edge (scripts/make_pan_clip.py,
as the page's probe.js does), pairs each picture with its line in the results file by presentation
time, and compares the first detection's centre with the clip's known face position.

With --annotated (what `river annotate` made of the recording), also checks a sample of its
pictures: the centre of the green box outline drawn into each against the clip's face position, and
the same pictures of the recording itself have no such outline.

Prints one JSON object:
  {"streams": ["h264", "opus"], "duration": s, "videoDuration": s, "videoFrames": n, "lines": n,
   "nullLines": n, "paired": n, "withBox": n, "accurate": n, "accuracy": f, "unreadable": n,
   "annotated": {"streams": [...], "frames": n, "sampled": n, "outlined": n, "placed": n,
                 "outlinedInRecording": n}}
"""
import argparse
import bisect
import json
import math
import subprocess
import sys

BITS, BAR_HEIGHT = 8, 16


def probe(mp4: str) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_entries",
         "stream=codec_name,codec_type,width,height,nb_read_frames,duration:format=duration", "-of", "json", mp4],
        check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def frame_times(mp4: str) -> list[float]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "frame=pts_time", "-of", "csv=p=0",
         mp4], check=True, capture_output=True, text=True).stdout
    return [float(line.split(",")[0]) for line in out.split() if line.strip()]


def bar_code(row: bytes, width: int) -> int | None:
    """The frame index in one row of RGB through the middle of the bar code; None if unreadable."""
    index = 0
    for bit in range(BITS):
        x = min(width - 1, int((bit * 8 + 4) / (BITS * 8) * width))
        r, g, b = row[x * 3], row[x * 3 + 1], row[x * 3 + 2]
        luma = (r + g + b) / 3
        if 64 < luma < 192:
            return None
        if luma <= 64:
            index |= 1 << bit
    return index


def decode(mp4: str, width: int, height: int):
    """Yields each picture of the MP4's video as RGB24 bytes."""
    decoder = subprocess.Popen(
        ["ffmpeg", "-v", "error", "-i", mp4, "-map", "0:v:0", "-fps_mode", "passthrough", "-s", f"{width}x{height}",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], stdout=subprocess.PIPE)
    size = width * height * 3
    while True:
        picture = decoder.stdout.read(size)
        if len(picture) < size:
            break
        yield picture
    decoder.wait()


def green_centre(picture: bytes, width: int, height: int) -> tuple[float, float] | None:
    """The centre (fractions of the size) of the green outline drawn into a picture, if any."""
    xs, ys = [], []
    for y in range(0, height - BAR_HEIGHT * 2, 2):
        row = y * width * 3
        for x in range(0, width, 2):
            p = row + x * 3
            if picture[p + 1] > 150 and picture[p] < 100 and picture[p + 2] < 100:
                xs.append(x)
                ys.append(y)
    if len(xs) < 20:
        return None
    return (min(xs) + max(xs)) / 2 / width, (min(ys) + max(ys)) / 2 / height


def check_annotated(annotated: str, recording: str, clip: dict, width: int, height: int, tolerance: float) -> dict:
    info = probe(annotated)
    frames = sum(1 for _ in decode(annotated, width, height))
    step = max(1, frames // 20)
    row_y = int(height - (BAR_HEIGHT / 2) * (height / 480))
    sampled = outlined = placed = 0
    for index, picture in enumerate(decode(annotated, width, height)):
        if index % step:
            continue
        frame = bar_code(picture[row_y * width * 3:(row_y + 1) * width * 3], width)
        if frame is None or frame >= len(clip["path"]):
            continue
        sampled += 1
        centre = green_centre(picture, width, height)
        if centre is None:
            continue
        outlined += 1
        truth = clip["path"][frame]
        if math.hypot((centre[0] - truth["x"]) * width, (centre[1] - truth["y"]) * height) / width <= tolerance:
            placed += 1
    in_recording = sum(1 for index, picture in enumerate(decode(recording, width, height))
                       if index % step == 0 and green_centre(picture, width, height) is not None)
    return {"streams": [st.get("codec_name") for st in info.get("streams", [])], "frames": frames,
            "sampled": sampled, "outlined": outlined, "placed": placed, "outlinedInRecording": in_recording}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mp4", required=True)
    parser.add_argument("--results", required=True, help="the recording's .jsonl")
    parser.add_argument("--clip-json", required=True, help="the clip's side file (its face path)")
    parser.add_argument("--tolerance", type=float, default=0.025, help="box centre error, fraction of width")
    parser.add_argument("--annotated", help="what `river annotate` made of the recording")
    args = parser.parse_args()

    info = probe(args.mp4)
    streams = info.get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    if video is None:
        print(json.dumps({"error": "no video stream", "streams": streams}))
        return 1
    width, height = int(video["width"]), int(video["height"])
    with open(args.clip_json) as f:
        clip = json.load(f)
    with open(args.results) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    # Paired by the nearest presentation time within 0.4 frame intervals of the clip. A fragment's
    # first picture reads a few milliseconds off the time river gave it (docs/results.md,
    # Recordings: libavformat derives a fragment's start from the previous fragment's durations,
    # guessing the last one when the audio track cuts the fragment); 3 ms was seen, which a bound of
    # 2 ms refused. The neighbouring frames are a whole interval away, so the nearest within
    # 0.4 intervals is the frame's own line or none, and the bar code below checks each pairing.
    window = 0.4 / clip["fps"]
    keyed = sorted((line["pts"], i) for i, line in enumerate(lines))
    keys = [k for k, _ in keyed]

    def line_at(pts: float):
        at = bisect.bisect_left(keys, pts)
        near = [j for j in (at - 1, at) if 0 <= j < len(keys) and abs(keys[j] - pts) <= window]
        return lines[keyed[min(near, key=lambda j: abs(keys[j] - pts))][1]] if near else None

    times = frame_times(args.mp4)
    row_y = int(height - (BAR_HEIGHT / 2) * (height / 480))
    paired = with_box = accurate = unreadable = 0
    index = 0
    for picture in decode(args.mp4, width, height):
        pts = times[index] if index < len(times) else None
        index += 1
        line = line_at(pts) if pts is not None else None
        if line is None:
            continue
        paired += 1
        result = line.get("result") or {}
        detections = result.get("detections") or []
        frame = bar_code(picture[row_y * width * 3:(row_y + 1) * width * 3], width)
        if frame is None:
            unreadable += 1
            continue
        if not detections or frame >= len(clip["path"]):
            continue
        with_box += 1
        box = detections[0]["box"]
        truth = clip["path"][frame]
        dx = (box["x"] + box["w"] / 2 - truth["x"]) * width
        dy = (box["y"] + box["h"] / 2 - truth["y"]) * height
        if math.hypot(dx, dy) / width <= args.tolerance:
            accurate += 1
    print(json.dumps({
        "streams": [s.get("codec_name") for s in streams],
        "duration": float(info.get("format", {}).get("duration", 0)),
        "videoDuration": float(video.get("duration", 0)),
        "videoFrames": int(video.get("nb_read_frames", 0)),
        "decodedPictures": index,
        "lines": len(lines),
        "nullLines": sum(1 for line in lines if line.get("result") is None),
        "paired": paired,
        "withBox": with_box,
        "accurate": accurate,
        "accuracy": accurate / with_box if with_box else 0,
        "unreadable": unreadable,
        "annotated": check_annotated(args.annotated, args.mp4, clip, width, height, args.tolerance)
        if args.annotated else None,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Writes the fake-camera clip for end-to-end tests: the astronaut photo panning across a grey canvas.

The face moves along a known path fast enough (FACE_STEP px per frame) that the result of a
neighbouring frame lands outside the accuracy tolerance, so a result drawn on the wrong frame is
caught. Each frame carries its own index as a bar code along the bottom edge (BITS blocks, black = 1),
so a page can read which clip frame it is displaying and look up the true face position. The path
and the code are described in a JSON side file next to the clip.

With `--flash N --wav OUT.wav` (the audio sync test): clip frames N to N+2 are white above the bar
code (a flash), and OUT.wav, as long as the clip, is silent but for a beep that starts with that frame.
Chromium loops both files (`--use-file-for-fake-video-capture`, `--use-file-for-fake-audio-capture`),
so every loop flashes and beeps together.

usage: make_pan_clip.py OUT.y4m PHOTO.png [--frames N] [--fps F] [--width W] [--height H] [--flash N --wav OUT.wav]
"""

import argparse
import json
import wave

import numpy as np
from PIL import Image

# The face centre in astronaut.png (512 x 512), labelled by hand: midway between the hairline and
# the chin, on the nose line.
FACE_CENTRE_IN_PHOTO = (225.0, 118.0)
PHOTO_SIZE = 512
BITS = 8
BAR_HEIGHT = 16


def frame_position(n: int, travel: int, step: int) -> int:
    """Left edge of the photo at frame n: a triangle wave over [0, travel] at `step` px per frame."""
    period = 2 * travel
    phase = (n * step) % period
    return phase if phase <= travel else period - phase


def rgb_to_i420(rgb: np.ndarray) -> bytes:
    """BT.601 limited range, as Chromium's fake capture device expects of a y4m file."""
    f = rgb.astype(np.float32)
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    y = 16 + 0.257 * r + 0.504 * g + 0.098 * b
    u = 128 - 0.148 * r - 0.291 * g + 0.439 * b
    v = 128 + 0.439 * r - 0.368 * g - 0.071 * b
    h, w = y.shape
    u = u.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
    v = v.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
    planes = [np.clip(np.rint(p), 0, 255).astype(np.uint8) for p in (y, u, v)]
    return b"".join(p.tobytes() for p in planes)


# The flash lasts three frames, so a receiver that drops or skips one frame still shows it; its
# first frame is the one that starts with the beep.
FLASH_FRAMES = 3
BEEP_HZ = 1000
BEEP_SECONDS = 0.1
SAMPLE_RATE = 48_000


def write_beep_wav(path: str, seconds: float, beep_at: float) -> None:
    """Mono 16-bit PCM at 48 kHz: silence, and a 1 kHz tone of BEEP_SECONDS from `beep_at`."""
    samples = np.zeros(int(round(seconds * SAMPLE_RATE)), np.float32)
    start = int(round(beep_at * SAMPLE_RATE))
    n = np.arange(int(BEEP_SECONDS * SAMPLE_RATE))
    samples[start : start + len(n)] = 0.8 * np.sin(2 * np.pi * BEEP_HZ * n / SAMPLE_RATE)
    with wave.open(path, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes((samples * 32767).astype("<i2").tobytes())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("photo")
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--photo-size", type=int, default=320, help="side of the scaled photo in px")
    ap.add_argument("--step", type=int, default=24, help="face movement per frame in px")
    ap.add_argument("--fps", type=int, default=30, help="frames a second (Chromium plays the file at this rate)")
    ap.add_argument("--flash", type=int, help="clip frame to make white above the bar code")
    ap.add_argument("--wav", help="write a beep that starts with the flash frame here")
    args = ap.parse_args()
    assert (args.flash is None) == (args.wav is None), "--flash and --wav go together"

    w, h, side = args.width, args.height, args.photo_size
    assert w % 2 == 0 and h % 2 == 0 and args.frames <= 2**BITS
    photo = np.asarray(Image.open(args.photo).convert("RGB").resize((side, side), Image.BICUBIC))
    travel = w - side
    top = (h - BAR_HEIGHT - side) // 2
    scale = side / PHOTO_SIZE
    block = w // BITS
    path = []
    with open(args.out, "wb") as out:
        out.write(f"YUV4MPEG2 W{w} H{h} F{args.fps}:1 Ip A1:1 C420jpeg\n".encode())
        for n in range(args.frames):
            canvas = np.full((h, w, 3), 128, np.uint8)
            left = frame_position(n, travel, args.step)
            canvas[top : top + side, left : left + side] = photo
            if args.flash is not None and args.flash <= n < args.flash + FLASH_FRAMES:
                canvas[: h - BAR_HEIGHT] = 255
            for bit in range(BITS):
                value = 0 if (n >> bit) & 1 else 255
                canvas[h - BAR_HEIGHT :, bit * block : (bit + 1) * block] = value
            out.write(b"FRAME\n")
            out.write(rgb_to_i420(canvas))
            cx = left + FACE_CENTRE_IN_PHOTO[0] * scale
            cy = top + FACE_CENTRE_IN_PHOTO[1] * scale
            path.append({"frame": n, "x": cx / w, "y": cy / h})
    meta = {
        "width": w,
        "height": h,
        "fps": args.fps,
        "frames": args.frames,
        "faceStepPixels": args.step,
        "barcode": {"bits": BITS, "height": BAR_HEIGHT, "blockWidth": block, "blackIsOne": True},
        "path": path,
    }
    if args.flash is not None:
        meta["flash"] = {"frame": args.flash, "frames": FLASH_FRAMES, "beepHz": BEEP_HZ, "beepSeconds": BEEP_SECONDS}
        write_beep_wav(args.wav, args.frames / args.fps, args.flash / args.fps)
    with open(args.out.rsplit(".", 1)[0] + ".json", "w") as f:
        json.dump(meta, f)


if __name__ == "__main__":
    main()

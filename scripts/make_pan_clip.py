"""Writes the fake-camera clip for end-to-end tests: the astronaut photo panning across a grey canvas.

The face moves along a known path fast enough (FACE_STEP px per frame) that the result of a
neighbouring frame lands outside the accuracy tolerance, so a result drawn on the wrong frame is
caught. Each frame carries its own index as a bar code along the bottom edge (BITS blocks, black = 1),
so a page can read which clip frame it is displaying and look up the true face position. The path
and the code are described in a JSON side file next to the clip.

usage: make_pan_clip.py OUT.y4m PHOTO.png [--frames N] [--width W] [--height H]
"""

import argparse
import json

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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("photo")
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--photo-size", type=int, default=320, help="side of the scaled photo in px")
    ap.add_argument("--step", type=int, default=24, help="face movement per frame in px")
    args = ap.parse_args()

    w, h, side = args.width, args.height, args.photo_size
    assert w % 2 == 0 and h % 2 == 0 and args.frames <= 2**BITS
    photo = np.asarray(Image.open(args.photo).convert("RGB").resize((side, side), Image.BICUBIC))
    travel = w - side
    top = (h - BAR_HEIGHT - side) // 2
    scale = side / PHOTO_SIZE
    block = w // BITS
    path = []
    with open(args.out, "wb") as out:
        out.write(f"YUV4MPEG2 W{w} H{h} F30:1 Ip A1:1 C420jpeg\n".encode())
        for n in range(args.frames):
            canvas = np.full((h, w, 3), 128, np.uint8)
            left = frame_position(n, travel, args.step)
            canvas[top : top + side, left : left + side] = photo
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
        "fps": 30,
        "frames": args.frames,
        "faceStepPixels": args.step,
        "barcode": {"bits": BITS, "height": BAR_HEIGHT, "blockWidth": block, "blackIsOne": True},
        "path": path,
    }
    with open(args.out.rsplit(".", 1)[0] + ".json", "w") as f:
        json.dump(meta, f)


if __name__ == "__main__":
    main()

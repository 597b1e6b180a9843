#!/usr/bin/env bash
# Generates the git-ignored test media under fixtures/, idempotently (called from setup.sh).
#   fixtures/reflect-640x480.y4m: 4 s of ffmpeg's moving test pattern at 640x480@30, the fake
#   camera for the Chromium reflect tests (Chromium loops the file).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p fixtures
clip=fixtures/reflect-640x480.y4m
if [ ! -s "$clip" ]; then
    echo "[fixtures] generating $clip"
    ffmpeg -loglevel error -y -f lavfi -i testsrc2=size=640x480:rate=30 -t 4 -pix_fmt yuv420p "$clip.tmp.y4m"
    mv "$clip.tmp.y4m" "$clip"
fi

#   fixtures/pan.y4m + pan.json: the astronaut photo panning across a 640x480 canvas with a frame-index
#   bar code (scripts/make_pan_clip.py), the fake camera for the session tests; pan.json holds the
#   true face centre of every clip frame.
if [ ! -s fixtures/pan.y4m ] || [ ! -s fixtures/pan.json ]; then
    echo "[fixtures] generating fixtures/pan.y4m and fixtures/pan.json"
    .venv/bin/python scripts/make_pan_clip.py fixtures/pan.tmp.y4m models/astronaut.png
    mv fixtures/pan.tmp.json fixtures/pan.json
    mv fixtures/pan.tmp.y4m fixtures/pan.y4m
fi

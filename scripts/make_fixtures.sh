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
#   true face centre of every clip frame. 15 frames a second: on the 2-core machines tests run on,
#   Chromium, serve and the model share the CPU, and at 30 the model alone needs most of a core
#   (a clip made at another rate is made again).
PAN_FPS=15
is_current() { [ -s "$1.y4m" ] && [ -s "$1.json" ] && head -c 64 "$1.y4m" | grep -q " F$PAN_FPS:1 "; }
if ! is_current fixtures/pan; then
    echo "[fixtures] generating fixtures/pan.y4m and fixtures/pan.json"
    .venv/bin/python scripts/make_pan_clip.py fixtures/pan.tmp.y4m models/astronaut.png --fps "$PAN_FPS"
    mv fixtures/pan.tmp.json fixtures/pan.json
    mv fixtures/pan.tmp.y4m fixtures/pan.y4m
fi

#   fixtures/pan-flash.y4m + .json + .wav: the same pan, 60 frames long (a flash every 4 s), with clip
#   frame 30 white above the bar code and a beep starting with it (the fake camera and microphone of
#   the audio sync test).
if ! is_current fixtures/pan-flash || [ ! -s fixtures/pan-flash.wav ] || ! grep -q '"frames": 60,' fixtures/pan-flash.json; then
    echo "[fixtures] generating fixtures/pan-flash.y4m, .json and .wav"
    .venv/bin/python scripts/make_pan_clip.py fixtures/pan-flash.tmp.y4m models/astronaut.png \
        --fps "$PAN_FPS" --frames 60 --flash 30 --wav fixtures/pan-flash.tmp.wav
    mv fixtures/pan-flash.tmp.json fixtures/pan-flash.json
    mv fixtures/pan-flash.tmp.wav fixtures/pan-flash.wav
    mv fixtures/pan-flash.tmp.y4m fixtures/pan-flash.y4m
fi

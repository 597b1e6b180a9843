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

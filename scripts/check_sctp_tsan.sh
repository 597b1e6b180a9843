#!/usr/bin/env bash
# Runs RiverSCTP's tests under ThreadSanitizer, which checks the threading claims of the module
# (usrsctp's timer/iterator-thread callbacks hand off to the owner's queue without data races).
# Builds a throwaway package that contains only CUsrsctp, RiverSCTP and RiverSCTPTests (symlinked),
# so TSan does not have to rebuild SwiftNIO and Hummingbird.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/Sources" "$work/Tests"
ln -s "$root/Sources/CUsrsctp" "$work/Sources/CUsrsctp"
ln -s "$root/Sources/RiverSCTP" "$work/Sources/RiverSCTP"
ln -s "$root/Tests/RiverSCTPTests" "$work/Tests/RiverSCTPTests"
cat > "$work/Package.swift" <<'SWIFT'
// swift-tools-version:6.1
import PackageDescription
let package = Package(
    name: "sctptsan",
    targets: [
        .systemLibrary(name: "CUsrsctp", pkgConfig: "usrsctp"),
        .target(name: "RiverSCTP", dependencies: ["CUsrsctp"]),
        .testTarget(name: "RiverSCTPTests", dependencies: ["RiverSCTP"]),
    ],
    swiftLanguageModes: [.v6]
)
SWIFT
cd "$work"
swift build --build-tests --sanitize=thread
swift test --skip-build --sanitize=thread

#!/usr/bin/env bash
# Builds the libFuzzer package (Fuzz/), seeds its corpora and runs every target for SECONDS
# (default 60) each, one after another (the CI machine has 2 cores). Prints each target's final
# libFuzzer line and exits non-zero if any target found a crash, leak, timeout or out-of-memory;
# the input that did it is kept under Fuzz/artifacts/<target>/ (git-ignored), and reproduces with
#   SWIFT_BACKTRACE=enable=no Fuzz/.build/release/<target> Fuzz/artifacts/<target>/crash-…
# Safe to run again: corpora grow in the git-ignored Fuzz/corpus/ and seeds are rewritten.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
# target, corpus directory, dictionary (- for none). A target whose sources are gone is skipped.
targets=(
    "FuzzRTPPacket rtp -"
    "FuzzRTCPPacket rtcp -"
    "FuzzH264Depacketizer h264 -"
    "FuzzSDP sdp sdp.dict"
    "FuzzSTUN stun stun.dict"
    "FuzzDCEP dcep -"
    "FuzzBrokerWire wire wire.dict"
    "FuzzSCTPPacketCheck sctp -"
)

say() { printf '[fuzz] %s\n' "$*"; }

# The RTP and H264 seeds are cut from the clip fixtures that `make test`'s setup makes.
if [ ! -f fixtures/h264/clip-a.ffrtp ]; then
    say "making the H264 fixtures"
    ./scripts/make_h264_fixtures.sh
fi

cd Fuzz
start=$(date +%s)
say "building (release, -sanitize=fuzzer)"
swift build -c release -Xswiftc -sanitize=fuzzer -Xswiftc -parse-as-library
python3 make_seeds.py
say "built and seeded in $(($(date +%s) - start)) s"

# Let libFuzzer, not the Swift backtracer, report a crash and write its input.
export SWIFT_BACKTRACE=enable=no
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
failed=()
for entry in "${targets[@]}"; do
    read -r target corpus dict <<<"$entry"
    if [ ! -d "Sources/$target" ]; then
        say "$target: no sources, skipped"
        continue
    fi
    artifacts="artifacts/$target"
    mkdir -p "corpus/$corpus" "$artifacts"
    args=("corpus/$corpus" "-max_total_time=$seconds" -timeout=10 -rss_limit_mb=2048
        "-artifact_prefix=$artifacts/" -print_final_stats=0)
    [ "$dict" != "-" ] && args+=("-dict=$dict")
    status=0
    ".build/release/$target" "${args[@]}" >"$logs/$target.log" 2>&1 || status=$?
    final=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$logs/$target.log" | tail -n 1 || true)
    if [ "$status" -ne 0 ]; then
        failed+=("$target")
        say "$target: FAILED (exit $status); the end of its log:"
        tail -n 40 "$logs/$target.log"
        ls "$artifacts" | sed "s|^|[fuzz]   artifact: Fuzz/$artifacts/|"
    else
        say "$target: ${final:-no DONE line}"
    fi
done
say "finished in $(($(date +%s) - start)) s"
if [ "${#failed[@]}" -ne 0 ]; then
    say "findings in: ${failed[*]}"
    exit 1
fi

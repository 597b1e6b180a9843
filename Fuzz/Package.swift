// swift-tools-version:6.1
import PackageDescription

/// libFuzzer targets for river's packet and SDP parsers, kept out of the main package so its build and CI
/// never see `-sanitize=fuzzer`. `Sources/RiverRTP` and `Sources/RiverCore` are symlinks to the main
/// package's modules (the main package exports no library products to depend on); so is
/// `Sources/RiverSDP`.
///
///     cd Fuzz
///     swift build -c release -Xswiftc -sanitize=fuzzer -Xswiftc -parse-as-library
///     mkdir -p corpus/h264 && .build/release/FuzzH264Depacketizer corpus/h264 -max_total_time=300
///     mkdir -p corpus/rtp && .build/release/FuzzRTPPacket corpus/rtp -max_total_time=300
///     mkdir -p corpus/rtcp && .build/release/FuzzRTCPPacket corpus/rtcp -max_total_time=300
///     mkdir -p corpus/sdp && .build/release/FuzzSDP corpus/sdp -dict=sdp.dict -max_total_time=300
///
/// `FuzzDCEP` links RiverSCTP's DCEP parser and channel parameters (symlinks, no usrsctp),
/// `FuzzBrokerWire` RiverBroker's `Wire/` (no NIO or libzmq) and `FuzzSCTPPacketCheck` the check
/// before usrsctp, which needs only its CRC32c. `Sources/RiverICE`, `COpenSSL` and `CUsrsctp` are
/// symlinks too. `scripts/fuzz_all.sh` (from the repository root) builds, seeds and runs them all,
/// as CI does.
let package = Package(
    name: "river-fuzz",
    targets: [
        .target(name: "FuzzDriver"),
        .target(name: "RiverCore"),
        .target(name: "RiverRTP", dependencies: ["RiverCore"]),
        .executableTarget(name: "FuzzH264Depacketizer", dependencies: ["RiverRTP", "FuzzDriver"]),
        .executableTarget(name: "FuzzRTPPacket", dependencies: ["RiverRTP", "FuzzDriver"]),
        .executableTarget(name: "FuzzRTCPPacket", dependencies: ["RiverRTP", "FuzzDriver"]),
        .target(name: "RiverSDP"),
        .executableTarget(name: "FuzzSDP", dependencies: ["RiverSDP", "FuzzDriver"]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CUsrsctp", pkgConfig: "usrsctp", providers: [.apt(["libusrsctp-dev"])]),
        .target(name: "RiverICE", dependencies: ["RiverCore", "COpenSSL"]),
        .executableTarget(name: "FuzzSTUN", dependencies: ["RiverICE", "RiverCore", "FuzzDriver"]),
        .executableTarget(name: "FuzzDCEP", dependencies: ["FuzzDriver"]),
        .executableTarget(name: "FuzzBrokerWire", dependencies: ["RiverCore", "FuzzDriver"]),
        .executableTarget(name: "FuzzSCTPPacketCheck", dependencies: ["CUsrsctp", "FuzzDriver"]),
    ],
    swiftLanguageModes: [.v6]
)

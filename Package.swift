// swift-tools-version:6.1
import PackageDescription

/// river: near-real-time, frame-by-frame AI inference on live WebRTC video.
///
/// One module per concern (see DESIGN.md). Protocol cores are sans-IO; sockets live in
/// `RiverWebRTC`, `RiverBroker` and `RiverServe`. `C*` targets wrap system libraries.
let package = Package(
    name: "river",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "river", targets: ["river"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.29.0"),
    ],
    targets: [
        // MARK: C system libraries (module maps + static inline shims for C macros)
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CSRTP", pkgConfig: "libsrtp2", providers: [.apt(["libsrtp2-dev"])]),
        .systemLibrary(name: "CUsrsctp", pkgConfig: "usrsctp", providers: [.apt(["libusrsctp-dev"])]),
        .systemLibrary(
            name: "CFFmpeg", pkgConfig: "libavcodec",
            providers: [.apt(["libavcodec-dev", "libavformat-dev", "libavutil-dev", "libswscale-dev"])]),
        .systemLibrary(name: "CZMQ", pkgConfig: "libzmq", providers: [.apt(["libzmq3-dev"])]),
        /// ONNX Runtime is loaded with dlopen at run time; this target holds our own minimal
        /// declarations of the C API (never ORT's header) and the loader.
        .target(name: "CONNXRuntime", linkerSettings: [.linkedLibrary("dl")]),

        // MARK: Sans-IO cores
        .target(name: "RiverCore"),
        .target(name: "RiverRTP", dependencies: ["RiverCore"]),
        .target(name: "RiverSDP"),
        .target(name: "RiverICE", dependencies: ["RiverCore", "COpenSSL"]),
        .target(name: "RiverDTLS", dependencies: ["RiverCore", "COpenSSL"]),
        .target(name: "RiverSRTP", dependencies: ["CSRTP"]),
        .target(name: "RiverSCTP", dependencies: ["RiverCore", "CUsrsctp"]),
        .target(name: "RiverMedia", dependencies: ["RiverCore", "RiverRTP", "CFFmpeg"]),
        /// The result schema shared by the worker and serve: what a model found in a frame, and the
        /// per-frame message the page receives (docs/results.md). Foundation only.
        .target(name: "RiverResults", dependencies: ["RiverCore"]),
        .target(name: "RiverInference", dependencies: ["RiverCore", "RiverResults", "CONNXRuntime"]),
        /// One session engine (str0m's `Rtc` shape): ICE, DTLS, SRTP, the video relay, RTCP stages,
        /// inference scheduling and data channels, driven by `handle(input, now)` / `poll()`.
        .target(
            name: "RiverSession",
            dependencies: [
                "RiverCore", "RiverResults", "RiverRTP", "RiverICE", "RiverDTLS", "RiverSRTP", "RiverSCTP",
            ]),

        // MARK: I/O shells and composition
        .target(
            name: "RiverWebRTC",
            dependencies: [
                "RiverCore", "RiverRTP", "RiverSDP", "RiverICE", "RiverDTLS", "RiverSRTP", "RiverSCTP",
                "RiverSession",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .target(
            name: "RiverBroker",
            dependencies: ["RiverCore", "CZMQ", .product(name: "Logging", package: "swift-log")]),
        .target(
            name: "RiverServe",
            dependencies: [
                "RiverCore", "RiverRTP", "RiverWebRTC", "RiverMedia", "RiverResults", "RiverBroker",
                "RiverSDP", "RiverDTLS", "RiverSCTP", "RiverSession", "COpenSSL",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("App")]),
        .executableTarget(
            name: "river",
            dependencies: [
                "RiverCore", "RiverMedia", "RiverInference", "RiverResults", "RiverBroker", "RiverWebRTC",
                "RiverServe", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]),

        // MARK: Benchmarks (print side-by-side ratios; see README)
        .executableTarget(
            name: "InferenceBenchmark", dependencies: ["RiverCore", "RiverInference", "RiverMedia"],
            path: "Benchmarks/InferenceBenchmark"),
        /// Broker throughput and latency, direct vs through the proxy (see README, Benchmarks).
        .executableTarget(
            name: "BrokerBenchmark",
            dependencies: [
                "RiverBroker", "RiverCore", "CZMQ", .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/BrokerBenchmark"),
        .executableTarget(
            name: "WebRTCBenchmark", dependencies: ["RiverDTLS", "RiverSRTP", "RiverRTP"],
            path: "Benchmarks/WebRTCBenchmark"),
        .executableTarget(
            name: "DecodeBenchmark", dependencies: ["RiverCore", "RiverRTP", "RiverMedia"],
            path: "Benchmarks/DecodeBenchmark"),
        .executableTarget(
            name: "SCTPBenchmark", dependencies: ["RiverSCTP"], path: "Benchmarks/SCTPBenchmark"),
        /// K synthetic WebRTC sessions against real `river serve --proxy`/`proxy`/`onnx --echo`
        /// processes: serve's CPU, wakeups and RSS per session, two binaries side by side.
        .executableTarget(
            name: "ServeBenchmark",
            dependencies: ["RiverICE", "RiverDTLS", "RiverSRTP", "RiverSCTP", "RiverRTP", "RiverSDP"],
            path: "Benchmarks/ServeBenchmark"),

        // MARK: Tests (swift-testing), one target per module, plus end-to-end tests of the binary
        /// Helpers shared by test targets (seeded randomness, the H264 clips, generated models, the
        /// broker on real sockets, `river` processes).
        .target(
            name: "RiverTestSupport",
            dependencies: ["RiverRTP", "RiverBroker", "RiverInference", "RiverMedia"],
            path: "Tests/RiverTestSupport"),
        .testTarget(name: "RiverCoreTests", dependencies: ["RiverCore"]),
        .testTarget(name: "RiverRTPTests", dependencies: ["RiverTestSupport", "RiverRTP"]),
        .testTarget(
            name: "RiverSDPTests", dependencies: ["RiverTestSupport", "RiverSDP"],
            resources: [.copy("Fixtures")]),
        .testTarget(name: "RiverICETests", dependencies: ["RiverTestSupport", "RiverICE"]),
        .testTarget(
            name: "RiverSessionTests",
            dependencies: ["RiverTestSupport", "RiverSession", "RiverRTP", "RiverICE"]),
        .testTarget(name: "RiverDTLSTests", dependencies: ["RiverDTLS", "RiverSRTP"]),
        .testTarget(name: "RiverSCTPTests", dependencies: ["RiverTestSupport", "RiverSCTP"]),
        .testTarget(
            name: "RiverMediaTests", dependencies: ["RiverTestSupport", "RiverMedia", "RiverRTP", "CFFmpeg"]),
        .testTarget(
            name: "RiverInferenceTests", dependencies: ["RiverTestSupport", "RiverInference", "RiverMedia"]),
        .testTarget(
            name: "RiverBrokerTests",
            dependencies: [
                "RiverTestSupport", "RiverBroker", "RiverMedia",
                .product(name: "NIOCore", package: "swift-nio"),
            ]),
        .testTarget(
            name: "RiverWebRTCTests",
            dependencies: [
                "RiverWebRTC", "RiverDTLS", "RiverSRTP", "RiverRTP", "RiverICE", "RiverSession", "RiverSCTP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]),
        .testTarget(
            name: "RiverServeTests",
            dependencies: [
                "RiverServe", "RiverBroker", "RiverRTP", "RiverCore", "RiverInference", "RiverTestSupport",
                "RiverSession",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]),
        /// End-to-end: the built `river` binary against real browsers and real sockets.
        .testTarget(
            name: "RiverEndToEndTests",
            dependencies: ["RiverCore", "RiverSDP", "RiverResults", "RiverTestSupport"]),
        /// End-to-end without a browser: `river proxy`, `onnx`, `infer` as processes.
        .testTarget(
            name: "RiverProcessTests",
            dependencies: ["RiverTestSupport", "RiverBroker", "RiverCore", "RiverInference", "RiverMedia"]),
    ],
    swiftLanguageModes: [.v6]
)

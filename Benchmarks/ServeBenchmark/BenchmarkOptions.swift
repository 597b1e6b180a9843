import Foundation

/// Command-line options (see the README's Benchmarks section).
struct BenchmarkOptions {
    var baseline: String?
    var candidate: String?
    var sessions = [1, 4, 16]
    var seconds = 10
    /// Streaming before the window opens; nil: the delay plus one second, so the window also
    /// covers the delayed video going out, not only the frames coming in.
    var warmup: Double?
    var idleSeconds = 3
    var delay = "3s"
    var workerSlots = 16
    var rounds = 1
    var clip: String
    /// `--soak N`: N connect/disconnect cycles against one serve instead of the K measurements.
    var soakCycles: Int?
    /// `--attack KIND --port HTTP`: one hostile session against a serve already running (see
    /// `HostilePeer`), for AttackEndToEndTests.
    var attack: String?
    var port: Int?
    /// `--every N`: with `--attack stream`, a frame every N frame intervals.
    var every = 1

    static let usage = """
        usage: ServeBenchmark --candidate PATH [--baseline PATH] [--sessions 1,4,16] [--seconds 10]
                              [--warmup SECONDS] [--idle-seconds 3] [--delay 3s] [--worker-slots 16]
                              [--rounds 1] [--clip fixtures/h264/clip-a.h264] [--soak CYCLES]
               ServeBenchmark --attack KIND --port HTTP [--seconds 10] [--delay 3s] [--clip PATH] [--every N]
        PATH is a `river` binary; with both, each figure is measured for both in alternation and
        printed with the ratio candidate/baseline. --soak runs CYCLES WHIP sessions one after another
        against one serve of the candidate (each connects ICE, DTLS and SCTP, streams 0.3 s, and
        closes) and prints serve's RSS, open files and threads before and after. --attack streams
        the clip to the serve at 127.0.0.1:HTTP and, after a 3 s warm-up, misbehaves for --seconds
        (KIND: nack-flood, no-marker, spoofed-nomination, many-channels, garbage, never-ack,
        tcp-no-read, stream; see HostilePeer.swift); it prints one JSON line of what it saw.
        """

    struct Invalid: Error, CustomStringConvertible {
        var description: String
    }

    init(arguments: [String], repositoryRoot: URL) throws {
        clip = repositoryRoot.appendingPathComponent("fixtures/h264/clip-a.h264").path
        var rest = arguments[...]
        func value(_ flag: String) throws -> String {
            guard let next = rest.popFirst() else { throw Invalid(description: "\(flag) needs a value") }
            return next
        }
        func number(_ flag: String) throws -> Int {
            let text = try value(flag)
            guard let n = Int(text), n > 0 else {
                throw Invalid(description: "\(flag): not a positive number: \(text)")
            }
            return n
        }
        while let flag = rest.popFirst() {
            switch flag {
            case "--baseline": baseline = try value(flag)
            case "--candidate": candidate = try value(flag)
            case "--sessions":
                let text = try value(flag)
                sessions = text.split(separator: ",").compactMap { Int($0) }.filter { $0 > 0 }
                guard !sessions.isEmpty else {
                    throw Invalid(description: "--sessions: expected e.g. 1,4,16")
                }
            case "--seconds": seconds = try number(flag)
            case "--warmup":
                let text = try value(flag)
                guard let w = Double(text), w >= 0 else { throw Invalid(description: "--warmup: \(text)") }
                warmup = w
            case "--idle-seconds": idleSeconds = try number(flag)
            case "--delay": delay = try value(flag)
            case "--worker-slots": workerSlots = try number(flag)
            case "--rounds": rounds = try number(flag)
            case "--clip": clip = try value(flag)
            case "--soak": soakCycles = try number(flag)
            case "--attack": attack = try value(flag)
            case "--port": port = try number(flag)
            case "--every": every = try number(flag)
            case "-h", "--help": throw Invalid(description: Self.usage)
            default: throw Invalid(description: "unknown argument \(flag)\n\(Self.usage)")
            }
        }
        if let attack {
            guard HostilePeer.kinds.contains(attack), port != nil else {
                throw Invalid(description: Self.usage)
            }
            return
        }
        guard baseline != nil || candidate != nil else { throw Invalid(description: Self.usage) }
        for path in [baseline, candidate].compactMap({ $0 })
        where !FileManager.default.isExecutableFile(atPath: path) {
            throw Invalid(description: "\(path) is not an executable river binary")
        }
        guard delayMilliseconds != nil else {
            throw Invalid(
                description: "--delay: a fixed duration like 3s, 800ms or 0 (results are matched by it)")
        }
    }

    /// `--delay` in milliseconds: `3s`, `800ms`, `1.5s`, `0`.
    var delayMilliseconds: Int? {
        if delay == "0" { return 0 }
        if delay.hasSuffix("ms") { return Int(delay.dropLast(2)) }
        if delay.hasSuffix("s"), let s = Double(delay.dropLast()) { return Int((s * 1000).rounded()) }
        return nil
    }

    var warmupSeconds: Double { warmup ?? Double(delayMilliseconds ?? 0) / 1000 + 1 }
}

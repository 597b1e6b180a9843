import Foundation

/// serve's cost per WebRTC session, measured from outside: K synthetic browsers (river's own
/// ICE, DTLS, SRTP and SCTP cores as the client) stream a recorded 640×480@30 1 Mbit/s H264 clip
/// at real time to `river serve --proxy`, with `river proxy` and an echo worker behind it, all
/// started from the given `river` binaries on free loopback ports.
///
///     swift build -c release --product ServeBenchmark --product river
///     .build/release/ServeBenchmark --baseline ../river-old/.build/release/river \
///         --candidate .build/release/river [--sessions 1,4,16] [--seconds 10]
///
/// For each K it prints serve's CPU per stream (utime+stime over stream-seconds), context
/// switches per second (idle, and per session under load) summed over serve's threads, RSS per
/// session (VmRSS under load minus idle, over K), and the fraction of frames whose result message
/// reached the client. With two binaries each measurement runs for both in alternation (order
/// swapped from one to the next) so the machine's drift hits both alike, and ratios are
/// candidate/baseline. Linux only: the figures come from `/proc`.
@main
struct ServeBenchmark {
    static func main() {
        var root = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { root.deleteLastPathComponent() }
        let options: BenchmarkOptions
        do {
            options = try BenchmarkOptions(
                arguments: Array(CommandLine.arguments.dropFirst()), repositoryRoot: root)
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            exit(2)
        }
        // A send to a session serve already closed must not kill the benchmark.
        signal(SIGPIPE, SIG_IGN)
        do {
            try run(options)
        } catch {
            FileHandle.standardError.write(Data("ServeBenchmark: \(error)\n".utf8))
            exit(1)
        }
    }

    static func run(_ options: BenchmarkOptions) throws {
        let clip = try ClipPackets(path: options.clip, payloadType: SyntheticOffer.payloadType)
        if let attack = options.attack, let port = options.port {
            return try HostilePeer.run(
                kind: attack, port: port, seconds: options.seconds,
                delayMilliseconds: options.delayMilliseconds ?? 0, every: options.every, clip: clip)
        }
        if let cycles = options.soakCycles {
            guard let binary = options.candidate else {
                throw BenchmarkOptions.Invalid(description: "--soak needs --candidate")
            }
            return try Soak.run(binary: binary, cycles: cycles, options: options, clip: clip)
        }
        var binaries: [(label: String, path: String)] = []
        if let baseline = options.baseline { binaries.append(("baseline", baseline)) }
        if let candidate = options.candidate { binaries.append(("candidate", candidate)) }
        print(
            "ServeBenchmark: \(clip.frames.count) frames, \(clip.packetCount) RTP packets per loop, "
                + "\(clip.bitrate / 1000) kbit/s at 30 fps; delay \(options.delay), warm-up "
                + String(format: "%.1f", options.warmupSeconds) + " s, window \(options.seconds) s, "
                + "echo worker with \(options.workerSlots) slots")
        for (label, path) in binaries { print("  \(label): \(path)") }
        let runner = MeasurementRun(options: options, clip: clip)
        var order = 0
        for k in options.sessions {
            var results: [String: [Measurement]] = [:]
            for _ in 0..<options.rounds {
                let turn = order % 2 == 0 ? binaries : binaries.reversed()
                order += 1
                for (label, path) in turn {
                    results[label, default: []].append(try runner.run(binary: path, sessions: k))
                }
            }
            let columns = binaries.map { ($0.label, median(results[$0.label] ?? [])) }
            Report.print(k: k, columns: columns, seconds: options.seconds)
        }
    }

    /// Per-figure medians over rounds (the first round's counts and statuses are kept).
    static func median(_ runs: [Measurement]) -> Measurement {
        guard var m = runs.first, runs.count > 1 else { return runs[0] }
        func mid(_ f: (Measurement) -> Double) -> Double { runs.map(f).sorted()[runs.count / 2] }
        m.cpuPercentPerStream = mid(\.cpuPercentPerStream)
        m.idleWakeupsPerSecond = mid(\.idleWakeupsPerSecond)
        m.wakeupsPerSecondPerSession = mid(\.wakeupsPerSecondPerSession)
        m.loadWakeupsPerSecond = mid(\.loadWakeupsPerSecond)
        m.voluntaryWakeupsPerSecondPerSession = mid(\.voluntaryWakeupsPerSecondPerSession)
        m.clientCPUPercentPerStream = mid(\.clientCPUPercentPerStream)
        m.rssPerSessionBytes = mid(\.rssPerSessionBytes)
        return m
    }
}

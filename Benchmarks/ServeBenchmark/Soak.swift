import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `--soak N`: N sessions one after another against one `river serve --proxy`, each a real
/// connect (WHIP POST, ICE, DTLS, SCTP), 0.3 s of video and a WHIP DELETE, then what serve holds
/// afterwards against what it held after a short warm-up: RSS, open files and threads. A leak of
/// a few hundred bytes a session shows here as growth; a leaked fd or thread as a count that
/// does not come back.
enum Soak {
    static func run(binary: String, cycles: Int, options: BenchmarkOptions, clip: ClipPackets) throws {
        // Admission must not slow the soak down: every offer comes from 127.0.0.1.
        let stack = try RiverStack(
            binary: binary,
            options: .init(
                delay: options.delay, workerSlots: options.workerSlots,
                serveArguments: RiverStack.admissionLifted(binary)))
        defer { stack.stop() }
        let pid = stack.serve.pid
        let delayTicks = UInt32((options.delayMilliseconds ?? 0) * 90)
        func cycle() throws {
            let load = try LoadGenerator(count: 1, clip: clip, delayTicks: delayTicks)
            defer { load.stop() }
            try load.connect(httpPort: stack.httpPort, timeout: .seconds(10))
            usleep(300_000)
            if let location = load.sessions[0].queue.sync(execute: { load.sessions[0].location }) {
                let ended = try WHIPClient.request("DELETE", location, port: stack.httpPort)
                guard ended.status == 200 else {
                    throw WHIPClient.Failure(description: "DELETE \(location) answered \(ended.status)")
                }
            }
        }
        func settled() -> (sample: ProcessSample, files: Int) {
            // Sessions end and serve trims its heap 1 s after the last one.
            usleep(2_500_000)
            let files = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
            return (ProcessSample.read(pid: pid)!, files)
        }
        let warmup = min(20, max(1, cycles / 20))
        for _ in 0..<warmup { try cycle() }
        let before = settled()
        let start = ContinuousClock.now
        for i in 0..<cycles {
            try cycle()
            if (i + 1) % 100 == 0 { print("  soak: \(i + 1) of \(cycles) cycles") }
        }
        let took = ContinuousClock.now - start
        let after = settled()
        let growth =
            Double(after.sample.rssBytes - before.sample.rssBytes) / Double(before.sample.rssBytes) * 100
        print(
            String(
                format:
                    "soak: %d cycles in %.0f s after %d warm-up; serve RSS %.1f → %.1f MiB (%+.2f %%), open files %d → %d, threads %d → %d",
                cycles, Double(took.components.seconds), warmup, Double(before.sample.rssBytes) / 1_048_576,
                Double(after.sample.rssBytes) / 1_048_576, growth, before.files, after.files,
                before.sample.threads,
                after.sample.threads))
    }
}

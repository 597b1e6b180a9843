import Foundation

/// serve's figures for one binary at one session count K.
struct Measurement {
    var sessions: Int
    /// Process CPU time over stream-seconds, in % of one core.
    var cpuPercentPerStream: Double
    /// The load generator's own CPU time (this process) over stream-seconds: what the synthetic
    /// browsers cost on the same cores, to judge how much they crowd serve.
    var clientCPUPercentPerStream: Double
    /// Context switches per second over all of serve's threads, with no session.
    var idleWakeupsPerSecond: Double
    /// Context switches per second under load, less the idle rate, per session.
    var wakeupsPerSecondPerSession: Double
    var loadWakeupsPerSecond: Double
    /// Like ``wakeupsPerSecondPerSession``, voluntary switches only.
    var voluntaryWakeupsPerSecondPerSession: Double
    var rssPerSessionBytes: Double
    var idleRSSBytes: Int
    var idleThreads: Int
    var loadThreads: Int
    var frames: Int
    var results: Int
    var statuses: [String: Int]

    var resultFraction: Double { frames == 0 ? 0 : Double(results) / Double(frames) }
}

/// One measurement: a fresh stack (so every K starts from serve's ready state), its idle
/// figures, then K sessions, a warm-up and the window.
struct MeasurementRun {
    let options: BenchmarkOptions
    let clip: ClipPackets

    func run(binary: String, sessions k: Int) throws -> Measurement {
        let stack = try RiverStack(
            binary: binary,
            options: .init(
                delay: options.delay, workerSlots: options.workerSlots,
                serveArguments: RiverStack.admissionLifted(binary)))
        defer { stack.stop() }
        let pid = stack.serve.pid
        func sample() throws -> ProcessSample {
            try stack.checkRunning()
            guard let s = ProcessSample.read(pid: pid) else {
                throw SpawnedProcess.Failure(description: "cannot read /proc/\(pid)")
            }
            return s
        }
        // Let the worker's READY reach the proxy and serve's start-up settle before counting.
        Thread.sleep(forTimeInterval: 1)
        let idleStart = try sample()
        Thread.sleep(forTimeInterval: Double(options.idleSeconds))
        let idleEnd = try sample()
        let idleRate =
            Double(idleEnd.contextSwitches - idleStart.contextSwitches) / seconds(idleStart, idleEnd)
        let idleVoluntaryRate =
            Double(idleEnd.voluntarySwitches - idleStart.voluntarySwitches) / seconds(idleStart, idleEnd)

        let delayTicks = UInt32((options.delayMilliseconds ?? 0) * 90)
        let load = try LoadGenerator(count: k, clip: clip, delayTicks: delayTicks)
        defer { load.stop() }
        try load.connect(httpPort: stack.httpPort, timeout: .seconds(30))
        Thread.sleep(forTimeInterval: options.warmupSeconds)

        load.markWindowStart()
        let start = try sample()
        let clientStart = Self.ownCPUSeconds()
        let end0 = ContinuousClock.now + .seconds(options.seconds)
        while ContinuousClock.now < end0 {
            Thread.sleep(forTimeInterval: min(1, max(0, seconds(ContinuousClock.now, end0))))
            try stack.checkRunning()
        }
        let end = try sample()
        let clientEnd = Self.ownCPUSeconds()
        load.markWindowEnd()
        // Results for the window's last frames are still on their way.
        Thread.sleep(forTimeInterval: 1)
        let counts = load.windowCounts()
        load.stop()

        let window = seconds(start, end)
        let loadRate = Double(end.contextSwitches - start.contextSwitches) / window
        let loadVoluntaryRate = Double(end.voluntarySwitches - start.voluntarySwitches) / window
        return Measurement(
            sessions: k,
            cpuPercentPerStream: (end.cpuSeconds - start.cpuSeconds) / (window * Double(k)) * 100,
            clientCPUPercentPerStream: (clientEnd - clientStart) / (window * Double(k)) * 100,
            idleWakeupsPerSecond: idleRate,
            wakeupsPerSecondPerSession: (loadRate - idleRate) / Double(k),
            loadWakeupsPerSecond: loadRate,
            voluntaryWakeupsPerSecondPerSession: (loadVoluntaryRate - idleVoluntaryRate) / Double(k),
            rssPerSessionBytes: Double(end.rssBytes - idleEnd.rssBytes) / Double(k),
            idleRSSBytes: idleEnd.rssBytes, idleThreads: idleEnd.threads, loadThreads: end.threads,
            frames: counts.frames, results: counts.results, statuses: counts.statuses)
    }

    /// This process's user + system CPU time, seconds.
    static func ownCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    private func seconds(_ a: ProcessSample, _ b: ProcessSample) -> Double { seconds(a.at, b.at) }
    private func seconds(_ a: ContinuousClock.Instant, _ b: ContinuousClock.Instant) -> Double {
        let (s, atto) = (b - a).components
        return Double(s) + Double(atto) / 1e18
    }
}

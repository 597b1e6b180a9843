import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `river up` as a user runs it: the page, health and metrics, and the life of its children. No
/// browser here (see SessionEndToEndTests), but each test starts a model worker: they take the
/// browser slot so their start-up burst never lands in a browser test's measurements.
@Suite(.serialized) struct UpEndToEndTests {
    @Test func upServesThePageHealthAndMetrics() async throws {
        try await BrowserSlot.shared.hold { try await servesThePageHealthAndMetrics() }
    }

    func servesThePageHealthAndMetrics() async throws {
        let up = try await UpProcess(["--delay", "2s"])
        defer { up.stop() }
        #expect(up.pids.keys.sorted() == ["onnx", "proxy", "serve"], "\(up.pids)")
        let page = try await up.get("/")
        #expect(page.status == 200)
        #expect(page.contentType.hasPrefix("text/html"), "\(page.contentType)")
        #expect(page.body.contains("<script type=\"module\" src=\"app.js\">"))
        for module in [
            "app.js", "view.js", "connection.js", "results.js", "overlay.js", "stats.js", "probe.js",
        ] {
            let file = try await up.get("/\(module)")
            #expect(file.status == 200, "\(module)")
            // Browsers refuse module scripts served with any other type.
            #expect(file.contentType.hasPrefix("text/javascript"), "\(module): \(file.contentType)")
        }
        #expect(try await up.get("/style.css").contentType.hasPrefix("text/css"))
        #expect(try await up.get("/nosuchfile.js").status == 404)
        #expect(try await up.get("/..%2FPackage.swift").status == 404)
        let health = try await up.get("/healthz")
        #expect(health.status == 200, "\(health.body)")
        let ready = try await up.get("/readyz")
        #expect(ready.status == 200 && ready.body.contains("\"workers\": 1"), "\(ready.body)")
        let metrics = try await up.get("/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.contentType.hasPrefix("text/plain"), "\(metrics.contentType)")
        for name in [
            "river_sessions", "river_frames_received_total", "river_workers_alive", "river_delay_seconds",
        ] {
            #expect(metrics.body.contains(name), "\(name) missing from /metrics:\n\(metrics.body)")
        }
    }

    @Test func upFailsWithTheWorkersMessageWhenTheModelIsMissing() async throws {
        try await BrowserSlot.shared.hold { try await failsWithTheWorkersMessage() }
    }

    func failsWithTheWorkersMessage() async throws {
        let up = try ChildProcess(
            try riverBinary(),
            ["up", "--http-port", "0", "--udp-port", "0", "--model", "no/such/model.onnx"])
        defer { up.stop() }
        let status = await up.waitForExit(timeout: .seconds(60))
        let output = up.output
        #expect(status != nil && status != 0, "river up should fail: \(output)")
        #expect(output.contains("onnx exited"), "\(output)")
        #expect(output.contains("no/such/model.onnx"), "the worker's own message is missing:\n\(output)")
        #expect(!output.contains("river up: http://"))
    }

    @Test(arguments: [SIGTERM, SIGINT, SIGKILL])
    func upChildrenEndWithIt(signal: Int32) async throws {
        try await BrowserSlot.shared.hold { try await childrenEnd(signal: signal) }
    }

    func childrenEnd(signal: Int32) async throws {
        let up = try await UpProcess(["--delay", "1s"])
        defer { up.stop() }
        let children = Array(up.pids.values)
        #expect(children.count == 3)
        #expect(children.allSatisfy(processAlive))
        kill(up.child.process.processIdentifier, signal)
        // SIGKILL gives river up no chance to act: the children notice their lifeline close.
        let gone = try await eventually(timeout: .seconds(20)) { !children.contains(where: processAlive) }
        #expect(gone, "children still alive after signal \(signal): \(children.filter(processAlive))")
        for pid in children where processAlive(pid) { kill(pid, SIGKILL) }
    }

    /// systemd's stop (KillMode=control-group) and a terminal's Ctrl-C signal `up` and every child
    /// at once: the children stopping by themselves meanwhile is no failure.
    @Test(arguments: [SIGTERM, SIGINT])
    func upStopsCleanlyWhenEveryProcessIsSignalledAtOnce(signal: Int32) async throws {
        try await BrowserSlot.shared.hold { try await stopsCleanlyWhenAllAreSignalled(signal) }
    }

    func stopsCleanlyWhenAllAreSignalled(_ signal: Int32) async throws {
        let up = try await UpProcess(["--delay", "1s"])
        defer { up.stop() }
        let children = Array(up.pids.values)
        #expect(children.count == 3)
        for pid in [up.child.process.processIdentifier] + children { kill(pid, signal) }
        let status = await up.child.waitForExit(timeout: .seconds(20))
        #expect(status == 0, "river up exited with \(String(describing: status)):\n\(up.child.output)")
        #expect(up.child.process.terminationReason == .exit)
        #expect(!up.child.output.contains("exited with status"), "\(up.child.output)")
        let gone = try await eventually(timeout: .seconds(10)) { !children.contains(where: processAlive) }
        #expect(gone, "children still alive: \(children.filter(processAlive))")
        for pid in children where processAlive(pid) { kill(pid, SIGKILL) }
    }

    @Test func upRestartsAWorkerThatDies() async throws {
        try await BrowserSlot.shared.hold { try await restartsAWorker() }
    }

    func restartsAWorker() async throws {
        let up = try await UpProcess(["--delay", "1s"])
        defer { up.stop() }
        let upPID = up.child.process.processIdentifier
        func openFiles() -> Int {
            (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(upPID)/fd").count) ?? -1
        }
        let before = openFiles()
        var worker = try #require(up.pids["onnx"])
        // Twice: the second restart waits longer (back-off), and neither leaves an fd behind.
        for (round, wait) in [(1, "1 s"), (2, "2 s")] {
            kill(worker, SIGKILL)
            let restarted = try await eventually(timeout: .seconds(30)) {
                up.child.output.components(separatedBy: "river up: worker restarted pid=").count == round + 1
            }
            #expect(restarted, "\(up.child.output)")
            #expect(up.child.output.contains("restarting in \(wait)"), "\(up.child.output)")
            let line = up.child.output.components(separatedBy: "river up: worker restarted pid=").last ?? ""
            worker = try #require(Int32(line.prefix { $0.isNumber }))
            // Let the new worker get ready before the next kill.
            try await Task.sleep(for: .seconds(2))
        }
        #expect(
            openFiles() == before,
            "river up's open files: \(before) before, \(openFiles()) after two restarts")
        #expect(up.child.process.isRunning)
        #expect(processAlive(try #require(up.pids["serve"])))
    }

    /// Even on one host, up's proxy is CURVE with keys up made for its own children: a local
    /// process that connects to its backend without one of them never registers, so it is sent
    /// no frames.
    @Test func aStrangerOnUpsBackendGetsNoFrames() async throws {
        try await BrowserSlot.shared.hold { try await strangerGetsNoFrames() }
    }

    func strangerGetsNoFrames() async throws {
        let up = try await UpProcess(["--delay", "1s"])
        defer { up.stop() }
        func workersAlive() async throws -> Int? {
            let metrics = try await up.get("/metrics").body
            let line = metrics.split(separator: "\n").first { $0.hasPrefix("river_workers_alive ") }
            return line.flatMap { Double($0.split(separator: " ").last ?? "") }.map { Int($0) }
        }
        // serve learns the workers behind the proxy at each heartbeat (1 s).
        var alive: Int?
        for _ in 0..<50 where alive != 1 {
            alive = try await workersAlive()
            try await Task.sleep(for: .milliseconds(200))
        }
        try #require(alive == 1, "up's own worker did not register")
        let stranger = try ChildProcess(
            try riverBinary(),
            ["onnx", "--connect", up.backend, "--echo", "--slots", "8", "--name", "stranger"])
        defer { stranger.stop() }
        try await Task.sleep(for: .seconds(3))
        #expect(stranger.process.isRunning, "\(stranger.output)")
        #expect(try await workersAlive() == 1, "the stranger registered with up's proxy")
    }
}

import Foundation
import RiverBroker
import RiverTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Failure tests with real processes: `river onnx` workers killed with SIGKILL, `river proxy`
/// killed and started again. Every process is stopped by PID in a `defer`.
@Suite(.serialized) struct BrokerProcessTests {
    /// Echo workers as `river onnx` processes.
    private func startWorkers(_ count: Int, backend: String, heartbeatMs: Int, delayMs: Int) throws
        -> [RiverProcess]
    {
        try (0..<count).map { index in
            try RiverProcess([
                "onnx", "--connect", backend, "--echo", "--echo-delay-ms", "\(delayMs)", "--slots", "2",
                "--name", "w\(index)", "--heartbeat-ms", "\(heartbeatMs)",
            ])
        }
    }

    @Test func killingAWorkerUnderLoadLosesNothing() async throws {
        let proxy = try BrokerProxy(
            frontend: "tcp://127.0.0.1:*", backend: "tcp://127.0.0.1:*",
            configuration: ProxyConfiguration(heartbeatInterval: .milliseconds(200), liveness: 3),
            statsInterval: nil)
        defer { proxy.stop() }
        let workers = try startWorkers(2, backend: proxy.backendEndpoint, heartbeatMs: 200, delayMs: 20)
        defer { for worker in workers { worker.stop() } }
        let client = BrokerClient(
            connect: proxy.frontendEndpoint, configuration: ClientConfiguration(timeoutGrace: .seconds(1)))
        defer { client.close() }
        try #require(await waitUntil { proxy.counters.freeSlots == 4 }, "workers did not register")

        let budget = Duration.milliseconds(1500)
        let loadEnd = ContinuousClock.now + .milliseconds(2500)
        let killAt = ContinuousClock.now + .milliseconds(700)
        async let killer: Void = {
            try? await Task.sleep(until: killAt)
            kill(workers[0].pid, SIGKILL)
        }()
        // Six callers against four slots: the victim always holds requests when it dies.
        let outcomes = await withTaskGroup(of: [(Outcome, Duration, Bool)].self) { group in
            for _ in 0..<6 {
                group.addTask {
                    var seen: [(Outcome, Duration, Bool)] = []
                    while ContinuousClock.now < loadEnd {
                        let (result, elapsed) = await client.attempt(budget: budget)
                        seen.append((Outcome(result), elapsed, ContinuousClock.now > killAt))
                    }
                    return seen
                }
            }
            return await group.reduce(into: []) { $0 += $1 }
        }
        await killer

        let replies = outcomes.filter { if case .reply = $0.0 { return true } else { return false } }
        let errors = outcomes.filter { if case .rejected = $0.0 { return true } else { return false } }
        // Every call ended with a REPLY or an explicit ERROR, none by the client's own timeout,
        // and none later than its deadline (plus scheduling slack on a busy machine).
        #expect(
            replies.count + errors.count == outcomes.count,
            "\(outcomes.map(\.0).filter { if case .reply = $0 { false } else { true } })")
        for (outcome, elapsed, _) in outcomes {
            #expect(elapsed < budget + .milliseconds(500), "\(outcome) took \(elapsed)")
        }
        #expect(replies.filter(\.2).count > 0, "the surviving worker kept serving after the kill")
        #expect(await waitUntil { client.counters.sent == outcomes.count })
        let counters = client.counters
        #expect(counters.sent == counters.answered + counters.expired + counters.failed + counters.timedOut)
        #expect(counters.timedOut == 0)
        // The proxy noticed the death from the closed connection, before any heartbeat was
        // missed, and re-dispatched what the victim held.
        #expect(proxy.counters.workersExpired == 0)
        #expect(proxy.counters.redispatched >= 1)
        #expect(proxy.counters.workersAlive == 1)
    }

    @Test func proxyRestartUnderLoadResumesWithinTwoSeconds() async throws {
        let frontend = "tcp://127.0.0.1:\(try freePort())"
        let backend = "tcp://127.0.0.1:\(try freePort())"
        let proxyArguments = [
            "proxy", "--frontend", frontend, "--backend", backend, "--heartbeat-ms", "1000",
        ]
        var proxy = try RiverProcess(proxyArguments)
        defer { proxy.stop() }
        let workers = try startWorkers(2, backend: backend, heartbeatMs: 1000, delayMs: 5)
        defer { for worker in workers { worker.stop() } }
        let client = BrokerClient(
            connect: frontend)
        defer { client.close() }

        // Four callers in a loop; failures (proxy down) are retried after a short pause.
        let running = ManagedAtomicFlag()
        let load = Task {
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        while running.isSet {
                            let (result, _) = await client.attempt(budget: .milliseconds(500))
                            if case .failure = result { try? await Task.sleep(for: .milliseconds(10)) }
                        }
                    }
                }
            }
        }
        defer { running.clear() }
        try #require(await waitUntil { client.counters.answered >= 50 }, "no traffic before the restart")

        kill(proxy.pid, SIGKILL)
        proxy.stop()
        let answeredAtKill = client.counters.answered
        try await Task.sleep(for: .milliseconds(300))
        let stalled = client.counters.answered
        #expect(stalled - answeredAtKill < 8, "replies while the proxy was down")

        proxy = try RiverProcess(proxyArguments)
        let restartedAt = ContinuousClock.now
        let resumed = await waitUntil(.seconds(5)) { client.counters.answered >= stalled + 20 }
        let took = ContinuousClock.now - restartedAt
        #expect(resumed)
        #expect(took < .seconds(2), "client resumed \(took) after the proxy restarted")
        running.clear()
        await load.value
    }
}

extension BrokerProcessTests {
    /// An idle proxy is quiet: its counters line comes again only when a figure changed.
    @Test func anIdleProxyLogsItsCountersOnce() async throws {
        let process = Process()
        process.executableURL = riverBinary
        process.arguments = [
            "proxy", "--frontend", "tcp://127.0.0.1:\(try freePort())", "--backend",
            "tcp://127.0.0.1:\(try freePort())", "--stats-seconds", "1",
        ]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        try await Task.sleep(for: .milliseconds(3500))
        kill(process.processIdentifier, SIGTERM)
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let lines = text.split(separator: "\n").filter { $0.contains("proxy counters") }
        #expect(lines.count == 1, "\(text)")
    }

    /// `river proxy` and `river onnx` stopped by a signal, as `river up`, systemd or Ctrl-C stop them:
    /// each stops cleanly (the proxy closes its connections, the worker leaves the proxy) and exits
    /// with status 0 within a few seconds.
    @Suite struct StopSignals {
        @Test(arguments: [SIGTERM, SIGINT])
        func proxyClosesItsConnectionsAndExitsZero(signal: Int32) async throws {
            let frontend = "tcp://127.0.0.1:\(try freePort())"
            let backend = "tcp://127.0.0.1:\(try freePort())"
            let proxy = try RiverProcess(["proxy", "--frontend", frontend, "--backend", backend])
            defer { proxy.stop() }
            try #require(await waitUntil { canConnect(frontend) }, "the proxy did not listen")
            let client = try connectTCP(frontend)
            defer { close(client) }
            // libzmq accepts on its I/O thread and then sends its greeting: once a byte of it is
            // here the connection is the proxy's to close (one still in the listen backlog when
            // the process ends is reset by the kernel instead).
            var greeting = [UInt8](repeating: 0, count: 1)
            try #require(read(client, &greeting, 1) == 1, "the proxy did not accept the connection")

            let sent = ContinuousClock.now
            kill(proxy.pid, signal)
            let exited = await waitUntil(.seconds(10)) { !proxy.process.isRunning }
            let took = ContinuousClock.now - sent
            try #require(exited, "still running 10 s after signal \(signal)")
            #expect(proxy.process.terminationReason == .exit, "ended by a signal")
            #expect(proxy.process.terminationStatus == 0)
            #expect(took < .seconds(5), "took \(took) to stop")
            // Our connection was closed by the proxy (end of file), not left to time out.
            #expect(readUntilClosed(client) == 0)
        }

        @Test func workerLeavesTheProxyAndExitsZero() async throws {
            let proxy = try BrokerProxy(
                frontend: "tcp://127.0.0.1:*", backend: "tcp://127.0.0.1:*",
                configuration: ProxyConfiguration(heartbeatInterval: .milliseconds(1000), liveness: 3),
                statsInterval: nil)
            defer { proxy.stop() }
            let worker = try RiverProcess([
                "onnx", "--connect", proxy.backendEndpoint, "--echo", "--slots", "2",
            ])
            defer { worker.stop() }
            try #require(await waitUntil { proxy.counters.freeSlots == 2 }, "the worker did not register")

            let sent = ContinuousClock.now
            kill(worker.pid, SIGTERM)
            let exited = await waitUntil(.seconds(10)) { !worker.process.isRunning }
            let took = ContinuousClock.now - sent
            try #require(exited, "still running 10 s after SIGTERM")
            #expect(worker.process.terminationReason == .exit, "ended by a signal")
            #expect(worker.process.terminationStatus == 0)
            #expect(took < .seconds(5), "took \(took) to stop")
            // Gone from the proxy at once, not after missed heartbeats.
            #expect(await waitUntil(.seconds(1)) { proxy.counters.workersAlive == 0 })
            #expect(proxy.counters.workersExpired == 0)
        }
    }
}

/// Whether a TCP connection to `tcp://127.0.0.1:PORT` succeeds now.
private func canConnect(_ endpoint: String) -> Bool {
    guard let port = endpoint.split(separator: ":").last.flatMap({ UInt16($0) }) else { return false }
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = port.bigEndian
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
        }
    }
}

/// Reads and discards until the peer closes (0) or the socket's receive timeout passes (-1).
private func readUntilClosed(_ fd: Int32) -> Int {
    var buffer = [UInt8](repeating: 0, count: 256)
    while true {
        let count = read(fd, &buffer, buffer.count)
        if count < 0 && errno == EINTR { continue }
        if count <= 0 { return count }
    }
}

/// A flag shared by the load tasks.
final class ManagedAtomicFlag: Sendable {
    private let storage = Mutex(true)
    var isSet: Bool { storage.withLock { $0 } }
    func clear() { storage.withLock { $0 = false } }
}

/// A proxy that stops answering without closing its connections (SIGSTOP): client and worker
/// notice by missed heartbeats, drop their sockets, reconnect with back-off, and resume on SIGCONT.
@Suite struct SilentProxyTests {
    @Test func clientAndWorkerReconnectWhenTheProxyFreezes() async throws {
        let frontend = "tcp://127.0.0.1:\(try freePort())"
        let backend = "tcp://127.0.0.1:\(try freePort())"
        let proxy = try RiverProcess([
            "proxy", "--frontend", frontend, "--backend", backend, "--heartbeat-ms", "200",
        ])
        defer { proxy.stop() }
        let worker = BrokerWorker(
            connect: backend,
            configuration: WorkerConfiguration(
                slots: 2, heartbeatInterval: .milliseconds(200), initialBackoff: .milliseconds(100)),
            handler: sleepyHandler("w", delay: .zero))
        defer { worker.stop() }
        let client = BrokerClient(
            connect: frontend,
            configuration: ClientConfiguration(
                heartbeatInterval: .milliseconds(200), timeoutGrace: .milliseconds(100),
                initialBackoff: .milliseconds(100)))
        defer { client.close() }
        try #require(await firstReply(client, within: .seconds(10)), "no reply before the freeze")

        kill(proxy.pid, SIGSTOP)
        // SIGSTOP lands asynchronously: wait until the kernel reports the process stopped.
        let stat = "/proc/\(proxy.pid)/stat"
        #expect(
            await waitUntil {
                let text = (try? String(contentsOfFile: stat, encoding: .utf8)) ?? ""
                return text.split(separator: ")").last?.split(separator: " ").first == "T"
            })
        // A request sent into the frozen proxy ends by itself: no hang.
        let (frozen, elapsed) = await client.attempt(budget: .milliseconds(300))
        if case .success = frozen { Issue.record("a frozen proxy answered") }
        #expect(elapsed < .seconds(2))
        #expect(
            await waitUntil(.seconds(5)) {
                client.counters.reconnects >= 1 && worker.counters.reconnects >= 1
            })

        kill(proxy.pid, SIGCONT)
        #expect(await firstReply(client, within: .seconds(10)), "no reply after the proxy thawed")
    }
}

/// Tries until one request succeeds or `within` passes.
private func firstReply(_ client: BrokerClient, within: Duration) async -> Bool {
    let end = ContinuousClock.now + within
    while ContinuousClock.now < end {
        if case .success = await client.attempt(budget: .milliseconds(500)).0 { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return false
}

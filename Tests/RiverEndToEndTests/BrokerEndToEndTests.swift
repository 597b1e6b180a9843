import Foundation
import Testing

/// The broker from outside: `river proxy` with CURVE, two `river onnx --echo` workers, and a client
/// that is not river at all (scripts/e2e/broker_client.py, pyzmq, written from docs/protocol.md).
@Suite(.serialized) struct BrokerEndToEndTests {
    /// Keys for the proxy, one client, two workers and a stranger, in a temporary directory
    /// (removed by `remove()`), made with `river keys`.
    struct Keys {
        let directory: URL

        init() throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "river-broker-e2e-\(UUID().uuidString)")
            try FileManager.default.createDirectory(
                at: directory.appendingPathComponent("workers"), withIntermediateDirectories: true)
            for name in ["proxy", "client", "stranger", "workers/w1", "workers/w2"] {
                let keys = try ChildProcess(try riverBinary(), ["keys", "--out", path(name)])
                keys.process.waitUntilExit()
                defer { keys.stop() }
                try #require(keys.process.terminationStatus == 0, "river keys: \(keys.output)")
            }
        }

        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

        func remove() { try? FileManager.default.removeItem(at: directory) }
    }

    /// `key=value` from a ready line such as `river proxy frontend=… backend=…`.
    static func field(_ key: String, in output: String) -> String? {
        output.split(whereSeparator: \.isWhitespace).first { $0.hasPrefix("\(key)=") }.map {
            String($0.dropFirst(key.count + 1))
        }
    }

    func runClient(_ arguments: [String]) async throws -> (status: Int32?, result: [String: Any]) {
        let client = try ChildProcess(
            repositoryRoot.appendingPathComponent(".venv/bin/python"),
            [repositoryRoot.appendingPathComponent("scripts/e2e/broker_client.py").path] + arguments)
        defer { client.stop() }
        let status = await client.waitForExit(timeout: .seconds(60))
        let output = client.output
        let line = try #require(output.split(separator: "\n").last { $0.hasPrefix("{") }, "\(output)")
        let result = try #require(
            try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(output)")
        return (status, result)
    }

    /// 1,000 frames from the outside client while one of two workers is SIGKILLed: each request
    /// ends in exactly one REPLY or ERROR, with a reason for every error. A client with a key the
    /// proxy does not allow gets nothing at all, and the proxy logs it.
    @Test func anOutsideClientOverCURVEGetsExactlyOneAnswerPerRequestWhileAWorkerIsKilled() async throws {
        let keys = try Keys()
        defer { keys.remove() }
        let proxy = try ChildProcess(
            try riverBinary(),
            [
                "proxy", "--frontend", "tcp://127.0.0.1:*", "--backend", "tcp://127.0.0.1:*",
                "--curve-secret", keys.path("proxy.key"), "--allow-clients", keys.path("client.pub"),
                "--allow-workers", keys.path("workers"), "--stats-seconds", "0",
            ])
        defer { proxy.stop() }
        #expect(try await eventually { proxy.output.contains("river proxy frontend=") }, "\(proxy.output)")
        let frontend = try #require(Self.field("frontend", in: proxy.output))
        let backend = try #require(Self.field("backend", in: proxy.output))
        let workers = try ["w1", "w2"].map { name in
            try ChildProcess(
                try riverBinary(),
                [
                    "onnx", "--connect", backend, "--echo", "--echo-delay-ms", "5", "--slots", "2",
                    "--name", name, "--proxy-key", keys.path("proxy.pub"), "--curve-secret",
                    keys.path("workers/\(name).key"),
                ])
        }
        defer { for worker in workers { worker.stop() } }
        let victim = workers[0].process.processIdentifier
        let (status, result) = try await runClient([
            "--frontend", frontend, "--proxy-key", keys.path("proxy.pub"), "--key", keys.path("client.key"),
            "--workers", "2", "--count", "1000", "--window", "8", "--budget-ms", "2000",
            "--kill-pid", "\(victim)", "--kill-after", "300",
        ])
        print("river e2e outside client: \(result)")
        #expect(status == 0, "\(result)")
        #expect(result["sent"] as? Int == 1000 && result["answered"] as? Int == 1000)
        #expect(result["missing"] as? Int == 0 && result["duplicates"] as? Int == 0)
        #expect(result["killed"] as? Bool == true)
        #expect(!workers[0].process.isRunning, "the worker was killed")
        let outcomes = try #require(result["outcomes"] as? [String: Int])
        #expect(Set(outcomes.keys).isSubset(of: ["reply", "workerLost", "expired"]), "\(outcomes)")
        #expect((outcomes["reply"] ?? 0) >= 990, "the surviving worker answered the rest: \(outcomes)")

        let (silent, heard) = try await runClient([
            "--frontend", frontend, "--proxy-key", keys.path("proxy.pub"), "--key", keys.path("stranger.key"),
            "--silent-ms", "1500",
        ])
        #expect(silent == 0 && heard["received"] as? Int == 0, "\(heard)")
        #expect(proxy.output.contains("not an allowed client key"), "\(proxy.output)")
    }

    /// The broker between hosts (scripts/netns): the proxy on the server host, two workers of
    /// different speeds (10 and 30 ms a request, one slot each) and a worker with a key the proxy
    /// does not know on the worker host, the outside client on the client host; all CURVE. Over 20 s
    /// of a steady window of 4 requests: the fast worker serves proportionally more; the slow one is
    /// SIGKILLed at 8 s, and every request sent before the proxy restart is answered or failed with
    /// a reason within its deadline; the proxy is restarted at 12 s, and replies are back within 2 s
    /// of the old one stopping. The stranger worker gets nothing, and the proxy says so.
    @Test(.enabled(if: NetworkLab.isAvailable, NetworkLab.unavailableReason))
    func acrossThreeHostsWithCURVE() async throws {
        let keys = try Keys()
        defer { keys.remove() }
        let lab = try NetworkLab.create()
        defer { lab.remove() }
        let river = try riverBinary().path
        let server = lab.address(.server)
        func startProxy() async throws -> ChildProcess {
            let proxy = try lab.start(
                in: .server,
                [
                    river, "proxy", "--frontend", "tcp://\(server):5555", "--backend", "tcp://\(server):5556",
                    "--curve-secret", keys.path("proxy.key"), "--allow-clients", keys.path("client.pub"),
                    "--allow-workers", keys.path("workers"), "--stats-seconds", "1",
                ])
            #expect(
                try await eventually { proxy.output.contains("river proxy frontend=") }, "\(proxy.output)")
            return proxy
        }
        var proxy = try await startProxy()
        func worker(_ name: String, key: String, delayMs: Int) throws -> ChildProcess {
            try lab.start(
                in: .worker,
                [
                    river, "onnx", "--connect", "tcp://\(server):5556", "--echo", "--echo-delay-ms",
                    "\(delayMs)",
                    "--slots", "1", "--name", name, "--proxy-key", keys.path("proxy.pub"), "--curve-secret",
                    keys.path(key),
                ])
        }
        _ = try worker("fast", key: "workers/w1.key", delayMs: 10)
        let slow = try worker("slow", key: "workers/w2.key", delayMs: 30)
        _ = try worker("stranger", key: "stranger.key", delayMs: 0)
        let timelineFile = keys.path("timeline.json")
        let python = repositoryRoot.appendingPathComponent(".venv/bin/python").path
        let script = repositoryRoot.appendingPathComponent("scripts/e2e/broker_client.py").path
        let start = Date().timeIntervalSince1970
        async let client = lab.run(
            in: .client,
            [
                python, script, "--frontend", "tcp://\(server):5555", "--proxy-key", keys.path("proxy.pub"),
                "--key", keys.path("client.key"), "--window", "4", "--budget-ms", "500", "--run-seconds",
                "20",
                "--timeline", timelineFile,
            ])
        try await Task.sleep(for: .seconds(8))
        let killedAt = Date().timeIntervalSince1970
        kill(slow.process.processIdentifier, SIGKILL)
        try await Task.sleep(for: .seconds(4))
        let firstProxyLog = proxy.output
        let stoppedAt = Date().timeIntervalSince1970
        proxy.stop()
        proxy = try await startProxy()
        let readyAt = Date().timeIntervalSince1970
        let (status, output) = try await client
        #expect(status == 0, "\(output)")
        let data = try Data(contentsOf: URL(fileURLWithPath: timelineFile))
        let timeline = try #require(try JSONSerialization.jsonObject(with: data) as? [[Any]], "\(output)")
        struct Fate {
            var sent: Double
            var answered: Double
            var outcome: String
            var worker: String?
        }
        let fates = timeline.compactMap { row -> Fate? in
            guard row.count == 4, let sent = row[0] as? Double, let answered = row[1] as? Double,
                let outcome = row[2] as? String
            else { return nil }
            return Fate(sent: sent, answered: answered, outcome: outcome, worker: row[3] as? String)
        }
        #expect(fates.count == timeline.count && fates.count > 300, "\(output)")

        // Least busy first: while both ran (after a 2 s warm-up), fast took about three times as many.
        let both = fates.filter { $0.sent > start + 2 && $0.answered < killedAt }
        let byWorker = Dictionary(grouping: both.compactMap(\.worker), by: { $0 }).mapValues(\.count)
        let ratio = Double(byWorker["fast"] ?? 0) / Double(max(1, byWorker["slow"] ?? 0))
        // A kill and what it cost: every request sent before the proxy stopped ended by its deadline
        // (500 ms; 100 ms of slack for a loaded machine), with a reply or a reason. One the killed
        // worker took with it unread is answered ERROR(expired) by the proxy at the deadline.
        let beforeStop = fates.filter { $0.sent < stoppedAt - 0.8 }
        let late = beforeStop.filter { $0.outcome == "timeout" || $0.answered - $0.sent > 0.6 }
        let afterKill = beforeStop.filter { $0.sent >= killedAt - 1 }
        let reasons = Dictionary(grouping: afterKill, by: \.outcome).mapValues(\.count)
        let slowest = afterKill.map { $0.answered - $0.sent }.max() ?? 0
        // The restart: from stopping the old proxy to the first reply through the new one.
        let firstBack = fates.filter { $0.outcome == "reply" && $0.answered > stoppedAt }.map(\.answered)
            .min()
        let back = (firstBack ?? .infinity) - stoppedAt
        print(
            "river e2e broker across hosts: dispatch fast \(byWorker["fast"] ?? 0) / slow \(byWorker["slow"] ?? 0)"
                + " = \(String(format: "%.2f", ratio)) (10 vs 30 ms a request); after the SIGKILL \(reasons),"
                + " slowest answer \(Int(slowest * 1000)) ms (budget 500); inference back \(Int(back * 1000)) ms"
                + " after the proxy was stopped (its successor printed its ready line within"
                + " \(Int((readyAt - stoppedAt) * 1000)) ms)")
        #expect(ratio >= 2 && ratio <= 4.5, "\(byWorker)")
        #expect(byWorker["stranger"] == nil, "the stranger worker got requests: \(byWorker)")
        #expect(late.isEmpty, "requests not answered within their deadline: \(late.count)")
        #expect(Set(reasons.keys).isSubset(of: ["reply", "workerLost", "expired"]), "\(reasons)")
        #expect(back <= 2, "inference came back \(back) s after the proxy was stopped and started again")
        #expect(firstProxyLog.contains("not an allowed worker key"), "\(firstProxyLog)")
    }
}

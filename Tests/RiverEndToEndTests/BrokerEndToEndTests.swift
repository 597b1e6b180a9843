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
}

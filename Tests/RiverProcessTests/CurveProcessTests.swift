import Foundation
import RiverBroker
import RiverTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `river keys`, `river proxy` with and without CURVE, and `river onnx` with keys, as processes.
@Suite(.serialized) struct CurveProcessTests {
    /// Runs `river ARGUMENTS` to its end; returns its status, standard output and standard error.
    func runRiver(_ arguments: [String], timeout: Duration = .seconds(20)) async throws -> (
        Int32, String, String
    ) {
        let process = Process()
        process.executableURL = riverBinary
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let end = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < end { try await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            Issue.record("river \(arguments) still running after \(timeout)")
        }
        process.waitUntilExit()
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (process.terminationStatus, stdout, stderr)
    }

    @Test func theProxyRefusesEveryInterfaceWithoutCURVEInOneLine() async throws {
        let port = try freePort()
        let (status, _, stderr) = try await runRiver([
            "proxy", "--frontend", "tcp://127.0.0.1:\(try freePort())", "--backend", "tcp://*:\(port)",
        ])
        #expect(status != 0)
        let lines = stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(stderr)")
        #expect(stderr.contains("refusing to bind tcp://*:\(port) without CURVE"), "\(stderr)")
        #expect(stderr.contains("--insecure"), "\(stderr)")
    }

    @Test func aKeyFileThatCannotBeReadIsNamedInOneLine() async throws {
        let missing = NSTemporaryDirectory() + "river-no-such-\(UUID().uuidString).key"
        for arguments in [
            ["proxy", "--curve-secret", missing, "--allow-clients", missing, "--allow-workers", missing],
            [
                "onnx", "--echo", "--connect", "tcp://127.0.0.1:1", "--proxy-key", missing, "--curve-secret",
                missing,
            ],
        ] {
            let (status, _, stderr) = try await runRiver(arguments)
            #expect(status != 0)
            #expect(stderr.split(separator: "\n").count == 1 && stderr.contains(missing), "\(stderr)")
        }
    }

    @Test func insecureBindsEveryInterface() async throws {
        let backend = "tcp://*:\(try freePort())"
        let proxy = try RiverProcess([
            "proxy", "--frontend", "tcp://127.0.0.1:\(try freePort())", "--backend", backend, "--insecure",
        ])
        defer { proxy.stop() }
        try await Task.sleep(for: .milliseconds(500))
        #expect(proxy.process.isRunning, "river proxy --insecure exited")
    }

    /// Keys from `river keys`, a CURVE proxy, a worker process with its key, and a client in this
    /// process: requests are answered; a worker process without a key never registers.
    @Test func keysFromRiverKeysCarryRequestsEndToEnd() async throws {
        let directory = NSTemporaryDirectory() + "river-curve-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for name in ["proxy", "serve", "w1"] {
            let (status, stdout, stderr) = try await runRiver(["keys", "--out", "\(directory)/\(name)"])
            #expect(status == 0, "\(stderr)")
            #expect(stdout.hasPrefix("river keys: secret="), "\(stdout)")
        }
        let mode =
            try FileManager.default.attributesOfItem(atPath: "\(directory)/w1.key")[.posixPermissions] as? Int
        #expect(mode == 0o600)
        // Printed, not written: one pair, both keys.
        let (_, printed, _) = try await runRiver(["keys"])
        #expect(printed.contains("secret-key = \"") && printed.contains("public-key = \""), "\(printed)")

        let frontend = "tcp://127.0.0.1:\(try freePort())"
        let backend = "tcp://127.0.0.1:\(try freePort())"
        try FileManager.default.createDirectory(
            atPath: "\(directory)/workers", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "\(directory)/w1.pub", toPath: "\(directory)/workers/w1.pub")
        let proxy = try RiverProcess([
            "proxy", "--frontend", frontend, "--backend", backend, "--curve-secret", "\(directory)/proxy.key",
            "--allow-clients", "\(directory)/serve.pub", "--allow-workers", "\(directory)/workers",
        ])
        defer { proxy.stop() }
        let worker = try RiverProcess([
            "onnx", "--connect", backend, "--echo", "--proxy-key", "\(directory)/proxy.pub", "--curve-secret",
            "\(directory)/w1.key",
        ])
        defer { worker.stop() }
        let keyless = try RiverProcess(["onnx", "--connect", backend, "--echo", "--slots", "50"])
        defer { keyless.stop() }
        let curve = PeerCurve(
            proxyKey: try CurveKeyFile.readPublic("\(directory)/proxy.pub"),
            keyPair: try CurveKeyFile.readPair("\(directory)/serve.key"))
        let client = BrokerClient(connect: frontend, configuration: ClientConfiguration(curve: curve))
        defer { client.close() }
        var answered = 0
        let end = ContinuousClock.now + .seconds(15)
        while answered < 20, ContinuousClock.now < end {
            if case .success(let reply) = await client.attempt(budget: .seconds(1)).0 {
                #expect(
                    String(decoding: reply.document, as: UTF8.self).hasPrefix("{\"echo\":true,\"bytes\":768,")
                )
                answered += 1
            }
        }
        #expect(answered == 20)
        // One slot (the keyed worker's): the keyless one's 50 never count.
        // CAPACITY answers the client's heartbeat (every second); give the keyless worker that long too.
        try await Task.sleep(for: .milliseconds(1500))
        #expect(await waitUntil { client.capacity != nil })
        #expect(client.capacity?.totalSlots == 1, "\(String(describing: client.capacity))")
    }
}

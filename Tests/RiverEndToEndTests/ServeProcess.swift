import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The repository root, found from this file's path (Tests/RiverEndToEndTests/ServeProcess.swift).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// A child process whose stdout and stderr go to a temporary file; stopped by PID on `stop()`.
final class ChildProcess: @unchecked Sendable {
    let process = Process()
    let logURL: URL

    init(_ executable: URL, _ arguments: [String]) throws {
        logURL = FileManager.default.temporaryDirectory.appendingPathComponent(
            "river-e2e-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let log = try FileHandle(forWritingTo: logURL)
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = repositoryRoot
        process.standardOutput = log
        process.standardError = log
        try Self.runWithNoSignalsBlocked(process)
    }

    /// Starts `process` from a thread of its own whose signal mask is empty. A child inherits the
    /// mask of the thread that spawns it, and the Swift concurrency (Dispatch) threads a test runs on
    /// block SIGTERM, SIGINT, SIGUSR1 and more: spawned from one of them, a child never saw `stop()`'s
    /// SIGTERM, so every stop ended in SIGKILL after 5 s and a driver script never ran its cleanup
    /// (killing Chromium's process group).
    private static func runWithNoSignalsBlocked(_ process: Process) throws {
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var failure: Error?
        let thread = Thread {
            var none = sigset_t()
            sigemptyset(&none)
            pthread_sigmask(SIG_SETMASK, &none, nil)
            do { try process.run() } catch { failure = error }
            done.signal()
        }
        thread.start()
        done.wait()
        if let failure { throw failure }
    }

    var output: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }

    /// Waits for the process to exit on its own; stops it when `timeout` passes.
    func waitForExit(timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(100))
        }
        if process.isRunning {
            stop()
            return nil
        }
        return process.terminationStatus
    }

    /// SIGTERM, then SIGKILL after 5 s; only this PID. Removes the log, also of a process that has
    /// already exited on its own (read `output` first).
    func stop() {
        defer { try? FileManager.default.removeItem(at: logURL) }
        guard process.isRunning else { return }
        process.terminate()
        for _ in 0..<50 where process.isRunning { usleep(100_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

/// `river serve` (`--reflect` unless `mode` says otherwise) on free ports of 127.0.0.1.
final class ServeProcess: @unchecked Sendable {
    let child: ChildProcess
    let httpPort: Int
    let udpPort: Int

    /// The whole ready line (`river serve: http=… udp=… urls=… [sha256=…]`).
    let readyLine: String

    init(mode: [String] = ["--reflect"], host: String = "127.0.0.1", extraArguments: [String] = [])
        async throws
    {
        let binary = try riverBinary()
        child = try ChildProcess(
            binary,
            ["serve"] + mode + ["--host", host, "--http-port", "0", "--udp-port", "0"] + extraArguments
        )
        let deadline = ContinuousClock.now + .seconds(30)
        var ports: (Int, Int)?
        while ports == nil && ContinuousClock.now < deadline && child.process.isRunning {
            ports = Self.ports(in: child.output)
            if ports == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        guard let ports else {
            let output = child.output
            child.stop()
            throw ServeError(message: "river serve did not report its ports:\n\(output)")
        }
        (httpPort, udpPort) = ports
        readyLine =
            child.output.split(separator: "\n").first { $0.hasPrefix("river serve: ") }.map(String.init) ?? ""
    }

    /// `key=value` of the ready line.
    func field(_ key: String) -> String? {
        readyLine.split(separator: " ").first { $0.hasPrefix("\(key)=") }.map {
            String($0.dropFirst(key.count + 1))
        }
    }

    struct ServeError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    static func ports(in output: String) -> (Int, Int)? {
        for line in output.split(separator: "\n") where line.hasPrefix("river serve: ") {
            var http: Int?
            var udp: Int?
            for field in line.split(separator: " ") {
                if field.hasPrefix("http=") { http = Int(field.dropFirst(5)) }
                if field.hasPrefix("udp=") { udp = Int(field.dropFirst(4)) }
            }
            if let http, let udp { return (http, udp) }
        }
        return nil
    }

    var baseURL: URL { URL(string: "http://127.0.0.1:\(httpPort)")! }

    func stop() { child.stop() }

    /// `GET /debug/sessions`: live sessions and drop counters.
    func debugCounters() async throws -> [String: Int] {
        let (data, _) = try await URLSession.shared.data(
            from: baseURL.appendingPathComponent("debug/sessions"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Int])
    }

    /// `GET /debug/sessions`.
    func sessionCount() async throws -> Int {
        let (data, _) = try await URLSession.shared.data(
            from: baseURL.appendingPathComponent("debug/sessions"))
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        return try #require(object?["sessions"] as? Int)
    }

    func request(
        _ method: String, _ path: String, body: String? = nil, contentType: String? = nil,
        headers: [String: String] = [:]
    ) async throws -> (status: Int, body: String, headers: [AnyHashable: Any]) {
        var request = URLRequest(url: URL(string: path, relativeTo: baseURL)!)
        request.httpMethod = method
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        if let body { request.httpBody = Data(body.utf8) }
        if let contentType { request.setValue(contentType, forHTTPHeaderField: "Content-Type") }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = try #require(response as? HTTPURLResponse)
        return (http.statusCode, String(decoding: data, as: UTF8.self), http.allHeaderFields)
    }
}

/// Runs scripts/e2e/reflect_check.py (headless Chromium) against `serve` and decodes its JSON.
func runChromiumReflect(against serve: ServeProcess, audio: Bool, seconds: Int = 10, noise: Bool = false)
    async throws -> [String: Any]
{
    let clip = repositoryRoot.appendingPathComponent("fixtures/reflect-640x480.y4m")
    try #require(
        FileManager.default.fileExists(atPath: clip.path),
        "missing \(clip.path): run scripts/setup.sh (make_fixtures.sh)")
    var arguments = [
        repositoryRoot.appendingPathComponent("scripts/e2e/reflect_check.py").path,
        "--url", serve.baseURL.absoluteString + "/", "--y4m", clip.path, "--seconds", "\(seconds)",
    ]
    if audio { arguments.append("--audio") }
    if noise { arguments += ["--noise-port", "\(serve.udpPort)"] }
    let command = ["python3"] + arguments
    let (status, output) = try await BrowserSlot.shared.hold {
        let driver = try ChildProcess(URL(fileURLWithPath: "/usr/bin/env"), command)
        defer { driver.stop() }
        let status = await driver.waitForExit(timeout: .seconds(Int64(seconds) + 120))
        return (status, driver.output)
    }
    try #require(status == 0, "reflect_check.py failed (\(String(describing: status))):\n\(output)")
    let line = try #require(
        output.split(separator: "\n").last { $0.hasPrefix("{") }, "no JSON in:\n\(output)")
    return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
}

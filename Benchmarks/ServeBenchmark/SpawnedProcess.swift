import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// One `river` subcommand the benchmark started, with its output in a temporary log file.
///
/// The child's stdin is a pipe only we hold, and `RIVER_UP_CHILD=1` makes river watch it (as
/// under `river up`): if the benchmark dies, even by SIGKILL, the children end themselves. On
/// the normal path ``stop()`` sends SIGTERM to this one PID, then SIGKILL, and reaps it.
final class SpawnedProcess: @unchecked Sendable {
    // @unchecked: created and stopped by the benchmark's main thread only.
    let name: String
    let process = Process()
    let logURL: URL
    private let lifeline = Pipe()

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    init(name: String, binary: String, arguments: [String]) throws {
        self.name = name
        logURL = FileManager.default.temporaryDirectory.appendingPathComponent(
            "river-serve-bench-\(getpid())-\(name)-\(UUID().uuidString.prefix(8)).log")
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let log = try FileHandle(forWritingTo: logURL)
        defer { try? log.close() }
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.standardInput = lifeline
        process.standardOutput = log
        process.standardError = log
        var environment = ProcessInfo.processInfo.environment
        environment["RIVER_UP_CHILD"] = "1"
        process.environment = environment
        try process.run()
    }

    var pid: pid_t { process.processIdentifier }
    var output: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }

    /// The first output line starting with `prefix`, waiting up to `timeout` for it.
    func waitForLine(prefix: String, timeout: Duration) throws -> String {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let line = output.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) {
                return String(line)
            }
            guard process.isRunning else { break }
            usleep(50_000)
        }
        throw Failure(
            description: "\(name) (pid \(pid)) did not print '\(prefix)…' within \(timeout):\n\(output)")
    }

    /// SIGTERM, SIGKILL after 5 s, reap; only this PID. Keeps the log when `keepLog`.
    func stop(keepLog: Bool = false) {
        if process.isRunning {
            kill(pid, SIGTERM)
            for _ in 0..<100 where process.isRunning { usleep(50_000) }
            if process.isRunning { kill(pid, SIGKILL) }
            process.waitUntilExit()
        }
        try? lifeline.fileHandleForWriting.close()
        if !keepLog { try? FileManager.default.removeItem(at: logURL) }
    }
}

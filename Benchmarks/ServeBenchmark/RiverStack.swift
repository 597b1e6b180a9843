import Foundation

/// `river proxy`, one `river onnx --echo` worker and `river serve --proxy` from one binary, on
/// free loopback ports: the server side of one measurement.
///
/// The echo worker answers at once without a model, so what the benchmark sees is serve's own
/// cost (receive, rebuild, decode, schedule, delay line, results), not inference.
final class RiverStack {
    let binary: String
    private(set) var processes: [SpawnedProcess] = []
    let serve: SpawnedProcess
    let httpPort: Int
    let udpPort: Int

    struct Options {
        var delay: String
        var workerSlots: Int
        /// More `river serve` arguments (flags the binary must know).
        var serveArguments: [String] = []
    }

    /// Every synthetic session comes from 127.0.0.1: a binary with per-address admission limits
    /// (`--max-sessions-per-address`, 8 by default) gets them lifted so K = 16 can run; an older
    /// one, which has no such flags, gets none.
    static func admissionLifted(_ binary: String) -> [String] {
        let help = Process()
        help.executableURL = URL(fileURLWithPath: binary)
        help.arguments = ["serve", "--help"]
        let pipe = Pipe()
        help.standardOutput = pipe
        help.standardError = FileHandle.nullDevice
        guard (try? help.run()) != nil else { return [] }
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        help.waitUntilExit()
        guard text.contains("--max-sessions-per-address") else { return [] }
        return ["--max-sessions-per-address", "1000", "--max-offers-per-second", "100000"]
    }

    init(binary: String, options: Options) throws {
        self.binary = binary
        var started: [SpawnedProcess] = []
        // Anything that fails below stops what was started so far (only those PIDs).
        func start(_ name: String, _ arguments: [String], ready: String) throws -> (SpawnedProcess, String) {
            let child = try SpawnedProcess(name: name, binary: binary, arguments: arguments)
            started.append(child)
            return (child, try child.waitForLine(prefix: ready, timeout: .seconds(60)))
        }
        do {
            let (_, proxyLine) = try start(
                "proxy",
                [
                    "proxy", "--frontend", "tcp://127.0.0.1:*", "--backend", "tcp://127.0.0.1:*",
                    "--stats-seconds", "0",
                ], ready: "river proxy ")
            guard let frontend = Self.field("frontend", in: proxyLine),
                let backend = Self.field("backend", in: proxyLine)
            else {
                throw SpawnedProcess.Failure(description: "cannot read the proxy's endpoints: \(proxyLine)")
            }
            _ = try start(
                "onnx", ["onnx", "--connect", backend, "--echo", "--slots", "\(options.workerSlots)"],
                ready: "river onnx ")
            let (serve, serveLine) = try start(
                "serve",
                [
                    "serve", "--proxy", frontend, "--delay", options.delay, "--host", "127.0.0.1",
                    "--http-port", "0", "--udp-port", "0",
                ] + options.serveArguments, ready: "river serve: ")
            guard let http = Self.field("http", in: serveLine).flatMap(Int.init),
                let udp = Self.field("udp", in: serveLine).flatMap(Int.init)
            else { throw SpawnedProcess.Failure(description: "cannot read serve's ports: \(serveLine)") }
            self.serve = serve
            httpPort = http
            udpPort = udp
            processes = started
        } catch {
            for child in started.reversed() { child.stop(keepLog: false) }
            throw error
        }
    }

    /// The first `name=value` field of a ready line.
    static func field(_ name: String, in line: String) -> String? {
        line.split(separator: " ").first { $0.hasPrefix("\(name)=") }.map {
            String($0.dropFirst(name.count + 1))
        }
    }

    /// Checks every child still runs; a crash mid-measurement fails it with the child's output.
    func checkRunning() throws {
        for child in processes where !child.process.isRunning {
            throw SpawnedProcess.Failure(
                description: "\(child.name) (pid \(child.pid)) exited (\(child.process.terminationStatus)):\n"
                    + child.output.split(separator: "\n").suffix(20).joined(separator: "\n"))
        }
    }

    /// Stops serve first (its sessions end), then the worker and the proxy.
    func stop() {
        for child in processes.reversed() { child.stop() }
        processes = []
    }
}

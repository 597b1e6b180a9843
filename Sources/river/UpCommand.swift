import ArgumentParser
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `river up` (and `river` alone): proxy, one worker with the default model and serve on this
/// machine, as child processes of this binary, until SIGINT or SIGTERM.
///
/// The children are the same commands a multi-host deployment runs (`river proxy`, `river onnx`,
/// `river serve --proxy`), so one machine behaves like many. Start order is proxy → worker →
/// serve, each waited for: a child that fails to start stops the others and `up` fails with its
/// output. Afterwards, a worker that dies is started again (the proxy answers its lost requests
/// and serve marks those frames `workerLost`); proxy or serve dying ends `up` with an error.
struct UpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Run serve, proxy and one worker with the default model; print the page's URL.",
        discussion: """
            The worker's model input defaults to 256x192: on a 2-core machine one CenterFace worker \
            then keeps up with a 30 fps camera (see README, Benchmarks). More workers, on any host, \
            can join with `river onnx --connect` on the proxy backend that `up` prints.
            """)

    @Option(help: "Address the HTTP and UDP sockets bind to.")
    var host = "127.0.0.1"

    @Option(help: "HTTP port of the page and signalling (0 picks a free one).")
    var httpPort = 8080

    @Option(help: "The one UDP port for every WebRTC session (0 picks a free one).")
    var udpPort = 0

    @Option(help: "Public address to announce as the ICE candidate (NAT 1:1); repeatable.")
    var publicIP: [String] = []

    @Option(help: "Delay of the returned video: a duration (3s, 1500ms, 0) or auto.")
    var delay = "3s"

    @Option(help: "ONNX model for the worker. Default: models/centerface.onnx.")
    var model: String?

    @Option(
        help: "Model input WxH (the worker letterboxes each frame into it, rounded up to multiples of 32).")
    var inputSize = "256x192"

    @Option(help: "ONNX Runtime intra-op threads of the worker.")
    var threads = 1

    @Option(
        help:
            "Inference requests each session keeps out at once: 2 lets the next frame wait at the proxy while the worker runs, hiding the round trip."
    )
    var maxInFlight = 2

    @Option(help: "Proxy endpoint for workers; e.g. 'tcp://*:5556' to let workers on other hosts join.")
    var backend = "tcp://127.0.0.1:*"

    @Option(help: "Seconds to wait for each service to get ready.")
    var startTimeout = 60

    func validate() throws {
        let parts = inputSize.split(separator: "x")
        guard parts.count == 2, parts.allSatisfy({ (Int($0) ?? 0) > 0 }) else {
            throw ValidationError("--input-size must look like 320x240, got '\(inputSize)'")
        }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard maxInFlight >= 1 else { throw ValidationError("--max-in-flight must be at least 1") }
    }

    func run() throws {
        // Block the stop signals before any thread starts, so only the sigtimedwait below sees them
        // (children get a clean mask, see ServiceChild).
        var stopSignals = StopSignals.block()

        let executable = try Self.ownExecutable()
        var children: [ServiceChild] = []
        func fail(_ message: String) -> ExitCode {
            for child in children.reversed() { child.stop() }
            FileHandle.standardError.write(Data("\(message)\n".utf8))
            return ExitCode.failure
        }
        func start(_ name: String, _ arguments: [String], ready prefix: String) throws -> (
            ServiceChild, String
        ) {
            let child = try ServiceChild(name: name, executable: executable, arguments: arguments)
            children.append(child)
            guard let line = child.waitForLine(prefix: prefix, timeout: .seconds(startTimeout)) else {
                throw fail(child.failureReport())
            }
            return (child, line)
        }

        let (proxy, proxyLine) = try start(
            "proxy", ["proxy", "--frontend", "tcp://127.0.0.1:*", "--backend", backend],
            ready: "river proxy ")
        guard let frontend = Self.field("frontend", in: proxyLine),
            let backendEndpoint = Self.field("backend", in: proxyLine)
        else { throw fail("river up: cannot read the proxy's endpoints from: \(proxyLine)") }

        let workerArguments =
            ["onnx", "--connect", backendEndpoint, "--input-size", inputSize, "--threads", "\(threads)"]
            + (model.map { ["--model", $0] } ?? [])
        var (worker, _) = try start("onnx", workerArguments, ready: "river onnx ")

        var serveArguments = [
            "serve", "--proxy", frontend, "--delay", delay, "--max-in-flight", "\(maxInFlight)", "--host",
            host, "--http-port", "\(httpPort)",
            "--udp-port", "\(udpPort)",
        ]
        for ip in publicIP { serveArguments += ["--public-ip", ip] }
        let (serve, serveLine) = try start("serve", serveArguments, ready: "river serve: ")
        guard let port = Self.field("http", in: serveLine) else {
            throw fail("river up: cannot read the HTTP port from: \(serveLine)")
        }

        // Tests and scripts read this line; a person reads the URL.
        let shownHost = host == "0.0.0.0" || host == "::" ? "localhost" : host
        print(
            "river up: http://\(shownHost):\(port)/ delay=\(delay) proxy=\(frontend) backend=\(backendEndpoint) "
                + "pids=proxy:\(proxy.pid),onnx:\(worker.pid),serve:\(serve.pid)")
        fflush(nil)

        var timeout = timespec(tv_sec: 0, tv_nsec: 200_000_000)
        var restartAt: ContinuousClock.Instant?
        while true {
            let signal = sigtimedwait(&stopSignals, nil, &timeout)
            if signal == SIGINT || signal == SIGTERM { break }
            for child in [serve, proxy] where !child.isRunning {
                throw fail(child.failureReport())
            }
            if !worker.isRunning {
                // A crashed or killed worker comes back; serve and proxy ride through the gap.
                if let due = restartAt {
                    if ContinuousClock.now >= due {
                        restartAt = nil
                        let again = try ServiceChild(
                            name: "onnx", executable: executable, arguments: workerArguments)
                        children.append(again)
                        worker = again
                        print("river up: worker restarted pid=\(again.pid)")
                        fflush(nil)
                    }
                } else {
                    FileHandle.standardError.write(
                        Data(
                            "river up: worker \(worker.pid) exited (\(worker.exitStatus ?? -1)); restarting in 1 s\n"
                                .utf8))
                    restartAt = ContinuousClock.now + .seconds(1)
                }
            }
        }
        // Serve first, so sessions end before their inference goes away.
        for child in [serve, worker, proxy] { child.stop() }
        for child in children { child.stop(grace: .zero) }
    }

    /// `key=value` out of a space-separated line.
    static func field(_ key: String, in line: String) -> String? {
        line.split(separator: " ").first { $0.hasPrefix("\(key)=") }.map {
            String($0.dropFirst(key.count + 1))
        }
    }

    /// The running binary, so children are exactly this build.
    static func ownExecutable() throws -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        if count > 0 {
            return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        let argument0 = CommandLine.arguments[0]
        guard argument0.contains("/") else {
            throw ValidationError("cannot find the river executable to start services (\(argument0))")
        }
        return URL(fileURLWithPath: argument0).standardizedFileURL.path
    }
}

import ArgumentParser
import Foundation
import Logging
import RiverServe

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
/// Each child is a ``ChildService`` of one group (see ``Lifecycle``), which also stops them, in
/// the reverse of the start order.
struct UpCommand: AsyncParsableCommand {
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

    @Option(help: "TCP port for ICE over TCP, for networks that block UDP (default: the UDP port's number).")
    var tcpPort: Int?

    @Flag(help: "Announce no ICE-TCP candidates and bind no TCP port for media.")
    var noIceTcp = false

    @Option(
        help: "Serve /metrics and /debug/* on plain HTTP at 127.0.0.1 on this port only (see river serve).")
    var adminPort: Int?

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
        help: """
            Requests the worker holds at once (one model session each). Two let the next frame's \
            transfer overlap the current one's inference, so a turnaround a little over the frame \
            interval does not cost every other frame.
            """)
    var workerSlots = 2

    @Option(
        help:
            "Inference requests each session keeps out at once: 2 lets the next frame wait at the proxy while the worker runs, hiding the round trip."
    )
    var maxInFlight = 2

    @Option(
        help:
            "Largest picture serve decodes, in pixels (width x height, macroblock-aligned). Default 1920x1088."
    )
    var maxPixels = 1920 * 1088

    @Option(help: "Record each session into this directory (serve's --record: MP4 and JSON lines).")
    var record: String?

    @Option(help: "The most bytes one session's recording may take (serve's --record-max-bytes).")
    var recordMaxBytes: Int64 = 2 << 30

    @Option(help: "POST every session's result messages in batches to this URL (serve's --results-webhook).")
    var resultsWebhook: String?

    @Option(help: "Proxy endpoint for workers; e.g. 'tcp://*:5556' to let workers on other hosts join.")
    var backend = "tcp://127.0.0.1:*"

    @Option(help: "Seconds to wait for each service to get ready.")
    var startTimeout = 60

    @Option(help: "Bearer token the page and WHIP clients must send (visible in ps: prefer --token-file).")
    var token: String?

    @Option(help: "File holding the bearer token (see --token).")
    var tokenFile: String?

    @OptionGroup var https: HTTPSOptions

    @OptionGroup var limits: SessionLimitOptions

    func validate() throws {
        let parts = inputSize.split(separator: "x")
        guard parts.count == 2, parts.allSatisfy({ (Int($0) ?? 0) > 0 }) else {
            throw ValidationError("--input-size must look like 320x240, got '\(inputSize)'")
        }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard workerSlots >= 1 else { throw ValidationError("--worker-slots must be at least 1") }
        guard maxInFlight >= 1 else { throw ValidationError("--max-in-flight must be at least 1") }
        guard maxPixels >= 16 * 16 else {
            throw ValidationError("--max-pixels must be at least 256 (one macroblock)")
        }
        try https.validate()
        try limits.validate()
        // Checked here, before any child starts, rather than by serve after the proxy and a worker.
        do {
            _ = try PipelineDelay(parsing: delay)
            _ = try AccessToken.load(token: token, file: tokenFile)
        } catch let error as CustomStringConvertible {
            throw ValidationError(error.description)
        }
    }

    func run() async throws {
        let executable = try Self.ownExecutable()
        let keys: UpKeys
        do {
            keys = try UpKeys.make(backend: backend, stateDirectory: https.stateDir)
        } catch {
            FileHandle.standardError.write(Data("river up: cannot make CURVE keys: \(error)\n".utf8))
            throw ExitCode.failure
        }
        defer { keys.removeEphemeral() }
        if keys.isKept {
            // Workers on other hosts need the proxy's public key, and the proxy needs theirs.
            print(
                "river up: proxy public key \(keys.proxyPublic); workers on other hosts: "
                    + "river onnx --connect tcp://THIS-HOST:PORT --proxy-key proxy.pub --curve-secret W.key, "
                    + "with W.pub (river keys --out W) copied into \(keys.workersDirectory) before up starts")
            fflush(nil)
        }
        let startTimeout = Duration.seconds(startTimeout)
        let proxyReady = Announcement<(frontend: String, backend: String, pid: pid_t)>()
        let workerReady = Announcement<pid_t>()

        let proxy = ChildService(
            name: "proxy", role: "proxy", executable: executable, startTimeout: startTimeout,
            arguments: { [backend] in
                ["proxy", "--frontend", "tcp://127.0.0.1:*", "--backend", backend] + keys.proxyArguments
            },
            readyPrefix: "river proxy "
        ) { child, line in
            guard let frontend = Self.field("frontend", in: line),
                let backend = Self.field("backend", in: line)
            else { throw UpFailure("river up: cannot read the proxy's endpoints from: \(line)") }
            proxyReady.announce((frontend, backend, child.pid))
        }

        let workerOptions =
            ["--input-size", inputSize, "--threads", "\(threads)", "--slots", "\(workerSlots)"]
            + (model.map { ["--model", $0] } ?? [])
            + keys.workerArguments
        var worker = ChildService(
            name: "onnx", role: "worker", executable: executable, startTimeout: startTimeout,
            arguments: { ["onnx", "--connect", try await proxyReady.value().backend] + workerOptions },
            readyPrefix: "river onnx "
        ) { child, _ in workerReady.announce(child.pid) }
        // A crashed or killed worker comes back; serve and proxy ride through the gap.
        worker.restarts = true

        var serveOptions = [
            "--delay", delay, "--max-in-flight", "\(maxInFlight)", "--max-pixels", "\(maxPixels)", "--host",
            host,
            "--http-port",
            "\(httpPort)",
            "--udp-port", "\(udpPort)",
        ]
        for ip in publicIP { serveOptions += ["--public-ip", ip] }
        if let tcpPort { serveOptions += ["--tcp-port", "\(tcpPort)"] }
        if noIceTcp { serveOptions += ["--no-ice-tcp"] }
        if let adminPort { serveOptions += ["--admin-port", "\(adminPort)"] }
        if let token { serveOptions += ["--token", token] }
        if let tokenFile { serveOptions += ["--token-file", tokenFile] }
        if let record { serveOptions += ["--record", record, "--record-max-bytes", "\(recordMaxBytes)"] }
        if let resultsWebhook { serveOptions += ["--results-webhook", resultsWebhook] }
        let serveArguments = serveOptions + https.arguments + limits.arguments + keys.serveArguments
        let delay = delay
        let servePID = Announcement<pid_t>()
        let serve = ChildService(
            name: "serve", role: "serve", executable: executable, startTimeout: startTimeout,
            arguments: {
                // Start order proxy → worker → serve, each waited for.
                let frontend = try await proxyReady.value().frontend
                _ = try await workerReady.value()
                return ["serve", "--proxy", frontend] + serveArguments
            },
            readyPrefix: "river serve: "
        ) { child, line in
            guard let urls = Self.field("urls", in: line)?.split(separator: ","), let first = urls.first
            else {
                throw UpFailure("river up: cannot read the page's URLs from: \(line)")
            }
            // Serve's arguments waited for both.
            guard let proxy = proxyReady.announced, let worker = workerReady.announced else {
                throw UpFailure("river up: serve got ready before the proxy and worker")
            }
            servePID.announce(child.pid)
            // Tests and scripts read the first line; a person reads the URLs.
            print(
                "river up: \(first) delay=\(delay) proxy=\(proxy.frontend) "
                    + "backend=\(proxy.backend) pids=proxy:\(proxy.pid),onnx:\(worker),serve:\(child.pid)")
            for url in urls.dropFirst() { print("river up: also \(url)") }
            if let fingerprint = Self.field("sha256", in: line) {
                print("river up: certificate sha256 \(fingerprint)")
            }
            fflush(nil)
        }
        // SIGHUP reloads serve's certificate; `up` passes it on rather than dying of it.
        let reload = SignalForward(signal: .sighup, to: servePID)

        // Stopped in reverse: serve first, so sessions end before their inference goes away.
        do {
            try await Lifecycle.run([reload, proxy, worker, serve], logger: Logger(label: "river.up"))
        } catch let failure as UpFailure {
            FileHandle.standardError.write(Data("\(failure)\n".utf8))
            throw ExitCode.failure
        }
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

import ArgumentParser
import Foundation
import Logging
import RiverBroker
import RiverCore
import RiverInference
import Synchronization

/// `river onnx`: a stateless inference worker that serves the proxy's backend, until SIGINT or
/// SIGTERM (see ``Lifecycle``).
struct OnnxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "onnx",
        abstract: "Run an ONNX model for the proxy: one result document per frame.",
        discussion: """
            --echo is a benchmark-only mode: it answers every request at once (after --echo-delay-ms) \
            with a small document and never loads a model, so the broker itself can be measured.
            """)

    @Option(help: "The proxy's backend endpoint.")
    var connect = "tcp://127.0.0.1:5556"

    @OptionGroup var modelOptions: ModelOptions

    @OptionGroup var curve: CurveOptions

    @Option(help: "Requests this worker runs at once (one model session each).")
    var slots = 1

    @Option(help: "Name shown in the proxy's logs.")
    var name = "onnx-\(getpid())"

    @Option(help: "Heartbeat interval, in milliseconds (must match the proxy's).")
    var heartbeatMs = 1000

    @Option(help: "Missed heartbeats after which the proxy is presumed gone and the worker reconnects.")
    var liveness = 3

    @Flag(help: "Benchmark-only: answer without running a model.")
    var echo = false

    @Option(help: "With --echo: milliseconds to wait before answering each request.")
    var echoDelayMs = 0

    func validate() throws {
        guard slots >= 1 else { throw ValidationError("--slots must be at least 1") }
        guard heartbeatMs > 0, liveness > 0 else {
            throw ValidationError("--heartbeat-ms and --liveness must be positive")
        }
    }

    func run() async throws {
        let logger = Logger(label: "river.onnx")
        let handler: WorkHandler
        var input: FrameSize?
        if echo {
            handler = Self.echoHandler(delay: .milliseconds(echoDelayMs), name: name)
        } else {
            do {
                let path = try modelOptions.modelPath()
                let options = modelOptions.inferenceOptions
                let engines = try (0..<slots).map { _ throws(InferenceError) in
                    try InferenceEngine(modelPath: path, options: options)
                }
                handler = EnginePool(engines).handler
                input = engines.first?.inputSize
                // Both paths as resolved, so a deployer sees exactly which files were loaded.
                let runtime = try ORTRuntime.shared()
                logger.info(
                    "model loaded",
                    metadata: [
                        "model": "\(URL(fileURLWithPath: path).standardizedFileURL.path)",
                        "slots": "\(slots)",
                        "onnxruntime": "\(runtime.libraryPath) (\(runtime.version))",
                    ])
            } catch {
                logger.error("cannot load the model: \(error)")
                throw ExitCode.failure
            }
        }
        let connect = connect
        let configuration = WorkerConfiguration(
            slots: slots, name: name, heartbeatInterval: .milliseconds(heartbeatMs), liveness: liveness,
            curve: try curve.peerCurve(), input: input)
        let ready =
            "river onnx connect=\(connect) slots=\(slots)" + (input.map { " input=\($0)" } ?? "")
            + (echo ? " echo" : "")
        let worker = ThreadedPart("onnx") {
            let worker = BrokerWorker(
                connect: connect, configuration: configuration, logger: logger, handler: handler)
            print(ready)
            fflush(nil)
            // Stopping tells the proxy we are leaving (its requests go to other workers at once).
            return { worker.stop() }
        }
        try await Lifecycle.run([worker], logger: logger)
    }

    /// Answers `{"echo":true,"bytes":N,"worker":"NAME"}` after `delay`, touching no pixels (the
    /// name tells a test which worker took a request).
    static func echoHandler(delay: Duration, name: String) -> WorkHandler {
        let name = String(decoding: try! JSONEncoder().encode(name), as: UTF8.self)
        let seconds = delay / .seconds(1)
        return { request in
            if seconds > 0 { Thread.sleep(forTimeInterval: seconds) }
            return WorkResult(
                document: Array(
                    "{\"echo\":true,\"bytes\":\(request.header.byteCount),\"worker\":\(name)}".utf8))
        }
    }
}

/// One engine per slot. Engines are not thread-safe; the pool hands each to one request at a time.
/// The handler runs on the worker's slot thread, so the model blocks that thread only.
final class EnginePool: @unchecked Sendable {
    // @unchecked: `free` is only touched under `lock`; an engine is used by the one request that
    // took it out of `free` until it puts it back.
    private let lock = NSLock()
    private var free: [Engine]

    /// An engine on loan to one request.
    private struct Engine: @unchecked Sendable {
        // @unchecked: see the pool; only the borrowing request touches it.
        let engine: InferenceEngine
    }

    init(_ engines: [InferenceEngine]) { free = engines.map(Engine.init) }

    var handler: WorkHandler {
        { [self] request in
            let frame = try request.frame()
            guard let engine = take() else { throw InferenceError.badRequest("more requests than slots") }
            defer { put(engine) }
            let result = try engine.engine.run(frame: frame)
            return WorkResult(document: Array(try InferenceResult.encoder.encode(result)))
        }
    }

    private func take() -> Engine? {
        lock.lock()
        defer { lock.unlock() }
        return free.popLast()
    }

    private func put(_ engine: Engine) {
        lock.lock()
        free.append(engine)
        lock.unlock()
    }
}

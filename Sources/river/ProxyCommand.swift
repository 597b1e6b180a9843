import ArgumentParser
import Foundation
import Logging
import RiverBroker

/// `river proxy`: the least-busy load balancer between serve instances and `river onnx` workers,
/// until SIGINT or SIGTERM (see ``Lifecycle``).
struct ProxyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy",
        abstract: "Balance inference requests from clients over workers, least busy first.")

    @Option(
        help: "Endpoint clients (river serve) connect to; e.g. tcp://*:5555 for other hosts (with CURVE).")
    var frontend = "tcp://127.0.0.1:5555"

    @Option(help: "Endpoint workers (river onnx) connect to; e.g. tcp://*:5556 for other hosts (with CURVE).")
    var backend = "tcp://127.0.0.1:5556"

    @Option(help: "The proxy's secret key file (NAME.key from river keys): every connection is CURVE.")
    var curveSecret: String?

    @Option(help: "Public key file of an allowed client, or a directory of .pub files; repeatable.")
    var allowClients: [String] = []

    @Option(help: "Public key file of an allowed worker, or a directory of .pub files; repeatable.")
    var allowWorkers: [String] = []

    @Flag(help: "Allow a non-loopback endpoint without CURVE: anyone reaching it can take frames.")
    var insecure = false

    @Option(help: "Heartbeat interval to workers, in milliseconds (workers must use the same).")
    var heartbeatMs = 1000

    @Option(help: "Missed heartbeats after which a worker is declared dead.")
    var liveness = 3

    @Option(help: "Requests that may wait for a free worker slot; more are answered ERROR(overloaded).")
    var queueLimit = 256

    @Option(help: "Of the queue, requests one client may have waiting; more are answered ERROR(overloaded).")
    var clientQueueLimit = 64

    @Option(help: "Slots one worker may announce; a READY with more registers this many.")
    var maxSlotsPerWorker = 64

    @Option(help: "Registered workers at most; READY from one more is ignored and counted.")
    var maxWorkers = 1024

    @Option(help: "Longest deadline a request may ask for, in seconds; longer budgets are cut to it.")
    var maxBudgetSeconds = 60

    @Option(help: "Seconds between counter log lines (0: never).")
    var statsSeconds = 10

    func validate() throws {
        guard heartbeatMs > 0 else { throw ValidationError("--heartbeat-ms must be positive") }
        guard liveness > 0 else { throw ValidationError("--liveness must be positive") }
        guard queueLimit > 0 else { throw ValidationError("--queue-limit must be positive") }
        guard clientQueueLimit > 0, maxSlotsPerWorker > 0, maxWorkers > 0, maxBudgetSeconds > 0 else {
            throw ValidationError(
                "--client-queue-limit, --max-slots-per-worker, --max-workers and --max-budget-seconds must be positive"
            )
        }
        if curveSecret == nil, !(allowClients.isEmpty && allowWorkers.isEmpty) {
            throw ValidationError("--allow-clients and --allow-workers need --curve-secret")
        }
        if curveSecret != nil, allowClients.isEmpty || allowWorkers.isEmpty {
            throw ValidationError("with --curve-secret, give --allow-clients and --allow-workers")
        }
    }

    /// The key pair and allow lists read from their files; nil without --curve-secret.
    func proxyCurve() throws -> ProxyCurve? {
        guard let curveSecret else { return nil }
        do throws(CurveKeyError) {
            var clients = Set<CurveKey>()
            var workers = Set<CurveKey>()
            for path in allowClients { clients.formUnion(try CurveKeyFile.readPublicKeys(path)) }
            for path in allowWorkers { workers.formUnion(try CurveKeyFile.readPublicKeys(path)) }
            return ProxyCurve(
                keyPair: try CurveKeyFile.readPair(curveSecret), clients: clients, workers: workers)
        } catch {
            // One line naming the file, not a usage screen: the options were right, a file is not.
            FileHandle.standardError.write(Data("river proxy: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }

    func run() async throws {
        let logger = Logger(label: "river.proxy")
        let (frontend, backend) = (frontend, backend)
        let configuration = ProxyConfiguration(
            heartbeatInterval: .milliseconds(heartbeatMs), liveness: liveness, queueLimit: queueLimit,
            clientQueueLimit: clientQueueLimit, maxSlotsPerWorker: maxSlotsPerWorker, maxWorkers: maxWorkers,
            maxBudget: .seconds(maxBudgetSeconds))
        let statsInterval: Duration? = statsSeconds > 0 ? .seconds(statsSeconds) : nil
        let curve = try proxyCurve()
        let insecure = insecure
        let proxy = ThreadedPart("proxy") {
            let proxy: BrokerProxy
            do {
                proxy = try BrokerProxy(
                    frontend: frontend, backend: backend, configuration: configuration, curve: curve,
                    insecure: insecure, logger: logger, statsInterval: statsInterval)
            } catch let error as BrokerProxyError {
                // One line a person can act on (`river proxy: refusing to bind ...`).
                FileHandle.standardError.write(Data("river proxy: \(error)\n".utf8))
                throw ExitCode.failure
            } catch {
                logger.error("proxy cannot start: \(error)")
                throw ExitCode.failure
            }
            // Tests and scripts read the bound endpoints from this line.
            print(
                "river proxy frontend=\(proxy.frontendEndpoint) backend=\(proxy.backendEndpoint)"
                    + " mechanism=\(proxy.isCurve ? "CURVE" : "NULL")")
            fflush(nil)
            // Stopping closes the listeners and every client and worker connection.
            return { proxy.stop() }
        }
        try await Lifecycle.run([proxy], logger: logger)
    }
}

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

    @Option(help: "Endpoint clients (river serve) connect to.")
    var frontend = "tcp://*:5555"

    @Option(help: "Endpoint workers (river onnx) connect to.")
    var backend = "tcp://*:5556"

    @Option(help: "Heartbeat interval to workers, in milliseconds (workers must use the same).")
    var heartbeatMs = 1000

    @Option(help: "Missed heartbeats after which a worker is declared dead.")
    var liveness = 3

    @Option(help: "Requests that may wait for a free worker slot; more are answered ERROR(overloaded).")
    var queueLimit = 256

    @Option(help: "Seconds between counter log lines (0: never).")
    var statsSeconds = 10

    func validate() throws {
        guard heartbeatMs > 0 else { throw ValidationError("--heartbeat-ms must be positive") }
        guard liveness > 0 else { throw ValidationError("--liveness must be positive") }
        guard queueLimit > 0 else { throw ValidationError("--queue-limit must be positive") }
    }

    func run() async throws {
        let logger = Logger(label: "river.proxy")
        let (frontend, backend) = (frontend, backend)
        let configuration = ProxyConfiguration(
            heartbeatInterval: .milliseconds(heartbeatMs), liveness: liveness, queueLimit: queueLimit)
        let statsInterval: Duration? = statsSeconds > 0 ? .seconds(statsSeconds) : nil
        let proxy = ThreadedPart("proxy") {
            let proxy: BrokerProxy
            do {
                proxy = try BrokerProxy(
                    frontend: frontend, backend: backend, configuration: configuration, logger: logger,
                    statsInterval: statsInterval)
            } catch {
                logger.error("proxy cannot start: \(error)")
                throw ExitCode.failure
            }
            // Tests and scripts read the bound endpoints from this line.
            print("river proxy frontend=\(proxy.frontendEndpoint) backend=\(proxy.backendEndpoint)")
            fflush(nil)
            // Stopping closes the listeners and every client and worker connection.
            return { proxy.stop() }
        }
        try await Lifecycle.run([proxy], logger: logger)
    }
}

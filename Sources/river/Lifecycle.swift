import Logging
import ServiceLifecycle

/// How `river proxy`, `river onnx` and `river up` run: their parts are services of one
/// `ServiceGroup` (`river serve` builds the same group in `ServeApp`).
///
/// SIGINT and SIGTERM shut the group down gracefully: each service is asked to stop in the
/// reverse of the order given, and the next one is asked only once it has returned, so a part is
/// stopped before what it depends on. A service that returns or throws on its own shuts the group
/// down the same way (its error is the group's). In a process that `river up` started the
/// ``ParentWatch`` runs first, so it is the last to stop.
enum Lifecycle {
    static func run(_ services: [any Service], logger: Logger) async throws {
        let configurations = (ParentWatch.services + services).map {
            ServiceGroupConfiguration.ServiceConfiguration(
                service: $0, successTerminationBehavior: .gracefullyShutdownGroup,
                failureTerminationBehavior: .gracefullyShutdownGroup)
        }
        let group = ServiceGroup(
            configuration: .init(
                services: configurations, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// A part that runs on threads of its own from the moment it is made (the proxy's event loop, the
/// worker's socket thread) and only has to be stopped: the service waits for the group to shut
/// down, or to be cancelled, and then calls `stop`.
struct StopOnShutdown: Service, CustomStringConvertible {
    let description: String
    let stop: @Sendable () -> Void

    init(_ name: String, stop: @escaping @Sendable () -> Void) {
        self.description = name
        self.stop = stop
    }

    func run() async {
        try? await gracefulShutdown()
        stop()
    }
}

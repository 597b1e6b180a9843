import Logging
import RiverServe
import ServiceLifecycle

/// How `river proxy`, `river onnx` and `river up` run: their parts are services of one
/// `ServiceGroup` (`river serve` builds the same group in `ServeApp`).
///
/// ``ServiceRunner`` says how the group stops. In a process that `river up` started the
/// ``ParentWatch`` runs first, so it is the last to stop.
enum Lifecycle {
    static func run(_ services: [any Service], logger: Logger) async throws {
        try await ServiceRunner.run(ParentWatch.services + services, logger: logger)
    }
}

/// A part that runs on threads of its own once started (the proxy's event loop, the worker's
/// socket thread) and then only has to be stopped. `start` runs inside the group, so a ready
/// line it prints comes after the group took over SIGINT and SIGTERM: a script that signals as
/// soon as it reads the line gets a graceful stop, never the default action that kills the
/// process. The service then waits for the group to shut down, or to be cancelled, and calls the
/// `stop` that `start` returned.
struct ThreadedPart: Service, CustomStringConvertible {
    let description: String
    let start: @Sendable () throws -> @Sendable () -> Void

    init(_ name: String, start: @escaping @Sendable () throws -> @Sendable () -> Void) {
        self.description = name
        self.start = start
    }

    func run() async throws {
        let stop = try start()
        try? await gracefulShutdown()
        stop()
    }
}

import Logging
import ServiceLifecycle

/// How every river process runs its parts: as services of one `ServiceGroup` that SIGINT and
/// SIGTERM shut down gracefully, each service asked to stop in the reverse of the order given, the
/// next only once it has returned, so a part stops before what it depends on. A service that
/// returns or throws on its own shuts the group down the same way (its error is the group's).
public enum ServiceRunner {
    public static func run(_ services: [any Service], logger: Logger) async throws {
        let configurations = services.map {
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

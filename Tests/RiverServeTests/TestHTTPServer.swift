import Hummingbird
import Logging
import ServiceLifecycle
import Testing

@testable import RiverServe

/// Runs serve's ``HTTPService`` for `router` on a free port of 127.0.0.1 while `body` runs with
/// that port; shuts it down when `body` returns or throws.
func withHTTPServer(
    _ router: Router<ServeRequestContext>, identity: TLSIdentity? = nil, _ body: (Int) async throws -> Void
) async throws {
    let bound = AsyncStream<Int>.makeStream()
    let http = HTTPService(
        router: router, host: "127.0.0.1", port: 0, identity: identity, logger: Logger(label: "test"),
        onServerRunning: { channel in bound.continuation.yield(channel.localAddress?.port ?? 0) })
    try await withServices([http]) {
        var ports = bound.stream.makeAsyncIterator()
        try await body(try #require(await ports.next()))
    }
}

/// Runs `services` in a group while `body` runs; shuts them down gracefully when it returns or throws.
func withServices(_ services: [any Service], _ body: () async throws -> Void) async throws {
    let group = ServiceGroup(services: services, logger: Logger(label: "test"))
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        defer { tasks.cancelAll() }
        do {
            try await body()
        } catch {
            await group.triggerGracefulShutdown()
            throw error
        }
        await group.triggerGracefulShutdown()
    }
}

/// Polls `condition` every few milliseconds; fails after `timeout`.
func waitUntil(timeout: Duration = .seconds(20), _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        try #require(ContinuousClock.now < deadline, "timed out")
        try await Task.sleep(for: .milliseconds(5))
    }
}

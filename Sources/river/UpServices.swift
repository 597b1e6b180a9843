import Foundation
import ServiceLifecycle
import Synchronization
import UnixSignals

#if canImport(Glibc)
    import Glibc
#endif

/// One child of `river up` as a service of its group: waits for what the child's arguments need
/// (another child's announcement), starts it, waits for its ready line, then watches it.
///
/// When the group shuts down, the child gets SIGTERM and its lifeline closes (SIGKILL after 5 s)
/// and the service returns once it has exited; the group stops the next child only then, so the
/// order of the services is the order of the stops, reversed. A child that fails to start, or
/// ends on its own with an error, throws its ``ServiceChild/failureReport()`` (the group then
/// stops the others), unless the service `restarts` it: the worker comes back after 1 s, while
/// serve and the proxy ride through the gap (the proxy answers its lost requests, serve marks
/// those frames `workerLost`). A child that stopped cleanly (status 0, after a signal that was
/// not `up`'s) was asked to stop, it did not crash: that stops `up` as SIGTERM does.
struct ChildService: Service, CustomStringConvertible {
    /// The subcommand's name, in front of each line of its output.
    let name: String
    /// What the child is to a person, in `up`'s own messages ("worker").
    let role: String
    let executable: String
    /// How long the child may take to print its ready line.
    let startTimeout: Duration
    /// The child's arguments, once what they need is known.
    let arguments: @Sendable () async throws -> [String]
    /// The start of the line the child prints once it is ready.
    let readyPrefix: String
    /// Called with the started child and its ready line; it may throw a ``UpFailure``.
    let ready: @Sendable (ServiceChild, String) throws -> Void
    /// Whether a child that ends on its own is started again (after 1 s) instead of ending `up`.
    var restarts = false

    var description: String { role }

    func run() async throws {
        let arguments: [String]
        do {
            arguments = try await cancelWhenGracefulShutdown { try await self.arguments() }
        } catch is CancellationError {
            return  // the group stopped before this child's turn came
        }
        var child = try ServiceChild(name: name, executable: executable, arguments: arguments)
        let line = await whileRunning(child) {
            await child.line(startingWith: readyPrefix, timeout: startTimeout)
        }
        if stopping {
            _ = await child.exited()
            return
        }
        guard let line else {
            let report = child.failureReport()
            child.stop(grace: .zero)
            _ = await child.exited()
            throw UpFailure(report)
        }
        do {
            try ready(child, line)
        } catch {
            child.stop()
            _ = await child.exited()
            throw error
        }
        // Restarts back off (1, 2, 4 … 30 s); a child that ran a minute starts the count again.
        var failures = 0
        var started = ContinuousClock.now
        while true {
            let watched = child
            let status = await whileRunning(watched) { await watched.exited() }
            if stopping { return }
            if status == 0 {
                // Stopped cleanly by someone else's signal: systemd's stop and a terminal's Ctrl-C
                // signal every process of `up` at once. Not a failure; `up` stops the others the
                // usual way (a second SIGTERM while it already is stopping changes nothing). The
                // service returns at its turn: a service of a group that is shutting down must not
                // end before then.
                kill(getpid(), SIGTERM)
                try? await gracefulShutdown()
                return
            }
            // The dead child's lifeline is ours to close, or each restart would keep one fd.
            child.stop(grace: .zero)
            guard restarts else { throw UpFailure(child.failureReport()) }
            failures = ContinuousClock.now - started >= Self.stableRun ? 1 : failures + 1
            guard failures <= Self.maxRestarts else {
                throw UpFailure(
                    "\(child.failureReport())\nriver up: the \(role) failed \(failures) times in a row; giving up"
                )
            }
            let wait = Self.restartDelay(after: failures)
            FileHandle.standardError.write(
                Data(
                    "river up: \(role) \(child.pid) exited (\(status)); restarting in \(wait.components.seconds) s\n"
                        .utf8))
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) }
            } catch {
                return
            }
            child = try ServiceChild(name: name, executable: executable, arguments: arguments)
            started = ContinuousClock.now
            print("river up: \(role) restarted pid=\(child.pid)")
            fflush(nil)
        }
    }

    /// Runs `operation` (which must end when the child does); a graceful shutdown or cancellation
    /// meanwhile stops the child.
    private func whileRunning<T: Sendable>(_ child: ServiceChild, _ operation: () async -> T) async -> T {
        await withTaskCancellationOrGracefulShutdownHandler {
            await operation()
        } onCancelOrGracefulShutdown: {
            child.stop()
        }
    }

    private var stopping: Bool { Task.isShuttingDownGracefully || Task.isCancelled }

    /// Consecutive quick failures after which `up` stops restarting and fails.
    static let maxRestarts = 6
    /// A child that ran this long before dying counts as a fresh first failure.
    static let stableRun: Duration = .seconds(60)

    /// 1 s after the first failure, doubling up to 30 s.
    static func restartDelay(after failures: Int) -> Duration {
        .seconds(min(30, 1 << min(max(failures - 1, 0), 5)))
    }
}

/// Why `river up` stopped on its own: a child's failure report, for stderr.
struct UpFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A value one of `river up`'s children announces once and others wait for (the proxy's
/// endpoints, before the worker and serve can start).
final class Announcement<Value: Sendable>: Sendable {
    private struct State {
        var value: Value?
        var waiters: [Int: CheckedContinuation<Value, any Error>] = [:]
        var nextWaiter = 0
    }

    private let state = Mutex(State())

    func announce(_ value: Value) {
        let waiters = state.withLock { state in
            state.value = value
            defer { state.waiters = [:] }
            return state.waiters.values
        }
        for waiter in waiters { waiter.resume(returning: value) }
    }

    /// The value if it has been announced.
    var announced: Value? { state.withLock { $0.value } }

    /// The value, once announced; throws `CancellationError` if the task is cancelled first.
    func value() async throws -> Value {
        let id = state.withLock { state in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let ready: Result<Value, any Error>? = state.withLock { state in
                    if let value = state.value { return .success(value) }
                    // Checked under the lock: a cancellation that ran onCancel already is seen here.
                    if Task.isCancelled { return .failure(CancellationError()) }
                    state.waiters[id] = continuation
                    return nil
                }
                if let ready { continuation.resume(with: ready) }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume(throwing: CancellationError())
        }
    }
}

/// Passes `signal` on to a child once its PID is announced, for as long as the group runs; the
/// signal's default action (for SIGHUP: ending `up`) no longer applies.
struct SignalForward: Service, CustomStringConvertible {
    let signal: UnixSignal
    let to: Announcement<pid_t>
    var description: String { "forward \(signal)" }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            for await _ in await UnixSignalsSequence(trapping: signal) {
                if let pid = to.announced { kill(pid, signal.rawValue) }
            }
        }
    }
}

import Foundation
import ServiceLifecycle

#if canImport(Glibc)
    import Glibc
#endif

/// The child side of ``ServiceChild``'s lifeline, as a service of the child's group: in a process
/// that `river up` started, a thread reads stdin until end of file (the parent died or let go),
/// and then the process sends itself SIGTERM, so the group shuts down gracefully exactly as when
/// `up` stops it; if that takes longer than 5 s, the process exits, so no child outlives a killed
/// `river up` for long.
///
/// The signal, rather than returning from `run`: `up` closes the lifeline and sends SIGTERM at
/// the same moment, and a service of a group that is already shutting down must not end before
/// its turn (the group would call that a failure); a second SIGTERM during a shutdown is ignored.
struct ParentWatch: Service {
    /// The watch in a process that `river up` started (``ServiceChild/watchVariable`` is set);
    /// nothing in one a person started.
    static var services: [any Service] {
        ProcessInfo.processInfo.environment[ServiceChild.watchVariable] == nil ? [] : [ParentWatch()]
    }

    func run() async {
        let (closed, closing) = AsyncStream<Never>.makeStream()
        // A blocking read on a thread of its own; it is left blocked when the group stops first.
        Thread.detachNewThread {
            var byte: UInt8 = 0
            while true {
                let count = read(0, &byte, 1)
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { break }
            }
            closing.finish()
        }
        for await _ in closed.cancelOnGracefulShutdown() {}
        guard !Task.isShuttingDownGracefully && !Task.isCancelled else { return }
        Thread.detachNewThread {
            sleep(5)
            _exit(1)
        }
        kill(getpid(), SIGTERM)
        try? await gracefulShutdown()
    }
}

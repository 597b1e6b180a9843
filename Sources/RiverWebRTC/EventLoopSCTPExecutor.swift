import NIOCore
import RiverSCTP

/// Runs an SCTP association's work on the peer connection's event loop, so the association,
/// its DTLS endpoint and the session's other state share one thread (see `SCTPExecutor`).
struct EventLoopSCTPExecutor: SCTPExecutor {
    let eventLoop: EventLoop

    func execute(_ job: @escaping @Sendable () -> Void) {
        eventLoop.execute(job)
    }
}

import NIOCore
import RiverSCTP

/// Runs a session's SCTP association work on its event loop (see `SCTPExecutor`), then lets the
/// server drain what the job produced, as after any other engine input.
struct SessionSCTPExecutor: SCTPExecutor {
    let eventLoop: EventLoop
    let afterJob: @Sendable () -> Void

    func execute(_ job: @escaping @Sendable () -> Void) {
        eventLoop.execute {
            job()
            afterJob()
        }
    }
}

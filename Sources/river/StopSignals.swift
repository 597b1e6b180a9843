import Foundation

/// SIGINT and SIGTERM, the signals that stop a river process, taken with `sigwait` instead of
/// handlers.
enum StopSignals {
    /// Blocks both in the calling thread, and so in every thread it starts afterwards; returns the
    /// set, for `sigwait`/`sigtimedwait`.
    @discardableResult
    static func block() -> sigset_t {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        return signals
    }

    /// Blocks both in the calling thread and waits for one. Threads started earlier that do not
    /// block them take the default action on a stop signal: the process ends, which is also a stop.
    static func wait() {
        var signals = block()
        var received: Int32 = 0
        sigwait(&signals, &received)
    }
}

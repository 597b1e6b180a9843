import Dispatch

/// The serial context that owns an ``SCTPAssociation``: a session's event loop or a serial
/// dispatch queue.
///
/// usrsctp calls back on whatever thread happens to be inside it: our timer thread (see
/// ``UsrsctpRuntime``) for retransmissions and heartbeats, or the owner's own thread during
/// `receive`/`send`. Those callbacks never touch the association; they queue work with
/// `execute`, and everything that reads or changes association state runs in such jobs or in
/// calls the owner makes from the same context. Jobs must run one at a time, in submission order.
public protocol SCTPExecutor: Sendable {
    func execute(_ job: @escaping @Sendable () -> Void)
}

extension DispatchQueue: SCTPExecutor {
    /// A serial queue is a valid owner; a concurrent one is not.
    public func execute(_ job: @escaping @Sendable () -> Void) {
        async(execute: job)
    }
}

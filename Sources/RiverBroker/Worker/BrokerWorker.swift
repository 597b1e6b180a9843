import Logging

/// The worker side of the broker protocol: a DEALER connected to the proxy's backend that
/// registers with READY, heartbeats, runs the handler on each REQUEST (at most `slots` at once)
/// and answers REPLY or ERROR. When the proxy goes silent it drops the socket and reconnects with
/// capped exponential back-off; when the proxy does not know it (after a restart), it registers
/// again. `WorkerCore` holds these rules; this type only wires threads to it.
///
/// Threads: one socket thread (`WorkerSocketLoop`) owns the socket and the core; `slots` slot
/// threads (`SlotPool`), started once, run the handler and hand completions back through a locked
/// mailbox and an eventfd.
public final class BrokerWorker: Sendable {
    public let endpoint: String
    public let configuration: WorkerConfiguration
    private let mailbox: WorkerMailbox
    private let loop: LoopThread
    private let pool: SlotPool

    /// Connects to the proxy's backend and starts serving.
    public init(
        connect endpoint: String, configuration: WorkerConfiguration = .init(),
        logger: Logger = Logger(label: "river.worker"), handler: @escaping WorkHandler
    ) {
        self.endpoint = endpoint
        self.configuration = configuration
        let mailbox = WorkerMailbox()
        let loop = LoopThread()
        let pool = SlotPool(slots: configuration.slots, name: "river-slot", handler: handler) {
            mailbox.deliver($0)
            loop.wakeup.signal()
        }
        (self.mailbox, self.loop, self.pool) = (mailbox, loop, pool)
        let context = ZMQContext()
        loop.start(name: "river-worker") {
            WorkerSocketLoop(
                endpoint: endpoint, configuration: configuration, logger: logger, context: context,
                mailbox: mailbox, pool: pool, loop: loop
            ).run()
        }
    }

    public var counters: WorkerCounters { mailbox.counters }

    /// Tells the proxy we are leaving, then stops. A handler still running finishes on its slot
    /// thread and its answer is dropped; `stop` does not wait for it. Idempotent.
    public func stop() {
        loop.stop()
        pool.close()
    }
}

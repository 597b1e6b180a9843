import RiverCore

/// Settings of a worker's connection to the proxy (`BrokerWorker`, and `WorkerCore` in tests).
public struct WorkerConfiguration: Sendable {
    /// Announced in READY; the proxy sends at most this many requests at once, and the worker
    /// runs this many handler threads.
    public var slots: Int
    /// Shown in the proxy's logs.
    public var name: String
    /// The model's input size, announced in READY so that clients scale frames down to it before
    /// sending them; nil for a model that takes frames of any size.
    public var input: FrameSize?
    /// Must match the proxy's.
    public var heartbeatInterval: Duration
    public var liveness: Int
    /// First and largest wait before reconnecting after the proxy went silent.
    public var initialBackoff: Duration
    public var maxBackoff: Duration
    /// The proxy's public key and this worker's pair; nil for the NULL mechanism.
    public var curve: PeerCurve?

    public init(
        slots: Int = 1, name: String = "worker", heartbeatInterval: Duration = .seconds(1), liveness: Int = 3,
        initialBackoff: Duration = .milliseconds(250), maxBackoff: Duration = .seconds(8),
        curve: PeerCurve? = nil, input: FrameSize? = nil
    ) {
        self.curve = curve
        self.input = input
        self.slots = max(1, min(Int(UInt16.max), slots))
        self.name = name
        self.heartbeatInterval = heartbeatInterval
        self.liveness = liveness
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
    }
}

/// A worker's totals. Every request received ends in exactly one of `answered`, `failed`,
/// `expired`, `stale` or `discarded`, or is still held.
public struct WorkerCounters: Sendable, Equatable {
    public var received = 0
    public var answered = 0
    /// Handler threw: answered with ERROR(workerFailed).
    public var failed = 0
    /// Deadline passed before a slot could start it: answered with ERROR(expired).
    public var expired = 0
    /// Finished after the connection it came on was dropped: not sent, since the proxy already
    /// gave the request to another worker or answered it.
    public var stale = 0
    /// Still waiting for a slot when the connection was dropped: never run.
    public var discarded = 0
    /// Messages from the proxy that failed to decode or made no sense to a worker.
    public var malformed = 0
    /// Times the socket was dropped and made again after the proxy went silent.
    public var reconnects = 0
    /// Times the proxy asked us to register again (it restarted, or expired us) and we did.
    public var reregistrations = 0
    public init() {}
}

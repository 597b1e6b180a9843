/// Settings of `river proxy` (and of `ProxyCore` in tests).
public struct ProxyConfiguration: Sendable {
    /// How often the proxy sends HEARTBEAT to each worker. Workers must use the same interval.
    public var heartbeatInterval: Duration = .seconds(1)
    /// Missed intervals after which a silent worker is declared dead (zguide's Paranoid Pirate).
    public var liveness: Int = 3
    /// Requests that may wait for a free slot; more are answered ERROR(overloaded). Each holds its
    /// pixels (0.9 MB for 640x480 RGB), so this bounds the proxy's memory too.
    public var queueLimit: Int = 256
    /// Of the queue, what one client may hold; more from it are answered ERROR(overloaded), so one
    /// busy client cannot fill the queue for everyone.
    public var clientQueueLimit: Int = 64
    /// The most slots one worker may announce; a READY above it registers this many.
    public var maxSlotsPerWorker: Int = 64
    /// Registered workers at most; READY from one more is ignored (and counted) until one leaves.
    public var maxWorkers: Int = 1024
    /// The longest deadline a request may ask for; a longer budget is cut to this.
    public var maxBudget: Duration = .seconds(60)

    public init(
        heartbeatInterval: Duration = .seconds(1), liveness: Int = 3, queueLimit: Int = 256,
        clientQueueLimit: Int = 64, maxSlotsPerWorker: Int = 64, maxWorkers: Int = 1024,
        maxBudget: Duration = .seconds(60)
    ) {
        self.heartbeatInterval = heartbeatInterval
        self.liveness = liveness
        self.queueLimit = queueLimit
        self.clientQueueLimit = clientQueueLimit
        self.maxSlotsPerWorker = maxSlotsPerWorker
        self.maxWorkers = maxWorkers
        self.maxBudget = maxBudget
    }
}

/// Totals since the proxy started (monotonic counters) and the current gauges.
public struct ProxyCounters: Sendable, Equatable {
    /// REQUEST messages accepted from clients.
    public var requests = 0
    /// Requests handed to a worker (re-dispatches included).
    public var dispatched = 0
    /// REPLY messages forwarded to clients.
    public var answered = 0
    /// Worker ERROR answers (the handler threw) forwarded to clients.
    public var failed = 0
    /// Requests answered ERROR(expired): their deadline passed while they waited (in the proxy's
    /// queue, or inside a worker, or while a worker held them without answering).
    public var expired = 0
    /// Of those, requests a worker held past their deadline: the proxy answered for it, and the
    /// slot stays taken until the worker answers (``lateReplies``), so a hung worker gets no more.
    public var expiredInFlight = 0
    /// Answers that came after the proxy had answered the request expired: dropped, slot returned.
    public var lateReplies = 0
    /// Requests answered ERROR(overloaded): the queue was full.
    public var overloaded = 0
    /// Of those, requests refused because their client already held its share of the queue.
    public var clientQueueFull = 0
    /// READYs announcing more than the slot cap (registered with the cap), and READYs ignored
    /// because the worker cap was reached.
    public var slotsCapped = 0
    public var workersRefused = 0
    /// Requests whose budget was longer than the cap (their deadline was cut to it).
    public var budgetsCapped = 0
    /// Workers dropped because a request could not be sent to them (gone, or at the high-water
    /// mark): what they held is dispatched again once or answered workerLost.
    public var workersUnreachable = 0
    /// Requests answered ERROR(workerLost).
    public var workerLost = 0
    /// Requests answered ERROR(noWorker): no worker was registered.
    public var noWorker = 0
    /// Requests sent again after their worker was expired.
    public var redispatched = 0
    /// Requests that had to wait in the queue because no slot was free.
    public var queued = 0
    /// Workers declared dead after missing heartbeats.
    public var workersExpired = 0
    /// Messages from clients that failed to decode or made no sense from a client.
    public var malformedFromClients = 0
    /// Messages from workers that failed to decode or made no sense from a worker.
    public var malformedFromWorkers = 0
    /// Replies for requests the proxy no longer tracks (late, or from before a restart).
    public var unknownReplies = 0
    /// Messages that could not be sent (peer gone or its queue full).
    public var sendFailures = 0
    /// Connections whose ZMTP handshake failed (not a ZeroMQ peer, a mechanism mismatch, ...).
    public var brokenConnections = 0
    /// CURVE handshakes refused on the frontend: the key is not an allowed client key.
    public var refusedClients = 0
    /// CURVE handshakes refused on the backend: the key is not an allowed worker key (a client
    /// key included).
    public var refusedWorkers = 0

    /// Requests waiting for a slot now.
    public var queueDepth = 0
    /// Registered, live workers now.
    public var workersAlive = 0
    /// Free worker slots now.
    public var freeSlots = 0

    public init() {}
}

/// What the proxy knows about one worker, for logs and tests.
public struct WorkerStats: Sendable, Equatable {
    public var peer: PeerID
    public var name: String
    public var slots: Int
    public var busy: Int
    public var dispatched: Int
    public var answered: Int
    public var failed: Int
    /// Requests the worker answered ERROR(expired): their deadline passed inside it.
    public var expired: Int
    /// Requests it held when it was expired or left (dispatched again or answered workerLost).
    public var lost: Int
}

import CZMQ
import Logging
import RiverCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Settings of a `BrokerClient`.
public struct ClientConfiguration: Sendable {
    /// How often the client heartbeats the proxy (which answers with CAPACITY); must match the proxy's.
    public var heartbeatInterval: Duration
    public var liveness: Int
    /// Extra time past a request's deadline before the client gives up on it by itself.
    public var timeoutGrace: Duration
    public var initialBackoff: Duration
    public var maxBackoff: Duration
    /// The proxy's public key and this client's pair; nil for the NULL mechanism.
    public var curve: PeerCurve?

    public init(
        heartbeatInterval: Duration = .seconds(1), liveness: Int = 3,
        timeoutGrace: Duration = .milliseconds(250),
        initialBackoff: Duration = .milliseconds(250), maxBackoff: Duration = .seconds(8),
        curve: PeerCurve? = nil
    ) {
        self.curve = curve
        self.heartbeatInterval = heartbeatInterval
        self.liveness = liveness
        self.timeoutGrace = timeoutGrace
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
    }
}

/// The worker capacity behind the proxy, as a ``BrokerClient`` last heard it.
public struct BrokerCapacity: Sendable, Equatable {
    public var workers: Int
    /// Slots of all registered workers: how many requests the proxy can have out at once.
    public var totalSlots: Int
    /// Slots not holding a request when the proxy answered.
    public var freeSlots: Int
    /// Requests waiting in the proxy for a free slot when it answered.
    public var queued: Int
    /// What frames should be scaled down to fit before they are sent (``ProxyCapacity/input``).
    public var input: FrameSize?
    /// When the client received the figure. The proxy answers each client heartbeat
    /// (`ClientConfiguration.heartbeatInterval`), so it is at most about one interval old while
    /// the connection lives.
    public var learnedAt: Instant

    public init(
        workers: Int, totalSlots: Int, freeSlots: Int, queued: Int = 0, input: FrameSize? = nil,
        learnedAt: Instant
    ) {
        self.input = input
        self.workers = workers
        self.totalSlots = totalSlots
        self.freeSlots = freeSlots
        self.queued = queued
        self.learnedAt = learnedAt
    }
}

/// The library serve uses to reach the workers: `try await client.infer(frame:streamID:deadline:)`.
///
/// Any number of requests may be in flight; replies are matched by request id. Each request ends by
/// its deadline (plus `timeoutGrace`) with a reply or a `BrokerError`. ZeroMQ reconnects the socket
/// when the proxy restarts; if the proxy goes silent without closing the connection, the client
/// drops the socket and makes a new one with capped exponential back-off.
///
/// One thread owns the DEALER socket. `infer` queues the request under a lock and wakes the thread
/// through an eventfd; the thread resumes the caller's continuation when the request ends.
public final class BrokerClient: Sendable {
    typealias Waiter = @Sendable (Result<BrokerReply, BrokerError>) -> Void

    private struct Submission {
        var frame: VideoFrame
        var streamID: UInt64
        var budget: Duration
        var waiter: Waiter
    }

    /// A request registered with the core but not yet taken by the socket.
    private struct Outgoing {
        var header: RequestHeader
        var pixels: [UInt8]
        var deadline: Instant
    }

    private struct Shared {
        var submissions: [Submission] = []
        var counters = ClientCounters()
        var capacity: BrokerCapacity?
        var closed = false
    }

    public let endpoint: String
    public let configuration: ClientConfiguration
    private let logger: Logger
    private let shared = Mutex(Shared())
    private let loop = LoopThread()
    private let context = ZMQContext()

    /// Connects to the proxy's frontend (ZeroMQ connects in the background; the client is usable
    /// at once).
    public init(
        connect endpoint: String, configuration: ClientConfiguration = .init(),
        logger: Logger = Logger(label: "river.client")
    ) {
        self.endpoint = endpoint
        self.configuration = configuration
        self.logger = logger
        loop.start(name: "river-client") { [self] in self.run() }
    }

    public var counters: ClientCounters { shared.withLock { $0.counters } }

    /// The proxy's worker slots as last reported (CAPACITY, the answer to each heartbeat); nil
    /// before the proxy first answers and while the connection is down.
    public var capacity: BrokerCapacity? { shared.withLock { $0.capacity } }

    /// Sends `frame` to a worker and waits for its result, at most until `deadline` (plus grace).
    public func infer(
        frame: VideoFrame, streamID: UInt64, deadline: Instant
    ) async throws(BrokerError) -> BrokerReply {
        let budget = max(.zero, deadline - .now)
        let result = await withCheckedContinuation { continuation in
            submit(frame: frame, streamID: streamID, budget: budget) { continuation.resume(returning: $0) }
        }
        return try result.get()
    }

    /// Sends one frame and calls `completion` (on the client's I/O thread, so it must not block)
    /// with the reply or the reason there is none. The callback form the session shell uses: no
    /// task per request.
    public func submit(
        frame: VideoFrame, streamID: UInt64, deadline: Instant,
        completion: @escaping @Sendable (Result<BrokerReply, BrokerError>) -> Void
    ) {
        let budget = max(.zero, deadline - .now)
        submit(frame: frame, streamID: streamID, budget: budget, completion: completion)
    }

    private func submit(
        frame: VideoFrame, streamID: UInt64, budget: Duration, completion: @escaping Waiter
    ) {
        let accepted = shared.withLock { shared in
            guard !shared.closed else { return false }
            shared.submissions.append(
                Submission(frame: frame, streamID: streamID, budget: budget, waiter: completion))
            return true
        }
        if accepted { loop.wakeup.signal() } else { completion(.failure(.closed)) }
    }

    /// Stops the client; requests in flight end with `BrokerError.closed`. Idempotent.
    public func close() {
        loop.stop()
    }

    // MARK: I/O thread

    private func makeSocket() -> ZMQSocket? {
        do {
            let socket = try ZMQSocket(context, type: ZMQ_DEALER)
            // Refuse sends while no proxy is connected: requests wait in `unsent` instead, where
            // their budget is recomputed when they finally go, rather than in ZeroMQ's queue.
            socket.setOption(ZMQ_IMMEDIATE, 1)
            socket.setOption(ZMQ_RECONNECT_IVL, 100)
            socket.setOption(ZMQ_RECONNECT_IVL_MAX, 1000)
            socket.setOption(ZMQ_SNDHWM, 100_000)
            socket.setOption(ZMQ_RCVHWM, 100_000)
            socket.useCurve(configuration.curve)
            try socket.connect(endpoint)
            return socket
        } catch {
            logger.error("client cannot connect", metadata: ["endpoint": "\(endpoint)", "error": "\(error)"])
            return nil
        }
    }

    private func run() {
        let start = Instant.now
        var core = ClientCore<Waiter>(
            liveness: PeerLiveness(
                interval: configuration.heartbeatInterval, liveness: configuration.liveness,
                initialBackoff: configuration.initialBackoff, maxBackoff: configuration.maxBackoff, now: start
            ),
            grace: configuration.timeoutGrace)
        var socket = makeSocket()
        var frames: [Frame] = []
        var poll = PollSet()
        var reconnects = 0
        var ready: [(Waiter, Result<BrokerReply, BrokerError>)] = []
        var unsent = FIFO<Outgoing>()
        var published: (capacity: BrokerCapacity?, heardAt: Instant?) = (nil, nil)
        // The first heartbeat goes as soon as a connection is up, and so does one the socket
        // refused (no connection yet: ZMQ_IMMEDIATE; a CURVE handshake takes a few milliseconds),
        // not an interval later: its CAPACITY answer is what tells serve a worker is there
        // (/readyz, the in-flight share).
        var heartbeatOwed = true

        while !loop.isStopping {
            poll.removeAll()
            poll.add(fd: loop.wakeup.fd)
            if let socket { poll.add(socket) }
            // While requests wait for a connection, look again every 5 ms.
            poll.wait(
                until: unsent.isEmpty && !heartbeatOwed
                    ? core.nextWakeup : min(core.nextWakeup, .now + .milliseconds(5)))
            if poll.readable(0) { loop.wakeup.reset() }

            let submissions = shared.withLock { shared in
                defer { shared.submissions.removeAll(keepingCapacity: true) }
                return shared.submissions
            }
            for submission in submissions { enqueue(submission, &core, &unsent, &ready) }
            if let socket { flush(&unsent, on: socket, core) }
            abandonOverdue(&unsent, &core, &ready)

            if let current = socket {
                for _ in 0..<1024 {
                    guard current.receive(into: &frames) else { break }
                    receive(frames, &core, &ready)
                }
            }

            let now = Instant.now
            for done in core.expire(now: now) { ready.append(finish(done, body: nil)) }
            switch core.liveness.tick(now: now) {
            case .none:
                break
            case .sendHeartbeat:
                heartbeatOwed = true
            case .disconnect:
                logger.warning("proxy silent, reconnecting", metadata: ["endpoint": "\(endpoint)"])
                socket?.close()
                socket = nil
                heartbeatOwed = false
                for done in core.dropAll() { ready.append(finish(done, body: nil)) }
                unsent = FIFO()
            }
            if heartbeatOwed, let socket {
                heartbeatOwed = !socket.send(WireCodec.encode(.heartbeat), more: false)
            }
            if socket == nil, let at = core.liveness.reconnectAt, now >= at {
                socket = makeSocket()
                reconnects += 1
                core.liveness.reconnected(now: now)
                heartbeatOwed = true
            }
            var counters = core.counters
            counters.reconnects = reconnects
            if core.capacity?.heardAt != published.heardAt {
                published.heardAt = core.capacity?.heardAt
                published.capacity = core.capacity.map { capacity, heardAt in
                    BrokerCapacity(
                        workers: Int(capacity.workers), totalSlots: Int(capacity.totalSlots),
                        freeSlots: Int(capacity.freeSlots), queued: Int(capacity.queued),
                        input: capacity.input, learnedAt: heardAt)
                }
            }
            let capacity = published.capacity
            shared.withLock {
                $0.counters = counters
                $0.capacity = capacity
            }
            // Callers resume only after the counters include their request.
            for (waiter, result) in ready { waiter(result) }
            ready.removeAll(keepingCapacity: true)
        }

        let leftovers = shared.withLock { shared in
            shared.closed = true
            defer { shared.submissions.removeAll() }
            return shared.submissions
        }
        for submission in leftovers { submission.waiter(.failure(.closed)) }
        for done in core.dropAll() { done.waiter(.failure(.closed)) }
        socket?.close()
    }

    /// Registers the request (its timeout runs from now) and queues it for the socket.
    private func enqueue(
        _ submission: Submission, _ core: inout ClientCore<Waiter>, _ unsent: inout FIFO<Outgoing>,
        _ ready: inout [(Waiter, Result<BrokerReply, BrokerError>)]
    ) {
        let now = Instant.now
        let header: RequestHeader
        do {
            header = try RequestHeader(
                frame: submission.frame, requestID: 0, streamID: submission.streamID,
                budgetMicros: submission.budget.wireMicros)
        } catch {
            ready.append((submission.waiter, .failure(.invalidFrame(error))))
            return
        }
        let id = core.start(
            submission.waiter, streamID: submission.streamID, rtpTimestamp: submission.frame.rtpTimestamp,
            budget: submission.budget, now: now)
        var wire = header
        wire.requestID = id
        unsent.append(
            Outgoing(header: wire, pixels: submission.frame.data, deadline: now + submission.budget))
    }

    /// Hands queued requests to the socket in order until it refuses one (no proxy connected:
    /// `ZMQ_IMMEDIATE`). The budget sent is what is left of the deadline now, so time spent waiting
    /// here is not granted twice.
    private func flush(_ unsent: inout FIFO<Outgoing>, on socket: ZMQSocket, _ core: ClientCore<Waiter>) {
        let now = Instant.now
        while var outgoing = unsent.first {
            guard core.isWaiting(outgoing.header.requestID) else {
                _ = unsent.popFirst()  // timed out while queued
                continue
            }
            outgoing.header.budgetMicros = (outgoing.deadline - now).wireMicros
            guard socket.send(WireCodec.encode(.request(outgoing.header)), more: true) else { return }
            // libzmq accepts the remaining parts of a message whose first part it took.
            socket.send(retaining: outgoing.pixels, more: false)
            _ = unsent.popFirst()
        }
    }

    /// Requests still waiting for a connection at their deadline end now, as `notConnected`.
    private func abandonOverdue(
        _ unsent: inout FIFO<Outgoing>, _ core: inout ClientCore<Waiter>,
        _ ready: inout [(Waiter, Result<BrokerReply, BrokerError>)]
    ) {
        guard !unsent.isEmpty else { return }
        let now = Instant.now
        unsent.filter { outgoing in
            guard outgoing.deadline <= now else { return core.isWaiting(outgoing.header.requestID) }
            if let done = core.abandon(outgoing.header.requestID) { ready.append(finish(done, body: nil)) }
            return false
        }
    }

    private func receive(
        _ frames: [Frame], _ core: inout ClientCore<Waiter>,
        _ ready: inout [(Waiter, Result<BrokerReply, BrokerError>)]
    ) {
        let now = Instant.now
        let body = frames.count > 1 ? frames[1].message : nil
        let message: WireMessage
        do {
            message = try WireCodec.decode(
                header: frames[0].message.bytes, frameCount: frames.count, bodyCount: body?.count ?? 0)
        } catch {
            core.malformed(now: now)
            logger.warning("client dropped a malformed message", metadata: ["error": "\(error)"])
            return
        }
        if let done = core.received(message, now: now) { ready.append(finish(done, body: body)) }
    }

    private func finish(
        _ done: ClientCore<Waiter>.Finished, body: ZMQMessage?
    ) -> (Waiter, Result<BrokerReply, BrokerError>) {
        let result: Result<BrokerReply, BrokerError>
        switch done.outcome {
        case .reply(let header):
            let roundTrip = Instant.now - done.sentAt
            result = .success(
                BrokerReply(
                    requestID: done.requestID, streamID: done.streamID, rtpTimestamp: done.rtpTimestamp,
                    status: header.status, document: body.map { Array($0.bytes) } ?? [],
                    timings: header.timings, roundTrip: roundTrip))
        case .error(let header):
            let text = body.map { String(decoding: $0.bytes, as: UTF8.self) } ?? ""
            result = .failure(.rejected(requestID: done.requestID, code: header.code, message: text))
        case .timedOut:
            result = .failure(.timedOut(requestID: done.requestID))
        case .connectionLost:
            result = .failure(.connectionLost(requestID: done.requestID))
        case .notSent:
            result = .failure(.notConnected(endpoint: endpoint))
        }
        return (done.waiter, result)
    }
}

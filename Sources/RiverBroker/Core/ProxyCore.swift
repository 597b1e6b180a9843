import RiverCore

/// The scheduling core of `river proxy`: least-busy dispatch over worker slots, bounded queue,
/// deadlines, heartbeats and expiry of silent workers — as a sans-IO state machine.
///
/// The design follows zguide chapter 4 (Load Balancing Broker, Paranoid Pirate): each worker
/// announces k slots with READY; every free slot is an entry in one FIFO, so a request always goes to
/// the slot that has been free longest. A fast worker frees its slots sooner, re-enters the FIFO
/// sooner and so serves proportionally more than a slow one; a worker is never sent more than it
/// announced. Invariant after every event: the queue is non-empty only when no slot is free.
///
/// Events come in through `clientMessage`, `workerMessage`, `rejectClient`, `rejectWorker` and
/// `tick`; what to send comes out in `outputs`, which the I/O shell drains after each event.
/// `Payload` is the shell's handle on a body frame (a ZeroMQ message, forwarded without copying);
/// the core never looks inside it.
public struct ProxyCore<Payload> {
    /// The body frame of an outgoing message.
    public enum Body {
        case none
        /// A body received from a peer, forwarded as is.
        case payload(Payload)
        /// Text the proxy writes itself (ERROR explanations).
        case text(String)
    }

    /// One message to send.
    public enum Output {
        case toWorker(PeerID, WireMessage, Body)
        case toClient(PeerID, WireMessage, Body)
    }

    private struct Request {
        var client: PeerID
        var header: RequestHeader
        var payload: Payload
        var arrivedAt: Instant
        var deadline: Instant
        var redispatched = false
    }

    private struct InFlight {
        var request: Request
        var worker: PeerID
        var dispatchedAt: Instant
    }

    private struct Worker {
        var name: String
        var slots: Int
        var input: FrameSize?
        var free: Int
        /// Bumped at each (re-)registration; free-slot entries from an older epoch are stale.
        var epoch: UInt64
        var expiresAt: Instant
        var dispatched = 0
        var answered = 0
        var failed = 0
        var expired = 0
        var lost = 0
    }

    public let configuration: ProxyConfiguration
    /// Messages to send, in order. The shell sends them and empties the array.
    public var outputs: [Output] = []
    public private(set) var counters = ProxyCounters()
    /// Workers removed since the shell last emptied this (final figures and why), for its log.
    public var departures: [(WorkerStats, reason: String)] = []

    private let interval: Duration
    private var workers: [PeerID: Worker] = [:]
    private var freeSlots = FIFO<(worker: PeerID, epoch: UInt64)>()
    private var queue = FIFO<Request>()
    /// Queued requests per client, for ``ProxyConfiguration/clientQueueLimit``.
    private var queuedByClient: [PeerID: Int] = [:]
    private var inFlight: [UInt64: InFlight] = [:]
    /// Tickets answered expired while a worker held them: the slot stays the worker's until it
    /// answers (then the answer is dropped and the slot returns). At most one per slot.
    private var overdue: [UInt64: PeerID] = [:]
    /// A lower bound of the earliest in-flight deadline (as for the queue); nil: none in flight.
    private var earliestInFlightDeadline: Instant?
    private var nextTicket: UInt64 = 1
    private var nextEpoch: UInt64 = 1
    private var nextHeartbeatAt: Instant
    /// A lower bound of the queue's earliest deadline: a stale (too early) value only costs one
    /// extra scan, and keeps the per-request path free of a scan. Nil: nothing queued.
    private var earliestQueuedDeadline: Instant?

    public init(configuration: ProxyConfiguration = .init(), now: Instant) {
        self.configuration = configuration
        self.interval = max(.nanoseconds(1), configuration.heartbeatInterval)
        self.nextHeartbeatAt = now + interval
    }

    private var expiryWindow: Duration { interval * max(1, configuration.liveness) }

    // MARK: Clients

    /// A message decoded from the frontend. `body` is the pixels of a REQUEST.
    public mutating func clientMessage(
        from client: PeerID, _ message: WireMessage, body: Payload?, now: Instant
    ) {
        switch message {
        case .request(let header):
            guard let body else {
                rejectClient(
                    client, .wrongFrameCount(type: .request, expected: 2, got: 1), requestID: header.requestID
                )
                return
            }
            counters.requests += 1
            var budget = header.budget
            if budget > configuration.maxBudget {
                budget = configuration.maxBudget
                counters.budgetsCapped += 1
            }
            let request = Request(
                client: client, header: header, payload: body, arrivedAt: now, deadline: now + budget)
            guard request.deadline > now else {
                answer(request, .expired, "deadline already passed on arrival")
                counters.expired += 1
                return
            }
            if workers.isEmpty {
                // Waiting for a worker that may never come would only tell the client "expired"
                // at the deadline; say now what is wrong.
                answer(request, .noWorker, "no worker is registered")
                counters.noWorker += 1
            } else if queue.isEmpty, let slot = takeFreeSlot() {
                dispatch(request, to: slot, now: now)
            } else if queue.count >= configuration.queueLimit {
                answer(request, .overloaded, "queue full (\(configuration.queueLimit) waiting)")
                counters.overloaded += 1
            } else if queuedByClient[client, default: 0] >= configuration.clientQueueLimit {
                answer(
                    request, .overloaded,
                    "this client's share of the queue is full (\(configuration.clientQueueLimit) waiting)")
                counters.overloaded += 1
                counters.clientQueueFull += 1
            } else {
                enqueue(request, atHead: false)
                counters.queued += 1
            }
        case .heartbeat:
            // The answer proves the proxy alive and, so that an idle client too keeps a fresh
            // figure (serve sizes its in-flight window by it), says what the workers can hold.
            outputs.append(.toClient(client, .capacity(capacity), .none))
        case .disconnect:
            break
        case .ready, .reply, .error, .capacity:
            rejectClient(client, .badField("\(message.type) is not a client message"), requestID: 0)
        }
        updateGauges()
    }

    /// A frontend message that failed to decode: answered with ERROR and counted.
    public mutating func rejectClient(_ client: PeerID, _ error: ProtocolError, requestID: UInt64) {
        counters.malformedFromClients += 1
        outputs.append(
            .toClient(
                client, .error(ErrorHeader(requestID: requestID, code: error.errorCode)),
                .text(error.description)))
    }

    // MARK: Workers

    /// A message decoded from the backend. `body` is the document of a REPLY or the text of an ERROR.
    public mutating func workerMessage(
        from peer: PeerID, _ message: WireMessage, body: Payload?, now: Instant
    ) {
        if case .ready(let announced, let name, let input) = message {
            guard workers[peer] != nil || workers.count < configuration.maxWorkers else {
                counters.workersRefused += 1
                return
            }
            var slots = Int(announced)
            if slots > configuration.maxSlotsPerWorker {
                slots = configuration.maxSlotsPerWorker
                counters.slotsCapped += 1
            }
            if workers[peer] != nil { lose(peer, now: now, reason: "re-registered") }
            register(peer, slots: slots, name: name, input: input, now: now)
            drain(now: now)
            updateGauges()
            return
        }
        guard workers[peer] != nil else {
            // Not registered here: the proxy restarted, or the worker was expired. Ask it to
            // register again; what it answers belongs to a life of the proxy that is gone.
            if case .reply = message { counters.unknownReplies += 1 }
            if case .error = message { counters.unknownReplies += 1 }
            if message != .disconnect { outputs.append(.toWorker(peer, .disconnect, .none)) }
            return
        }
        workers[peer]!.expiresAt = now + expiryWindow
        switch message {
        case .heartbeat, .ready:
            break
        case .reply(var header):
            guard let flight = finish(ticket: header.requestID, from: peer, now: now) else { break }
            workers[peer]!.answered += 1
            counters.answered += 1
            header.requestID = flight.request.header.requestID
            header.timings.proxyQueueMicros = (flight.dispatchedAt - flight.request.arrivedAt).wireMicros
            outputs.append(
                .toClient(flight.request.client, .reply(header), body.map { .payload($0) } ?? .none))
            drain(now: now)
        case .error(var header):
            guard let flight = finish(ticket: header.requestID, from: peer, now: now) else { break }
            if header.code == .expired {
                workers[peer]!.expired += 1
                counters.expired += 1
            } else {
                workers[peer]!.failed += 1
                counters.failed += 1
            }
            header.requestID = flight.request.header.requestID
            outputs.append(
                .toClient(flight.request.client, .error(header), body.map { .payload($0) } ?? .none))
            drain(now: now)
        case .disconnect:
            remove(peer, now: now, reason: "disconnected")
        case .request, .capacity:
            counters.malformedFromWorkers += 1
        }
        updateGauges()
    }

    /// A backend message that failed to decode: dropped and counted; a wrong version is answered
    /// so the worker's operator sees why it is ignored.
    public mutating func rejectWorker(_ peer: PeerID, _ error: ProtocolError) {
        counters.malformedFromWorkers += 1
        if case .unsupportedVersion = error {
            outputs.append(
                .toWorker(
                    peer, .error(ErrorHeader(requestID: 0, code: .badVersion)), .text(error.description)))
        }
    }

    // MARK: Time

    /// A request could not be sent to `peer` (gone, or at its high-water mark): the worker is
    /// dropped as unreachable, and what it held, that request included, is dispatched again once
    /// or answered workerLost. If it is alive, its next message is answered DISCONNECT and it
    /// registers again.
    public mutating func workerUnreachable(_ peer: PeerID, now: Instant) {
        guard workers[peer] != nil else { return }
        counters.workersUnreachable += 1
        remove(peer, now: now, reason: "unreachable")
        updateGauges()
    }

    /// Sends due heartbeats, expires silent workers, and answers requests whose deadline passed,
    /// queued or held by a worker.
    public mutating func tick(now: Instant) {
        if now >= nextHeartbeatAt {
            for peer in workers.keys { outputs.append(.toWorker(peer, .heartbeat, .none)) }
            nextHeartbeatAt = now + interval
        }
        let dead = workers.filter { $0.value.expiresAt <= now }.map(\.key)
        for peer in dead {
            counters.workersExpired += 1
            lose(peer, now: now, reason: "expired")
        }
        if !dead.isEmpty { answerQueuedIfNoWorker() }
        if let due = earliestQueuedDeadline, now >= due { expireQueued(now: now) }
        if let due = earliestInFlightDeadline, now >= due { expireInFlight(now: now) }
        drain(now: now)
        updateGauges()
    }

    /// When `tick` next has work to do.
    public func nextWakeup() -> Instant {
        var wake = earliestQueuedDeadline.map { min(nextHeartbeatAt, $0) } ?? nextHeartbeatAt
        if let due = earliestInFlightDeadline { wake = min(wake, due) }
        for worker in workers.values { wake = min(wake, worker.expiresAt) }
        return wake
    }

    /// Per-worker figures, for logs and tests.
    public var workerStats: [WorkerStats] {
        workers.map { peer, worker in
            WorkerStats(
                peer: peer, name: worker.name, slots: worker.slots, busy: worker.slots - worker.free,
                dispatched: worker.dispatched, answered: worker.answered, failed: worker.failed,
                expired: worker.expired, lost: worker.lost)
        }.sorted { $0.name < $1.name }
    }

    /// Registered workers, their slots and the queue, as CAPACITY tells clients.
    public var capacity: ProxyCapacity {
        var total = 0
        var free = 0
        // The largest input side by side: any frame scaled to fit it is no smaller than what any
        // worker's model takes. One worker taking any size means frames go at their own size.
        var input: FrameSize? = workers.isEmpty ? nil : FrameSize(width: 0, height: 0)
        for worker in workers.values {
            total += worker.slots
            free += worker.free
            if let size = worker.input, let merged = input {
                input = FrameSize(
                    width: max(merged.width, size.width), height: max(merged.height, size.height))
            } else {
                input = nil
            }
        }
        return ProxyCapacity(
            workers: UInt16(clamping: workers.count), totalSlots: UInt32(clamping: total),
            freeSlots: UInt32(clamping: free), queued: UInt16(clamping: queue.count), input: input)
    }

    /// True when the scheduling invariant holds: nothing waits while a slot is free.
    public var invariantHolds: Bool { queue.isEmpty || counters.freeSlots == 0 }

    // MARK: Internals

    private mutating func register(_ peer: PeerID, slots: Int, name: String, input: FrameSize?, now: Instant)
    {
        let epoch = nextEpoch
        nextEpoch += 1
        workers[peer] = Worker(
            name: name, slots: slots, input: input, free: slots, epoch: epoch, expiresAt: now + expiryWindow)
        for _ in 0..<slots { freeSlots.append((peer, epoch)) }
        compactFreeSlotsIfNeeded()
    }

    /// Removes `peer`; what it held is dispatched again once if the deadline allows, else answered.
    private mutating func lose(_ peer: PeerID, now: Instant, reason: String) {
        let held = inFlight.filter { $0.value.worker == peer }.sorted { $0.key < $1.key }
        if let worker = workers.removeValue(forKey: peer) {
            departures.append(
                (
                    WorkerStats(
                        peer: peer, name: worker.name, slots: worker.slots, busy: held.count,
                        dispatched: worker.dispatched, answered: worker.answered, failed: worker.failed,
                        expired: worker.expired, lost: worker.lost + held.count), reason
                ))
        }
        overdue = overdue.filter { $0.value != peer }
        var retry: [Request] = []
        for (ticket, flight) in held {
            inFlight[ticket] = nil
            var request = flight.request
            if !request.redispatched, request.deadline > now, workers.count > 0 || reason == "re-registered" {
                request.redispatched = true
                retry.append(request)
                counters.redispatched += 1
            } else {
                answer(request, .workerLost, "worker \(peer) \(reason) while holding the request")
                counters.workerLost += 1
            }
        }
        // Retries go to the head of the queue: they have waited longest.
        for request in retry.reversed() { enqueue(request, atHead: true) }
    }

    /// A worker that left or cannot be reached: what it held goes again (``lose``), and the queue
    /// is served by the rest, or answered if none is left.
    private mutating func remove(_ peer: PeerID, now: Instant, reason: String) {
        lose(peer, now: now, reason: reason)
        answerQueuedIfNoWorker()
        drain(now: now)
    }

    /// After the last worker left, what waits in the queue can only expire: answer it now.
    private mutating func answerQueuedIfNoWorker() {
        guard workers.isEmpty else { return }
        while let request = queue.popFirst() {
            answer(request, .noWorker, "the last worker left")
            counters.noWorker += 1
        }
        queuedByClient.removeAll()
        earliestQueuedDeadline = nil
    }

    private mutating func takeFreeSlot() -> PeerID? {
        while let (peer, epoch) = freeSlots.popFirst() {
            guard workers[peer]?.epoch == epoch else { continue }
            workers[peer]!.free -= 1
            return peer
        }
        return nil
    }

    /// Hands queued requests to free slots until one of the two runs out.
    private mutating func drain(now: Instant) {
        while let head = queue.first {
            if head.deadline <= now {
                _ = queue.popFirst()
                leftQueue(head)
                answer(head, .expired, "deadline passed while waiting for a worker")
                counters.expired += 1
                continue
            }
            guard let slot = takeFreeSlot() else { return }
            _ = queue.popFirst()
            leftQueue(head)
            dispatch(head, to: slot, now: now)
        }
        earliestQueuedDeadline = nil
    }

    private mutating func dispatch(_ request: Request, to peer: PeerID, now: Instant) {
        let ticket = nextTicket
        nextTicket += 1
        var header = request.header
        header.requestID = ticket
        header.budgetMicros = (request.deadline - now).wireMicros
        inFlight[ticket] = InFlight(request: request, worker: peer, dispatchedAt: now)
        earliestInFlightDeadline = Instant.earliest(earliestInFlightDeadline, request.deadline)
        workers[peer]!.dispatched += 1
        counters.dispatched += 1
        outputs.append(.toWorker(peer, .request(header), .payload(request.payload)))
    }

    /// Ends the ticket's flight and frees the worker's slot; nil for tickets not held by `peer`
    /// (a late answer to a request already answered expired only frees the slot).
    private mutating func finish(ticket: UInt64, from peer: PeerID, now: Instant) -> InFlight? {
        guard let flight = inFlight[ticket], flight.worker == peer else {
            if overdue[ticket] == peer {
                overdue[ticket] = nil
                counters.lateReplies += 1
                returnSlot(of: peer)
                drain(now: now)
            } else {
                counters.unknownReplies += 1
            }
            return nil
        }
        inFlight[ticket] = nil
        returnSlot(of: peer)
        return flight
    }

    private mutating func returnSlot(of peer: PeerID) {
        guard let worker = workers[peer] else { return }
        workers[peer]!.free += 1
        freeSlots.append((peer, worker.epoch))
    }

    /// Answers requests a worker has held past their deadline; their slots stay taken (see
    /// ``overdue``), so a worker that hangs on every request soon gets no more.
    private mutating func expireInFlight(now: Instant) {
        var earliest: Instant?
        for (ticket, flight) in inFlight.sorted(by: { $0.key < $1.key }) {
            guard flight.request.deadline <= now else {
                earliest = Instant.earliest(earliest, flight.request.deadline)
                continue
            }
            inFlight[ticket] = nil
            overdue[ticket] = flight.worker
            workers[flight.worker]?.expired += 1
            answer(flight.request, .expired, "deadline passed while worker \(flight.worker) held the request")
            counters.expired += 1
            counters.expiredInFlight += 1
        }
        earliestInFlightDeadline = earliest
    }

    private mutating func enqueue(_ request: Request, atHead: Bool) {
        if atHead { queue.prepend(request) } else { queue.append(request) }
        queuedByClient[request.client, default: 0] += 1
        earliestQueuedDeadline = Instant.earliest(earliestQueuedDeadline, request.deadline)
    }

    private mutating func leftQueue(_ request: Request) {
        let left = queuedByClient[request.client, default: 1] - 1
        queuedByClient[request.client] = left > 0 ? left : nil
    }

    private mutating func expireQueued(now: Instant) {
        var expired: [Request] = []
        var earliest: Instant?
        queue.filter { request in
            if request.deadline <= now {
                expired.append(request)
                return false
            }
            earliest = Instant.earliest(earliest, request.deadline)
            return true
        }
        earliestQueuedDeadline = earliest
        for request in expired {
            leftQueue(request)
            answer(request, .expired, "deadline passed while waiting for a worker")
            counters.expired += 1
        }
    }

    private mutating func answer(_ request: Request, _ code: ErrorCode, _ text: String) {
        outputs.append(
            .toClient(
                request.client, .error(ErrorHeader(requestID: request.header.requestID, code: code)),
                .text(text)))
    }

    /// Stale entries (from expired or re-registered workers) are skipped lazily; this keeps the FIFO
    /// from growing without bound when workers come and go.
    private mutating func compactFreeSlotsIfNeeded() {
        let live = workers.values.reduce(0) { $0 + $1.free }
        guard freeSlots.count > 2 * live + 64 else { return }
        let current = workers.mapValues(\.epoch)
        freeSlots.filter { current[$0.worker] == $0.epoch }
    }

    private mutating func updateGauges() {
        counters.queueDepth = queue.count
        counters.workersAlive = workers.count
        counters.freeSlots = workers.values.reduce(0) { $0 + $1.free }
    }
}

extension ProxyCore {
    /// The shell reports messages it could not send (peer gone, or its queue full).
    public mutating func countSendFailures(_ count: Int) { counters.sendFailures += count }

    /// The shell closed a connection whose peer broke the transport protocol.
    public mutating func countBrokenConnection() { counters.brokenConnections += 1 }
}

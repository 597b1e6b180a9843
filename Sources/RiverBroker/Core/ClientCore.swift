import RiverCore

/// The client's bookkeeping, sans-IO: request ids, matching replies to waiters, per-request
/// timeouts, counters, and liveness of the proxy connection.
///
/// `Waiter` is whatever the shell resumes when a request ends (a continuation); tests use integers.
public struct ClientCore<Waiter> {
    /// How one request ended.
    public enum Outcome {
        case reply(ReplyHeader)
        case error(ErrorHeader)
        case timedOut
        case connectionLost
        /// The deadline passed before any proxy connection could take the request.
        case notSent
    }

    /// A request that ended, with what the shell needs to answer its caller.
    public struct Finished {
        public var waiter: Waiter
        public var requestID: UInt64
        public var streamID: UInt64
        public var rtpTimestamp: UInt32
        public var sentAt: Instant
        public var outcome: Outcome
    }

    private struct Entry {
        var waiter: Waiter
        var streamID: UInt64
        var rtpTimestamp: UInt32
        var sentAt: Instant
        var timeoutAt: Instant
    }

    public private(set) var counters = ClientCounters()
    /// What the proxy last said its workers can hold (CAPACITY), and when; nil until it first
    /// answers a heartbeat, and again after the connection is dropped.
    public private(set) var capacity: (ProxyCapacity, heardAt: Instant)?
    public var liveness: PeerLiveness
    /// Added to each deadline before the client gives up on its own, so that the proxy's explicit
    /// ERROR(expired), sent at the deadline, normally arrives first.
    public let grace: Duration
    private var inFlight: [UInt64: Entry] = [:]
    private var nextID: UInt64 = 1
    /// The earliest `timeoutAt` in flight (a lower bound: `expire` rescans); nil when none is.
    private var earliestTimeout: Instant?

    /// A negative `grace` counts as none.
    public init(liveness: PeerLiveness, grace: Duration) {
        self.liveness = liveness
        self.grace = max(.zero, grace)
    }

    public var inFlightCount: Int { inFlight.count }

    /// Registers a request about to be sent; returns its id.
    public mutating func start(
        _ waiter: Waiter, streamID: UInt64, rtpTimestamp: UInt32, budget: Duration, now: Instant
    ) -> UInt64 {
        let id = nextID
        nextID += 1
        let timeoutAt = now + budget + grace
        inFlight[id] = Entry(
            waiter: waiter, streamID: streamID, rtpTimestamp: rtpTimestamp, sentAt: now, timeoutAt: timeoutAt)
        earliestTimeout = Instant.earliest(earliestTimeout, timeoutAt)
        counters.sent += 1
        return id
    }

    /// Gives up on a request that never left the client (no proxy connected by its deadline).
    public mutating func abandon(_ id: UInt64) -> Finished? {
        guard let entry = inFlight.removeValue(forKey: id) else { return nil }
        counters.failed += 1
        return finished(id, entry, .notSent)
    }

    /// Whether request `id` still waits for an answer.
    public func isWaiting(_ id: UInt64) -> Bool { inFlight[id] != nil }

    /// A decoded message from the proxy. Returns the request it ends, if any.
    public mutating func received(_ message: WireMessage, now: Instant) -> Finished? {
        liveness.heard(now: now)
        let id: UInt64
        let outcome: Outcome
        switch message {
        case .reply(let header):
            (id, outcome) = (header.requestID, .reply(header))
        case .error(let header):
            (id, outcome) = (header.requestID, .error(header))
        case .heartbeat:
            return nil
        case .capacity(let capacity):
            self.capacity = (capacity, now)
            return nil
        case .ready, .request, .disconnect:
            counters.malformed += 1
            return nil
        }
        guard let entry = inFlight.removeValue(forKey: id) else {
            // Already timed out, or an answer to a message without an id.
            counters.late += 1
            return nil
        }
        switch outcome {
        case .reply: counters.answered += 1
        case .error(let header) where header.code == .expired: counters.expired += 1
        default: counters.failed += 1
        }
        return finished(id, entry, outcome)
    }

    /// A message that failed to decode.
    public mutating func malformed(now: Instant) {
        liveness.heard(now: now)
        counters.malformed += 1
    }

    /// Requests whose deadline (plus grace) passed without an answer.
    public mutating func expire(now: Instant) -> [Finished] {
        guard let due = earliestTimeout, now >= due else { return [] }
        var done: [Finished] = []
        var earliest: Instant?
        for (id, entry) in inFlight {
            if entry.timeoutAt <= now {
                done.append(finished(id, entry, .timedOut))
            } else {
                earliest = Instant.earliest(earliest, entry.timeoutAt)
            }
        }
        for item in done { inFlight[item.requestID] = nil }
        earliestTimeout = earliest
        counters.timedOut += done.count
        return done
    }

    /// The connection was dropped: nothing in flight can be answered on the next one.
    public mutating func dropAll() -> [Finished] {
        let done = inFlight.map { finished($0.key, $0.value, .connectionLost) }
        inFlight.removeAll()
        earliestTimeout = nil
        capacity = nil
        counters.failed += done.count
        return done
    }

    public var nextWakeup: Instant {
        earliestTimeout.map { min($0, liveness.nextWakeup) } ?? liveness.nextWakeup
    }

    private func finished(_ id: UInt64, _ entry: Entry, _ outcome: Outcome) -> Finished {
        Finished(
            waiter: entry.waiter, requestID: id, streamID: entry.streamID, rtpTimestamp: entry.rtpTimestamp,
            sentAt: entry.sentAt, outcome: outcome)
    }
}

/// A client's totals. `sent` = `answered` + `expired` + `failed` + `timedOut` + in flight.
public struct ClientCounters: Sendable, Equatable {
    public var sent = 0
    /// REPLY received.
    public var answered = 0
    /// ERROR(expired) received: the deadline passed before a worker could take it.
    public var expired = 0
    /// Any other ERROR, no connection by the deadline, or a connection dropped under it.
    public var failed = 0
    /// No answer by the deadline plus grace.
    public var timedOut = 0
    /// Answers that arrived after their request had timed out, dropped.
    public var late = 0
    /// Messages from the proxy that failed to decode.
    public var malformed = 0
    /// Times the socket was dropped and made again.
    public var reconnects = 0
    public init() {}
}

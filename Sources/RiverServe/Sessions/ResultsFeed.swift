import RiverResults
import Synchronization

/// Each live session's result messages for readers other than its page: the Server-Sent Events
/// route `GET /v1/sessions/{id}/results` (``SessionRoutes``) and the webhook.
///
/// A session publishes on its event loop, and publishing never waits. Each subscriber has a queue
/// of at most ``maxQueued`` messages. A subscriber whose queue is full has stopped reading, or
/// reads slower than its session makes results. It is cut off and counted (``cutOff``), never
/// buffered without bound and never allowed to slow the media path.
public final class ResultsFeed: Sendable {
    /// What a subscriber reads.
    public enum Item: Sendable, Equatable {
        /// One result message, the JSON text the data channel carries (docs/results.md), and its
        /// number among the session's messages (from 1), so a reader knows what it missed.
        case result(sequence: Int, json: String)
        /// The session ended (the reason in words) after `results` messages; nothing follows.
        case end(reason: String, results: Int)
    }

    /// One reader of one session's messages. Dropping its ``items`` loop (or calling ``cancel()``)
    /// unsubscribes.
    public struct Subscription: Sendable {
        public let items: AsyncStream<Item>
        let continuation: AsyncStream<Item>.Continuation

        public func cancel() { continuation.finish() }
    }

    /// Why a subscription was refused.
    public enum Refusal: Error, Equatable {
        case noSuchSession
        case tooManySubscribers(Int)
    }

    private struct Subscriber {
        let continuation: AsyncStream<Item>.Continuation
        /// Called when the subscriber is cut off, so its transport lets go of a write that waits
        /// on a reader who stopped reading.
        let onCutOff: @Sendable () -> Void
    }

    private struct State {
        var sessions: [String: [Int: Subscriber]] = [:]
        var nextID = 0
    }

    /// Messages a subscriber may have queued and not yet read (about 8 s at 30 frames a second).
    public let maxQueued: Int
    /// Subscribers a session may have at once.
    public let maxSubscribers: Int
    private let state = Mutex(State())
    private let cutOffCount = Atomic<Int>(0)
    private let onCutOff: @Sendable () -> Void

    /// - Parameter onCutOff: counts each cut-off elsewhere too (`/metrics`).
    public init(maxQueued: Int = 256, maxSubscribers: Int = 16, onCutOff: @escaping @Sendable () -> Void = {})
    {
        self.maxQueued = max(1, maxQueued)
        self.maxSubscribers = maxSubscribers
        self.onCutOff = onCutOff
    }

    /// Subscribers cut off so far for not reading.
    public var cutOff: Int { cutOffCount.load(ordering: .relaxed) }

    /// Subscribers of every session, now.
    public var subscriberCount: Int { state.withLock { $0.sessions.values.reduce(0) { $0 + $1.count } } }

    /// Subscribers of session `id`, now.
    public func subscriberCount(of id: String) -> Int { state.withLock { $0.sessions[id]?.count ?? 0 } }

    /// A session started: subscriptions to `id` are taken from now on.
    public func open(session id: String) {
        state.withLock { state in
            if state.sessions[id] == nil { state.sessions[id] = [:] }
        }
    }

    /// Subscribes to the messages `id` publishes from now on.
    /// - Parameter onCutOff: runs once if this subscriber is cut off for not reading.
    public func subscribe(session id: String, onCutOff: @escaping @Sendable () -> Void = {}) throws(Refusal)
        -> Subscription
    {
        let (items, continuation) = AsyncStream<Item>.makeStream(bufferingPolicy: .bufferingOldest(maxQueued))
        let result: Result<Int, Refusal> = state.withLock { state in
            guard let subscribers = state.sessions[id] else { return .failure(.noSuchSession) }
            guard subscribers.count < maxSubscribers else {
                return .failure(.tooManySubscribers(maxSubscribers))
            }
            state.nextID += 1
            state.sessions[id]![state.nextID] = Subscriber(continuation: continuation, onCutOff: onCutOff)
            return .success(state.nextID)
        }
        let key = try result.get()
        continuation.onTermination = { [weak self] _ in
            self?.state.withLock { _ = $0.sessions[id]?.removeValue(forKey: key) }
        }
        return Subscription(items: items, continuation: continuation)
    }

    /// Hands `json`, the session's result message number `sequence`, to every subscriber of `id`.
    public func publish(session id: String, sequence: Int, json: String) {
        deliver(.result(sequence: sequence, json: json), to: id)
    }

    /// The session ended: each subscriber reads why last, and `id` takes no more subscribers.
    public func close(session id: String, reason: String, results: Int) {
        deliver(.end(reason: reason, results: results), to: id)
        let subscribers = state.withLock { $0.sessions.removeValue(forKey: id) } ?? [:]
        for subscriber in subscribers.values { subscriber.continuation.finish() }
    }

    private func deliver(_ item: Item, to id: String) {
        guard let subscribers = state.withLock({ $0.sessions[id] }), !subscribers.isEmpty else { return }
        for subscriber in subscribers.values {
            guard case .dropped = subscriber.continuation.yield(item) else { continue }
            // Its queue is full: it stopped reading. Cut it off rather than hold more for it.
            cutOffCount.add(1, ordering: .relaxed)
            onCutOff()
            subscriber.onCutOff()
            subscriber.continuation.finish()
        }
    }
}

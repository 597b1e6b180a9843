import RiverCore

/// Decides, per session, which decoded frames go to inference and what becomes of the others
/// (DESIGN.md, data path step 4).
///
/// At most ``maxInFlight`` requests are out at once. While all are out, up to ``maxWaiting`` decoded
/// frames wait and go out oldest first (the oldest has the earliest deadline); a frame pushed out of
/// a full queue is dropped as ``Drop/saturated``. The queue absorbs a worker's hiccup of a few frame
/// intervals without losing a frame, and keeps a sustained overload from growing the wait beyond
/// `maxWaiting` frames. Every request carries a deadline (when its frame leaves the delay line, less
/// a margin): a waiting frame whose deadline passes is dropped as ``Drop/expired``, and so is a result
/// that arrives after it. Every frame submitted ends in exactly one ``Action/send`` followed by
/// ``finish(id:now:)`` (on time or not), or one drop, so the page always learns why a frame has no
/// result.
///
/// Sans-IO: ids and times come from the caller.
public struct InferenceScheduler<Frame> {
    public enum Drop: String, Sendable, Equatable {
        /// Newer frames pushed it out of the waiting queue while every inference slot was busy.
        case saturated
        /// Its result could not arrive, or did not arrive, before the frame was shown.
        case expired
    }

    public enum Action {
        /// Send this frame to inference now.
        case send(id: UInt64, frame: Frame, deadline: Instant)
        /// This frame will have no result.
        case drop(id: UInt64, Drop)
    }

    /// Requests allowed out at once; raise or lower it at any time (at least 1 is used).
    public var maxInFlight: Int
    /// Frames allowed to wait for a slot (at least 1 is used).
    public let maxWaiting: Int
    private var inFlight: [UInt64: Instant] = [:]  // id → deadline
    private var waiting: [(id: UInt64, frame: Frame, deadline: Instant)] = []  // oldest first

    public init(maxInFlight: Int, maxWaiting: Int = 1) {
        self.maxInFlight = maxInFlight
        self.maxWaiting = max(1, maxWaiting)
    }

    public var inFlightCount: Int { inFlight.count }
    public var waitingCount: Int { waiting.count }

    /// When the first waiting frame expires (``tick(now:)`` is due then), or nil.
    public var nextDeadline: Instant? { waiting.lazy.map(\.deadline).min() }

    /// A newly decoded frame.
    public mutating func submit(id: UInt64, frame: Frame, deadline: Instant, now: Instant) -> [Action] {
        var actions = expireWaiting(now: now)
        if deadline <= now {
            actions.append(.drop(id: id, .expired))
            return actions
        }
        waiting.append((id, frame, deadline))
        if waiting.count > maxWaiting {
            actions.append(.drop(id: waiting.removeFirst().id, .saturated))
        }
        return actions + sendWaiting()
    }

    /// A request's answer came back (result or failure). Returns whether a result is still on time
    /// (false: drop it as expired), and the frames to send next, if any were waiting.
    public mutating func finish(id: UInt64, now: Instant) -> (onTime: Bool, next: [Action]) {
        guard let deadline = inFlight.removeValue(forKey: id) else { return (false, []) }
        return (now <= deadline, expireWaiting(now: now) + sendWaiting())
    }

    /// Expires waiting frames whose deadline has passed, and sends what a raised ``maxInFlight``
    /// allows; call at ``nextDeadline``.
    public mutating func tick(now: Instant) -> [Action] {
        expireWaiting(now: now) + sendWaiting()
    }

    private mutating func expireWaiting(now: Instant) -> [Action] {
        var actions: [Action] = []
        waiting.removeAll { w in
            guard w.deadline <= now else { return false }
            actions.append(.drop(id: w.id, .expired))
            return true
        }
        return actions
    }

    private mutating func sendWaiting() -> [Action] {
        var actions: [Action] = []
        while !waiting.isEmpty && inFlight.count < max(1, maxInFlight) {
            let w = waiting.removeFirst()
            inFlight[w.id] = w.deadline
            actions.append(.send(id: w.id, frame: w.frame, deadline: w.deadline))
        }
        return actions
    }
}

import RiverCore

/// Decides, per session, which decoded frames go to inference and what becomes of the others
/// (DESIGN.md, data path step 4).
///
/// At most ``maxInFlight`` requests are out at once. While all are out, only the newest decoded
/// frame waits; a frame it replaces is dropped as ``Drop/saturated``. Every request carries a
/// deadline (when its frame leaves the delay line, less a margin): a waiting frame whose deadline
/// passes is dropped as ``Drop/expired``, and so is a result that arrives after it. Every frame
/// submitted ends in exactly one ``Action/send`` followed by ``accept(id:now:)`` returning true, or
/// one drop, so the page always learns why a frame has no result.
///
/// Sans-IO: ids and times come from the caller.
public struct InferenceScheduler<Frame> {
    public enum Drop: String, Sendable, Equatable {
        /// A newer frame replaced it while every inference slot was busy.
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
    private var inFlight: [UInt64: Instant] = [:]  // id → deadline
    private var waiting: (id: UInt64, frame: Frame, deadline: Instant)?

    public init(maxInFlight: Int) {
        self.maxInFlight = maxInFlight
    }

    public var inFlightCount: Int { inFlight.count }
    public var hasWaitingFrame: Bool { waiting != nil }

    /// When the waiting frame expires (``tick(now:)`` is due then), or nil.
    public var nextDeadline: Instant? { waiting?.deadline }

    /// A newly decoded frame.
    public mutating func submit(id: UInt64, frame: Frame, deadline: Instant, now: Instant) -> [Action] {
        var actions: [Action] = []
        if let old = waiting {
            actions.append(.drop(id: old.id, .saturated))
            waiting = nil
        }
        if deadline <= now {
            actions.append(.drop(id: id, .expired))
        } else if inFlight.count < max(1, maxInFlight) {
            inFlight[id] = deadline
            actions.append(.send(id: id, frame: frame, deadline: deadline))
        } else {
            waiting = (id, frame, deadline)
        }
        return actions
    }

    /// A request's answer came back (result or failure). Returns whether a result is still on time
    /// (false: drop it as expired), and the frame to send next, if one was waiting.
    public mutating func finish(id: UInt64, now: Instant) -> (onTime: Bool, next: [Action]) {
        guard let deadline = inFlight.removeValue(forKey: id) else { return (false, []) }
        return (now <= deadline, dispatchWaiting(now: now))
    }

    /// Expires a waiting frame whose deadline has passed; call at ``nextDeadline``.
    public mutating func tick(now: Instant) -> [Action] {
        dispatchWaiting(now: now)
    }

    private mutating func dispatchWaiting(now: Instant) -> [Action] {
        guard let w = waiting else { return [] }
        if w.deadline <= now {
            waiting = nil
            return [.drop(id: w.id, .expired)]
        }
        guard inFlight.count < max(1, maxInFlight) else { return [] }
        waiting = nil
        inFlight[w.id] = w.deadline
        return [.send(id: w.id, frame: w.frame, deadline: w.deadline)]
    }
}

import RiverCore

/// Heartbeating and reconnect back-off for the connecting side (worker or client), sans-IO.
///
/// zguide's Paranoid Pirate, seen from the worker: send HEARTBEAT every `interval`; if nothing at
/// all arrives from the proxy for `liveness` intervals, the connection is presumed dead: drop the
/// socket, wait, and connect a new one. The wait doubles on each failure up to `maxBackoff`, and
/// resets as soon as the proxy is heard from again.
public struct PeerLiveness: Sendable {
    /// What the shell should do now.
    public enum Action: Equatable, Sendable {
        case none
        case sendHeartbeat
        /// Close the socket; call `reconnected(now:)` after `reconnectAt`.
        case disconnect(reconnectAt: Instant)
    }

    public let interval: Duration
    public let liveness: Int
    public let initialBackoff: Duration
    public let maxBackoff: Duration

    public private(set) var lastHeard: Instant
    public private(set) var nextHeartbeatAt: Instant
    /// Set while disconnected: when to connect again.
    public private(set) var reconnectAt: Instant?
    private var backoff: Duration

    /// Spans shorter than a nanosecond (zero or negative) count as one.
    public init(
        interval: Duration, liveness: Int, initialBackoff: Duration, maxBackoff: Duration, now: Instant
    ) {
        self.interval = max(.nanoseconds(1), interval)
        self.liveness = max(1, liveness)
        self.initialBackoff = max(.nanoseconds(1), initialBackoff)
        self.maxBackoff = max(self.initialBackoff, maxBackoff)
        self.backoff = self.initialBackoff
        self.lastHeard = now
        self.nextHeartbeatAt = now + self.interval
    }

    /// Any message from the proxy proves it is alive.
    public mutating func heard(now: Instant) {
        lastHeard = now
        backoff = initialBackoff
    }

    /// A new socket was connected: give the proxy a full window to answer.
    public mutating func reconnected(now: Instant) {
        reconnectAt = nil
        lastHeard = now
        nextHeartbeatAt = now
    }

    /// What is due at `now`.
    public mutating func tick(now: Instant) -> Action {
        if reconnectAt != nil { return .none }
        if now >= silenceDeadline {
            let at = now + backoff
            reconnectAt = at
            backoff = min(maxBackoff, backoff * 2)
            return .disconnect(reconnectAt: at)
        }
        if now >= nextHeartbeatAt {
            nextHeartbeatAt = now + interval
            return .sendHeartbeat
        }
        return .none
    }

    /// When `tick` next has something to do.
    public var nextWakeup: Instant {
        if let reconnectAt { return reconnectAt }
        return min(nextHeartbeatAt, silenceDeadline)
    }

    /// When the proxy, silent since `lastHeard`, is presumed dead.
    private var silenceDeadline: Instant { lastHeard + interval * liveness }
}

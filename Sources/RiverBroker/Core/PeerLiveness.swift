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
        case disconnect(reconnectAt: Nanoseconds)
    }

    public let interval: Nanoseconds
    public let liveness: Int
    public let initialBackoff: Nanoseconds
    public let maxBackoff: Nanoseconds

    public private(set) var lastHeard: Nanoseconds
    public private(set) var nextHeartbeatAt: Nanoseconds
    /// Set while disconnected: when to connect again.
    public private(set) var reconnectAt: Nanoseconds?
    private var backoff: Nanoseconds

    public init(
        interval: Duration, liveness: Int, initialBackoff: Duration, maxBackoff: Duration, now: Nanoseconds
    ) {
        self.interval = max(1, interval.nanoseconds)
        self.liveness = max(1, liveness)
        self.initialBackoff = max(1, initialBackoff.nanoseconds)
        self.maxBackoff = max(self.initialBackoff, maxBackoff.nanoseconds)
        self.backoff = self.initialBackoff
        self.lastHeard = now
        self.nextHeartbeatAt = now + self.interval
    }

    /// Any message from the proxy proves it is alive.
    public mutating func heard(now: Nanoseconds) {
        lastHeard = now
        backoff = initialBackoff
    }

    /// A new socket was connected: give the proxy a full window to answer.
    public mutating func reconnected(now: Nanoseconds) {
        reconnectAt = nil
        lastHeard = now
        nextHeartbeatAt = now
    }

    /// What is due at `now`.
    public mutating func tick(now: Nanoseconds) -> Action {
        if reconnectAt != nil { return .none }
        if now >= lastHeard + interval * UInt64(liveness) {
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
    public var nextWakeup: Nanoseconds {
        if let reconnectAt { return reconnectAt }
        return min(nextHeartbeatAt, lastHeard + interval * UInt64(liveness))
    }
}

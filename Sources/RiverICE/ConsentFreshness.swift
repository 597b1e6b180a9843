import RiverCore

/// Consent freshness (RFC 7675) as a timer state machine: consent lasts ``timeout`` after the
/// last valid connectivity check, and once lost it stays lost (§5.1: the session must stop
/// sending and is torn down).
///
/// RFC 7675 §5.1 suggests 30 s; river defaults to 10 s so a closed browser tab frees its session
/// quickly (browsers send a check every ~1–5 s). Until the first check, consent runs from
/// ``init(timeout:start:)`` so a session whose peer never shows up also expires.
public struct ConsentFreshness: Sendable, Equatable {
    public let timeout: Duration
    public private(set) var lastRefresh: Instant
    public private(set) var everRefreshed = false
    private var expired = false

    public init(timeout: Duration = .seconds(10), start: Instant) {
        self.timeout = timeout
        self.lastRefresh = start
    }

    /// A valid check arrived at `now`. Ignored once expired: consent is not revived.
    public mutating func refresh(at now: Instant) {
        guard !isExpired(at: now) else {
            expired = true
            return
        }
        if now > lastRefresh { lastRefresh = now }
        everRefreshed = true
    }

    /// When consent runs out if no further check arrives; a shell arms its timer for this.
    public var deadline: Instant { lastRefresh + timeout }

    public func isExpired(at now: Instant) -> Bool { expired || now >= deadline }

    /// Records expiry permanently (call when ``isExpired(at:)`` first returns true).
    public mutating func expire() { expired = true }
}

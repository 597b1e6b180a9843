#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A point on river's one monotonic clock: nanoseconds of `CLOCK_MONOTONIC` (Linux; the uptime
/// clock on Darwin).
///
/// Every sans-IO core takes its time as an `Instant` and every interval as a Swift `Duration`; only
/// the I/O shells read the clock (``now``). It is the clock SwiftNIO's `NIODeadline` and Dispatch
/// use on Linux, so a shell arms a timer at an `Instant` without converting between clocks
/// (`NIODeadline.uptimeNanoseconds(instant.nanoseconds)`). Wall-clock time is not an `Instant`: it
/// enters only where a protocol carries it (an RTCP sender report's NTP time, a result's
/// `receivedAt`).
///
/// The static constructors (``seconds(_:)``, ``milliseconds(_:)``, …) name instants on a virtual
/// clock that starts at zero, which is what tests of the cores use.
public struct Instant: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Nanoseconds since the clock's origin (boot, for `CLOCK_MONOTONIC`).
    public var nanoseconds: UInt64

    @inlinable
    public init(nanoseconds: UInt64) {
        self.nanoseconds = nanoseconds
    }

    /// The clock's origin; also the start of a test's virtual clock.
    public static let zero = Instant(nanoseconds: 0)

    /// The current time. Only I/O shells call this; cores take `now` as an argument.
    @inlinable
    public static var now: Instant {
        var ts = timespec()
        #if canImport(Darwin)
            clock_gettime(CLOCK_UPTIME_RAW, &ts)
        #else
            clock_gettime(CLOCK_MONOTONIC, &ts)
        #endif
        return Instant(nanoseconds: UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec))
    }

    public static func nanoseconds(_ n: UInt64) -> Instant { Instant(nanoseconds: n) }
    public static func microseconds(_ n: UInt64) -> Instant { Instant(nanoseconds: n * 1_000) }
    public static func milliseconds(_ n: UInt64) -> Instant { Instant(nanoseconds: n * 1_000_000) }
    public static func seconds(_ n: UInt64) -> Instant { Instant(nanoseconds: n * 1_000_000_000) }

    @inlinable
    public static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    /// Moves by a duration; clamped at the origin (and at the end of the clock) rather than trapping.
    @inlinable
    public static func + (lhs: Instant, rhs: Duration) -> Instant {
        let delta = rhs.nanosecondsClamped
        return delta >= 0
            ? Instant(
                nanoseconds: lhs.nanoseconds.addingReportingOverflow(UInt64(delta)).overflow
                    ? .max : lhs.nanoseconds + UInt64(delta))
            : Instant(nanoseconds: lhs.nanoseconds - min(lhs.nanoseconds, delta.magnitude))
    }

    @inlinable
    public static func - (lhs: Instant, rhs: Duration) -> Instant { lhs + (.zero - rhs) }

    @inlinable
    public static func += (lhs: inout Instant, rhs: Duration) { lhs = lhs + rhs }

    /// The signed time from `rhs` to `lhs`.
    @inlinable
    public static func - (lhs: Instant, rhs: Instant) -> Duration {
        lhs >= rhs
            ? .nanoseconds(Int64(clamping: lhs.nanoseconds - rhs.nanoseconds))
            : .zero - .nanoseconds(Int64(clamping: rhs.nanoseconds - lhs.nanoseconds))
    }

    /// The earlier of two optional deadlines (nil: no deadline).
    @inlinable
    public static func earliest(_ a: Instant?, _ b: Instant?) -> Instant? {
        switch (a, b) {
        case (let a?, let b?): Swift.min(a, b)
        case (let a, let b): a ?? b
        }
    }

    public var description: String {
        "\(nanoseconds / 1_000_000_000).\(String(nanoseconds % 1_000_000_000 / 1_000_000 + 1000).dropFirst())s"
    }
}

extension Duration {
    /// The duration in whole nanoseconds, clamped to `Int64` (about 292 years).
    @inlinable
    public var nanosecondsClamped: Int64 {
        let (seconds, attoseconds) = components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        let (sum, overflow2) = product.addingReportingOverflow(attoseconds / 1_000_000_000)
        return overflow2 ? (seconds < 0 ? .min : .max) : sum
    }

    /// Seconds as a floating-point number (for rates and logs, never for scheduling).
    @inlinable
    public var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}

import RiverCore

/// Chooses a session's delay for `--delay auto`: the smallest delay that covers the p99 inference
/// turnaround (frame arrival to result ready) plus a margin.
///
/// It starts at a safe delay and moves towards the target at a bounded rate, never in steps: the
/// delay changes by at most `maxSlewDown` (shrinking) or `maxSlewUp` (growing) seconds per second of
/// wall time. A shrinking delay makes the output play at most 1 + maxSlewDown times real speed for a
/// while (10 %: not noticeable), and since the slew is below 1 the delay line's due times stay
/// monotonic. The target grows at once when results start coming late (turnaround above the current
/// delay), so the line grows back before many results are lost.
///
/// Sans-IO: feed turnarounds with ``record(turnaround:)`` and call ``update(now:)`` whenever the
/// delay is about to be used (the session engine calls it for every packet it delays, so no timer
/// is needed).
public struct AutoDelay: Sendable {
    public struct Configuration: Sendable {
        public var start: Duration = .seconds(2)
        public var minimum: Duration = .milliseconds(100)
        public var maximum: Duration = .seconds(10)
        /// Added to the p99 turnaround (decode, network and scheduling jitter).
        public var margin: Duration = .milliseconds(150)
        public var maxSlewDown: Double = 0.10
        public var maxSlewUp: Double = 0.25
        /// Turnarounds kept for the percentile.
        public var window: Int = 300
        /// Turnarounds needed before the delay moves at all.
        public var minimumSamples: Int = 30
        public init() {}
    }

    public let configuration: Configuration
    /// The delay in force.
    public private(set) var delay: Duration
    private var samples: [Duration] = []
    private var next = 0
    private var lastUpdate: Instant?

    public init(_ configuration: Configuration = .init()) {
        self.configuration = configuration
        self.delay = min(max(configuration.start, configuration.minimum), configuration.maximum)
    }

    /// Records one frame's arrival-to-result time.
    public mutating func record(turnaround: Duration) {
        if samples.count < configuration.window {
            samples.append(turnaround)
        } else {
            samples[next] = turnaround
            next = (next + 1) % configuration.window
        }
    }

    /// The delay the line should settle at, or nil while too few turnarounds are known.
    public var target: Duration? {
        guard samples.count >= configuration.minimumSamples else { return nil }
        let sorted = samples.sorted()
        let p99 = sorted[min(sorted.count - 1, (sorted.count * 99) / 100)]
        return min(max(p99 + configuration.margin, configuration.minimum), configuration.maximum)
    }

    /// Moves the delay towards the target by what the slew limits allow since the last update.
    @discardableResult
    public mutating func update(now: Instant) -> Duration {
        defer { lastUpdate = now }
        guard let last = lastUpdate, now > last, let target else { return delay }
        let elapsed = now - last
        if target < delay {
            delay -= min(delay - target, elapsed * configuration.maxSlewDown)
        } else if target > delay {
            delay += min(target - delay, elapsed * configuration.maxSlewUp)
        }
        return delay
    }
}

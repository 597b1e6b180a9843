import RiverCore

/// Chooses a session's delay for `--delay auto`: the smallest delay at which a frame's result
/// reaches the page before the frame does, from what the session measures.
///
/// **The rule.** With T the turnarounds (a frame complete → its result ready) of the last
/// ``Configuration/window`` frames:
///
///     target = p99(T) + headroom + spread + repair
///     spread = max(J, (p99(T) − p50(T)) / 2)
///     repair = RTT + repairFrames × frame interval   while loss was seen in the last lossMemory, else 0
///
/// - *headroom* (10 ms): a result must be ready this long before its frame leaves the line. Under
///   `--delay auto` it is also the inference deadline's margin, so "on time" means the same to the
///   scheduler and here. The result and the frame then travel the same path, and the browser still
///   has to decode and render the frame, so little more is needed on a clean path.
/// - *spread*: the p99 says where the recent turnarounds were; the spread, how far the next ones
///   can stray beyond it. J is the turnaround's jitter as RFC 3550 §6.4.1 measures interarrival
///   jitter (the mean deviation between consecutive turnarounds, smoothed by 1/16): it covers a
///   turnaround that drifts from frame to frame. Half the distance from p50 to p99 covers a heavy
///   tail: slow frames come in clusters (a loaded machine), so one window's p99 underestimates the
///   next one's by about that much (measured on loopback: p50 12 ms, p99 58 ms, and 2 % of the
///   frames late at p99 + 17 ms).
/// - *repair*: on a lossy path a lost result message is repaired by SCTP, whose fast retransmit
///   (RFC 9260 §7.2.4) needs three later messages (one per frame) to report the gap and then a
///   round trip; the channel is ordered, so the results behind it wait as long. The round trip is
///   the RTT to the browser measured from its reception reports (``record(roundTrip:)``, RFC 3550
///   §6.4.1); the frame interval is measured from the frames' RTP timestamps. Loss is seen as
///   NACKs either way or a reception report's fraction lost (``recordLoss(now:)``). Without loss
///   there is nothing to repair, and the term stays 0. Repairs of lost *video* packets need no
///   term: upstream, the delay line holds each packet from its own arrival and the turnaround is
///   counted from the frame's completion, so a repaired frame is both complete and shown later;
///   downstream, a repair only makes the frame later than its result.
///
/// **Start.** The line holds the video from the first packet at ``Configuration/start`` (a safe
/// ceiling) until ``Configuration/firstEstimateSamples`` turnarounds give a first target. Nothing
/// has left the line yet, so the delay can then be set straight to the target (or to the time
/// already held, if that is longer) and applied to the packets already held
/// (``Decision/appliesToHeld``): no one has seen the old schedule, so this is no step. Those first
/// turnarounds (a key frame, a cold decoder, the first requests) leave the window once
/// ``Configuration/warmUpSamples`` more have come: a nearest-rank p99 of fewer than 100 samples is
/// their maximum, so one slow start would otherwise hold the delay up for 100 frames.
///
/// **Slew.** After that the delay moves towards the target at bounded rates, never in steps: it
/// shrinks by at most ``Configuration/maxSlewDown`` seconds per second (the output plays 10 %
/// faster for a while, which is not noticeable), and since that is below 1 the delay line's due
/// times stay monotonic (``DelayLine``). It grows by ``Configuration/maxSlewUp`` for a wider margin,
/// but by ``Configuration/maxSlewUpWhenLate`` (the output stands still) while the delay is below
/// p99 + headroom, that is while results are coming late: a short freeze costs less than frames
/// shown without their results. Growing never breaks monotonic due times.
///
/// Sans-IO: feed measurements with the `record` methods and call ``update(now:)`` whenever the
/// delay is about to be used (``VideoRelay`` calls it for every packet it delays, so no timer is
/// needed).
public struct AutoDelay: Sendable {
    public struct Configuration: Sendable {
        /// The delay the line holds the first packets for while the first estimate is awaited; it
        /// stays in force if no estimate comes before the first packet is due.
        public var start: Duration = .seconds(2)
        public var minimum: Duration = .milliseconds(20)
        public var maximum: Duration = .seconds(10)
        /// Turnarounds needed for the first estimate (their maximum, as the p99 of so few). Few:
        /// the video held until they are in is where the delay starts its slew down, and at 15 fps
        /// five of them held 660 ms on loopback (a 6 s slew down), three about 450 ms (3 s).
        public var firstEstimateSamples: Int = 3
        /// Turnarounds after the first estimate's, after which those leave the window.
        public var warmUpSamples: Int = 10
        /// A result must be ready this long before its frame leaves; the inference deadline
        /// margin of an auto session.
        public var headroom: Duration = .milliseconds(10)
        /// Multiplies the turnaround's jitter J. One J: the p99 already holds the spread seen, J
        /// only guards against its drifting, and a bursty turnaround would otherwise be counted
        /// twice.
        public var jitterFactor: Double = 1
        /// Frame intervals a repair takes beyond the round trip (SCTP's three missing reports).
        public var repairFrames: Int = 3
        /// How long one loss keeps the repair term in the margin.
        public var lossMemory: Duration = .seconds(10)
        /// The frame interval until one is measured.
        public var assumedFrameInterval: Duration = .milliseconds(33)
        public var maxSlewDown: Double = 0.10
        public var maxSlewUp: Double = 0.25
        /// The growth rate while results come late (delay below p99 + headroom): 1 stops the output
        /// while the delay grows.
        public var maxSlewUpWhenLate: Double = 1.0
        /// Turnarounds kept for the percentile (10 s at 30 fps).
        public var window: Int = 300
        public init() {}
    }

    /// What the margin above the p99 turnaround is made of, at one instant.
    public struct Margin: Sendable, Equatable {
        public var headroom: Duration
        /// The spread term: max(J, (p99 − p50) / 2).
        public var jitter: Duration
        public var repair: Duration
        public var total: Duration { headroom + jitter + repair }
    }

    /// What ``update(now:)`` decided.
    public struct Decision: Sendable, Equatable {
        /// The delay in force from now on.
        public var delay: Duration
        /// True once, at the first estimate, when nothing has left the line yet: the caller applies
        /// the delay to the packets already held as well (``DelayLine/reschedule(delay:)``).
        public var appliesToHeld: Bool
    }

    public let configuration: Configuration
    /// The delay in force.
    public private(set) var delay: Duration
    /// The p99 of the window, or nil before the first estimate.
    public private(set) var p99: Duration?
    /// The median of the window, or nil before the first estimate.
    public private(set) var p50: Duration?
    /// The turnaround's jitter J (RFC 3550 §6.4.1 estimator).
    public private(set) var jitter: Duration = .zero
    /// The smoothed RTT to the browser (RFC 6298's 1/8 gain), once measured.
    public private(set) var roundTrip: Duration?
    /// The smoothed frame interval, once measured.
    public private(set) var frameInterval: Duration?
    private var samples: [Duration] = []
    private var next = 0
    private var recorded = 0
    private var lastTurnaround: Duration?
    private var lastFrameTimestamp: UInt32?
    private var lastLoss: Instant?
    private var firstPacket: Instant?
    private var estimated = false
    private var lastUpdate: Instant?

    public init(_ configuration: Configuration = .init()) {
        self.configuration = configuration
        self.delay = min(max(configuration.start, configuration.minimum), configuration.maximum)
    }

    /// Records one frame's turnaround: frame complete → result ready (or found expired).
    public mutating func record(turnaround: Duration) {
        if samples.count < configuration.window {
            samples.append(turnaround)
        } else {
            samples[next] = turnaround
            next = (next + 1) % configuration.window
        }
        recorded += 1
        // The ring has not wrapped yet (the window is longer), so the first ones are at the front.
        if recorded == configuration.firstEstimateSamples + configuration.warmUpSamples, next == 0,
            samples.count > configuration.firstEstimateSamples
        {
            samples.removeFirst(configuration.firstEstimateSamples)
        }
        if let last = lastTurnaround {
            let deviation = turnaround > last ? turnaround - last : last - turnaround
            jitter += (deviation - jitter) / 16
        }
        lastTurnaround = turnaround
        // Sorted here (once per frame) rather than in update (once per packet).
        if samples.count >= configuration.firstEstimateSamples {
            let sorted = samples.sorted()
            p99 = sorted[min(sorted.count - 1, (sorted.count * 99) / 100)]
            p50 = sorted[sorted.count / 2]
        }
    }

    /// Records a frame's RTP timestamp (90 kHz), in the order frames complete, for the frame
    /// interval.
    public mutating func record(frameTimestamp: UInt32) {
        defer { lastFrameTimestamp = frameTimestamp }
        guard let last = lastFrameTimestamp else { return }
        let ticks = frameTimestamp &- last
        // Reordered or repeated timestamps and gaps over a second say nothing about the rate.
        guard ticks > 0, ticks < 90_000 else { return }
        let interval = Duration.nanoseconds(Int64(ticks) * 1_000_000_000 / 90_000)
        frameInterval = frameInterval.map { $0 + (interval - $0) / 8 } ?? interval
    }

    /// Records one RTT measurement to the browser.
    public mutating func record(roundTrip sample: Duration) {
        guard sample >= .zero else { return }
        roundTrip = roundTrip.map { $0 + (sample - $0) / 8 } ?? sample
    }

    /// Records that a packet was lost on the way to or from the browser.
    public mutating func recordLoss(now: Instant) {
        lastLoss = now
    }

    /// The margin above the p99 turnaround in force at `now`.
    public func margin(now: Instant) -> Margin {
        var repair = Duration.zero
        if let lastLoss, now - lastLoss < configuration.lossMemory {
            let interval = frameInterval ?? configuration.assumedFrameInterval
            repair = (roundTrip ?? .zero) + interval * configuration.repairFrames
        }
        let tail = p50.flatMap { p50 in p99.map { ($0 - p50) / 2 } } ?? .zero
        return Margin(
            headroom: configuration.headroom, jitter: max(jitter * configuration.jitterFactor, tail),
            repair: repair)
    }

    /// The delay the line should settle at, or nil before the first estimate.
    public func target(now: Instant) -> Duration? {
        guard let p99 else { return nil }
        return clamp(p99 + margin(now: now).total)
    }

    /// Moves the delay towards the target by what the slew limits allow since the last update; at
    /// the first estimate, sets it (see the type's note).
    public mutating func update(now: Instant) -> Decision {
        if firstPacket == nil { firstPacket = now }
        defer { lastUpdate = now }
        guard let target = target(now: now) else { return Decision(delay: delay, appliesToHeld: false) }
        if !estimated, let firstPacket {
            estimated = true
            let held = now - firstPacket
            if held < delay {
                delay = clamp(max(target, held))
                return Decision(delay: delay, appliesToHeld: true)
            }
        }
        guard let last = lastUpdate, now > last else { return Decision(delay: delay, appliesToHeld: false) }
        let elapsed = now - last
        if target < delay {
            delay -= min(delay - target, elapsed * configuration.maxSlewDown)
        } else if target > delay {
            let late = delay < (p99 ?? .zero) + configuration.headroom
            let rate = late ? configuration.maxSlewUpWhenLate : configuration.maxSlewUp
            delay += min(target - delay, elapsed * rate)
        }
        return Decision(delay: delay, appliesToHeld: false)
    }

    private func clamp(_ d: Duration) -> Duration {
        min(max(d, configuration.minimum), configuration.maximum)
    }
}

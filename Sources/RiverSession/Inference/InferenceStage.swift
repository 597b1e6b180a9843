import RiverCore
import RiverResults

/// The engine's side of decode and inference (DESIGN.md, data path step 4): decoded frames go to
/// the ``InferenceScheduler``; what it sends becomes an ``InferenceJob`` for the shell, what it drops
/// and every answer becomes one ``ResultMessage``. Every decoded frame ends in exactly one message,
/// so the page always learns why a frame has no result.
struct InferenceStage {
    struct Counters: Sendable, CustomStringConvertible {
        var unitsDecoded = 0
        var decodeErrors = 0
        var framesDecoded = 0
        var requestsSent = 0
        var messages = 0
        var description: String {
            "\(unitsDecoded) units decoded (\(decodeErrors) errors), \(framesDecoded) frames, "
                + "\(requestsSent) requests, \(messages) messages"
        }
    }

    struct Output {
        var requests: [InferenceJob] = []
        var messages: [(ResultMessage, inferenceLatency: Duration?)] = []
        /// Arrival → answer of each answered (or expired) request, for `--delay auto`.
        var turnarounds: [Duration] = []
    }

    private struct FrameInfo {
        var outputTimestamp: UInt32
        var receivedAt: Double
        var width: Int
        var height: Int
        var arrival: Instant
        var decodeTime: Duration
        var decodedAt: Instant
        var sentAt: Instant?
    }

    /// Subtracted from the frame's departure time to get its deadline: time for the message to
    /// reach the page before the frame does.
    let margin: Duration
    /// Requests out at once, read on every scheduling round (it follows the proxy's worker slots
    /// and the service's session count).
    let maxInFlight: () -> Int
    private var scheduler: InferenceScheduler<VideoFrame>
    private var frames: [UInt64: FrameInfo] = [:]
    private var nextID: UInt64 = 1
    private(set) var counters = Counters()

    init(margin: Duration, maxInFlight: @escaping () -> Int, maxWaiting: Int) {
        self.margin = margin
        self.maxInFlight = maxInFlight
        scheduler = InferenceScheduler(maxInFlight: max(1, maxInFlight()), maxWaiting: maxWaiting)
    }

    var nextDeadline: Instant? { scheduler.nextDeadline }

    mutating func decoded(
        _ job: AccessUnitJob, frames decoded: [VideoFrame], decodeTime: Duration, delay: Duration,
        now: Instant,
        into out: inout Output
    ) {
        counters.unitsDecoded += 1
        counters.framesDecoded += decoded.count
        scheduler.maxInFlight = max(1, maxInFlight())
        for frame in decoded {
            let id = nextID
            nextID += 1
            frames[id] = FrameInfo(
                outputTimestamp: frame.rtpTimestamp, receivedAt: job.receivedAt, width: frame.width,
                height: frame.height, arrival: job.arrival, decodeTime: decodeTime, decodedAt: now)
            let deadline = job.arrival + delay - margin
            perform(
                scheduler.submit(id: id, frame: frame, deadline: deadline, now: now), delay: delay, now: now,
                into: &out)
        }
    }

    mutating func decodeFailed(_ job: AccessUnitJob, delay: Duration, into out: inout Output) {
        counters.decodeErrors += 1
        notDecoded(outputTimestamp: job.outputTimestamp, receivedAt: job.receivedAt, delay: delay, into: &out)
    }

    /// A frame that was never decoded (dropped, or held back until a keyframe, or refused by the
    /// decoder) is still shown: its message says `decodeError`.
    mutating func notDecoded(
        outputTimestamp: UInt32, receivedAt: Double, delay: Duration, into out: inout Output
    ) {
        emit(
            ResultMessage(
                rtpTimestamp: outputTimestamp, receivedAt: receivedAt, width: 0, height: 0,
                status: .decodeError, delay: Self.milliseconds(delay)), latency: nil, into: &out)
    }

    mutating func inferred(
        id: UInt64, _ outcome: InferenceOutcome, delay: Duration, now: Instant, into out: inout Output
    ) {
        scheduler.maxInFlight = max(1, maxInFlight())
        let (onTime, next) = scheduler.finish(id: id, now: now)
        guard let info = frames.removeValue(forKey: id) else { return }
        var message = self.message(info, status: .ok, delay: delay)
        let sentAt = info.sentAt ?? info.decodedAt
        var latency: Duration?
        switch outcome {
        case .reply(let detections, let compute):
            out.turnarounds.append(now - info.arrival)
            latency = now - sentAt
            message.timings = .init(
                decode: Self.milliseconds(info.decodeTime), queue: Self.milliseconds(sentAt - info.decodedAt),
                inference: Self.milliseconds(compute), total: Self.milliseconds(now - info.arrival))
            if !onTime {
                message.status = .expired
            } else if let detections {
                message.detections = detections
            } else {
                message.status = .workerFailed
            }
        case .failed(let status):
            message.status = status
            // A request that ran out of time took at least this long: `--delay auto` must hear of
            // it, or a saturated proxy queue would keep the delay too short without a trace.
            if status == .expired { out.turnarounds.append(now - info.arrival) }
        }
        if message.status != .ok { message.detections = nil }
        if message.status != .ok && message.status != .expired { message.timings = nil }
        emit(message, latency: latency, into: &out)
        perform(next, delay: delay, now: now, into: &out)
    }

    mutating func handleTimeout(now: Instant, delay: Duration, into out: inout Output) {
        scheduler.maxInFlight = max(1, maxInFlight())
        perform(scheduler.tick(now: now), delay: delay, now: now, into: &out)
    }

    private mutating func perform(
        _ actions: [InferenceScheduler<VideoFrame>.Action], delay: Duration, now: Instant,
        into out: inout Output
    ) {
        for action in actions {
            switch action {
            case .send(let id, let frame, let deadline):
                frames[id]?.sentAt = now
                counters.requestsSent += 1
                out.requests.append(InferenceJob(id: id, frame: frame, deadline: deadline))
            case .drop(let id, let reason):
                guard let info = frames.removeValue(forKey: id) else { continue }
                // It waited past its deadline, so its turnaround would have been longer still:
                // `--delay auto` must hear of it as it hears of late answers.
                if reason != .saturated { out.turnarounds.append(now - info.arrival) }
                emit(
                    message(info, status: reason == .saturated ? .saturated : .expired, delay: delay),
                    latency: nil, into: &out)
            }
        }
    }

    private mutating func emit(_ message: ResultMessage, latency: Duration?, into out: inout Output) {
        counters.messages += 1
        out.messages.append((message, latency))
    }

    private func message(_ info: FrameInfo, status: ResultMessage.Status, delay: Duration) -> ResultMessage {
        ResultMessage(
            rtpTimestamp: info.outputTimestamp, receivedAt: info.receivedAt, width: info.width,
            height: info.height, status: status, delay: Self.milliseconds(delay))
    }

    static func milliseconds(_ d: Duration) -> Double { Double(d.nanosecondsClamped) / 1e6 }
}

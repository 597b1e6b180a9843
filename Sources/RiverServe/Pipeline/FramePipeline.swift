import Foundation
import Logging
import RiverBroker
import RiverCore
import RiverInference
import RiverMedia
import Synchronization

/// Sends a decoded frame to a worker and waits for the answer: the broker client in `river serve`.
public protocol InferenceBackend: Sendable {
    func infer(frame: VideoFrame, streamID: UInt64, deadline: ContinuousClock.Instant)
        async throws(BrokerError)
        -> BrokerReply
}

extension BrokerClient: InferenceBackend {}

/// Monotonic nanoseconds since the process's first use, the time base of the sans-IO cores.
enum PipelineClock {
    private static let origin = ContinuousClock.now

    static func now() -> UInt64 { nanoseconds(ContinuousClock.now) }

    static func nanoseconds(_ instant: ContinuousClock.Instant) -> UInt64 {
        let d = instant - origin
        return UInt64(max(0, d.components.seconds)) * 1_000_000_000 + UInt64(max(0, d.components.attoseconds))
            / 1_000_000_000
    }

    static func instant(_ nanoseconds: UInt64) -> ContinuousClock.Instant {
        origin + .nanoseconds(Int64(clamping: nanoseconds))
    }

    /// Wall clock, ms since the Unix epoch.
    static func wallMilliseconds() -> Double { Date().timeIntervalSince1970 * 1000 }
}

/// One stream's decode → inference → result stages (DESIGN.md, data path steps 3–4 after the frame
/// builder): access units go in from the event loop, result messages come out to a ``ResultSink``.
///
/// The decoder lives on the pipeline's own thread (libavcodec contexts must stay on one thread, and
/// decoding must never run on the NIO event loop); the same thread runs the
/// ``InferenceScheduler``'s timer. Inference requests are tasks awaiting the ``InferenceBackend``;
/// their answers come back under the lock. Every decoded frame ends in exactly one message.
///
/// `@unchecked Sendable`: `decoder` is touched only on the pipeline thread; everything else shared
/// is behind `state`'s lock or atomic.
public final class FramePipeline: @unchecked Sendable {
    /// A complete access unit, as the event loop hands it over.
    public struct Unit: Sendable {
        public var annexB: [UInt8]
        /// The output RTP timestamp (input + the session's fixed offset).
        public var outputTimestamp: UInt32
        /// Monotonic ns (``PipelineClock``) when its last packet arrived.
        public var arrival: UInt64
        /// Wall clock, ms since the Unix epoch, when its last packet arrived.
        public var receivedAt: Double

        public init(annexB: [UInt8], outputTimestamp: UInt32, arrival: UInt64, receivedAt: Double) {
            self.annexB = annexB
            self.outputTimestamp = outputTimestamp
            self.arrival = arrival
            self.receivedAt = receivedAt
        }
    }

    public struct Configuration: Sendable {
        /// Requests out at once; read again on every scheduling round (so it may follow the proxy's
        /// worker slots). At least 1 is used.
        public var maxInFlight: @Sendable () -> Int = { 1 }
        /// Subtracted from the frame's departure time to get its inference deadline: time for the
        /// message to reach the page before the frame does.
        public var margin: UInt64 = 50_000_000
        public init() {}

        /// The default per-session window of `river serve` when `--max-in-flight` is not given:
        /// the proxy's total worker slots divided among the live sessions, rounded up, at least 1.
        ///
        /// Why total slots shared, rather than "as many as are free now": the free figure is a
        /// snapshot that the sessions themselves drain, so a session that took the free slots
        /// would see 0 free and others would read the same slots as theirs; sizing by free slots
        /// oscillates and lets the first busy session starve the rest. Total ÷ sessions gives every
        /// session the same share; rounding up keeps every slot usable (the proxy queues the few
        /// extra requests briefly, and its scheduler always serves the oldest). With one session,
        /// this is exactly the proxy's slot count. Before the proxy has answered (or while it is
        /// unreachable) the figure is unknown and the window is 1.
        public static func fairShare(totalSlots: Int?, sessions: Int) -> Int {
            guard let totalSlots, totalSlots > 0 else { return 1 }
            let sessions = max(1, sessions)
            return max(1, (totalSlots + sessions - 1) / sessions)
        }

        /// A ``maxInFlight`` that follows the proxy: ``fairShare(totalSlots:sessions:)`` of what
        /// `totalSlots` reports now (e.g. `BrokerClient.capacity?.totalSlots`, refreshed at each
        /// heartbeat) among `sessions()` live sessions. Both are read on every scheduling round.
        public static func followingProxySlots(
            totalSlots: @escaping @Sendable () -> Int?, sessions: @escaping @Sendable () -> Int
        ) -> @Sendable () -> Int {
            { fairShare(totalSlots: totalSlots(), sessions: sessions()) }
        }
    }

    private struct FrameInfo {
        var outputTimestamp: UInt32
        var receivedAt: Double
        var width: Int
        var height: Int
        var arrival: UInt64
        var decodeMs: Double
        var decodedAt: UInt64
        var sentAt: UInt64 = 0
    }

    /// What the pipeline did so far.
    public struct Counters: Sendable, CustomStringConvertible {
        public var unitsDecoded = 0
        public var decodeErrors = 0
        public var framesDecoded = 0
        public var requestsSent = 0
        public var messages = 0
        public var description: String {
            "\(unitsDecoded) units decoded (\(decodeErrors) errors), \(framesDecoded) frames, "
                + "\(requestsSent) requests, \(messages) messages"
        }
    }

    private struct State {
        var counters = Counters()
        var units: [Unit] = []
        var scheduler: InferenceScheduler<VideoFrame>
        var frames: [UInt64: FrameInfo] = [:]
        var nextID: UInt64 = 1
        var closed = false
    }

    public let streamID: UInt64
    private let backend: any InferenceBackend
    private let sink: any ResultSink
    private let configuration: Configuration
    private let metrics: ServeMetrics?
    private let logger: Logger
    private let state: Mutex<State>
    private let wakeup = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private let delayNanos: Atomic<UInt64>
    /// Called (on the pipeline thread) when the decoder rejects a unit: ask for a keyframe.
    private let onDecoderFailed: @Sendable () -> Void
    /// Called with each answered request's turnaround (arrival → answer), for `--delay auto`.
    private let onTurnaround: @Sendable (UInt64) -> Void
    private var decoder: H264Decoder?  // pipeline thread only
    private static let live = Atomic<Int>(0)

    /// Pipeline threads running in this process (tests watch it return to zero).
    public static var liveCount: Int { live.load(ordering: .relaxed) }

    public init(
        streamID: UInt64, delay: UInt64, backend: any InferenceBackend, sink: any ResultSink,
        configuration: Configuration = .init(), metrics: ServeMetrics? = nil, logger: Logger,
        onDecoderFailed: @escaping @Sendable () -> Void = {},
        onTurnaround: @escaping @Sendable (UInt64) -> Void = { _ in }
    ) {
        self.streamID = streamID
        self.backend = backend
        self.sink = sink
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
        self.delayNanos = Atomic(delay)
        self.onDecoderFailed = onDecoderFailed
        self.onTurnaround = onTurnaround
        self.state = Mutex(
            State(scheduler: InferenceScheduler(maxInFlight: max(1, configuration.maxInFlight()))))
        let thread = Thread { [self] in run() }
        thread.name = "river-stream-\(streamID)"
        thread.start()
    }

    /// The delay in force (ns): sets deadlines of frames decoded from now on, and the `delay` field.
    public var delay: UInt64 {
        get { delayNanos.load(ordering: .relaxed) }
        set { delayNanos.store(newValue, ordering: .relaxed) }
    }

    /// Queues a complete access unit for decoding (any thread; never blocks on decoding).
    public func submit(_ unit: Unit) {
        let accepted = state.withLock { state in
            guard !state.closed else { return false }
            state.units.append(unit)
            return true
        }
        if accepted { wakeup.signal() }
    }

    /// Stops the thread (waits for it) and drops what is queued; answers still in flight are
    /// ignored when they come. Idempotent.
    public func close() {
        let first = state.withLock { state in
            defer { state.closed = true }
            return !state.closed
        }
        guard first else { return }
        wakeup.signal()
        finished.wait()
    }

    public var inFlightCount: Int { state.withLock { $0.scheduler.inFlightCount } }
    public var counters: Counters { state.withLock { $0.counters } }

    // MARK: Pipeline thread

    private func run() {
        Self.live.add(1, ordering: .relaxed)
        defer {
            Self.live.subtract(1, ordering: .relaxed)
            finished.signal()
        }
        do {
            decoder = try H264Decoder()
        } catch {
            logger.error("no H264 decoder: \(error)")
        }
        while true {
            // The timeout drives the scheduler's clock: a waiting frame expires on time.
            _ = wakeup.wait(timeout: .now() + .milliseconds(20))
            let (units, closed) = state.withLock { state in
                defer { state.units.removeAll(keepingCapacity: true) }
                return (state.units, state.closed)
            }
            if closed { break }
            for unit in units {
                // A backlog must not hold up close(), which the event loop waits on.
                if state.withLock({ $0.closed }) { break }
                decode(unit)
            }
            let limit = max(1, configuration.maxInFlight())
            let actions = state.withLock { state in
                state.scheduler.maxInFlight = limit
                return state.scheduler.tick(now: PipelineClock.now())
            }
            perform(actions)
        }
        decoder = nil
    }

    private func decode(_ unit: Unit) {
        guard let decoder else { return }
        let start = PipelineClock.now()
        let frames: [VideoFrame]
        do {
            frames = try decoder.decode(unit.annexB, rtpTimestamp: unit.outputTimestamp)
        } catch {
            state.withLock { $0.counters.decodeErrors += 1 }
            logger.debug("decode failed: \(error)")
            deliver(
                ResultMessage(
                    rtpTimestamp: unit.outputTimestamp, receivedAt: unit.receivedAt, width: 0, height: 0,
                    status: .decodeError, delay: Double(delay) / 1e6))
            metrics?.frameDropped(reason: ResultMessage.Status.decodeError.rawValue)
            onDecoderFailed()
            return
        }
        let decodedAt = PipelineClock.now()
        state.withLock {
            $0.counters.unitsDecoded += 1
            $0.counters.framesDecoded += frames.count
        }
        for frame in frames {
            metrics?.framesDecoded.increment()
            let deadline = unit.arrival &+ delay &- min(configuration.margin, unit.arrival &+ delay)
            let actions = state.withLock { state in
                let id = state.nextID
                state.nextID += 1
                state.frames[id] = FrameInfo(
                    outputTimestamp: frame.rtpTimestamp, receivedAt: unit.receivedAt, width: frame.width,
                    height: frame.height, arrival: unit.arrival, decodeMs: Double(decodedAt - start) / 1e6,
                    decodedAt: decodedAt)
                return state.scheduler.submit(id: id, frame: frame, deadline: deadline, now: decodedAt)
            }
            perform(actions)
        }
    }

    // MARK: Scheduling (any thread)

    private func perform(_ actions: [InferenceScheduler<VideoFrame>.Action]) {
        for action in actions {
            switch action {
            case .send(let id, let frame, let deadline):
                state.withLock {
                    $0.frames[id]?.sentAt = PipelineClock.now()
                    $0.counters.requestsSent += 1
                }
                let backend = backend
                let streamID = streamID
                Task { [self] in
                    let result: Result<BrokerReply, BrokerError>
                    do throws(BrokerError) {
                        result = .success(
                            try await backend.infer(
                                frame: frame, streamID: streamID, deadline: PipelineClock.instant(deadline)))
                    } catch {
                        result = .failure(error)
                    }
                    answer(id: id, result)
                }
            case .drop(let id, let reason):
                let info = state.withLock { $0.frames.removeValue(forKey: id) }
                guard let info else { continue }
                let status: ResultMessage.Status = reason == .saturated ? .saturated : .expired
                deliver(message(info, status: status))
            }
        }
    }

    private func answer(id: UInt64, _ result: Result<BrokerReply, BrokerError>) {
        let now = PipelineClock.now()
        let (info, onTime, next, closed) = state.withLock { state in
            let (onTime, next) = state.scheduler.finish(id: id, now: now)
            return (state.frames.removeValue(forKey: id), onTime, next, state.closed)
        }
        guard !closed, let info else { return }
        var out = message(info, status: .ok)
        switch result {
        case .success(let reply):
            onTurnaround(now &- info.arrival)
            metrics?.inferenceLatency.recordNanoseconds(Int64(clamping: now &- info.sentAt))
            let computeMs = Double(reply.timings.computeMicros) / 1000
            out.timings = .init(
                decode: info.decodeMs, queue: Double(info.sentAt &- info.decodedAt) / 1e6,
                inference: computeMs,
                total: Double(now &- info.arrival) / 1e6)
            if !onTime {
                out.status = .expired
            } else if reply.status == .ok,
                let parsed = try? JSONDecoder().decode(
                    InferenceResult.self, from: Data(reply.document))
            {
                out.detections = ResultMessage.detections(of: parsed)
                metrics?.framesInferred.increment()
            } else {
                out.status = .workerFailed
            }
        case .failure(let error):
            out.status = Self.status(for: error)
            // A request that ran out of time took at least this long: `--delay auto` must hear of
            // it, or a saturated proxy queue would keep the delay too short without a trace.
            if out.status == .expired { onTurnaround(now &- info.arrival) }
        }
        if out.status != .ok { out.detections = nil }
        if out.status != .ok && out.status != .expired { out.timings = nil }
        deliver(out)
        perform(next)
    }

    /// Why a request without a reply has no result, in the page's words.
    static func status(for error: BrokerError) -> ResultMessage.Status {
        switch error {
        case .rejected(_, let code, _):
            switch code {
            case .expired: .expired
            case .workerLost: .workerLost
            case .noWorker: .noWorker
            case .overloaded: .saturated
            case .workerFailed, .malformed, .badVersion: .workerFailed
            }
        case .timedOut: .expired
        case .notConnected: .noWorker
        case .connectionLost, .closed: .workerLost
        case .invalidFrame: .workerFailed
        }
    }

    private func message(_ info: FrameInfo, status: ResultMessage.Status) -> ResultMessage {
        ResultMessage(
            rtpTimestamp: info.outputTimestamp, receivedAt: info.receivedAt, width: info.width,
            height: info.height,
            status: status, delay: Double(delay) / 1e6)
    }

    private func deliver(_ message: ResultMessage) {
        if message.status != .ok { metrics?.frameDropped(reason: message.status.rawValue) }
        state.withLock { $0.counters.messages += 1 }
        sink.deliver(message)
    }
}

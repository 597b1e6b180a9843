import Logging
import NIOCore
import RiverRTP

/// What a ``PipelineStream`` sends on its connection.
enum PipelineOutput {
    /// A packet of our delayed stream (first send or retransmission).
    case rtp(RTPPacket)
    /// A compound RTCP packet (feedback upstream, or our sender report).
    case rtcp([UInt8])
}

/// One session's media path on its event loop (DESIGN.md, data path): incoming RTP goes to the
/// ``H264FrameBuilder`` (whose NACK/PLI go upstream) and into the ``DelayedOutput``; complete access
/// units go to the ``FramePipeline`` (decode and inference on its own thread); a timer at the delay
/// line's next due time sends packets out with the input's pacing. The receiver's PLI/FIR becomes a
/// PLI upstream, its NACKs are served from history; RR + REMB go upstream and SR on our stream.
///
/// `@unchecked Sendable`: every field is touched only on `eventLoop` (the pipeline thread reaches it
/// through `eventLoop.execute`).
final class PipelineStream: @unchecked Sendable {
    let eventLoop: EventLoop
    private(set) var output: DelayedOutput
    private var builder: H264FrameBuilder
    private var feedback: ReflectLoop
    private(set) var pipeline: FramePipeline!
    private var autoDelay: AutoDelay?
    private let send: (PipelineOutput) -> Void
    private let metrics: ServeMetrics?
    private let logger: Logger
    private var drainTimer: Scheduled<Void>?
    private var drainAt: UInt64 = .max
    private var timers: [RepeatedTask] = []
    private var closed = false
    /// RTP packets of our payload type received.
    private(set) var packetsIn = 0
    private(set) var unitsOut = 0

    init(
        eventLoop: EventLoop, payloadType: UInt8, outgoingSSRC: UInt32, rembBitrate: UInt64,
        delay: PipelineDelay,
        streamID: UInt64, backend: any InferenceBackend, sink: any ResultSink,
        configuration: FramePipeline.Configuration,
        builderConfiguration: H264FrameBuilder.Configuration = .init(),
        metrics: ServeMetrics?, logger: Logger, send: @escaping (PipelineOutput) -> Void
    ) throws(H264DepacketizerError) {
        self.eventLoop = eventLoop
        let start = delay.startNanoseconds
        output = DelayedOutput(payloadType: payloadType, outgoingSSRC: outgoingSSRC, delay: start)
        builder = try H264FrameBuilder(configuration: builderConfiguration)
        feedback = ReflectLoop(payloadType: payloadType, outgoingSSRC: outgoingSSRC, rembBitrate: rembBitrate)
        if case .auto = delay {
            var auto = AutoDelay.Configuration()
            auto.start = start
            autoDelay = AutoDelay(auto)
        }
        self.send = send
        self.metrics = metrics
        self.logger = logger
        let weakSelf = WeakReference<PipelineStream>()
        pipeline = FramePipeline(
            streamID: streamID, delay: autoDelay?.delay ?? start, backend: backend, sink: sink,
            configuration: configuration, metrics: metrics, logger: logger,
            onDecoderFailed: { [eventLoop] in
                eventLoop.execute { weakSelf.value?.decoderFailed() }
            },
            onTurnaround: { [eventLoop] turnaround in
                eventLoop.execute { weakSelf.value?.autoDelay?.record(turnaround: turnaround) }
            })
        weakSelf.value = self
    }

    /// Starts the feedback timers (event loop).
    func start() {
        eventLoop.preconditionInEventLoop()
        // REMB early and often: Chromium trusts a receiver estimate in its first seconds.
        timers.append(
            eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(100), delay: .milliseconds(250)) {
                [weak self] _ in
                guard let self, let report = feedback.periodicReport(now: .now) else { return }
                send(.rtcp(report))
            })
        timers.append(
            eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(500), delay: .seconds(1)) {
                [weak self] _ in
                guard let self,
                    let sr = output.senderReport(
                        now: PipelineClock.now(), wallClockSeconds: PipelineClock.wallMilliseconds() / 1000)
                else { return }
                send(.rtcp(RTCPPacket.serializeCompound([sr])))
            })
        // Loss repair retries and the auto delay's slew.
        timers.append(
            eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(10), delay: .milliseconds(10)) {
                [weak self] _ in self?.tick()
            })
    }

    /// Stops timers and the pipeline thread (event loop). Idempotent.
    func stop() {
        eventLoop.preconditionInEventLoop()
        guard !closed else { return }
        closed = true
        for timer in timers { timer.cancel() }
        timers.removeAll()
        drainTimer?.cancel()
        drainTimer = nil
        pipeline.close()
    }

    var delay: UInt64 { output.delay }

    /// One line of figures for the session's end-of-life log.
    var summary: String {
        "\(packetsIn) packets in, \(output.packetsSent) out, \(output.retransmitted) resent, "
            + "\(unitsOut) units, \(builder.unitsSkippedAwaitingKeyframe) skipped awaiting a keyframe, "
            + "\(builder.repair.nacksSent) NACKs, \(builder.repair.plisSent) PLIs up, \(pipeline.counters)"
    }

    // MARK: Input

    /// A decrypted RTP packet from the browser.
    func receive(rtp packet: RTPPacket) {
        eventLoop.preconditionInEventLoop()
        guard !closed, packet.payloadType == output.payloadType else { return }
        let arrival = PipelineClock.now()
        packetsIn += 1
        _ = feedback.reflect(packet)  // receive statistics and the upstream SSRC for RR/PLI
        output.push(packet, arrival: arrival)
        scheduleDrain()
        handle(builder.push(packet, now: .nanoseconds(Int64(arrival))), arrival: arrival)
    }

    /// A decrypted RTCP compound packet from the browser: PLI/FIR → PLI upstream, NACK → resend.
    func receive(rtcp compound: [UInt8]) {
        eventLoop.preconditionInEventLoop()
        guard !closed else { return }
        if let pli = feedback.receiveRTCP(compound, now: .now) { send(.rtcp(pli)) }
        for case .nack(let nack) in RTCPPacket.parsePrefix(compound).packets
        where nack.mediaSSRC == output.outgoingSSRC {
            for packet in output.retransmissions(for: nack.lostSequenceNumbers) { send(.rtp(packet)) }
        }
    }

    // MARK: Internals

    private func handle(_ events: [H264FrameBuilderEvent], arrival: UInt64) {
        for event in events {
            switch event {
            case .accessUnit(let unit):
                unitsOut += 1
                metrics?.framesReceived.increment()
                pipeline.submit(
                    .init(
                        annexB: unit.annexB, outputTimestamp: output.outputTimestamp(unit.timestamp),
                        arrival: arrival, receivedAt: PipelineClock.wallMilliseconds()))
            case .nack(let sequenceNumbers):
                guard let upstream = feedback.upstreamSSRC else { continue }
                send(
                    .rtcp(
                        RTCPPacket.nack(
                            RTCPGenericNACK(
                                senderSSRC: output.outgoingSSRC, mediaSSRC: upstream,
                                lostSequenceNumbers: sequenceNumbers)
                        ).serialized()))
            case .pli:
                guard let upstream = feedback.upstreamSSRC else { continue }
                send(
                    .rtcp(
                        RTCPPacket.pictureLossIndication(
                            .init(senderSSRC: output.outgoingSSRC, mediaSSRC: upstream)
                        )
                        .serialized()))
            case .dropped(let timestamp, let error):
                logger.debug("access unit \(timestamp) dropped: \(error)")
            }
        }
    }

    private func decoderFailed() {
        guard !closed else { return }
        handle(
            builder.decoderFailed(now: .nanoseconds(Int64(PipelineClock.now()))), arrival: PipelineClock.now()
        )
    }

    private func tick() {
        guard !closed else { return }
        let now = PipelineClock.now()
        handle(builder.tick(now: .nanoseconds(Int64(now))), arrival: now)
        if var auto = autoDelay {
            let delay = auto.update(now: now)
            autoDelay = auto
            output.delay = delay
            pipeline.delay = delay
        }
        metrics?.delaySeconds.record(Double(output.delay) / 1e9)
    }

    /// Arms the timer for the delay line's next due packet (due times never decrease, so the timer
    /// only ever needs arming when none is pending).
    private func scheduleDrain() {
        guard let due = output.nextDue, due < drainAt else { return }
        drainTimer?.cancel()
        drainAt = due
        let wait = Int64(clamping: due &- min(due, PipelineClock.now()))
        drainTimer = eventLoop.scheduleTask(in: .nanoseconds(wait)) { [weak self] in self?.drain() }
    }

    private func drain() {
        drainTimer = nil
        drainAt = .max
        guard !closed else { return }
        let now = PipelineClock.now()
        while let packet = output.popDue(now: now) { send(.rtp(packet)) }
        scheduleDrain()
    }
}

/// A weak reference the pipeline thread's callbacks can carry without keeping the stream alive.
///
/// `@unchecked Sendable`: `value` is set once during the stream's init, before any callback can run,
/// and only read (on the event loop) afterwards.
private final class WeakReference<Object: AnyObject>: @unchecked Sendable {
    weak var value: Object?
}

import RiverCore
import RiverRTP

/// One session's video path, sans-IO (DESIGN.md, data path steps 3, 5 and 6): every packet of the
/// browser's stream is held in a ``DelayLine`` and leaves at arrival + delay through the
/// ``StreamRewriter``, with the input's spacing; with an ``H264FrameBuilder`` (inference on) the
/// same packets are rebuilt into access units for decoding, and its NACK/PLI go upstream. The RTCP
/// stages answer the receiver's feedback and send RR + REMB upstream and SR on our stream.
///
/// A packet that comes late (a repair of an upstream loss) leaves beside its neighbours
/// (``SequenceSchedule``), so a repaired frame keeps its place in the schedule; one already held
/// is not forwarded twice.
///
/// While the receiver is losing packets (it sent a NACK in the last ``repeatWindow``) each
/// frame's last packet goes out twice. A receiver sees a packet missing only when a later one
/// arrives, and after a frame's last packet that is the next frame's first, a frame interval on:
/// a NACK repairs that loss a frame late, and the frame is shown late. A padding packet right
/// behind it would show the gap sooner, but Chromium holds the NACK a padding packet triggers until
/// the next media packet. The repeat instead fills the loss itself, unless both copies are lost,
/// at one packet a frame and only on a lossy path. The receiver counts the second copy as a
/// duplicate (its `packetsLost` figure then understates the loss).
///
/// Reflect mode is this path with delay 0 and no frame builder: a packet is due the moment it
/// arrives, so it leaves in the same call.
///
/// A viewer (WHEP) is reflect mode fed from another session instead of its own peer: the packets
/// of the publisher's stream as they leave the publisher's delay line (``forward(_:now:into:)``,
/// while ``forwardsToViewers`` is on there). The viewer's rewriter gives them its own SSRC and
/// numbering, its NACK responder answers from what it sent (the payloads are the publisher's
/// arrays, shared, not copied), and its key-frame requests go to the publisher
/// (``PLIForwarder/Source/publisher``).
///
/// The RTP timestamp offset (the starting delay in 90 kHz units) stays fixed even when
/// `--delay auto` moves the delay: RTP timestamps are a label, and the browser's jitter buffer
/// plays frames by their arrival, so moving the *schedule* is what changes the delay a user sees;
/// changing the *label* mid-stream would look like a clock jump to the receiver and would break
/// the one-to-one match of result messages to frames in flight.
struct VideoRelay {
    struct Output {
        var rtp: [RTPPacket] = []
        var rtcp: RTCPStageOutput = .init()
        var units: [AccessUnitJob] = []
        /// Units that will not be decoded (dropped, or held back until a keyframe), by output RTP
        /// timestamp and wall-clock arrival: their frames are still shown, so the page is told why
        /// they have no result.
        var undecodable: [(outputTimestamp: UInt32, receivedAt: Double)] = []
        /// Packets of our stream as they left, for the session's viewers (``forwardsToViewers``).
        var forwarded: [RTPPacket] = []
    }

    let payloadType: UInt8
    /// The session's starting delay: the shift of the RTP timestamps and of the browser's clock.
    let startDelay: Duration
    private(set) var line: DelayLine<RTPPacket>
    private(set) var rewriter: StreamRewriter
    private var schedule = SequenceSchedule()
    /// Repeat each frame's last packet while the receiver reports loss.
    let repeatsFrameEnds: Bool
    /// How long after the receiver's last NACK frame ends are repeated.
    static let repeatWindow: Duration = .seconds(10)
    /// When the receiver last NACKed our stream.
    private var lastNACK: Instant?
    private var builder: H264FrameBuilder?
    private var autoDelay: AutoDelay?
    private(set) var receiverReports: ReceiverReportGenerator
    private(set) var senderReports: SenderReportGenerator
    private(set) var nackResponder: NACKResponder
    private(set) var pliForwarder: PLIForwarder
    private let wallClock: @Sendable () -> Double
    private(set) var packetsIn = 0
    /// Packets late enough to be placed among those held, and packets not forwarded because one
    /// with the same number was held or sent already.
    private(set) var placedLate = 0
    private(set) var duplicatesDropped = 0
    private(set) var frameEndsRepeated = 0
    private(set) var unitsOut = 0
    /// Hand every packet that leaves to the session's viewers too (``Output/forwarded``).
    var forwardsToViewers = false
    /// A viewer starts at a frame boundary: forwarded packets are dropped until one that ends a
    /// frame has passed, so its receiver never gets the tail of a frame it did not see begin.
    private var atFrameStart = false
    /// The first `--delay auto` estimate has been applied to the packets held
    /// (``AutoDelay/Decision/appliesToHeld``); the audio line follows it.
    private(set) var rescheduled = false
    /// Output timestamp of the last keyframe sent to the decoder: a failure of a unit before it
    /// needs no new keyframe (this one already resets the decoder).
    private var lastKeyframeOut: UInt32?
    /// The last PLI sent because the delay line refused a packet (our stream then has a hole the
    /// receiver cannot repair from us; only a key frame from the browser heals it).
    private var lastOverflowPLI: Instant?
    static let overflowPLIInterval: Duration = .milliseconds(300)

    /// - Parameter rembBitrate: what the REMB tells the browser it may send, in all (audio too).
    init(
        payloadType: UInt8, outgoingSSRC: UInt32, rembBitrate: UInt64, delay: PipelineDelay,
        delayLineByteLimit: Int? = nil, repeatsFrameEnds: Bool = true,
        nackResponder nackConfiguration: NACKResponder.Configuration = .init(),
        frameBuilder: H264FrameBuilder.Configuration?, keyFrameSource: PLIForwarder.Source = .browser,
        wallClock: @escaping @Sendable () -> Double
    ) throws(H264DepacketizerError) {
        self.payloadType = payloadType
        self.repeatsFrameEnds = repeatsFrameEnds
        startDelay = delay.start
        line = DelayLine(delay: delay.start, byteLimit: delayLineByteLimit)
        rewriter = StreamRewriter(
            outgoingSSRC: outgoingSSRC, timestampOffset: StreamRewriter.rtpUnits(delay.start))
        builder = try frameBuilder.map { c throws(H264DepacketizerError) in
            try H264FrameBuilder(configuration: c)
        }
        if case .auto(let start) = delay {
            var configuration = AutoDelay.Configuration()
            configuration.start = start
            autoDelay = AutoDelay(configuration)
        }
        receiverReports = ReceiverReportGenerator(
            localSSRC: outgoingSSRC, payloadType: payloadType, rembBitrate: rembBitrate)
        senderReports = SenderReportGenerator(ssrc: outgoingSSRC, wallClock: wallClock)
        nackResponder = NACKResponder(ssrc: outgoingSSRC, configuration: nackConfiguration)
        pliForwarder = PLIForwarder(localSSRC: outgoingSSRC, payloadType: payloadType, source: keyFrameSource)
        self.wallClock = wallClock
    }

    /// The delay in force (moves under `--delay auto`).
    var delay: Duration { line.delay }

    /// Access units dropped for passing the depacketizer's byte bound.
    var unitsTooLarge: Int { builder?.depacketizer.unitsTooLarge ?? 0 }

    /// Under `--delay auto`, the inference deadline's margin: the headroom ``AutoDelay`` keeps, so
    /// that the scheduler's "on time" and the delay's agree. Nil for a fixed delay.
    var autoHeadroom: Duration? { autoDelay?.configuration.headroom }

    /// The `--delay auto` state, for logs and tests.
    var auto: AutoDelay? { autoDelay }

    /// The frame builder's loss repair so far (zeros in reflect mode, which has none).
    var builderCounters: (skipped: Int, nacks: Int, plis: Int, repaired: Int, givenUp: Int) {
        guard let builder else { return (0, 0, 0, 0, 0) }
        let repair = builder.repair
        return (
            builder.unitsSkippedAwaitingKeyframe, repair.nacksSent, repair.plisSent, repair.packetsRepaired,
            repair.packetsGivenUp
        )
    }

    var nextDeadline: Instant? {
        var next = line.nextDue
        next = Instant.earliest(next, builder?.nextDeadline)
        next = Instant.earliest(next, receiverReports.nextDeadline)
        next = Instant.earliest(next, senderReports.nextDeadline)
        return next
    }

    mutating func receive(rtp packet: RTPPacket, now: Instant, into out: inout Output) {
        guard packet.payloadType == payloadType else { return }
        packetsIn += 1
        receiverReports.received(rtp: packet, now: now)
        pliForwarder.received(rtp: packet, now: now)
        if var auto = autoDelay {
            let decision = auto.update(now: now)
            if decision.appliesToHeld {
                line.reschedule(delay: decision.delay)
                schedule.clear()
                rescheduled = true
            } else {
                line.delay = decision.delay
            }
            autoDelay = auto
        }
        hold(packet, now: now, into: &out)
        if builder != nil {
            let events = builder!.push(packet, now: now)
            handle(events, now: now, into: &out)
        }
        drain(now: now, into: &out)
    }

    /// A viewer's input: one packet of the publisher's stream as it left there, already that
    /// stream's (its SSRC, numbering and timestamps). It takes our payload type, and loses its
    /// header extensions, whose ids are the publisher's negotiation, not our peer's.
    mutating func forward(_ packet: RTPPacket, now: Instant, into out: inout Output) {
        guard atFrameStart else {
            atFrameStart = packet.marker
            return
        }
        var packet = packet
        packet.payloadType = payloadType
        packet.extensionProfile = nil
        packet.extensionData = []
        packetsIn += 1
        hold(packet, now: now, into: &out)
        drain(now: now, into: &out)
    }

    /// A viewer wants a key frame: a PLI upstream, spaced with our own receiver's requests.
    mutating func requestKeyFrame(now: Instant, into out: inout Output) {
        pliForwarder.request(now: now, into: &out.rtcp)
    }

    /// Places a packet in the delay line, beside its neighbours when it comes late.
    private mutating func hold(_ packet: RTPPacket, now: Instant, into out: inout Output) {
        let size = NACKResponder.size(of: packet)
        var due: Instant?
        switch schedule.place(packet.sequenceNumber, timestamp: packet.timestamp, ssrc: packet.ssrc) {
        case .duplicate:
            duplicatesDropped += 1
        case .late(let neighbour):
            placedLate += 1
            due = line.insert(packet, due: neighbour, size: size)
            if due == nil { delayLineOverflowed(now: now, into: &out) }
        case .newest:
            due = line.push(packet, arrival: now, size: size)
            if due == nil { delayLineOverflowed(now: now, into: &out) }
        }
        if let due { schedule.record(packet.sequenceNumber, timestamp: packet.timestamp, due: due) }
    }

    /// Every packet of the compound goes to every stage.
    mutating func receive(rtcp packets: [RTCPPacket], now: Instant, into out: inout Output) {
        nackResponder.startCompound()
        let reports = senderReports.receptionReports
        let resent = nackResponder.retransmitted
        for packet in packets {
            if case .nack(let nack) = packet, nack.mediaSSRC == rewriter.outgoingSSRC { lastNACK = now }
            receiverReports.received(rtcp: packet, now: now, into: &out.rtcp)
            senderReports.received(rtcp: packet, now: now, into: &out.rtcp)
            if case .senderReport(let sr) = packet, sr.ssrc == receiverReports.upstreamSSRC {
                senderReports.sourceReported(sr, timestampOffset: rewriter.timestampOffset, delay: startDelay)
            }
            nackResponder.received(rtcp: packet, now: now, into: &out.rtcp)
            pliForwarder.received(rtcp: packet, now: now, into: &out.rtcp)
        }
        guard autoDelay != nil else { return }
        // What the browser says of our stream: the RTT and loss on the path results take.
        if senderReports.receptionReports != reports, let reception = senderReports.lastReception {
            if let rtt = reception.roundTrip { autoDelay!.record(roundTrip: rtt) }
            if reception.fractionLost > 0 { autoDelay!.recordLoss(now: now) }
        }
        if nackResponder.retransmitted != resent { autoDelay!.recordLoss(now: now) }
    }

    mutating func handleTimeout(now: Instant, into out: inout Output) {
        drain(now: now, into: &out)
        if builder != nil {
            let events = builder!.tick(now: now)
            handle(events, now: now, into: &out)
        }
        receiverReports.handleTimeout(now: now, into: &out.rtcp)
        senderReports.handleTimeout(now: now, into: &out.rtcp)
    }

    /// The decoder rejected the unit with this output timestamp: ask for a key frame and hold units
    /// back until one comes, unless a keyframe was sent to the decoder after that unit. Decoding
    /// runs a few units behind, so a failure often reports on a unit from before the keyframe that
    /// already healed it; waiting for yet another keyframe would skip good frames for nothing.
    mutating func decoderFailed(outputTimestamp: UInt32, now: Instant, into out: inout Output) {
        guard builder != nil else { return }
        if let key = lastKeyframeOut, Int32(bitPattern: outputTimestamp &- key) < 0 { return }
        let events = builder!.decoderFailed(now: now)
        handle(events, now: now, into: &out)
    }

    /// A turnaround (frame complete → result) for `--delay auto`.
    mutating func record(turnaround: Duration) {
        autoDelay?.record(turnaround: turnaround)
    }

    /// A refused packet leaves a hole in our stream that the receiver's NACKs cannot fill (it was
    /// never sent, so it is not in the history): ask the browser for a key frame, spaced like
    /// ``PLIForwarder``'s, so the receiver recovers once the line drains.
    private mutating func delayLineOverflowed(now: Instant, into out: inout Output) {
        if let last = lastOverflowPLI, now - last < Self.overflowPLIInterval { return }
        guard let pli = receiverReports.pictureLossIndication() else { return }
        lastOverflowPLI = now
        out.rtcp.compounds.append([pli])
    }

    private mutating func drain(now: Instant, into out: inout Output) {
        while let incoming = line.popDue(now: now) {
            let packet = rewriter.rewrite(incoming)
            senderReports.sent(rtp: packet, now: now)
            nackResponder.sent(rtp: packet, now: now)
            out.rtp.append(packet)
            if forwardsToViewers { out.forwarded.append(packet) }
            if repeatsFrameEnds, incoming.marker, let lastNACK, now - lastNACK < Self.repeatWindow {
                frameEndsRepeated += 1
                out.rtp.append(packet)
            }
        }
    }

    private mutating func handle(_ events: [H264FrameBuilderEvent], now: Instant, into out: inout Output) {
        for event in events {
            switch event {
            case .accessUnit(let unit):
                unitsOut += 1
                // A unit leaves when its frame's last packet does: as if it had arrived at that
                // due time less the delay. That is earlier than now when a repair completed it
                // late, or when the reorder buffer held it behind another frame's repair; its
                // inference deadline and the page's delay figure (`receivedAt`) follow.
                let arrival = schedule.frameDue(unit.timestamp).map { min(now, $0 - line.delay) } ?? now
                autoDelay?.record(frameTimestamp: unit.timestamp)
                let timestamp = rewriter.outputTimestamp(unit.timestamp)
                if unit.isKeyframe { lastKeyframeOut = timestamp }
                out.units.append(
                    AccessUnitJob(
                        annexB: unit.annexB, outputTimestamp: timestamp, arrival: arrival,
                        receivedAt: wallClock() * 1000 - Double((now - arrival).nanosecondsClamped) / 1e6))
            case .nack(let sequenceNumbers):
                autoDelay?.recordLoss(now: now)  // the path to the browser loses packets
                if let nack = receiverReports.nack(sequenceNumbers) { out.rtcp.compounds.append([nack]) }
            case .pli:
                if let pli = receiverReports.pictureLossIndication() { out.rtcp.compounds.append([pli]) }
            case .dropped(let timestamp, _), .skipped(let timestamp):
                // Counted by the depacketizer and the frame builder, which asked for a key frame.
                out.undecodable.append((rewriter.outputTimestamp(timestamp), wallClock() * 1000))
            }
        }
    }
}

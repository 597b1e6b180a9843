import RiverCore
import RiverRTP

/// One session's audio path, sans-IO: the browser's Opus packets come back as they are, never
/// decoded or transcoded, through the same delay as the video, so sound and picture stay together.
///
/// **Sync.** Every packet is held in its own ``DelayLine`` whose delay is the video line's at all
/// times (the engine calls ``follow(delay:rescheduled:)`` whenever the video's may have moved), and
/// its RTP timestamps are offset by the video's starting delay at 48 kHz (RFC 7587 §4.1), as the
/// video's are at 90 kHz. Each stream gets its own sender reports (RFC 3550 §6.4.1), which map
/// its RTP time to the browser's own capture clock, shifted by the starting delay
/// (``SenderReportGenerator/sourceReported(_:timestampOffset:delay:)``), so the two mappings relate
/// the tracks exactly as the browser captured them, and the receiving browser lip-syncs the tracks
/// of one stream (the answer gives both the same msid) with them.
///
/// **Under `--delay auto`.** The audio follows the video's schedule, never its own: when the delay
/// shrinks (at most 10 % of real time) the packets leave up to 10 % closer together, and the
/// browser's jitter buffer (NetEQ) plays them out with time compression, which is not heard as a
/// burst; when it grows, the packets leave further apart and NetEQ stretches the sound it has. A
/// delay that grows at the full rate (results late, the video stands still) leaves a gap the same
/// length in the sound, which NetEQ fills with concealment; that is the one case where a user can
/// hear the delay move, and the same moment freezes the picture.
///
/// **Loss.** Upstream, a gap in the browser's sequence numbers is NACKed (``LossRepair`` without
/// keyframes); a repaired packet joins the line at its own arrival, so it leaves a round trip after
/// its neighbours, inside the receiver's jitter buffer. Downstream, the browser's NACKs on our
/// stream are served from the history under the same rules and budget ratio as the video's
/// (``NACKResponder``), so together the two streams still send at most (1 + ratio) × what they
/// first sent. Receiver reports on the browser's audio carry no REMB of their own: the video's REMB
/// (``rembAllowance`` added) is the browser's estimate for the whole transport.
struct AudioRelay {
    struct Output {
        var rtp: [RTPPacket] = []
        var rtcp: RTCPStageOutput = .init()
        /// With ``records``: each packet's payload, output timestamp and arrival, as it came.
        var received: [(payload: [UInt8], outputTimestamp: UInt32, arrival: Instant)] = []
    }

    /// What the video's REMB adds for the audio: Opus at its highest voice-and-music rate in
    /// Chromium (stereo 64 kbit/s), with room for FEC.
    static let rembAllowance: UInt64 = 96_000

    let payloadType: UInt8
    /// The session's starting delay: the shift of the RTP timestamps and of the browser's clock.
    let startDelay: Duration
    private(set) var line: DelayLine<RTPPacket>
    private(set) var rewriter: StreamRewriter
    private(set) var receiverReports: ReceiverReportGenerator
    private(set) var senderReports: SenderReportGenerator
    private(set) var nackResponder: NACKResponder
    private var repair: LossRepair
    private var followedReschedule = false
    private(set) var packetsIn = 0
    private(set) var packetsOut = 0
    /// Hand each packet to the session's recording as it arrives.
    var records = false

    init(
        payloadType: UInt8, outgoingSSRC: UInt32, startDelay: Duration, delayLineByteLimit: Int,
        nackResponder nackConfiguration: NACKResponder.Configuration,
        wallClock: @escaping @Sendable () -> Double
    ) {
        self.payloadType = payloadType
        self.startDelay = startDelay
        line = DelayLine(delay: startDelay, byteLimit: delayLineByteLimit)
        rewriter = StreamRewriter(
            outgoingSSRC: outgoingSSRC,
            timestampOffset: StreamRewriter.rtpUnits(startDelay, clockRate: 48_000))
        receiverReports = ReceiverReportGenerator(
            localSSRC: outgoingSSRC, payloadType: payloadType, rembBitrate: nil)
        senderReports = SenderReportGenerator(ssrc: outgoingSSRC, clockRate: 48_000, wallClock: wallClock)
        nackResponder = NACKResponder(ssrc: outgoingSSRC, configuration: nackConfiguration)
        var repairConfiguration = LossRepair.Configuration()
        repairConfiguration.keyframes = false
        repair = LossRepair(configuration: repairConfiguration)
    }

    /// The delay packets pushed from now on get (the video's).
    var delay: Duration { line.delay }

    /// Upstream loss so far: packets repaired and given up.
    var repairCounters: (nacks: Int, repaired: Int, givenUp: Int) {
        (repair.nacksSent, repair.packetsRepaired, repair.packetsGivenUp)
    }

    var nextDeadline: Instant? {
        var next = line.nextDue
        next = Instant.earliest(next, repair.nextDeadline)
        next = Instant.earliest(next, receiverReports.nextDeadline)
        next = Instant.earliest(next, senderReports.nextDeadline)
        return next
    }

    /// Takes the video line's delay. `rescheduled`: the video line has applied its first auto
    /// estimate to the packets it holds (``DelayLine/reschedule(delay:)``); the audio's held packets
    /// move with it, once.
    mutating func follow(delay: Duration, rescheduled: Bool) {
        if rescheduled && !followedReschedule {
            followedReschedule = true
            line.reschedule(delay: delay)
        } else {
            line.delay = delay
        }
    }

    mutating func receive(rtp packet: RTPPacket, now: Instant, into out: inout Output) {
        guard packet.payloadType == payloadType else { return }
        packetsIn += 1
        receiverReports.received(rtp: packet, now: now)
        var events: [LossRepairEvent] = []
        repair.receive(sequenceNumber: packet.sequenceNumber, now: now, into: &events)
        handle(events, into: &out)
        if records {
            out.received.append((packet.payload, rewriter.outputTimestamp(packet.timestamp), now))
        }
        // Refused past the byte bound: counted by the line; the receiver conceals the hole.
        line.push(packet, arrival: now, size: NACKResponder.size(of: packet))
        drain(now: now, into: &out)
    }

    mutating func receive(rtcp packets: [RTCPPacket], now: Instant, into out: inout Output) {
        nackResponder.startCompound()
        for packet in packets {
            receiverReports.received(rtcp: packet, now: now, into: &out.rtcp)
            senderReports.received(rtcp: packet, now: now, into: &out.rtcp)
            if case .senderReport(let sr) = packet, sr.ssrc == receiverReports.upstreamSSRC {
                senderReports.sourceReported(sr, timestampOffset: rewriter.timestampOffset, delay: startDelay)
            }
            nackResponder.received(rtcp: packet, now: now, into: &out.rtcp)
        }
    }

    mutating func handleTimeout(now: Instant, into out: inout Output) {
        drain(now: now, into: &out)
        var events: [LossRepairEvent] = []
        repair.tick(now: now, into: &events)
        handle(events, into: &out)
        receiverReports.handleTimeout(now: now, into: &out.rtcp)
        senderReports.handleTimeout(now: now, into: &out.rtcp)
    }

    private mutating func handle(_ events: [LossRepairEvent], into out: inout Output) {
        for case .nack(let sequenceNumbers) in events {
            if let nack = receiverReports.nack(sequenceNumbers) { out.rtcp.compounds.append([nack]) }
        }
    }

    private mutating func drain(now: Instant, into out: inout Output) {
        while let incoming = line.popDue(now: now) {
            let packet = rewriter.rewrite(incoming)
            senderReports.sent(rtp: packet, now: now)
            nackResponder.sent(rtp: packet, now: now)
            packetsOut += 1
            out.rtp.append(packet)
        }
    }
}

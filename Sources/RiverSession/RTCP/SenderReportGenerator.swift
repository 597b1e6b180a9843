import RiverCore
import RiverRTP

/// Sender reports for our outgoing stream (RFC 3550 §6.4.1), so the browser can relate our RTP
/// timestamps to wall-clock time (`captureTime` in `requestVideoFrameCallback`) and measure RTT.
///
/// The RTP time is extrapolated from the last packet sent at the stream's clock rate. The NTP time
/// it is paired with comes, once the browser has sent a sender report of its own on the stream we
/// forward, from the browser's clock (``sourceReported(_:timestampOffset:delay:)``): its SR says
/// when each RTP time was *captured*, and ours says the same of our RTP time, shifted by the
/// starting delay. Two streams forwarded this way relate exactly as the browser captured them, which
/// is what the receiver's lip sync compares; pairing each RTP time with the moment we send it
/// instead would add the difference between the audio's and the video's encoding and packetization
/// times, which moves from frame to frame. Before the browser's first SR, the NTP time is the wall
/// clock at sending. Wall-clock time enters here and only here, through ``wallClock`` (seconds
/// since the Unix epoch), which the shell supplies.
///
/// It also reads what the browser reports back about our stream (the reception report blocks for
/// our SSRC in its RRs and SRs): the fraction lost, and the RTT, from the block's LSR and DLSR
/// (RFC 3550 §6.4.1). The RTT is timed on the monotonic clock, from when the SR whose middle 32 NTP
/// bits the block echoes was sent, less the browser's DLSR; the wall clock plays no part in it.
public struct SenderReportGenerator: RTCPStage {
    public let ssrc: UInt32
    /// The stream's RTP clock: 90 kHz for video, 48 kHz for Opus (RFC 7587 §4.1).
    public let clockRate: UInt64
    public var firstReport: Duration = .milliseconds(500)
    public var interval: Duration = .seconds(1)
    public let wallClock: @Sendable () -> Double
    public private(set) var packetsSent: UInt32 = 0
    public private(set) var octetsSent: UInt32 = 0
    private var lastSent: (timestamp: UInt32, at: Instant)?
    private var due: Instant?
    /// The browser's clock for our RTP times: an NTP time and the output RTP time it belongs to.
    private var sourceClock: (ntpTime: UInt64, rtpTime: UInt32)?
    /// The last few SRs sent (LSR value, when): a browser may answer an older one.
    private var reportsSent: [(lsr: UInt32, at: Instant)] = []

    /// What the browser's latest reception report on our stream said.
    public struct Reception: Sendable, Equatable {
        /// Fraction lost since its previous report, in 1/256 (RFC 3550 §6.4.1).
        public var fractionLost: UInt8
        /// Nil when the block echoes no SR of ours (LSR 0, or one no longer remembered).
        public var roundTrip: Duration?
        public var at: Instant
    }

    public private(set) var lastReception: Reception?
    /// Reception reports on our stream so far (tells a reader that a new one came).
    public private(set) var receptionReports = 0

    public init(ssrc: UInt32, clockRate: UInt64 = 90_000, wallClock: @escaping @Sendable () -> Double) {
        self.ssrc = ssrc
        self.clockRate = clockRate
        self.wallClock = wallClock
    }

    public mutating func sent(rtp packet: RTPPacket, now: Instant) {
        packetsSent &+= 1
        octetsSent &+= UInt32(truncatingIfNeeded: packet.payload.count)
        lastSent = (packet.timestamp, now)
        if due == nil { due = now + firstReport }
    }

    public var nextDeadline: Instant? { due }

    /// The browser's sender report on the stream we forward: `timestampOffset` is what our rewriter
    /// adds to its RTP times, `delay` the session's starting delay (the shift of the clock).
    public mutating func sourceReported(
        _ report: RTCPSenderReport, timestampOffset: UInt32, delay: Duration
    ) {
        let shift = UInt64(max(0, delay.nanosecondsClamped)) * (1 << 32) / 1_000_000_000
        sourceClock = (report.ntpTime &+ shift, report.rtpTime &+ timestampOffset)
    }

    public mutating func received(rtcp packet: RTCPPacket, now: Instant, into out: inout RTCPStageOutput) {
        let blocks: [RTCPReceptionReport]
        switch packet {
        case .receiverReport(let rr): blocks = rr.reports
        case .senderReport(let sr): blocks = sr.reports
        default: return
        }
        for block in blocks where block.ssrc == ssrc {
            var roundTrip: Duration?
            if block.lastSenderReport != 0,
                let sent = reportsSent.last(where: { $0.lsr == block.lastSenderReport })
            {
                // DLSR is in 1/65536 s.
                let held = Duration.nanoseconds(
                    Int64(block.delaySinceLastSenderReport) * 1_000_000_000 / 65_536)
                let rtt = now - sent.at - held
                if rtt >= .zero { roundTrip = rtt }
            }
            lastReception = Reception(fractionLost: block.fractionLost, roundTrip: roundTrip, at: now)
            receptionReports += 1
        }
    }

    public mutating func handleTimeout(now: Instant, into out: inout RTCPStageOutput) {
        guard let due, now >= due, let lastSent else { return }
        self.due = now + interval
        let packet = report(now: now, last: lastSent)
        if case .senderReport(let sr) = packet {
            if reportsSent.count == 4 { reportsSent.removeFirst() }
            reportsSent.append((NTPTime.middle32(sr.ntpTime), now))
        }
        out.compounds.append([packet])
    }

    func report(now: Instant, last: (timestamp: UInt32, at: Instant)) -> RTCPPacket {
        let rtpTime = last.timestamp &+ StreamRewriter.rtpUnits(now - last.at, clockRate: clockRate)
        var ntpTime = NTPTime.from(unixSeconds: wallClock())
        if let source = sourceClock {
            // Signed: our RTP time may be before or after the browser's report.
            let ticks = Int64(Int32(bitPattern: rtpTime &- source.rtpTime))
            let fraction = ticks * (1 << 32) / Int64(clockRate)
            ntpTime = source.ntpTime &+ UInt64(bitPattern: fraction)
        }
        return .senderReport(
            RTCPSenderReport(
                ssrc: ssrc, ntpTime: ntpTime, rtpTime: rtpTime,
                packetCount: packetsSent, octetCount: octetsSent))
    }
}

import RiverCore
import RiverRTP

/// Sender reports for our outgoing stream (RFC 3550 §6.4.1), so the browser can relate our RTP
/// timestamps to wall-clock time (`captureTime` in `requestVideoFrameCallback`) and measure RTT.
///
/// The RTP time is extrapolated from the last packet sent at the stream's clock rate, so it and the
/// NTP time describe the same instant. Wall-clock time enters here and only here, through
/// ``wallClock`` (seconds since the Unix epoch), which the shell supplies.
///
/// It also reads what the browser reports back about our stream (the reception report blocks for
/// our SSRC in its RRs and SRs): the fraction lost, and the RTT, from the block's LSR and DLSR
/// (RFC 3550 §6.4.1). The RTT is timed on the monotonic clock, from when the SR whose middle 32 NTP
/// bits the block echoes was sent, less the browser's DLSR; the wall clock plays no part in it.
public struct SenderReportGenerator: RTCPStage {
    public let ssrc: UInt32
    public var firstReport: Duration = .milliseconds(500)
    public var interval: Duration = .seconds(1)
    public let wallClock: @Sendable () -> Double
    public private(set) var packetsSent: UInt32 = 0
    public private(set) var octetsSent: UInt32 = 0
    private var lastSent: (timestamp: UInt32, at: Instant)?
    private var due: Instant?
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

    public init(ssrc: UInt32, wallClock: @escaping @Sendable () -> Double) {
        self.ssrc = ssrc
        self.wallClock = wallClock
    }

    public mutating func sent(rtp packet: RTPPacket, now: Instant) {
        packetsSent &+= 1
        octetsSent &+= UInt32(truncatingIfNeeded: packet.payload.count)
        lastSent = (packet.timestamp, now)
        if due == nil { due = now + firstReport }
    }

    public var nextDeadline: Instant? { due }

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
        let rtpTime = last.timestamp &+ StreamRewriter.rtpUnits(now - last.at)
        let ntpTime = NTPTime.from(unixSeconds: wallClock())
        return .senderReport(
            RTCPSenderReport(
                ssrc: ssrc, ntpTime: ntpTime, rtpTime: rtpTime,
                packetCount: packetsSent, octetCount: octetsSent))
    }
}

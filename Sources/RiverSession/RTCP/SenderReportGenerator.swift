import RiverCore
import RiverRTP

/// Sender reports for our outgoing stream (RFC 3550 §6.4.1), so the browser can relate our RTP
/// timestamps to wall-clock time (`captureTime` in `requestVideoFrameCallback`) and measure RTT.
///
/// The RTP time is extrapolated from the last packet sent at the stream's clock rate, so it and the
/// NTP time describe the same instant. Wall-clock time enters here and only here, through
/// ``wallClock`` (seconds since the Unix epoch), which the shell supplies.
public struct SenderReportGenerator: RTCPStage {
    public let ssrc: UInt32
    public var firstReport: Duration = .milliseconds(500)
    public var interval: Duration = .seconds(1)
    public let wallClock: @Sendable () -> Double
    public private(set) var packetsSent: UInt32 = 0
    public private(set) var octetsSent: UInt32 = 0
    private var lastSent: (timestamp: UInt32, at: Instant)?
    private var due: Instant?

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

    public mutating func handleTimeout(now: Instant, into out: inout RTCPStageOutput) {
        guard let due, now >= due, let lastSent else { return }
        self.due = now + interval
        out.compounds.append([report(now: now, last: lastSent)])
    }

    func report(now: Instant, last: (timestamp: UInt32, at: Instant)) -> RTCPPacket {
        let rtpTime = last.timestamp &+ StreamRewriter.rtpUnits(now - last.at)
        return .senderReport(
            RTCPSenderReport(
                ssrc: ssrc, ntpTime: NTPTime.from(unixSeconds: wallClock()), rtpTime: rtpTime,
                packetCount: packetsSent, octetCount: octetsSent))
    }
}

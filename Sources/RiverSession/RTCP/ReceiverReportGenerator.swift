import RiverCore
import RiverRTP

/// Receiver statistics for the browser's stream and the periodic RR + REMB that go back to it
/// (RFC 3550 §6.4.2, draft-alvestrand-rmcat-remb). REMB comes early and often: Chromium trusts a
/// receiver estimate in its first seconds and jumps to it instead of ramping up slowly.
///
/// A stream without REMB (`rembBitrate` nil: audio, whose bitrate the video's REMB covers) gets
/// the RR alone.
///
/// The first report goes out ``firstReport`` after the first packet, then every ``interval``.
/// LSR/DLSR echo the browser's last sender report so it can measure the round trip.
public struct ReceiverReportGenerator: RTCPStage, Sendable {
    public let localSSRC: UInt32
    public let payloadType: UInt8
    public var rembBitrate: UInt64?
    public var firstReport: Duration = .milliseconds(100)
    public var interval: Duration = .milliseconds(250)
    public private(set) var upstreamSSRC: UInt32?
    private var statistics = ReceiveStatistics()
    private var lastSenderReport: (ntp: UInt32, at: Instant)?
    private var due: Instant?

    public init(localSSRC: UInt32, payloadType: UInt8, rembBitrate: UInt64?) {
        self.localSSRC = localSSRC
        self.payloadType = payloadType
        self.rembBitrate = rembBitrate
    }

    /// A generic NACK (RFC 4585 §6.2.1) asking the upstream sender for these sequence numbers;
    /// nil before its first packet came.
    public func nack(_ sequenceNumbers: [UInt16]) -> RTCPPacket? {
        guard let upstreamSSRC else { return nil }
        return .nack(
            RTCPGenericNACK(
                senderSSRC: localSSRC, mediaSSRC: upstreamSSRC, lostSequenceNumbers: sequenceNumbers))
    }

    /// A picture loss indication (RFC 4585 §6.3.1) asking the upstream sender for a keyframe; nil
    /// before its first packet came.
    public func pictureLossIndication() -> RTCPPacket? {
        upstreamSSRC.map { .pictureLossIndication(.init(senderSSRC: localSSRC, mediaSSRC: $0)) }
    }

    public mutating func received(rtp packet: RTPPacket, now: Instant) {
        guard packet.payloadType == payloadType else { return }
        if packet.ssrc != upstreamSSRC {
            upstreamSSRC = packet.ssrc
            statistics = ReceiveStatistics()
        }
        statistics.record(packet.sequenceNumber)
        if due == nil { due = now + firstReport }
    }

    public mutating func received(rtcp packet: RTCPPacket, now: Instant, into out: inout RTCPStageOutput) {
        guard case .senderReport(let sr) = packet, sr.ssrc == upstreamSSRC else { return }
        // LSR is the middle 32 bits of the 64-bit NTP time (RFC 3550 §6.4.1).
        lastSenderReport = (UInt32(truncatingIfNeeded: sr.ntpTime >> 16), now)
    }

    public var nextDeadline: Instant? { due }

    public mutating func handleTimeout(now: Instant, into out: inout RTCPStageOutput) {
        guard let due, now >= due, let upstreamSSRC else { return }
        self.due = now + interval
        var block = statistics.reportBlock(ssrc: upstreamSSRC)
        if let sr = lastSenderReport {
            block.lastSenderReport = sr.ntp
            // Units of 1/65536 s (RFC 3550 §6.4.1).
            let delay = UInt64(max(0, (now - sr.at).nanosecondsClamped))
            block.delaySinceLastSenderReport = UInt32(clamping: delay * 65_536 / 1_000_000_000)
        }
        // A compound starts with a report (RFC 3550 §6.1); REMB rides along.
        var compound: [RTCPPacket] = [.receiverReport(RTCPReceiverReport(ssrc: localSSRC, reports: [block]))]
        if let rembBitrate {
            compound.append(
                .remb(
                    RTCPReceiverEstimatedMaximumBitrate(
                        senderSSRC: localSSRC, bitrate: rembBitrate, ssrcs: [upstreamSSRC])))
        }
        out.compounds.append(compound)
    }
}

/// Sequence-number bookkeeping for receiver reports (RFC 3550 Appendix A.3, without probation).
public struct ReceiveStatistics: Sendable {
    private var base: UInt32?
    private var cycles: UInt32 = 0
    private var maxSequence: UInt16 = 0
    private var received: UInt32 = 0
    private var expectedPrior: UInt32 = 0
    private var receivedPrior: UInt32 = 0

    public init() {}

    public mutating func record(_ sequence: UInt16) {
        received += 1
        guard base != nil else {
            base = UInt32(sequence)
            maxSequence = sequence
            return
        }
        let delta = sequence &- maxSequence
        if delta != 0 && delta < 0x8000 {
            if sequence < maxSequence { cycles &+= 0x1_0000 }
            maxSequence = sequence
        }
    }

    public var extendedHighest: UInt32 { cycles | UInt32(maxSequence) }

    public mutating func reportBlock(ssrc: UInt32) -> RTCPReceptionReport {
        let base = base ?? 0
        let expected = extendedHighest &- base &+ 1
        let lost = Int32(truncatingIfNeeded: Int64(expected) - Int64(received))
        let expectedInterval = expected &- expectedPrior
        let receivedInterval = received &- receivedPrior
        expectedPrior = expected
        receivedPrior = received
        let lostInterval = Int64(expectedInterval) - Int64(receivedInterval)
        let fraction: UInt8 =
            expectedInterval == 0 || lostInterval <= 0
            ? 0 : UInt8(min(255, (lostInterval << 8) / Int64(expectedInterval)))
        return RTCPReceptionReport(
            ssrc: ssrc, fractionLost: fraction, totalLost: lost, highestSequence: extendedHighest)
    }
}

import RiverRTP

/// The reflect decisions without I/O: which packet goes back out, which feedback goes upstream.
///
/// The outgoing stream is a new stream (its own SSRC, the answer's payload type, sequence numbers
/// continuous from a random start, RFC 3550 §5.1), so the browser decodes it as the remote track.
/// Feedback crosses over: a PLI or FIR on our stream becomes a PLI on the browser's stream, and
/// RR + REMB go upstream so the browser's send-side estimator ramps up to the cap.
struct ReflectLoop {
    let payloadType: UInt8
    let outgoingSSRC: UInt32
    let rembBitrate: UInt64
    /// Minimum gap between PLIs we forward upstream: receivers repeat them while they wait.
    var pliInterval: Duration = .milliseconds(300)

    private(set) var upstreamSSRC: UInt32?
    private var sequenceOffset: UInt16 = 0
    private var lastOutgoingSequence: UInt16
    private var statistics = ReceiveStatistics()
    private var lastSenderReport: (ntp: UInt32, at: ContinuousClock.Instant)?
    private var lastPLI: ContinuousClock.Instant?

    init(
        payloadType: UInt8, outgoingSSRC: UInt32, rembBitrate: UInt64,
        firstSequence: UInt16 = .random(in: 0...0x7FFF)
    ) {
        self.payloadType = payloadType
        self.outgoingSSRC = outgoingSSRC
        self.rembBitrate = rembBitrate
        self.lastOutgoingSequence = firstSequence &- 1
    }

    /// The packet to send back for `incoming`, or `nil` for other payload types.
    mutating func reflect(_ incoming: RTPPacket) -> RTPPacket? {
        guard incoming.payloadType == payloadType else { return nil }
        if incoming.ssrc != upstreamSSRC {
            // New upstream stream (first packet, or the browser restarted its sender): continue
            // our numbering where it stopped.
            upstreamSSRC = incoming.ssrc
            sequenceOffset = lastOutgoingSequence &+ 1 &- incoming.sequenceNumber
            statistics = ReceiveStatistics()
        }
        statistics.record(incoming.sequenceNumber)
        var packet = incoming
        packet.ssrc = outgoingSSRC
        packet.sequenceNumber = incoming.sequenceNumber &+ sequenceOffset
        if packet.sequenceNumber &- lastOutgoingSequence < 0x8000 {
            lastOutgoingSequence = packet.sequenceNumber
        }
        return packet
    }

    /// Reads a compound RTCP packet from the browser; returns a PLI to send upstream when the
    /// browser's receiver asked for a key frame (PLI, or FIR per RFC 5104 §4.3.1) on our stream.
    /// A malformed compound is ignored as a whole.
    mutating func receiveRTCP(_ compound: [UInt8], now: ContinuousClock.Instant) -> [UInt8]? {
        var keyframeRequested = false
        for packet in (try? RTCPPacket.parseCompound(compound)) ?? [] {
            switch packet {
            case .pictureLossIndication(let pli) where pli.mediaSSRC == outgoingSSRC:
                keyframeRequested = true
            case .fullIntraRequest(let fir) where fir.entries.contains(where: { $0.ssrc == outgoingSSRC }):
                keyframeRequested = true
            case .senderReport(let sr) where sr.ssrc == upstreamSSRC:
                // LSR is the middle 32 bits of the 64-bit NTP time (RFC 3550 §6.4.1).
                lastSenderReport = (UInt32(truncatingIfNeeded: sr.ntpTime >> 16), now)
            default:
                break
            }
        }
        guard keyframeRequested, let upstreamSSRC else { return nil }
        if let lastPLI, now - lastPLI < pliInterval { return nil }
        lastPLI = now
        return RTCPPacket.pictureLossIndication(.init(senderSSRC: outgoingSSRC, mediaSSRC: upstreamSSRC))
            .serialized()
    }

    /// RR + REMB for the browser's stream, once it has sent something.
    mutating func periodicReport(now: ContinuousClock.Instant) -> [UInt8]? {
        guard let upstreamSSRC else { return nil }
        var block = statistics.reportBlock(ssrc: upstreamSSRC)
        if let sr = lastSenderReport {
            block.lastSenderReport = sr.ntp
            let delay = now - sr.at
            // Units of 1/65536 s (RFC 3550 §6.4.1): 10^18 as / 65536 = 15_258_789_062_500 as.
            block.delaySinceLastSenderReport = UInt32(
                clamping: delay.components.seconds * 65_536 + delay.components.attoseconds
                    / 15_258_789_062_500)
        }
        // A compound starts with a report (RFC 3550 §6.1); REMB rides along.
        return RTCPPacket.serializeCompound([
            .receiverReport(RTCPReceiverReport(ssrc: outgoingSSRC, reports: [block])),
            .remb(
                RTCPReceiverEstimatedMaximumBitrate(
                    senderSSRC: outgoingSSRC, bitrate: rembBitrate, ssrcs: [upstreamSSRC])),
        ])
    }
}

/// Sequence-number bookkeeping for receiver reports (RFC 3550 Appendix A.3, without probation).
struct ReceiveStatistics {
    private var base: UInt32?
    private var cycles: UInt32 = 0
    private var maxSequence: UInt16 = 0
    private var received: UInt32 = 0
    private var expectedPrior: UInt32 = 0
    private var receivedPrior: UInt32 = 0

    mutating func record(_ sequence: UInt16) {
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

    var extendedHighest: UInt32 { cycles | UInt32(maxSequence) }

    mutating func reportBlock(ssrc: UInt32) -> RTCPReceptionReport {
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

import NIOCore
import RiverRTP
import RiverWebRTC

/// `river serve --reflect`: sends a session's incoming video straight back to the same browser.
///
/// The outgoing stream is a new stream (its own SSRC, the answer's payload type, sequence numbers
/// continuous from a random start, RFC 3550 §5.1), so the browser decodes it as the remote track.
/// Feedback crosses over: a PLI or FIR on our stream becomes a PLI on the browser's stream, and
/// we send RR + REMB upstream so the browser's send-side estimator ramps up to the cap.
///
/// `@unchecked Sendable`: created off-loop, but all state is touched on the connection's event loop.
final class ReflectSession: @unchecked Sendable {
    let connection: PeerConnection
    let payloadType: UInt8
    let outgoingSSRC: UInt32
    let rembBitrate: UInt64
    /// Minimum gap between PLIs we forward upstream: every receiver asks repeatedly while it waits.
    let pliInterval: Duration = .milliseconds(300)

    private var upstreamSSRC: UInt32?
    private var sequenceOffset: UInt16 = 0
    private var lastOutgoingSequence: UInt16 = UInt16.random(in: 0...0x7FFF)
    private var statistics = ReceiveStatistics()
    private var lastSenderReport: (ntp: UInt32, at: ContinuousClock.Instant)?
    private var lastPLI: ContinuousClock.Instant?
    private var feedbackTimer: RepeatedTask?
    private(set) var forwardedPackets = 0
    var onClosed: (() -> Void)?

    init(connection: PeerConnection, payloadType: UInt8, outgoingSSRC: UInt32, rembBitrate: UInt64) {
        self.connection = connection
        self.payloadType = payloadType
        self.outgoingSSRC = outgoingSSRC
        self.rembBitrate = rembBitrate
    }

    /// Hooks the connection's events (event loop only).
    func start() {
        connection.eventLoop.preconditionInEventLoop()
        connection.onEvent = { [self] event in
            switch event {
            case .connected:
                // REMB early and often: Chromium trusts a receiver estimate in its first seconds
                // (the start phase) and jumps to it instead of ramping slowly.
                feedbackTimer = connection.eventLoop.scheduleRepeatedTask(
                    initialDelay: .milliseconds(100), delay: .milliseconds(250)
                ) { [weak self] _ in self?.sendFeedback() }
            case .rtp(let packet): reflect(packet)
            case .rtcp(let compound): handleRTCP(compound)
            case .closed:
                feedbackTimer?.cancel()
                feedbackTimer = nil
                onClosed?()
                onClosed = nil
            }
        }
    }

    private func reflect(_ incoming: RTPPacket) {
        guard incoming.payloadType == payloadType else { return }
        if incoming.ssrc != upstreamSSRC {
            // New upstream stream (first packet, or the browser restarted its sender): continue
            // our numbering from where it stopped.
            upstreamSSRC = incoming.ssrc
            sequenceOffset = lastOutgoingSequence &+ 1 &- incoming.sequenceNumber
            statistics = ReceiveStatistics()
        }
        statistics.record(incoming.sequenceNumber)
        var packet = incoming
        packet.ssrc = outgoingSSRC
        packet.payloadType = payloadType
        packet.sequenceNumber = incoming.sequenceNumber &+ sequenceOffset
        lastOutgoingSequence = packet.sequenceNumber
        connection.send(rtp: packet)
        forwardedPackets += 1
    }

    private func handleRTCP(_ compound: [UInt8]) {
        let parsed = ReflectFeedback.parse(compound, ourSSRC: outgoingSSRC, remoteSSRC: upstreamSSRC)
        if let ntp = parsed.senderReportNTP { lastSenderReport = (ntp, .now) }
        guard parsed.keyframeRequested, let upstreamSSRC else { return }
        let now = ContinuousClock.now
        if let lastPLI, now - lastPLI < pliInterval { return }
        lastPLI = now
        connection.send(rtcp: ReflectFeedback.pli(sender: outgoingSSRC, media: upstreamSSRC))
    }

    private func sendFeedback() {
        guard let upstreamSSRC else { return }
        var block = statistics.reportBlock(ssrc: upstreamSSRC)
        if let sr = lastSenderReport {
            block.lastSR = sr.ntp
            let delay = ContinuousClock.now - sr.at
            block.delaySinceLastSR = UInt32(
                clamping: delay.components.seconds * 65_536 + delay.components.attoseconds
                    / 15_258_789_062_500)
        }
        connection.send(
            rtcp: ReflectFeedback.receiverReportWithREMB(
                sender: outgoingSSRC, block: block, bitrate: rembBitrate))
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

    mutating func reportBlock(ssrc: UInt32) -> ReflectFeedback.ReportBlock {
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
        return .init(
            ssrc: ssrc, fractionLost: fraction, cumulativeLost: lost,
            extendedHighestSequence: extendedHighest,
            lastSR: 0, delaySinceLastSR: 0)
    }
}

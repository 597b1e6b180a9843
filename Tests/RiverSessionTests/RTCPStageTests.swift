import RiverCore
import RiverRTP
import Testing

@testable import RiverSession

/// Each RTCP stage alone, on a virtual clock, fed packets as the engine would.
@Suite struct RTCPStageTests {
    func packet(_ sequence: UInt16, ssrc: UInt32 = 1, pt: UInt8 = 102, timestamp: UInt32 = 3000) -> RTPPacket
    {
        RTPPacket(
            payloadType: pt, sequenceNumber: sequence, timestamp: timestamp, ssrc: ssrc,
            payload: [0x65, 1, 2])
    }

    @Test func rewriterKeepsSequenceContinuousAcrossUpstreamRestartsAndOffsetsTimestamps() {
        var rewriter = StreamRewriter(outgoingSSRC: 0xBEEF, timestampOffset: 180_000, firstSequence: 100)
        let first = rewriter.rewrite(packet(60_000, timestamp: 4_294_967_000))
        #expect(first.ssrc == 0xBEEF && first.payloadType == 102 && first.sequenceNumber == 100)
        #expect(first.payload == [0x65, 1, 2] && first.timestamp == 4_294_967_000 &+ 180_000)  // wraps
        #expect(rewriter.rewrite(packet(60_001)).sequenceNumber == 101)
        // The browser restarts its sender with a new SSRC: our numbering just continues.
        #expect(rewriter.rewrite(packet(7, ssrc: 2)).sequenceNumber == 102)
        #expect(rewriter.rewrite(packet(8, ssrc: 2)).sequenceNumber == 103)
        #expect(StreamRewriter.rtpUnits(.seconds(2)) == 180_000)
        #expect(StreamRewriter.rtpUnits(.milliseconds(100)) == 9_000)
    }

    @Test func pliAndFIROnOurStreamBecomeARateLimitedPLIUpstream() throws {
        var stage = PLIForwarder(localSSRC: 0xBEEF, payloadType: 102)
        var out = RTCPStageOutput()
        let pli = RTCPPacket.pictureLossIndication(.init(senderSSRC: 9, mediaSSRC: 0xBEEF))
        stage.received(rtcp: pli, now: .seconds(1), into: &out)
        #expect(out.isEmpty)  // no upstream stream yet
        stage.received(rtp: packet(1, ssrc: 0x5555), now: .seconds(1))
        stage.received(rtcp: pli, now: .seconds(1), into: &out)
        #expect(out.compounds == [[.pictureLossIndication(.init(senderSSRC: 0xBEEF, mediaSSRC: 0x5555))]])
        stage.received(rtcp: pli, now: .milliseconds(1100), into: &out)
        #expect(out.compounds.count == 1)  // rate limit
        let fir = RTCPPacket.fullIntraRequest(
            .init(senderSSRC: 9, entries: [.init(ssrc: 0xBEEF, sequenceNumber: 1)]))
        stage.received(rtcp: fir, now: .milliseconds(1400), into: &out)
        #expect(out.compounds.count == 2)
        let other = RTCPPacket.pictureLossIndication(.init(senderSSRC: 9, mediaSSRC: 1))
        stage.received(rtcp: other, now: .seconds(3), into: &out)
        #expect(out.compounds.count == 2 && stage.forwarded == 2)
    }

    @Test func receiverReportsAreRRPlusREMBWithLSRAtTheirDeadlines() throws {
        var stage = ReceiverReportGenerator(localSSRC: 0xBEEF, payloadType: 102, rembBitrate: 2_500_000)
        #expect(stage.nextDeadline == nil)  // nothing received: nothing to report
        for sequence: UInt16 in [10, 11, 13] {
            stage.received(rtp: packet(sequence, ssrc: 0x5555), now: .seconds(1))
        }
        stage.received(rtp: packet(14, ssrc: 0x5555, pt: 111), now: .seconds(1))  // not our video
        #expect(stage.nextDeadline == .milliseconds(1100))
        var out = RTCPStageOutput()
        let sr = RTCPPacket.senderReport(
            .init(ssrc: 0x5555, ntpTime: 0xAAAA_BBBB_CCCC_DDDD, rtpTime: 0, packetCount: 3, octetCount: 9))
        stage.received(rtcp: sr, now: .milliseconds(100), into: &out)
        stage.handleTimeout(now: .milliseconds(1099), into: &out)
        #expect(out.isEmpty)  // early
        stage.handleTimeout(now: .milliseconds(1100), into: &out)
        let compound = try #require(out.compounds.first)
        guard case .receiverReport(let rr) = compound.first, case .remb(let remb) = compound.last,
            compound.count == 2
        else {
            Issue.record("expected RR + REMB, got \(compound)")
            return
        }
        #expect(rr.ssrc == 0xBEEF)
        let block = try #require(rr.reports.first)
        #expect(block.ssrc == 0x5555 && block.highestSequence == 13 && block.totalLost == 1)
        #expect(block.lastSenderReport == 0xBBBB_CCCC)
        #expect(block.delaySinceLastSenderReport == 65_536)  // 1 s after the SR
        #expect(remb.ssrcs == [0x5555] && remb.bitrate <= 2_500_000 && remb.bitrate > 2_400_000)
        #expect(stage.nextDeadline == .milliseconds(1350))  // then every 250 ms
    }

    @Test func receiveStatisticsCountLossAndWrap() {
        var stats = ReceiveStatistics()
        for sequence: UInt16 in [65_533, 65_534, 65_535, 1, 2] { stats.record(sequence) }  // 0 is lost
        var block = stats.reportBlock(ssrc: 1)
        #expect(block.highestSequence == 0x1_0002)
        #expect(block.totalLost == 1)
        #expect(block.fractionLost == 256 / 6)
        stats.record(3)
        block = stats.reportBlock(ssrc: 1)
        #expect(block.fractionLost == 0)
        #expect(block.totalLost == 1)
    }

    @Test func nacksAreServedFromHistoryAndUnknownOnesIgnored() {
        var stage = NACKResponder(ssrc: 9, historySize: 4)
        for i in 0..<6 { stage.sent(rtp: packet(UInt16(10 + i), ssrc: 9, timestamp: UInt32(i)), now: .zero) }
        var out = RTCPStageOutput()
        // History keeps the last 4 (12…15); 10 and 11 were overwritten.
        let nack = RTCPPacket.nack(
            RTCPGenericNACK(senderSSRC: 1, mediaSSRC: 9, lostSequenceNumbers: [15, 10, 12, 99]))
        stage.received(rtcp: nack, now: .zero, into: &out)
        #expect(out.retransmissions.map(\.sequenceNumber) == [15, 12])
        #expect(out.retransmissions.first?.timestamp == 5)
        let otherStream = RTCPPacket.nack(
            RTCPGenericNACK(senderSSRC: 1, mediaSSRC: 8, lostSequenceNumbers: [15]))
        stage.received(rtcp: otherStream, now: .zero, into: &out)
        #expect(stage.retransmitted == 2)
    }

    @Test func senderReportsDescribeOurStreamAtTheirDeadlines() {
        var stage = SenderReportGenerator(ssrc: 9, wallClock: { 1_700_000_000 })
        #expect(stage.nextDeadline == nil)
        stage.sent(rtp: packet(1, ssrc: 9, timestamp: 1000), now: .seconds(1))
        #expect(stage.nextDeadline == .milliseconds(1500))
        var out = RTCPStageOutput()
        stage.handleTimeout(now: .milliseconds(1100), into: &out)
        #expect(out.isEmpty)
        stage.handleTimeout(now: .milliseconds(1500), into: &out)
        guard case .senderReport(let sr) = out.compounds.first?.first else {
            Issue.record("expected a sender report, got \(out.compounds)")
            return
        }
        // 500 ms after the last packet: RTP time advanced by 45000 ticks.
        #expect(sr.ssrc == 9 && sr.packetCount == 1 && sr.octetCount == 3)
        #expect(sr.rtpTime == 1000 &+ 45_000)
        #expect(sr.ntpTime >> 32 == 1_700_000_000 + 2_208_988_800)
        #expect(stage.nextDeadline == .milliseconds(2500))
    }

    /// RFC 3550 §6.4.1: RTT = arrival of the report − when the echoed SR left − DLSR.
    @Test func receptionReportsOnOurStreamGiveTheRoundTripAndLoss() {
        var stage = SenderReportGenerator(ssrc: 9, wallClock: { 1_700_000_000.25 })
        stage.sent(rtp: packet(1, ssrc: 9), now: .seconds(1))
        var out = RTCPStageOutput()
        stage.handleTimeout(now: .milliseconds(1500), into: &out)
        guard case .senderReport(let sr) = out.compounds.first?.first else {
            Issue.record("expected a sender report, got \(out.compounds)")
            return
        }
        let lsr = NTPTime.middle32(sr.ntpTime)
        // The browser held the SR 0.5 s (32768/65536) and its report arrives 540 ms after the SR
        // left: 40 ms round trip.
        let block = RTCPReceptionReport(
            ssrc: 9, fractionLost: 13, lastSenderReport: lsr, delaySinceLastSenderReport: 32_768)
        stage.received(
            rtcp: .receiverReport(.init(ssrc: 77, reports: [block])), now: .milliseconds(2040), into: &out)
        #expect(stage.receptionReports == 1)
        #expect(
            stage.lastReception
                == .init(fractionLost: 13, roundTrip: .milliseconds(40), at: .milliseconds(2040)))
        // A block in the browser's own SR counts too; one about another stream, or echoing no SR
        // of ours, gives no RTT.
        let other = RTCPReceptionReport(ssrc: 8, lastSenderReport: lsr)
        let unknown = RTCPReceptionReport(ssrc: 9, lastSenderReport: lsr &+ 1)
        stage.received(
            rtcp: .senderReport(
                .init(
                    ssrc: 77, ntpTime: 0, rtpTime: 0, packetCount: 0, octetCount: 0,
                    reports: [other, unknown])),
            now: .seconds(3), into: &out)
        #expect(stage.receptionReports == 2)
        #expect(stage.lastReception == .init(fractionLost: 0, roundTrip: nil, at: .seconds(3)))
    }
}

@Suite struct NACKResponderLimitTests {
    func packet(_ sequence: UInt16, bytes: Int = 100) -> RTPPacket {
        RTPPacket(
            payloadType: 102, sequenceNumber: sequence, timestamp: 0, ssrc: 9,
            payload: [UInt8](repeating: 1, count: bytes - 12))
    }

    func nack(_ sequenceNumbers: [UInt16]) -> RTCPPacket {
        .nack(RTCPGenericNACK(senderSSRC: 1, mediaSSRC: 9, lostSequenceNumbers: sequenceNumbers))
    }

    @Test func aPacketIsResentOncePerIntervalHoweverOftenItIsNamed() {
        var stage = NACKResponder(ssrc: 9)
        for i in 0..<20 { stage.sent(rtp: packet(UInt16(i)), now: .zero) }
        var out = RTCPStageOutput()
        stage.received(rtcp: nack([3, 3, 4]), now: .seconds(1), into: &out)
        stage.received(rtcp: nack([3, 4]), now: .seconds(1) + .milliseconds(99), into: &out)
        #expect(out.retransmissions.map(\.sequenceNumber) == [3, 4])
        #expect(stage.refused.duplicate == 2)  // the NACK's own encoding already merged the repeated 3
        stage.received(rtcp: nack([3]), now: .seconds(1) + .milliseconds(100), into: &out)
        #expect(out.retransmissions.map(\.sequenceNumber) == [3, 4, 3])
    }

    @Test func oneNACKIsCappedAndResendsSpendOnlyWhatSendingEarned() {
        var configuration = NACKResponder.Configuration()
        configuration.maxPerNACK = 4
        configuration.burstBytes = 1_000_000
        var stage = NACKResponder(ssrc: 9, configuration: configuration)
        // 10 packets of 100 bytes sent: 500 bytes of credit, five resends.
        for i in 0..<10 { stage.sent(rtp: packet(UInt16(i)), now: .zero) }
        #expect(stage.tokens == 500)
        var out = RTCPStageOutput()
        stage.received(rtcp: nack(Array(0..<10)), now: .zero, into: &out)
        #expect(out.retransmissions.map(\.sequenceNumber) == [0, 1, 2, 3])
        #expect(stage.refused.overCap == 6)
        stage.received(rtcp: nack(Array(4..<10)), now: .zero, into: &out)
        #expect(out.retransmissions.count == 5)
        #expect(stage.refused.overBudget == 3 && stage.tokens == 0 && stage.refused.overCap == 8)
        #expect(stage.retransmittedBytes == 500)
        // A compound is capped as a whole too.
        configuration.maxPerCompound = 6
        var compound = NACKResponder(ssrc: 9, configuration: configuration)
        for i in 0..<10 { compound.sent(rtp: packet(UInt16(i)), now: .zero) }
        var both = RTCPStageOutput()
        compound.startCompound()
        compound.received(rtcp: nack(Array(0..<4)), now: .zero, into: &both)
        compound.received(rtcp: nack(Array(4..<8)), now: .zero, into: &both)
        #expect(both.retransmissions.count == 5 && compound.refused.overCap == 2)  // 6 considered, 5 afforded
        compound.startCompound()
        compound.received(rtcp: nack([8]), now: .zero, into: &both)
        #expect(compound.refused.overCap == 2 && compound.refused.overBudget == 2)
        // The bucket holds at most burstBytes.
        configuration.burstBytes = 150
        var small = NACKResponder(ssrc: 9, configuration: configuration)
        for i in 0..<10 { small.sent(rtp: packet(UInt16(i)), now: .zero) }
        #expect(small.tokens == 150)
    }
}

import RiverRTP
import Testing

@testable import RiverServe

@Suite struct ReflectFeedbackTests {
    @Test func rembEncodesExponentAndMantissa() {
        let remb = ReflectFeedback.remb(sender: 1, bitrate: 2_500_000, ssrcs: [0xAABB_CCDD])
        #expect(remb.count == 24)
        #expect(remb[0] == 0x8F && remb[1] == 206 && remb[3] == 5)
        #expect(Array(remb[12..<16]) == Array("REMB".utf8))
        let word = ReflectFeedback.be32(remb, 16)
        #expect(word >> 24 == 1)
        let exponent = (word >> 18) & 0x3F
        let mantissa = UInt64(word & 0x3FFFF)
        #expect(mantissa << exponent <= 2_500_000)
        #expect((mantissa + 1) << exponent > 2_500_000)
        #expect(ReflectFeedback.be32(remb, 20) == 0xAABB_CCDD)
    }

    @Test func receiverReportCompoundStartsWithRR() {
        let block = ReflectFeedback.ReportBlock(
            ssrc: 7, fractionLost: 12, cumulativeLost: 3, extendedHighestSequence: 0x1_0005,
            lastSR: 0x1234_5678,
            delaySinceLastSR: 65_536)
        let compound = ReflectFeedback.receiverReportWithREMB(sender: 9, block: block, bitrate: 1_000_000)
        #expect(compound[0] == 0x81 && compound[1] == 201)
        #expect(compound.count == 32 + 24)
        #expect(ReflectFeedback.be32(compound, 12) == UInt32(12) << 24 | 3)
        #expect(ReflectFeedback.be32(compound, 16) == 0x1_0005)
        #expect(ReflectFeedback.be32(compound, 24) == 0x1234_5678)
        #expect(compound[33] == 206)
    }

    @Test func findsPLIAndFIRForOurStreamAndSkipsUnknownPackets() {
        let ours: UInt32 = 0xC0FFEE
        let transportCC: [UInt8] = [0x8F, 205, 0, 4, 0, 0, 0, 1, 0, 0, 0, 2, 0, 1, 0, 0, 0, 0, 0, 0]
        let pli = ReflectFeedback.pli(sender: 5, media: ours)
        #expect(ReflectFeedback.parse(transportCC + pli, ourSSRC: ours, remoteSSRC: nil).keyframeRequested)
        #expect(
            !ReflectFeedback.parse(ReflectFeedback.pli(sender: 5, media: 1), ourSSRC: ours, remoteSSRC: nil)
                .keyframeRequested)
        var fir: [UInt8] = [0x84, 206, 0, 4]
        ReflectFeedback.put32(&fir, 5)
        ReflectFeedback.put32(&fir, 0)
        ReflectFeedback.put32(&fir, ours)
        ReflectFeedback.put32(&fir, 0x0100_0000)
        #expect(ReflectFeedback.parse(fir, ourSSRC: ours, remoteSSRC: nil).keyframeRequested)
        // A truncated packet stops the walk instead of reading past the end.
        #expect(
            !ReflectFeedback.parse(Array(pli.prefix(10)), ourSSRC: ours, remoteSSRC: nil).keyframeRequested)
        #expect(
            !ReflectFeedback.parse([0x81, 206, 0, 200] + pli, ourSSRC: ours, remoteSSRC: nil)
                .keyframeRequested)
    }

    @Test func readsTheMiddleOfTheSenderReportNTPTime() {
        var sr: [UInt8] = [0x80, 200, 0, 6]
        ReflectFeedback.put32(&sr, 42)
        ReflectFeedback.put32(&sr, 0xAAAA_BBBB)
        ReflectFeedback.put32(&sr, 0xCCCC_DDDD)
        sr += [UInt8](repeating: 0, count: 12)
        #expect(ReflectFeedback.parse(sr, ourSSRC: 1, remoteSSRC: 42).senderReportNTP == 0xBBBB_CCCC)
        #expect(ReflectFeedback.parse(sr, ourSSRC: 1, remoteSSRC: 43).senderReportNTP == nil)
    }

    @Test func receiveStatisticsCountLossAndWrap() {
        var stats = ReceiveStatistics()
        for sequence: UInt16 in [65_533, 65_534, 65_535, 1, 2] { stats.record(sequence) }  // 0 is lost
        var block = stats.reportBlock(ssrc: 1)
        #expect(block.extendedHighestSequence == 0x1_0002)
        #expect(block.cumulativeLost == 1)
        #expect(block.fractionLost == 256 / 6)
        stats.record(3)
        block = stats.reportBlock(ssrc: 1)
        #expect(block.fractionLost == 0)
        #expect(block.cumulativeLost == 1)
    }
}

@Suite struct ReflectLoopTests {
    @Test func rewritesSSRCAndKeepsSequenceContinuousAcrossUpstreamRestarts() throws {
        var loop = ReflectLoop(
            payloadType: 102, outgoingSSRC: 0xBEEF, rembBitrate: 2_500_000, firstSequence: 100)
        func packet(_ sequence: UInt16, ssrc: UInt32 = 1, pt: UInt8 = 102) -> RTPPacket {
            RTPPacket(
                payloadType: pt, sequenceNumber: sequence, timestamp: 3000, ssrc: ssrc, payload: [0x65, 1, 2])
        }
        let reflected = loop.reflect(packet(60_000))
        let first = try #require(reflected)
        #expect(first.ssrc == 0xBEEF && first.payloadType == 102 && first.sequenceNumber == 100)
        #expect(first.payload == [0x65, 1, 2] && first.timestamp == 3000)
        #expect(loop.reflect(packet(60_001))?.sequenceNumber == 101)
        #expect(loop.reflect(packet(60_001, pt: 111)) == nil)  // not the negotiated video
        // The browser restarts its sender with a new SSRC: our numbering just continues.
        #expect(loop.reflect(packet(7, ssrc: 2))?.sequenceNumber == 102)
        #expect(loop.reflect(packet(8, ssrc: 2))?.sequenceNumber == 103)
    }

    @Test func forwardsKeyframeRequestsUpstreamAsRateLimitedPLI() throws {
        var loop = ReflectLoop(payloadType: 102, outgoingSSRC: 0xBEEF, rembBitrate: 1_000_000)
        let now = ContinuousClock.now
        let pliOnOurs = ReflectFeedback.pli(sender: 9, media: 0xBEEF)
        #expect(loop.receiveRTCP(pliOnOurs, now: now) == nil)  // no upstream stream yet
        #expect(loop.periodicReport(now: now) == nil)
        _ = loop.reflect(
            RTPPacket(payloadType: 102, sequenceNumber: 1, timestamp: 0, ssrc: 0x5555, payload: [1]))
        let forwarded = loop.receiveRTCP(pliOnOurs, now: now)
        let pli = try #require(forwarded)
        #expect(pli == ReflectFeedback.pli(sender: 0xBEEF, media: 0x5555))
        #expect(loop.receiveRTCP(pliOnOurs, now: now + .milliseconds(100)) == nil)
        #expect(loop.receiveRTCP(pliOnOurs, now: now + .milliseconds(400)) != nil)
        let periodic = loop.periodicReport(now: now)
        let report = try #require(periodic)
        #expect(report[1] == 201 && ReflectFeedback.be32(report, 8) == 0x5555)
        #expect(report[33] == 206 && report.suffix(4) == [0, 0, 0x55, 0x55])
    }
}

import RiverRTP
import Testing

@testable import RiverServe

@Suite struct ReflectLoopTests {
    func packet(_ sequence: UInt16, ssrc: UInt32 = 1, pt: UInt8 = 102) -> RTPPacket {
        RTPPacket(
            payloadType: pt, sequenceNumber: sequence, timestamp: 3000, ssrc: ssrc, payload: [0x65, 1, 2])
    }

    @Test func rewritesSSRCAndKeepsSequenceContinuousAcrossUpstreamRestarts() throws {
        var loop = ReflectLoop(
            payloadType: 102, outgoingSSRC: 0xBEEF, rembBitrate: 2_500_000, firstSequence: 100)
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

    @Test func forwardsPLIAndFIRUpstreamAsRateLimitedPLI() throws {
        var loop = ReflectLoop(payloadType: 102, outgoingSSRC: 0xBEEF, rembBitrate: 1_000_000)
        let now = ContinuousClock.now
        let pliOnOurs = RTCPPacket.pictureLossIndication(.init(senderSSRC: 9, mediaSSRC: 0xBEEF)).serialized()
        #expect(loop.receiveRTCP(pliOnOurs, now: now) == nil)  // no upstream stream yet
        #expect(loop.periodicReport(now: now) == nil)
        _ = loop.reflect(packet(1, ssrc: 0x5555))
        let forwarded = loop.receiveRTCP(pliOnOurs, now: now)
        let pli = try #require(forwarded)
        #expect(
            try RTCPPacket.parseCompound(pli) == [
                .pictureLossIndication(.init(senderSSRC: 0xBEEF, mediaSSRC: 0x5555))
            ])
        #expect(loop.receiveRTCP(pliOnOurs, now: now + .milliseconds(100)) == nil)  // rate limit
        // FIR naming our stream, behind a transport-cc packet river does not parse.
        let fir = RTCPPacket.serializeCompound([
            .unknown(RTCPRawPacket(count: 15, packetType: 205, body: [0, 0, 0, 1, 0, 0, 0, 2, 0, 1, 0, 0])),
            .fullIntraRequest(.init(senderSSRC: 9, entries: [.init(ssrc: 0xBEEF, sequenceNumber: 1)])),
        ])
        #expect(loop.receiveRTCP(fir, now: now + .milliseconds(400)) != nil)
        // Keyframe requests for other streams, and truncated compounds, are ignored.
        let other = RTCPPacket.pictureLossIndication(.init(senderSSRC: 9, mediaSSRC: 1)).serialized()
        #expect(loop.receiveRTCP(other, now: now + .seconds(2)) == nil)
        #expect(loop.receiveRTCP(Array(pliOnOurs.prefix(10)), now: now + .seconds(3)) == nil)
    }

    @Test func periodicReportIsReceiverReportPlusREMBWithLSR() throws {
        var loop = ReflectLoop(payloadType: 102, outgoingSSRC: 0xBEEF, rembBitrate: 2_500_000)
        let now = ContinuousClock.now
        for sequence: UInt16 in [10, 11, 13] { _ = loop.reflect(packet(sequence, ssrc: 0x5555)) }
        let sr = RTCPPacket.senderReport(
            .init(ssrc: 0x5555, ntpTime: 0xAAAA_BBBB_CCCC_DDDD, rtpTime: 0, packetCount: 3, octetCount: 9))
        _ = loop.receiveRTCP(sr.serialized(), now: now)
        let periodic = loop.periodicReport(now: now + .seconds(1))
        let packets = try RTCPPacket.parseCompound(try #require(periodic))
        guard case .receiverReport(let rr) = packets.first, case .remb(let remb) = packets.last,
            packets.count == 2
        else {
            Issue.record("expected RR + REMB, got \(packets)")
            return
        }
        #expect(rr.ssrc == 0xBEEF)
        let block = try #require(rr.reports.first)
        #expect(block.ssrc == 0x5555 && block.highestSequence == 13 && block.totalLost == 1)
        #expect(block.lastSenderReport == 0xBBBB_CCCC)
        #expect(block.delaySinceLastSenderReport == 65_536)
        #expect(remb.ssrcs == [0x5555] && remb.bitrate <= 2_500_000 && remb.bitrate > 2_400_000)
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
}

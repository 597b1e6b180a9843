import RiverRTP
import Testing

@testable import RiverServe

@Suite struct DelayedOutputTests {
    func packet(_ sequence: UInt16, timestamp: UInt32, ssrc: UInt32 = 7) -> RTPPacket {
        RTPPacket(
            payloadType: 102, sequenceNumber: sequence, timestamp: timestamp, ssrc: ssrc, payload: [1, 2, 3])
    }

    @Test func packetsLeaveAtArrivalPlusDelayRewrittenWithTheTimestampOffset() throws {
        var out = DelayedOutput(
            payloadType: 102, outgoingSSRC: 0xBEEF, delay: 2_000_000_000, firstSequence: 500)
        #expect(out.timestampOffset == 180_000)
        out.push(packet(65_535, timestamp: 4_294_967_000), arrival: 1_000)
        out.push(packet(0, timestamp: 4_294_967_000), arrival: 5_000)
        out.push(
            RTPPacket(payloadType: 96, sequenceNumber: 1, timestamp: 0, ssrc: 7, payload: []), arrival: 6_000)
        #expect(out.held == 2)  // other payload types are not ours to send
        #expect(out.nextDue == 2_000_001_000)
        let early = out.popDue(now: 2_000_000_999)
        #expect(early == nil)
        let due = out.popDue(now: 2_000_001_000)
        let first = try #require(due)
        #expect(first.ssrc == 0xBEEF && first.sequenceNumber == 500)
        #expect(first.timestamp == 4_294_967_000 &+ 180_000)  // wraps modulo 2^32
        let tooSoon = out.popDue(now: 2_000_004_999)
        #expect(tooSoon == nil)  // keeps the input's spacing
        let second = out.popDue(now: 2_000_005_000)
        #expect(second?.sequenceNumber == 501)
    }

    @Test func nacksAreServedFromHistoryAndUnknownOnesIgnored() throws {
        var out = DelayedOutput(
            payloadType: 102, outgoingSSRC: 9, delay: 0, historySize: 4, firstSequence: 10)
        for i in 0..<6 { out.push(packet(UInt16(100 + i), timestamp: UInt32(i)), arrival: 0) }
        while out.popDue(now: 0) != nil {}
        // History keeps the last 4 (12…15); 10 and 11 were overwritten.
        let again = out.retransmissions(for: [15, 10, 12, 99])
        let count = out.retransmitted
        #expect(again.map(\.sequenceNumber) == [15, 12])
        #expect(again.first?.ssrc == 9 && again.first?.timestamp == 5)
        #expect(count == 2)
    }

    @Test func senderReportDescribesOurStream() throws {
        var out = DelayedOutput(payloadType: 102, outgoingSSRC: 9, delay: 1_000_000_000)
        #expect(out.senderReport(now: 0, wallClockSeconds: 1_700_000_000) == nil)
        out.push(packet(1, timestamp: 1000), arrival: 0)
        _ = out.popDue(now: 1_000_000_000)
        // 100 ms after the last packet: RTP time advanced by 9000 ticks.
        guard
            case .senderReport(let sr) = out.senderReport(now: 1_100_000_000, wallClockSeconds: 1_700_000_000)
        else {
            Issue.record("expected a sender report")
            return
        }
        #expect(sr.ssrc == 9 && sr.packetCount == 1 && sr.octetCount == 3)
        #expect(sr.rtpTime == 1000 &+ 90_000 &+ 9000)
        #expect(sr.ntpTime >> 32 == 1_700_000_000 + 2_208_988_800)
    }

    @Test func delayParsing() throws {
        #expect(try PipelineDelay(parsing: "3s") == .fixed(.seconds(3)))
        #expect(try PipelineDelay(parsing: "800ms") == .fixed(.milliseconds(800)))
        #expect(try PipelineDelay(parsing: "0") == .fixed(.zero))
        #expect(try PipelineDelay(parsing: "auto") == .auto(start: PipelineDelay.autoStart))
        #expect(throws: PipelineDelay.ParseError.self) { try PipelineDelay(parsing: "-1s") }
        #expect(throws: PipelineDelay.ParseError.self) { try PipelineDelay(parsing: "soon") }
        #expect(try PipelineDelay(parsing: "1.5s").description == "1500ms")
        #expect(try PipelineDelay(parsing: "auto").description == "auto:2000ms")
    }
}

import Testing

@testable import RiverRTP

/// Loss repair emits events, not bytes; these check the events carry what the RTCP builders need.
@Suite struct LossRepairRTCPTests {
    @Test func aNackEventBecomesAGenericNACKNamingTheSameSequenceNumbers() throws {
        var repair = LossRepair()
        repair.keyframeReceived()
        var events: [LossRepairEvent] = []
        repair.receive(sequenceNumber: 65530, now: .zero, into: &events)
        // Lost: 65531...65535, 0...20 (skipping 3), and 40: more than one PID/BLP pair, across the wrap.
        for s: UInt16 in [3, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 41] {
            repair.receive(sequenceNumber: s, now: .milliseconds(1), into: &events)
        }
        repair.tick(now: .milliseconds(20), into: &events)
        let lost =
            Array(65531...65535).map(UInt16.init) + Array(0...20).filter { $0 != 3 }.map(UInt16.init) + [40]
        #expect(events == [.nack(lost)])
        guard case .nack(let seqs) = events.first else { return }
        let rtcp = RTCPPacket.nack(RTCPGenericNACK(senderSSRC: 1, mediaSSRC: 2, lostSequenceNumbers: seqs))
        let parsed = try RTCPPacket.parseCompound(RTCPPacket.serializeCompound([rtcp]))
        guard case .nack(let nack) = parsed.first else {
            Issue.record("\(parsed)")
            return
        }
        #expect(nack.lostSequenceNumbers == lost)
        #expect(nack.pairs.count == 3)
    }

    @Test func aDecoderFailureHoldsUnitsBackUntilTheNextKeyframe() throws {
        var b = try H264FrameBuilder()
        func unit(_ seq: UInt16, _ header: UInt8) -> RTPPacket {
            RTPPacket(
                marker: true, payloadType: 96, sequenceNumber: seq, timestamp: UInt32(seq) * 3000, ssrc: 1,
                payload: [header, 1])
        }
        #expect(b.push(unit(1, 0x65), now: .zero).count == 1)  // IDR
        #expect(b.push(unit(2, 0x41), now: .milliseconds(33)).count == 1)  // P
        #expect(b.decoderFailed(now: .milliseconds(40)) == [.pli(.decoderError)])
        #expect(
            b.push(unit(3, 0x41), now: .milliseconds(66)) == [.skipped(timestamp: 9000)],
            "a P-frame after the failure is held back")
        let events = b.push(unit(4, 0x65), now: .milliseconds(99))
        guard case .accessUnit(let au) = events.first else {
            Issue.record("\(events)")
            return
        }
        #expect(au.isKeyframe && au.timestamp == 12000)
    }
}

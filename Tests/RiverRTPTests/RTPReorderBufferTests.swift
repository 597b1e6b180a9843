import RiverCore
import Testing

@testable import RiverRTP

private func p(_ seq: UInt16) -> RTPPacket {
    RTPPacket(
        payloadType: 96, sequenceNumber: seq, timestamp: 0, ssrc: 1, payload: [UInt8(truncatingIfNeeded: seq)]
    )
}

private func seqs(_ events: [RTPReorderEvent]) -> [String] {
    events.map {
        switch $0 {
        case .packet(let packet): "\(packet.sequenceNumber)"
        case .lost(let first, let count): "lost \(first)+\(count)"
        }
    }
}

@Suite struct RTPReorderBufferTests {
    @Test func reordersAcrossTheWrap() {
        var b = RTPReorderBuffer(capacity: 64, maxWait: .milliseconds(100))
        var out: [RTPReorderEvent] = []
        for s: UInt16 in [65534, 0, 65535, 2, 1] { b.push(p(s), now: .zero, into: &out) }
        #expect(seqs(out) == ["65534", "65535", "0", "1", "2"])
        #expect(b.heldCount == 0)
    }

    @Test func dropsDuplicatesAndLatePackets() {
        var b = RTPReorderBuffer(capacity: 64)
        var out: [RTPReorderEvent] = []
        for s: UInt16 in [10, 12, 12, 11, 11, 10, 5] { b.push(p(s), now: .zero, into: &out) }
        #expect(seqs(out) == ["10", "11", "12"])
        #expect(b.duplicates == 1 && b.late == 3)
    }

    @Test func aGapIsWaitedForAtMostMaxWait() {
        var b = RTPReorderBuffer(capacity: 64, maxWait: .milliseconds(100))
        var out: [RTPReorderEvent] = []
        b.push(p(1), now: .zero, into: &out)
        b.push(p(4), now: .milliseconds(10), into: &out)
        b.push(p(5), now: .milliseconds(20), into: &out)
        #expect(seqs(out) == ["1"])
        #expect(b.nextDeadline == .milliseconds(110))
        b.poll(now: .milliseconds(109), into: &out)
        #expect(seqs(out) == ["1"])
        b.poll(now: .milliseconds(110), into: &out)
        #expect(seqs(out) == ["1", "lost 2+2", "4", "5"])
        #expect(b.lost == 2 && b.nextDeadline == nil)
        b.push(p(3), now: .milliseconds(120), into: &out)  // too late now
        #expect(b.late == 1 && out.count == 4)
    }

    @Test func aFullRingGivesUpTheOldestGap() {
        var b = RTPReorderBuffer(capacity: 16, maxWait: .seconds(10))
        var out: [RTPReorderEvent] = []
        b.push(p(0), now: .zero, into: &out)
        b.push(p(2), now: .zero, into: &out)
        b.push(p(20), now: .zero, into: &out)  // 20 cannot fit while 1 is awaited
        #expect(seqs(out) == ["0", "lost 1+1", "2", "lost 3+2"])
        b.push(p(5), now: .zero, into: &out)
        #expect(seqs(out).suffix(1) == ["5"])
    }
}

extension RTPReorderBufferTests {
    @Test func followsASenderThatRestartsItsNumbering() {
        var b = RTPReorderBuffer(capacity: 64)
        var out: [RTPReorderEvent] = []
        for s in UInt16(30000)..<30010 { b.push(p(s), now: .zero, into: &out) }
        for s in UInt16(100)..<(100 + UInt16(RTPReorderBuffer.restartAfterLate) + 5) {
            b.push(p(s), now: .zero, into: &out)
        }
        let released = seqs(out)
        #expect(released.prefix(10) == ArraySlice((30000..<30010).map { "\($0)" }))
        let firstNew = 100 + RTPReorderBuffer.restartAfterLate - 1
        #expect(
            released.dropFirst(10)
                == ArraySlice((firstNew..<(100 + RTPReorderBuffer.restartAfterLate + 5)).map { "\($0)" }))
    }
}

@Suite struct LossRepairTests {
    private var config: LossRepair.Configuration {
        var c = LossRepair.Configuration()
        c.nackDelay = .milliseconds(10)
        c.nackInterval = .milliseconds(50)
        c.maxNackRetries = 2
        c.repairTimeout = .milliseconds(300)
        c.minPLIInterval = .milliseconds(100)
        c.keyframeRequestInterval = .milliseconds(500)
        return c
    }

    @Test func reorderedPacketsAreNotNacked() {
        var r = LossRepair(configuration: config)
        r.keyframeReceived()
        var out: [LossRepairEvent] = []
        r.receive(sequenceNumber: 100, now: .zero, into: &out)
        r.receive(sequenceNumber: 102, now: .milliseconds(1), into: &out)
        r.receive(sequenceNumber: 101, now: .milliseconds(5), into: &out)
        r.tick(now: .milliseconds(50), into: &out)
        #expect(out.isEmpty)
        #expect(r.packetsRepaired == 1)
    }

    @Test func nacksMissingPacketsWithBoundedRetriesThenPLI() {
        var r = LossRepair(configuration: config)
        r.keyframeReceived()
        var out: [LossRepairEvent] = []
        r.receive(sequenceNumber: 65534, now: .zero, into: &out)
        r.receive(sequenceNumber: 2, now: .milliseconds(1), into: &out)  // 65535, 0, 1 missing
        #expect(r.nextDeadline == .milliseconds(11))
        var t = Instant.milliseconds(11)
        while let d = r.nextDeadline, d <= .milliseconds(400) {
            t = d
            r.tick(now: t, into: &out)
        }
        let nacks = out.compactMap { if case .nack(let s) = $0 { s } else { nil } }
        #expect(nacks == [[65535, 0, 1], [65535, 0, 1], [65535, 0, 1]], "first NACK plus 2 retries")
        #expect(out.last == .pli(.lossNotRepaired))
        #expect(r.missingSequenceNumbers.isEmpty && r.packetsGivenUp == 3)
    }

    @Test func aRetransmissionStopsTheNacks() {
        var r = LossRepair(configuration: config)
        r.keyframeReceived()
        var out: [LossRepairEvent] = []
        r.receive(sequenceNumber: 1, now: .zero, into: &out)
        r.receive(sequenceNumber: 3, now: .zero, into: &out)
        r.tick(now: .milliseconds(10), into: &out)
        #expect(out == [.nack([2])])
        r.receive(sequenceNumber: 2, now: .milliseconds(30), into: &out)
        r.tick(now: .seconds(1), into: &out)
        #expect(out == [.nack([2])])
    }

    @Test func periodicPLIUntilTheFirstKeyframe() {
        var r = LossRepair(configuration: config)
        var out: [LossRepairEvent] = []
        r.receive(sequenceNumber: 1, now: .zero, into: &out)
        #expect(out.isEmpty)
        r.tick(now: .milliseconds(499), into: &out)
        #expect(out.isEmpty)
        r.tick(now: .milliseconds(500), into: &out)
        r.receive(sequenceNumber: 2, now: .milliseconds(600), into: &out)
        r.tick(now: .milliseconds(700), into: &out)
        r.tick(now: .milliseconds(1000), into: &out)
        #expect(out == [.pli(.noKeyframeYet), .pli(.noKeyframeYet)])
        r.keyframeReceived()
        r.receive(sequenceNumber: 3, now: .seconds(2), into: &out)
        r.tick(now: .seconds(5), into: &out)
        #expect(out.count == 2 && r.nextDeadline == nil)
    }

    /// The request itself can be lost: it is repeated until a keyframe comes, while packets still do.
    @Test func aKeyframeRequestIsRepeatedUntilAKeyframeArrives() {
        var r = LossRepair(configuration: config)
        r.keyframeReceived()
        var out: [LossRepairEvent] = []
        r.receive(sequenceNumber: 1, now: .zero, into: &out)
        r.receive(sequenceNumber: 3, now: .zero, into: &out)  // 2 is never repaired
        var t = Instant.zero
        var seq: UInt16 = 4
        while t < .milliseconds(1400) {
            t += .milliseconds(100)
            r.receive(sequenceNumber: seq, now: t, into: &out)
            seq += 1
            r.tick(now: t, into: &out)
        }
        let plis = out.compactMap { if case .pli(let why) = $0 { why } else { nil } }
        #expect(plis == [.lossNotRepaired, .noKeyframeYet, .noKeyframeYet], "at 300, 800 and 1300 ms")
        // A sender gone quiet cannot answer: no deadline is left after the next request.
        #expect(r.nextDeadline == .milliseconds(1800))
        r.tick(now: .milliseconds(1800), into: &out)
        #expect(out.last == .pli(.noKeyframeYet) && r.nextDeadline == nil)
        r.keyframeReceived()
        r.receive(sequenceNumber: seq, now: .seconds(3), into: &out)
        r.tick(now: .seconds(4), into: &out)
        #expect(r.plisSent == 4 && !r.needsKeyframe && r.nextDeadline == nil)
    }

    @Test func decoderErrorsAskForAKeyframeRateLimited() {
        var r = LossRepair(configuration: config)
        r.keyframeReceived()
        var out: [LossRepairEvent] = []
        r.decoderFailed(now: .seconds(1), into: &out)
        r.decoderFailed(now: .milliseconds(1050), into: &out)
        r.decoderFailed(now: .milliseconds(1100), into: &out)
        #expect(out == [.pli(.decoderError), .pli(.decoderError)])
    }

    @Test func aRestartedSequenceIsFollowedNotNacked() {
        var r = LossRepair(configuration: config)
        r.keyframeReceived()
        var out: [LossRepairEvent] = []
        for s in UInt16(30000)..<30010 { r.receive(sequenceNumber: s, now: .zero, into: &out) }
        for s in UInt16(100)..<200 { r.receive(sequenceNumber: s, now: .milliseconds(1), into: &out) }
        r.receive(sequenceNumber: 202, now: .milliseconds(2), into: &out)
        r.tick(now: .milliseconds(20), into: &out)
        #expect(out == [.nack([200, 201])])
    }

    @Test func aHugeGapIsAnsweredWithAPLINotThousandsOfNacks() {
        var c = config
        c.maxMissing = 100
        var r = LossRepair(configuration: c)
        r.keyframeReceived()
        var out: [LossRepairEvent] = []
        r.receive(sequenceNumber: 0, now: .zero, into: &out)
        r.receive(sequenceNumber: 5000, now: .zero, into: &out)
        r.tick(now: .seconds(1), into: &out)
        #expect(out == [.pli(.lossNotRepaired)])
    }
}

@Suite struct H264FrameBuilderTests {
    @Test func holdsUnitsBackUntilAKeyframe() throws {
        var b = try H264FrameBuilder()
        let slice = RTPPacket(
            marker: true, payloadType: 96, sequenceNumber: 1, timestamp: 1, ssrc: 1, payload: [0x41, 1])
        let idr = RTPPacket(
            marker: true, payloadType: 96, sequenceNumber: 2, timestamp: 2, ssrc: 1, payload: [0x65, 1])
        // Held back, and said so: its frame is still shown, without a decoded picture.
        #expect(b.push(slice, now: .zero) == [.skipped(timestamp: 1)])
        let events = b.push(idr, now: .milliseconds(1))
        #expect(events.count == 1)
        guard case .accessUnit(let au) = events.first else {
            Issue.record("\(events)")
            return
        }
        #expect(au.isKeyframe && au.timestamp == 2 && b.unitsSkippedAwaitingKeyframe == 1)
    }

    @Test func aMalformedUnitAsksForAKeyframe() throws {
        var b = try H264FrameBuilder()
        let bad = RTPPacket(
            marker: true, payloadType: 96, sequenceNumber: 1, timestamp: 1, ssrc: 1, payload: [0x7C, 0x05, 1])
        let events = b.push(bad, now: .zero)
        #expect(events.contains(.pli(.malformedPayload)))
        #expect(events.contains { if case .dropped = $0 { true } else { false } })
    }

    /// A peer that never sets the marker bit (nor changes the timestamp) must not grow a unit
    /// without end: past the bound it is dropped at once, counted, a key frame is asked for, its
    /// bytes go, and the stream recovers at the next key frame.
    @Test func aUnitWithoutAnEndIsBoundedDroppedAndRecoveredFrom() throws {
        var configuration = H264FrameBuilder.Configuration()
        configuration.maxUnitBytes = 256 * 1024
        var b = try H264FrameBuilder(configuration: configuration)
        var seq: UInt16 = 65_000
        func packet(_ payload: [UInt8], timestamp: UInt32, marker: Bool) -> RTPPacket {
            defer { seq &+= 1 }
            return RTPPacket(
                marker: marker, payloadType: 96, sequenceNumber: seq, timestamp: timestamp, ssrc: 1,
                payload: payload)
        }
        let idr = [0x65] + [UInt8](repeating: 1, count: 100)
        let slice = [0x41] + [UInt8](repeating: 2, count: 1199)
        var now = Instant.seconds(1)
        #expect(b.push(packet(idr, timestamp: 0, marker: true), now: now).contains { $0.isUnit })
        var events: [H264FrameBuilderEvent] = []
        // 2,000 packets of 1,200 bytes on one timestamp, none with the marker: 2.4 MB offered.
        for _ in 0..<2_000 {
            now += .milliseconds(1)
            events += b.push(packet(slice, timestamp: 3000, marker: false), now: now)
            #expect(b.depacketizer.bufferedBytes <= configuration.maxUnitBytes + 1204)
        }
        let dropped = events.filter { if case .dropped(_, .unitTooLarge) = $0 { true } else { false } }
        #expect(dropped.count == 1)
        #expect(events.contains(.pli(.unitTooLarge)))
        #expect(b.depacketizer.unitsTooLarge == 1)
        #expect(!events.contains { $0.isUnit })
        // The next key frame, on a new timestamp, comes out whole.
        now += .milliseconds(1)
        let recovered = b.push(packet(idr, timestamp: 6000, marker: true), now: now)
        let units = recovered.compactMap { if case .accessUnit(let u) = $0 { u } else { nil } }
        #expect(units.count == 1 && units.first?.isKeyframe == true && units.first?.timestamp == 6000)
        #expect(b.depacketizer.unitsTooLarge == 1)
    }
}

extension H264FrameBuilderEvent {
    fileprivate var isUnit: Bool { if case .accessUnit = self { true } else { false } }
}

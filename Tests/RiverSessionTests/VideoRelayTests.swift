import RiverCore
import RiverRTP
import RiverTestSupport
import Testing

@testable import RiverSession

/// The video path's schedule under upstream loss, and the repeated frame ends on a lossy path.
@Suite struct VideoRelayTests {
    func packet(_ sequence: UInt16, marker: Bool = false, timestamp: UInt32 = 3000) -> RTPPacket {
        RTPPacket(
            marker: marker, payloadType: 102, sequenceNumber: sequence, timestamp: timestamp, ssrc: 0x5555,
            payload: [0x41, 1, 2, 3])
    }

    func relay(repeatsFrameEnds: Bool = true) throws -> VideoRelay {
        try VideoRelay(
            payloadType: 102, outgoingSSRC: 0xBEEF, rembBitrate: 1_000_000, delay: .fixed(.seconds(2)),
            repeatsFrameEnds: repeatsFrameEnds, frameBuilder: nil, wallClock: { 0 })
    }

    /// The receiver's NACK of one of our packets.
    func nack(_ sequence: UInt16) -> [RTCPPacket] {
        [.nack(RTCPGenericNACK(senderSSRC: 1, mediaSSRC: 0xBEEF, lostSequenceNumbers: [sequence]))]
    }

    @Test func aRepairedPacketLeavesWithItsFrame() throws {
        var relay = try relay()
        var out = VideoRelay.Output()
        // Frame 1 is 10, 11, 12 (marker); 11 is lost upstream and its repair comes 80 ms later,
        // after frame 2 (13, 14) has arrived.
        relay.receive(rtp: packet(10), now: .milliseconds(0), into: &out)
        relay.receive(rtp: packet(12, marker: true), now: .milliseconds(1), into: &out)
        relay.receive(rtp: packet(13, timestamp: 6000), now: .milliseconds(66), into: &out)
        relay.receive(rtp: packet(14, marker: true, timestamp: 6000), now: .milliseconds(67), into: &out)
        relay.receive(rtp: packet(11), now: .milliseconds(80), into: &out)
        relay.receive(rtp: packet(12, marker: true), now: .milliseconds(81), into: &out)  // resent twice
        #expect(out.rtp.isEmpty)
        #expect(relay.placedLate == 1 && relay.duplicatesDropped == 1)

        // At 2001 ms frame 1 leaves whole, repair included (just ahead of 12, the next packet of
        // its frame), in order; nothing is repeated on a path without loss.
        relay.handleTimeout(now: .milliseconds(2001), into: &out)
        let base = try #require(out.rtp.first?.sequenceNumber)
        #expect(out.rtp.map(\.sequenceNumber) == [base, base &+ 1, base &+ 2])
        #expect(out.rtp.map(\.marker) == [false, false, true])
        #expect(relay.line.nextDue == .milliseconds(2066))
        out = .init()
        relay.handleTimeout(now: .milliseconds(2067), into: &out)
        #expect(out.rtp.map(\.sequenceNumber) == [base &+ 3, base &+ 4])
        #expect(relay.frameEndsRepeated == 0 && relay.senderReports.packetsSent == 5)
    }

    @Test func afterTheReceiversNACKEachFramesLastPacketGoesTwiceForAWhile() throws {
        for repeats in [true, false] {
            var relay = try relay(repeatsFrameEnds: repeats)
            var out = VideoRelay.Output()
            relay.receive(rtcp: nack(7), now: .milliseconds(0), into: &out)
            for i in 0..<4 {
                relay.receive(
                    rtp: packet(UInt16(i), marker: i % 2 == 1), now: .milliseconds(UInt64(i)), into: &out)
            }
            relay.handleTimeout(now: .seconds(3), into: &out)
            let sent = out.rtp.map(\.sequenceNumber)
            let base = try #require(sent.first)
            #expect(
                sent
                    == (repeats
                        ? [base, base &+ 1, base &+ 1, base &+ 2, base &+ 3, base &+ 3]
                        : [0, 1, 2, 3].map { base &+ $0 }),
                "repeats: \(repeats)")
            #expect(relay.frameEndsRepeated == (repeats ? 2 : 0) && relay.senderReports.packetsSent == 4)

            // Ten seconds after the last NACK the path counts as clean again.
            out = .init()
            relay.receive(rtp: packet(4), now: .seconds(8), into: &out)
            relay.receive(rtp: packet(5, marker: true), now: .seconds(8), into: &out)
            relay.handleTimeout(now: .seconds(11), into: &out)
            #expect(out.rtp.map(\.sequenceNumber) == [base &+ 4, base &+ 5])
        }
    }

    /// A NACK for another stream (the audio's) says nothing of the video path.
    @Test func aNACKOfAnotherStreamRepeatsNothing() throws {
        var relay = try relay()
        var out = VideoRelay.Output()
        relay.receive(
            rtcp: [.nack(RTCPGenericNACK(senderSSRC: 1, mediaSSRC: 0xA0D1, lostSequenceNumbers: [7]))],
            now: .zero, into: &out)
        relay.receive(rtp: packet(0, marker: true), now: .zero, into: &out)
        relay.handleTimeout(now: .seconds(3), into: &out)
        #expect(out.rtp.count == 1 && relay.frameEndsRepeated == 0)
    }

    @Test func aFrameCompletedByARepairIsDueWhenItsPacketsLeave() throws {
        let units = try H264Clips.accessUnits("clip-b")
        var packetizer = H264Packetizer(payloadType: 102, ssrc: 0x5555, initialSequenceNumber: 100)
        let frame = try packetizer.packetize(annexB: units[0], timestamp: 3000)
        try #require(frame.count >= 3)
        var relay = try VideoRelay(
            payloadType: 102, outgoingSSRC: 0xBEEF, rembBitrate: 1_000_000, delay: .fixed(.seconds(2)),
            frameBuilder: H264FrameBuilder.Configuration(), wallClock: { 1_000 })
        var out = VideoRelay.Output()
        // The keyframe's second packet is lost upstream and repaired 80 ms after the rest.
        for (i, packet) in frame.enumerated() where i != 1 {
            relay.receive(rtp: packet, now: .milliseconds(10 + UInt64(i)), into: &out)
        }
        #expect(out.units.isEmpty)
        relay.receive(rtp: frame[1], now: .milliseconds(90), into: &out)
        let unit = try #require(out.units.first)
        // The repair leaves just ahead of the next packet of its frame, and the unit counts as
        // arrived with the frame's last packet, long before the repair did.
        let last = UInt64(10 + frame.count - 1)
        #expect(unit.arrival == .milliseconds(last))
        #expect(abs(unit.receivedAt - (1_000_000 - Double(90 - last))) < 0.01)
        relay.handleTimeout(now: .milliseconds(2012), into: &out)
        let sent = out.rtp.map(\.sequenceNumber)
        #expect(sent.count == 3 && sent == [sent[0], sent[0] &+ 1, sent[0] &+ 2], "\(sent)")
    }

    @Test func aFrameReleasedBehindAnotherFramesRepairKeepsItsOwnArrival() throws {
        let units = try H264Clips.accessUnits("clip-b")
        var packetizer = H264Packetizer(payloadType: 102, ssrc: 0x5555, initialSequenceNumber: 100)
        let first = try packetizer.packetize(annexB: units[0], timestamp: 3000)
        let second = try packetizer.packetize(annexB: units[1], timestamp: 9000)
        var relay = try VideoRelay(
            payloadType: 102, outgoingSSRC: 0xBEEF, rembBitrate: 1_000_000, delay: .fixed(.seconds(2)),
            frameBuilder: H264FrameBuilder.Configuration(), wallClock: { 1_000 })
        var out = VideoRelay.Output()
        // The first frame's last packet is lost upstream: the loss shows when the second frame
        // arrives (at 66 ms), which the reorder buffer holds behind the gap until the repair
        // comes (at 90 ms).
        for packet in first.dropLast() { relay.receive(rtp: packet, now: .milliseconds(10), into: &out) }
        for packet in second { relay.receive(rtp: packet, now: .milliseconds(66), into: &out) }
        #expect(out.units.isEmpty)
        relay.receive(rtp: try #require(first.last), now: .milliseconds(90), into: &out)
        try #require(out.units.count == 2)
        // The first counts as arrived with the rest of its frame, the second when its own last
        // packet did: not when the repair released it.
        #expect(out.units[0].arrival == .milliseconds(10))
        #expect(out.units[1].arrival == .milliseconds(66))
        #expect(abs(out.units[1].receivedAt - (1_000_000 - 24)) < 0.01)
    }
}

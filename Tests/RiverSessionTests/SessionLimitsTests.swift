import RiverCore
import RiverRTP
import RiverTestSupport
import Testing

@testable import RiverSession

/// The bounds that keep one hostile peer from costing the server more than its own traffic
/// (issue 14): the NACK responder's dedup, cap and byte budget, the delay line's byte bound and the
/// SRTP stream cap, each driven through a real engine on virtual time.
@Suite struct SessionLimitsTests {
    func media(_ sequence: UInt16, ssrc: UInt32 = MemoryPeer.ssrc, bytes: Int = 1000) -> RTPPacket {
        RTPPacket(
            payloadType: MemoryPeer.payloadType, sequenceNumber: sequence, timestamp: UInt32(sequence) * 900,
            ssrc: ssrc, payload: [0x65] + [UInt8](repeating: 7, count: bytes - 1))
    }

    func bytesReceived(_ peer: MemoryPeer, from index: Int) -> Int {
        peer.received[index...].reduce(0) { $0 + $1.1.count }
    }

    @Test func aNACKFloodCostsLessThanTwiceWhatThePeerSendsWhileItsStreamKeepsFlowing() throws {
        let peer = try MemoryPeer { $0.remoteSSRCs = [MemoryPeer.ssrc] }
        try peer.connect()
        let start = peer.received.count
        var bytesIn = 0
        var sequence: UInt16 = 0
        // 2 s of an honest 100 packet/s stream; every 10 ms one SRTCP datagram of seven NACKs,
        // each naming every packet still in the responder's history (~1.8 KiB asking for ~7,000
        // retransmissions).
        for tick in 0..<200 {
            let packet = media(sequence)
            sequence &+= 1
            try peer.send(rtp: packet)
            bytesIn += peer.lastSent
            // Our stream's numbers (the rewriter renumbers), the last 1,024 of them.
            let newest = try #require(peer.rtpReceived.last).packet.sequenceNumber
            let lost = (0..<1024).map { newest &- 1023 &+ UInt16($0) }
            let nack = RTCPPacket.nack(
                RTCPGenericNACK(senderSSRC: 1, mediaSSRC: 0xBEEF, lostSequenceNumbers: lost))
            try peer.send(rtcp: Array(repeating: nack, count: 7))
            bytesIn += peer.lastSent
            #expect(peer.lastSent <= 2048, "tick \(tick): the flood datagram fits 2 KiB")
            peer.advance(by: .milliseconds(10))
        }
        let bytesOut = bytesReceived(peer, from: start)
        #expect(bytesOut <= 2 * bytesIn, "out \(bytesOut) B for \(bytesIn) B in")
        // Every packet of the honest stream came back.
        let echoed = Set(peer.rtpReceived.map(\.packet.sequenceNumber))
        #expect(echoed.count == 200)
        let counters = peer.engine.counters
        #expect(counters.nackRefused.duplicate > 0)
        #expect(counters.nackRefused.overCap > 0)
        #expect(counters.nackRefused.overBudget > 0)
        #expect(counters.limitDrops["retransmitBudget"] == counters.nackRefused.overBudget)
        // Resends stayed within half of what was first sent, plus one burst.
        let responder = peer.engine.nackResponderForTesting
        let configuration = NACKResponder.Configuration()
        #expect(
            Double(responder.retransmittedBytes)
                <= configuration.budgetRatio * Double(200 * 1012) + Double(configuration.burstBytes))
    }

    @Test func theDelayLineRefusesPastItsByteBoundCountsAndAsksForAKeyframe() throws {
        let peer = try MemoryPeer {
            $0.delay = .fixed(.seconds(1))
            $0.delayLineByteLimit = 10 * 1012
        }
        try peer.connect()
        for i in 0..<100 {
            try peer.send(rtp: media(UInt16(i)))
            peer.advance(by: .milliseconds(5))
        }
        #expect(peer.engine.counters.droppedDelayLineFull == 90)
        #expect(peer.engine.counters.limitDrops["delayLineFull"] == 90)
        let plis = peer.rtcpReceived.filter {
            if case .pictureLossIndication(let p) = $0 { p.mediaSSRC == MemoryPeer.ssrc } else { false }
        }
        #expect(plis.count >= 1 && plis.count <= 2)  // spaced 300 ms over 500 ms of refusals
        // Once the held packets leave, the line takes packets again.
        peer.advance(by: .seconds(1))
        #expect(peer.rtpReceived.count == 10)
        try peer.send(rtp: media(100))
        peer.advance(by: .seconds(1))
        #expect(peer.rtpReceived.count == 11)
        #expect(peer.engine.counters.droppedDelayLineFull == 90)
    }

    @Test func mediaDatagramsLargerThanUDPCarriesAreRefused() throws {
        let peer = try MemoryPeer()
        try peer.connect()
        try peer.send(rtp: media(1, bytes: 4000))  // as an ICE-TCP frame could carry it
        try peer.send(rtp: media(2, bytes: 1000))
        #expect(peer.engine.counters.droppedOversize == 1)
        #expect(peer.engine.counters.limitDrops["oversize"] == 1)
        #expect(peer.rtpReceived.count == 1)
    }

    @Test func packetsFromTooManyUnannouncedSSRCsAreRefusedAndCounted() throws {
        let peer = try MemoryPeer {
            $0.remoteSSRCs = [MemoryPeer.ssrc]
            $0.maxUnexpectedSSRCs = 3
        }
        try peer.connect()
        for i in 0..<10 {
            try peer.send(rtp: media(UInt16(i), ssrc: 0x1000 + UInt32(i), bytes: 20))
        }
        try peer.send(rtp: media(500, bytes: 20))
        try peer.send(rtp: media(501, bytes: 20))
        // A stream that already made one still passes.
        try peer.send(rtp: media(11, ssrc: 0x1000, bytes: 20))
        let counters = peer.engine.counters
        #expect(counters.droppedUnknownSSRC == 7)
        #expect(counters.limitDrops["unknownSSRC"] == 7)
        #expect(counters.droppedSRTP == 0)
        // Reflect mode echoes what it accepted: 3 unexpected streams, the announced one twice, 0x1000 again.
        #expect(peer.rtpReceived.count == 6)
        #expect(counters.rtpReceived == 6)
    }

    /// A peer that never sets the marker bit on one timestamp: the unit stops growing at the
    /// bound, is counted, a PLI goes upstream, and the next key frame decodes again.
    @Test func aUnitWithoutAMarkerIsBoundedCountedAndRecoveredFrom() throws {
        let peer = try MemoryPeer { configuration in
            configuration.delay = .fixed(.zero)
            var inference = SessionConfiguration.Inference()
            inference.frameBuilder.maxUnitBytes = 64 << 10
            configuration.inference = inference
        }
        try peer.connect()
        let keyframe = try #require(try H264Clips.accessUnits("clip-b").first)
        var packetizer = H264Packetizer(
            payloadType: MemoryPeer.payloadType, ssrc: MemoryPeer.ssrc, initialSequenceNumber: 100)
        for packet in try packetizer.packetize(annexB: keyframe, timestamp: 3000) {
            try peer.send(rtp: packet)
        }
        #expect(peer.units.count == 1)
        let plisBefore = peer.rtcpReceived.filter(\.isPLI).count
        // 500 packets of 1,200 bytes, one timestamp, no marker: 600 KB offered to a 64 KiB bound.
        var sequence = packetizer.sequenceNumber
        for _ in 0..<500 {
            try peer.send(
                rtp: RTPPacket(
                    payloadType: MemoryPeer.payloadType, sequenceNumber: sequence, timestamp: 6000,
                    ssrc: MemoryPeer.ssrc, payload: [0x41] + [UInt8](repeating: 9, count: 1199)))
            sequence &+= 1
            peer.advance(by: .milliseconds(1))
        }
        #expect(peer.engine.counters.accessUnitsTooLarge == 1)
        #expect(peer.engine.counters.limitDrops["accessUnitTooLarge"] == 1)
        #expect(peer.rtcpReceived.filter(\.isPLI).count == plisBefore + 1)
        #expect(peer.units.count == 1)
        // Every packet was still echoed (the delay line does not depend on the frame builder).
        #expect(peer.rtpReceived.count >= 500)
        var next = H264Packetizer(
            payloadType: MemoryPeer.payloadType, ssrc: MemoryPeer.ssrc, initialSequenceNumber: sequence)
        for packet in try next.packetize(annexB: keyframe, timestamp: 9000) { try peer.send(rtp: packet) }
        #expect(peer.units.count == 2)
    }
}

extension RTCPPacket {
    fileprivate var isPLI: Bool {
        if case .pictureLossIndication(let p) = self { p.mediaSSRC == MemoryPeer.ssrc } else { false }
    }
}

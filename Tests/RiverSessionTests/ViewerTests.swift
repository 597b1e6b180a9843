import RiverCore
import RiverRTP
import Testing

@testable import RiverSession

/// A viewer (WHEP) fed from a publisher, both engines on one virtual clock with a ``MemoryPeer``
/// each: what the publisher hands out while it has viewers, how the viewer makes it its own
/// stream, and where each side's feedback goes.
@Suite struct ViewerTests {
    static let viewerSSRC: UInt32 = 0xCAFE
    static let viewerPayloadType: UInt8 = 96

    func viewerPeer() throws -> MemoryPeer {
        try MemoryPeer { configuration in
            configuration.viewer = true
            configuration.outgoingSSRC = Self.viewerSSRC
            configuration.videoPayloadType = Self.viewerPayloadType
        }
    }

    /// Frames of three packets each; the last ends the frame. Each carries a header extension.
    func frame(_ index: Int) -> [RTPPacket] {
        (0..<3).map { k in
            RTPPacket(
                marker: k == 2, payloadType: MemoryPeer.payloadType,
                sequenceNumber: UInt16(100 + index * 3 + k),
                timestamp: 9000 + UInt32(index) * 3000, ssrc: MemoryPeer.ssrc, extensionProfile: 0xBEDE,
                extensionData: [0x10, 0x01, 0, 0], payload: [0x65, UInt8(index), UInt8(k)])
        }
    }

    @Test func thePublisherHandsOutItsStreamOnlyWhileItHasViewers() throws {
        let publisher = try MemoryPeer()
        try publisher.connect()
        for packet in frame(0) { try publisher.send(rtp: packet) }
        #expect(publisher.forwarded.isEmpty)
        publisher.engine.forwardsToViewers = true
        for packet in frame(1) { try publisher.send(rtp: packet) }
        // Exactly what its own peer got: our SSRC, numbering and timestamps.
        #expect(publisher.forwarded == publisher.rtpReceived.suffix(3).map(\.packet))
        publisher.engine.forwardsToViewers = false
        for packet in frame(2) { try publisher.send(rtp: packet) }
        #expect(publisher.forwarded.count == 3)
    }

    @Test func aViewerStartsAtAFrameBoundaryAsItsOwnStream() throws {
        let publisher = try MemoryPeer()
        try publisher.connect()
        publisher.engine.forwardsToViewers = true
        let viewer = try viewerPeer()
        // Before DTLS is up nothing is taken.
        for packet in frame(0) { try publisher.send(rtp: packet) }
        for packet in publisher.forwarded { viewer.input(.forwarded(packet)) }
        try viewer.connect()
        #expect(viewer.rtpReceived.isEmpty)
        // It joins mid-frame: the tail of frame 1 is dropped, frame 2 on is its own stream.
        for packet in frame(1).dropFirst() + frame(2) + frame(3) { try publisher.send(rtp: packet) }
        for packet in publisher.forwarded.dropFirst(3) { viewer.input(.forwarded(packet)) }
        let got = viewer.rtpReceived.map(\.packet)
        let published = publisher.rtpReceived.suffix(6).map(\.packet)
        #expect(got.count == 6)
        #expect(got.allSatisfy { $0.ssrc == Self.viewerSSRC && $0.payloadType == Self.viewerPayloadType })
        #expect(got.allSatisfy { $0.extensionProfile == nil && $0.extensionData.isEmpty })
        #expect(got.map(\.timestamp) == published.map(\.timestamp))
        #expect(got.map(\.payload) == published.map(\.payload))
        #expect(got.map(\.marker) == published.map(\.marker))
        #expect(zip(got, got.dropFirst()).allSatisfy { $1.sequenceNumber == $0.sequenceNumber &+ 1 })
        // Its own sender reports, on its SSRC.
        viewer.advance(by: .seconds(2))
        #expect(
            viewer.rtcpReceived.contains {
                if case .senderReport(let sr) = $0 { sr.ssrc == Self.viewerSSRC } else { false }
            })
    }

    @Test func aViewersNACKIsServedFromItsOwnHistoryAndItsPLIGoesToThePublisher() throws {
        let publisher = try MemoryPeer()
        try publisher.connect()
        publisher.engine.forwardsToViewers = true
        let viewer = try viewerPeer()
        try viewer.connect()
        for index in 0..<3 { for packet in frame(index) { try publisher.send(rtp: packet) } }
        for packet in publisher.forwarded { viewer.input(.forwarded(packet)) }
        let ours = try #require(viewer.rtpReceived.first).packet
        let sentToPublisher = publisher.rawRTP.count
        let before = viewer.rawRTP.count
        try viewer.send(rtcp: [
            .receiverReport(.init(ssrc: 1)),
            .nack(
                RTCPGenericNACK(
                    senderSSRC: 1, mediaSSRC: Self.viewerSSRC, lostSequenceNumbers: [ours.sequenceNumber])),
            .pictureLossIndication(.init(senderSSRC: 1, mediaSSRC: Self.viewerSSRC)),
        ])
        #expect(viewer.rawRTP.count == before + 1)
        #expect(viewer.rawRTP.last == viewer.rawRTP[0])  // resent byte for byte
        #expect(publisher.rawRTP.count == sentToPublisher)  // the publisher's peer saw nothing of it
        // The viewer has no browser stream to ask: it wants a key frame from the publisher.
        #expect(viewer.events.filter { $0 == .keyFrameWanted }.count == 1)
        #expect(!viewer.rtcpReceived.contains { if case .pictureLossIndication = $0 { true } else { false } })
        // Repeats within 300 ms are merged.
        try viewer.send(rtcp: [.pictureLossIndication(.init(senderSSRC: 1, mediaSSRC: Self.viewerSSRC))])
        #expect(viewer.events.filter { $0 == .keyFrameWanted }.count == 1)

        // The publisher asks its browser, spaced with its own receiver's requests.
        func plis() -> Int {
            publisher.rtcpReceived.filter {
                if case .pictureLossIndication(let p) = $0 { p.mediaSSRC == MemoryPeer.ssrc } else { false }
            }.count
        }
        publisher.input(.keyFrameRequest)
        #expect(plis() == 1)
        publisher.input(.keyFrameRequest)
        try publisher.send(rtcp: [.pictureLossIndication(.init(senderSSRC: 1, mediaSSRC: 0xBEEF))])
        #expect(plis() == 1)
        publisher.advance(by: .milliseconds(300))
        publisher.input(.keyFrameRequest)
        #expect(plis() == 2)
    }

    @Test func aViewerTakesNoMediaFromItsPeerAndCountsTheResultsItForwards() throws {
        let viewer = try viewerPeer()
        try viewer.connect()
        try viewer.send(rtp: frame(0)[0])
        #expect(viewer.rtpReceived.isEmpty)
        #expect(viewer.engine.counters.droppedUnexpected == 1)
        // No data channel here: the message is counted as undelivered, not lost silently.
        viewer.input(.forwardedResult(json: "{}"))
        #expect(viewer.engine.counters.resultsUndelivered == 1)
        // A publisher ignores what only viewers take.
        let publisher = try MemoryPeer()
        try publisher.connect()
        publisher.input(.forwarded(frame(0)[0]))
        publisher.input(.forwardedResult(json: "{}"))
        #expect(publisher.rtpReceived.isEmpty && publisher.engine.counters.resultsUndelivered == 0)
    }
}

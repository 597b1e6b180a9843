import Foundation
import RiverCore
import RiverICE
import RiverRTP
import RiverResults
import RiverTestSupport
import Testing

@testable import RiverSession

/// The session engine end to end on a virtual clock: a real DTLS handshake and real SRTP with a
/// ``MemoryPeer``, no socket, no thread, no sleep. Each test runs in milliseconds.
@Suite struct SessionEngineTests {
    func packet(_ sequence: UInt16, timestamp: UInt32 = 9000, pt: UInt8 = MemoryPeer.payloadType) -> RTPPacket
    {
        RTPPacket(
            payloadType: pt, sequenceNumber: sequence, timestamp: timestamp, ssrc: MemoryPeer.ssrc,
            payload: [0x65, 1, 2, 3])
    }

    /// The fixture clip as RTP, one array of packets per frame, 30 fps timestamps.
    func clipFrames(count: Int = 30) throws -> [[RTPPacket]] {
        let units = try H264Clips.accessUnits("clip-b")
        var packetizer = H264Packetizer(
            payloadType: MemoryPeer.payloadType, ssrc: MemoryPeer.ssrc, initialSequenceNumber: 65_000)
        return try (0..<count).map { i in
            try packetizer.packetize(
                annexB: units[i % units.count], timestamp: 4_294_000_000 &+ UInt32(i) * 3000)
        }
    }

    func pipelinePeer(delay: Duration = .seconds(2), maxInFlight: Int = 1, maxWaiting: Int = 3) throws
        -> MemoryPeer
    {
        try MemoryPeer { configuration in
            configuration.delay = .fixed(delay)
            var inference = SessionConfiguration.Inference()
            inference.maxInFlight = { maxInFlight }
            inference.maxWaiting = maxWaiting
            configuration.inference = inference
        }
    }

    @Test func reflectConnectsAndSendsEveryPacketBackAsOurStream() throws {
        let peer = try MemoryPeer()
        try peer.connect()
        #expect(peer.events.contains(.addressAuthenticated(MemoryPeer.address)))
        #expect(peer.events.contains(.connected))
        #expect(peer.stunResponses == 1)
        for s: UInt16 in [7, 8, 9] { try peer.send(rtp: packet(s)) }
        try peer.send(rtp: packet(10, pt: 111))  // not the negotiated video
        let back = peer.rtpReceived.map(\.packet)
        #expect(back.count == 3)
        #expect(
            back.allSatisfy { $0.ssrc == 0xBEEF && $0.timestamp == 9000 && $0.payload == [0x65, 1, 2, 3] })
        #expect(zip(back, back.dropFirst()).allSatisfy { $1.sequenceNumber == $0.sequenceNumber &+ 1 })
        #expect(peer.rtpReceived.allSatisfy { $0.at == peer.now })  // delay 0: in the same call
        // The first RR + REMB 100 ms after the first packet, at the deadline the engine asked for.
        #expect(peer.rtcpReceived.isEmpty)
        peer.advance(by: .milliseconds(100))
        #expect(
            peer.rtcpReceived.contains {
                if case .remb(let r) = $0 { r.ssrcs == [MemoryPeer.ssrc] } else { false }
            })
        #expect(peer.engine.counters.rtpReceived == 4 && peer.engine.counters.rtpSent == 3)
    }

    @Test func checksWithAWrongPasswordGetNoAnswerAndNoRoute() throws {
        let peer = try MemoryPeer()
        peer.send(peer.bindingRequest(password: "not-the-password-at-all"))
        peer.send([0x17, 0xFE, 0xFD, 0, 0])  // DTLS-looking bytes before any check
        #expect(peer.stunResponses == 0)
        #expect(peer.events.isEmpty)
        #expect(peer.engine.counters.stunRejected == 1)
        #expect(peer.engine.counters.droppedUnexpected == 0 || peer.engine.state == .new)
    }

    @Test func consentExpiresAtItsDeadlineAndTheEngineAsksForNoMoreTimers() throws {
        let peer = try MemoryPeer { $0.consentTimeout = .seconds(5) }
        try peer.connect()
        let connectedAt = peer.now
        peer.advance(by: .milliseconds(4_900))
        #expect(peer.engine.state == .connected)
        peer.send(peer.bindingRequest())  // refreshes consent
        peer.advance(to: connectedAt + .milliseconds(9_800))
        #expect(peer.engine.state == .connected)
        peer.advance(to: connectedAt + .seconds(11))
        #expect(peer.engine.state == .closed(.consentExpired))
        #expect(peer.events.last == .closed(.consentExpired))
        #expect(peer.deadline == nil)
    }

    @Test func pipelinePacketsLeaveExactlyAtArrivalPlusDelayAndUnitsCarryOutputTimestamps() throws {
        let peer = try pipelinePeer(delay: .seconds(2))
        try peer.connect()
        var arrivals: [UInt32: Instant] = [:]
        let frames = try clipFrames(count: 20)
        for frame in frames {
            for packet in frame {
                arrivals[UInt32(packet.sequenceNumber)] = peer.now
                try peer.send(rtp: packet)
            }
            peer.advance(by: .milliseconds(33))
        }
        peer.advance(by: .seconds(3))
        let sent = peer.rtpReceived
        #expect(sent.count == frames.joined().count)
        let first = frames[0][0]
        for (index, (at, packet)) in sent.enumerated() {
            let original = Array(frames.joined())[index]
            #expect(packet.sequenceNumber == sent[0].packet.sequenceNumber &+ UInt16(index))
            #expect(packet.timestamp == original.timestamp &+ 180_000)
            #expect(
                at == arrivals[UInt32(original.sequenceNumber)]! + .seconds(2),
                "packet \(index) left at \(at)")
        }
        // Every frame but those before the first keyframe is handed out to decode, labelled with
        // its output timestamp.
        #expect(peer.units.count == frames.count)
        #expect(peer.units.first?.outputTimestamp == first.timestamp &+ 180_000)
    }

    /// `--delay auto` through the engine: results 40 ms after each frame completes. The first
    /// packets leave after the first five turnarounds rather than at the 2 s start, the delay
    /// settles at p99 + 10 ms headroom with the deadlines keeping that headroom, and once the
    /// browser reports loss on our stream (with an RTT from its report) it grows to cover a repair.
    @Test func autoDelayStartsFromTheFirstTurnaroundsAndGrowsToCoverRepairsUnderLoss() throws {
        let peer = try MemoryPeer { configuration in
            configuration.delay = .auto(start: .seconds(2))
            var inference = SessionConfiguration.Inference()
            inference.maxInFlight = { 4 }
            configuration.inference = inference
        }
        try peer.connect()
        let start = peer.now
        let interval = Duration.nanoseconds(33_333_333)
        var answers: [(due: Instant, id: UInt64)] = []
        var decoded = 0
        var asked = 0
        var senderReports = 0
        var lossReported = false
        func frame(_ job: AccessUnitJob) -> VideoFrame {
            VideoFrame(packedWidth: 64, height: 48, format: .i420, rtpTimestamp: job.outputTimestamp)
        }
        let reply = InferenceOutcome.reply(detections: [], compute: .milliseconds(30))
        for (i, packets) in try clipFrames(count: 300).enumerated() {
            let at = start + interval * i
            for answer in answers where answer.due <= at {
                peer.advance(to: answer.due)
                peer.input(.inferred(id: answer.id, reply))
            }
            answers.removeAll { $0.due <= at }
            peer.advance(to: at)
            for packet in packets { try peer.send(rtp: packet) }
            for job in peer.units[decoded...] {
                peer.input(.decoded(job, frames: [frame(job)], decodeTime: .zero))
            }
            decoded = peer.units.count
            for request in peer.requests[asked...] {
                answers.append((peer.now + .milliseconds(40), request.id))
            }
            asked = peer.requests.count
            // From 6 s on, the browser answers our next SR with 5 % loss and no time held.
            let srs = peer.rtcpReceived.compactMap { if case .senderReport(let sr) = $0 { sr } else { nil } }
            if at >= start + .seconds(6), !lossReported, srs.count > senderReports, let sr = srs.last {
                lossReported = true
                let block = RTCPReceptionReport(
                    ssrc: 0xBEEF, fractionLost: 13, lastSenderReport: NTPTime.middle32(sr.ntpTime))
                try peer.send(rtcp: [.receiverReport(.init(ssrc: MemoryPeer.ssrc, reports: [block]))])
            }
            senderReports = srs.count
            if i == 170 {
                // 5.7 s in: settled at 40 + 10 ms, and deadlines keep the 10 ms headroom.
                #expect(peer.engine.delay == .milliseconds(50))
                let job = try #require(peer.units.last)
                #expect(peer.requests.last?.deadline == job.arrival + .milliseconds(40))
            }
        }
        let first = try #require(peer.rtpReceived.first)
        #expect(first.at - start < .milliseconds(300), "the first packet left \(first.at - start) in")
        #expect(lossReported)
        // 50 ms + RTT (0–33 ms: the SR left within the frame before it was answered) + 3 frames.
        let delay = peer.engine.delay
        #expect(delay >= .milliseconds(150) && delay <= .milliseconds(184), "\(delay)")
        // The line kept its order through the reschedule and the slews: consecutive numbers.
        let numbers = peer.rtpReceived.map(\.packet.sequenceNumber)
        #expect(zip(numbers, numbers.dropFirst()).allSatisfy { $1 == $0 &+ 1 })
    }

    @Test func everyDecodedFrameEndsInExactlyOneResult() throws {
        let peer = try pipelinePeer(delay: .seconds(1), maxInFlight: 1, maxWaiting: 1)
        try peer.connect()
        for frame in try clipFrames(count: 3) {
            for packet in frame { try peer.send(rtp: packet) }
        }
        let jobs = peer.units
        #expect(jobs.count == 3)
        func frame(_ job: AccessUnitJob) -> VideoFrame {
            VideoFrame(packedWidth: 64, height: 48, format: .i420, rtpTimestamp: job.outputTimestamp)
        }
        // Three frames, one slot, one place to wait: the first is sent, the second waits, the third
        // pushes it out.
        for job in jobs { peer.input(.decoded(job, frames: [frame(job)], decodeTime: .milliseconds(3))) }
        #expect(peer.requests.count == 1)
        let detections = [
            Detection(label: "face", classIndex: 0, score: 0.9, box: Box(x: 0.1, y: 0.2, w: 0.3, h: 0.4))
        ]
        peer.advance(by: .milliseconds(20))
        peer.input(
            .inferred(id: peer.requests[0].id, .reply(detections: detections, compute: .milliseconds(15))))
        #expect(peer.requests.count == 2)  // the waiting frame went next
        // Its answer comes after the frame's deadline (arrival + 1 s − 50 ms): expired, never shown.
        peer.advance(by: .seconds(2))
        peer.input(
            .inferred(id: peer.requests[1].id, .reply(detections: detections, compute: .milliseconds(15))))
        peer.input(.decodeFailed(jobs[0]))
        let statuses = peer.events.compactMap {
            if case .frameFinished(let m, _, _, _) = $0 { m.status } else { nil }
        }
        #expect(statuses == [.saturated, .ok, .expired, .decodeError])
        // Each event carries the message's own JSON text, the one the data channel would carry.
        for event in peer.events {
            guard case .frameFinished(let message, let json, _, _) = event else { continue }
            #expect(try JSONDecoder().decode(ResultMessage.self, from: Data(json.utf8)) == message)
        }
        // No data channel in this session: each message is counted as undelivered, none lost.
        #expect(peer.engine.counters.resultsUndelivered == 4 && peer.engine.counters.resultsSent == 0)
        // The decoder failure asked the browser for a key frame.
        #expect(peer.rtcpReceived.contains { if case .pictureLossIndication = $0 { true } else { false } })
    }

    /// Frames that are never decoded are still shown, so each is told why: a decoder failure holds
    /// the P-frames after it back until the next keyframe (clip-b has one at unit 30), and every one
    /// of them ends in a `decodeError` message. A failure reported late, for a unit from before the
    /// keyframe that has healed the decoder since, holds nothing back.
    @Test func framesThatAreNotDecodedAreToldSo() throws {
        let peer = try pipelinePeer(delay: .seconds(1))
        try peer.connect()
        let frames = try clipFrames(count: 36)
        func send(_ range: Range<Int>) throws {
            for frame in frames[range] {
                for packet in frame { try peer.send(rtp: packet) }
                peer.advance(by: .milliseconds(33))
            }
        }
        func notDecoded() -> Int {
            peer.events.filter {
                if case .frameFinished(let m, _, _, _) = $0, m.status == .decodeError { true } else { false }
            }
            .count
        }
        try send(0..<3)
        #expect(peer.units.count == 3)
        peer.input(.decodeFailed(peer.units[2]))
        try send(3..<30)
        #expect(peer.units.count == 3, "P-frames after a decoder failure are held back")
        #expect(notDecoded() == 1 + 27)
        try send(30..<33)
        #expect(peer.units.count == 6, "the keyframe and what follows it are decoded")
        peer.input(.decodeFailed(peer.units[1]))
        try send(33..<36)
        #expect(peer.units.count == 9, "a late failure from before the keyframe skips nothing")
        #expect(notDecoded() == 1 + 27 + 1)
    }

    @Test func receiverFeedbackIsAnsweredAndUpstreamLossIsNACKed() throws {
        let peer = try pipelinePeer(delay: .zero)
        try peer.connect()
        let frames = try clipFrames(count: 4)
        var skipped: RTPPacket?
        for frame in frames {
            for packet in frame {
                if skipped == nil && frame.count > 1 && frame.last == packet {
                    skipped = packet
                    continue
                }
                try peer.send(rtp: packet)
            }
        }
        peer.advance(by: .milliseconds(15))
        let nacked = peer.rtcpReceived.compactMap { if case .nack(let n) = $0 { n } else { nil } }
        #expect(nacked.first?.mediaSSRC == MemoryPeer.ssrc)
        #expect(nacked.first?.lostSequenceNumbers == [try #require(skipped).sequenceNumber])
        // The receiver asks for one of our packets again, and for a key frame.
        let ours = try #require(peer.rtpReceived.last).packet
        let original = try #require(peer.rawRTP.last)
        let before = peer.rawRTP.count
        try peer.send(rtcp: [
            .receiverReport(.init(ssrc: 1)),
            .nack(
                RTCPGenericNACK(senderSSRC: 1, mediaSSRC: 0xBEEF, lostSequenceNumbers: [ours.sequenceNumber])),
            .pictureLossIndication(.init(senderSSRC: 1, mediaSSRC: 0xBEEF)),
        ])
        #expect(peer.rawRTP.count == before + 1)
        #expect(peer.rawRTP.last == original)  // the same packet, resent from history
        #expect(
            peer.rtcpReceived.contains {
                if case .pictureLossIndication(let p) = $0 { p.mediaSSRC == MemoryPeer.ssrc } else { false }
            })
        // A compound with a malformed tail still delivers what came before it, and is counted.
        #expect(peer.engine.counters.malformedRTCP == 0)
    }
}

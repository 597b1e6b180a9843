import RiverCore
import RiverRTP
import RiverTestSupport
import Testing

@testable import RiverSession

/// Audio beside the video through the engine, on the virtual clock: the same delay, our own SSRC,
/// timestamps offset at 48 kHz, sender reports of its own, and NACKs both ways.
@Suite struct AudioRelayTests {
    static let audioSSRC: UInt32 = 0x00A0_D10A
    static let ourAudioSSRC: UInt32 = 0xA0D1
    static let opus: UInt8 = 111

    func audioPacket(_ sequence: UInt16, timestamp: UInt32) -> RTPPacket {
        RTPPacket(
            payloadType: Self.opus, sequenceNumber: sequence, timestamp: timestamp, ssrc: Self.audioSSRC,
            payload: [0x78, 1, 2, 3, 4, 5])
    }

    func videoFrames(count: Int) throws -> [[RTPPacket]] {
        let units = try H264Clips.accessUnits("clip-b")
        var packetizer = H264Packetizer(
            payloadType: MemoryPeer.payloadType, ssrc: MemoryPeer.ssrc, initialSequenceNumber: 100)
        return try (0..<count).map { i in
            try packetizer.packetize(annexB: units[i % units.count], timestamp: UInt32(i) * 3000)
        }
    }

    func peer(delay: PipelineDelay) throws -> MemoryPeer {
        try MemoryPeer { configuration in
            configuration.delay = delay
            configuration.inference = SessionConfiguration.Inference()
            configuration.audio = SessionConfiguration.Audio(
                payloadType: Self.opus, outgoingSSRC: Self.ourAudioSSRC)
        }
    }

    func audioSent(_ peer: MemoryPeer) -> [(at: Instant, packet: RTPPacket)] {
        peer.rtpReceived.filter { $0.packet.ssrc == Self.ourAudioSSRC }
    }

    @Test func audioLeavesWithTheVideosDelayAsOurStreamWithItsOwnReports() throws {
        let peer = try peer(delay: .fixed(.seconds(2)))
        try peer.connect()
        var arrivals: [Instant] = []
        // 20 ms Opus frames (960 ticks at 48 kHz) beside 30 fps video, for 3 s.
        let frames = try videoFrames(count: 90)
        var audioSequence: UInt16 = 65_530
        for (i, frame) in frames.enumerated() {
            for packet in frame { try peer.send(rtp: packet) }
            if i % 3 != 2 {
                arrivals.append(peer.now)
                try peer.send(
                    rtp: audioPacket(audioSequence, timestamp: 1_000 &+ UInt32(arrivals.count - 1) * 960))
                audioSequence &+= 1
            }
            peer.advance(by: .milliseconds(33))
        }
        peer.advance(by: .seconds(3))
        let sent = audioSent(peer)
        #expect(sent.count == arrivals.count)
        for (index, (at, packet)) in sent.enumerated() {
            #expect(at == arrivals[index] + .seconds(2), "audio packet \(index) left at \(at)")
            #expect(packet.payloadType == Self.opus)
            #expect(packet.sequenceNumber == sent[0].packet.sequenceNumber &+ UInt16(index))
            // Offset by the 2 s start at 48 kHz, as the video's is at 90 kHz.
            #expect(packet.timestamp == 1_000 &+ UInt32(index) * 960 &+ 96_000)
            #expect(packet.payload == [0x78, 1, 2, 3, 4, 5])
        }
        // The video is unchanged by the audio beside it.
        let video = peer.rtpReceived.filter { $0.packet.ssrc == 0xBEEF && !$0.packet.payload.isEmpty }
        #expect(video.count == frames.joined().count)
        // Sender reports on both streams; the audio's RTP time runs at 48 kHz.
        let reports = peer.rtcpReceived.compactMap { if case .senderReport(let sr) = $0 { sr } else { nil } }
        let audioReports = reports.filter { $0.ssrc == Self.ourAudioSSRC }
        #expect(reports.contains { $0.ssrc == 0xBEEF })
        #expect(audioReports.count >= 2)
        if audioReports.count >= 2 {
            // The virtual wall clock stands still, so successive reports differ by the 48 kHz
            // extrapolation alone: the RTP time grows with the packets sent, at 48 ticks per ms.
            let last = try #require(sent.last)
            let report = try #require(audioReports.last)
            #expect(Int32(bitPattern: report.rtpTime &- last.packet.timestamp) >= 0)
        }
        // Receiver reports on the browser's audio, and one REMB (the video's) for both streams.
        let blocks = peer.rtcpReceived.compactMap { if case .receiverReport(let rr) = $0 { rr } else { nil } }
            .flatMap(\.reports)
        #expect(blocks.contains { $0.ssrc == Self.audioSSRC })
        let rembs = peer.rtcpReceived.compactMap { if case .remb(let r) = $0 { r } else { nil } }
        #expect(!rembs.isEmpty)
        #expect(
            rembs.allSatisfy { $0.bitrate == 1_000_000 + AudioRelay.rembAllowance && $0.senderSSRC == 0xBEEF }
        )
        #expect(peer.engine.summary.contains("audio \(arrivals.count) packets in, \(arrivals.count) out"))
    }

    /// With a recording, the engine hands out every unit as it goes to decode, every audio packet
    /// as it came (payload, output timestamp, arrival) and every result message; without one, none.
    @Test(arguments: [true, false]) func aRecordingGetsEachUnitAudioPacketAndResult(records: Bool) throws {
        let peer = try MemoryPeer { configuration in
            configuration.delay = .fixed(.seconds(2))
            configuration.inference = SessionConfiguration.Inference()
            configuration.audio = SessionConfiguration.Audio(
                payloadType: Self.opus, outgoingSSRC: Self.ourAudioSSRC)
            configuration.records = records
        }
        try peer.connect()
        var audioArrivals: [Instant] = []
        for (i, frame) in try videoFrames(count: 6).enumerated() {
            for packet in frame { try peer.send(rtp: packet) }
            audioArrivals.append(peer.now)
            try peer.send(rtp: audioPacket(UInt16(i), timestamp: UInt32(i) * 1600))
            peer.advance(by: .milliseconds(33))
        }
        for job in peer.units {
            let frame = VideoFrame(
                packedWidth: 64, height: 48, format: .i420, rtpTimestamp: job.outputTimestamp)
            peer.input(.decoded(job, frames: [frame], decodeTime: .zero))
        }
        for request in peer.requests {
            peer.input(.inferred(id: request.id, .reply(detections: [], compute: .milliseconds(5))))
        }
        peer.advance(by: .seconds(1))
        var video: [UInt32] = []
        var audio: [(UInt32, Instant)] = []
        var results: [UInt32] = []
        for item in peer.recorded {
            switch item {
            case .video(let job): video.append(job.outputTimestamp)
            case .audio(let payload, let timestamp, let arrival):
                #expect(payload == [0x78, 1, 2, 3, 4, 5])
                audio.append((timestamp, arrival))
            case .result(let message): results.append(message.rtpTimestamp)
            }
        }
        guard records else {
            #expect(peer.recorded.isEmpty)
            return
        }
        #expect(video == peer.units.map(\.outputTimestamp) && video.count == 6)
        let offset = StreamRewriter.rtpUnits(.seconds(2), clockRate: 48_000)
        #expect(audio.map(\.0) == (0..<6).map { UInt32($0) * 1600 &+ offset })
        #expect(audio.map(\.1) == audioArrivals)
        #expect(
            results.count == peer.events.filter { if case .frameFinished = $0 { true } else { false } }.count)
        #expect(Set(results).isSubset(of: Set(video)) && !results.isEmpty)
    }

    /// Under `--delay auto` the audio follows the video's schedule: held from the start until the
    /// first estimate, rescheduled with the video, then moved by the same slews.
    @Test func underAutoDelayAudioLeavesWithTheVideoThatArrivedWithIt() throws {
        let peer = try peer(delay: .auto(start: .seconds(2)))
        try peer.connect()
        var pairs: [(audio: UInt32, videoSequence: UInt16)] = []
        let frames = try videoFrames(count: 240)
        var answers: [(due: Instant, id: UInt64)] = []
        var decoded = 0
        var asked = 0
        for (i, frame) in frames.enumerated() {
            for answer in answers where answer.due <= peer.now {
                peer.input(.inferred(id: answer.id, .reply(detections: [], compute: .milliseconds(20))))
            }
            answers.removeAll { $0.due <= peer.now }
            for packet in frame { try peer.send(rtp: packet) }
            let timestamp = UInt32(i) * 1600
            try peer.send(rtp: audioPacket(UInt16(i), timestamp: timestamp))
            pairs.append((timestamp, frame.last!.sequenceNumber))
            for job in peer.units[decoded...] {
                let frame = VideoFrame(
                    packedWidth: 64, height: 48, format: .i420, rtpTimestamp: job.outputTimestamp)
                peer.input(.decoded(job, frames: [frame], decodeTime: .zero))
            }
            decoded = peer.units.count
            for request in peer.requests[asked...] {
                answers.append((peer.now + .milliseconds(30), request.id))
            }
            asked = peer.requests.count
            peer.advance(by: .milliseconds(33))
        }
        peer.advance(by: .seconds(3))
        #expect(peer.engine.delay < .milliseconds(200), "the delay did not come down: \(peer.engine.delay)")
        let video = peer.rtpReceived.filter { $0.packet.ssrc == 0xBEEF }
        // Our numbering starts at a random point; the first packet out is the clip's first.
        let renumber = try #require(video.first).packet.sequenceNumber &- frames[0][0].sequenceNumber
        let videoAt = Dictionary(uniqueKeysWithValues: video.map { ($0.packet.sequenceNumber, $0.at) })
        let audio = audioSent(peer)
        #expect(audio.count == pairs.count)
        let offset = StreamRewriter.rtpUnits(.seconds(2), clockRate: 48_000)
        let audioAt = Dictionary(uniqueKeysWithValues: audio.map { ($0.packet.timestamp, $0.at) })
        var checked = 0
        for pair in pairs {
            let at = try #require(audioAt[pair.audio &+ offset])
            let videoLeft = try #require(videoAt[pair.videoSequence &+ renumber])
            #expect(at == videoLeft, "audio \(pair.audio) left at \(at), its video at \(videoLeft)")
            checked += 1
        }
        #expect(checked == pairs.count)
    }

    @Test func audioLossIsNACKedUpstreamAndTheBrowsersNACKsAreServed() throws {
        let peer = try peer(delay: .fixed(.zero))
        try peer.connect()
        for sequence: UInt16 in [10, 11, 13, 14] {
            try peer.send(rtp: audioPacket(sequence, timestamp: UInt32(sequence) * 960))
        }
        peer.advance(by: .milliseconds(20))
        let nacks = peer.rtcpReceived.compactMap { if case .nack(let n) = $0 { n } else { nil } }
        #expect(nacks.contains { $0.mediaSSRC == Self.audioSSRC && $0.lostSequenceNumbers == [12] })
        // No keyframe is asked for audio, whatever happens to its loss.
        peer.advance(by: .seconds(1))
        #expect(!peer.rtcpReceived.contains { if case .pictureLossIndication = $0 { true } else { false } })
        #expect(peer.engine.summary.contains("upstream loss 0 repaired 1 given up"))
        // The browser asks for one of our audio packets again: the same bytes, from history.
        let ours = try #require(audioSent(peer).last).packet
        let original = try #require(peer.rawRTP.last)
        let before = peer.rawRTP.count
        try peer.send(rtcp: [
            .receiverReport(.init(ssrc: 1)),
            .nack(
                RTCPGenericNACK(
                    senderSSRC: 1, mediaSSRC: Self.ourAudioSSRC, lostSequenceNumbers: [ours.sequenceNumber])),
        ])
        #expect(peer.rawRTP.count == before + 1)
        #expect(peer.rawRTP.last == original)
    }

    /// Once the browser reports its own clock for a stream, our SR on that stream says the same of
    /// our RTP times, shifted by the starting delay: capture times, not sending times.
    @Test func senderReportsCarryTheBrowsersCaptureClockShiftedByTheDelay() throws {
        let peer = try peer(delay: .fixed(.seconds(2)))
        try peer.connect()
        try peer.send(rtp: audioPacket(1, timestamp: 48_000))
        // The browser: RTP 48 000 was captured at NTP 3 000 000 000.5 s.
        let captured: UInt64 = 3_000_000_000 << 32 | 1 << 31
        try peer.send(rtcp: [
            .senderReport(
                .init(ssrc: Self.audioSSRC, ntpTime: captured, rtpTime: 48_000, packetCount: 1, octetCount: 6)
            )
        ])
        for i in 2...200 {
            peer.advance(by: .milliseconds(20))
            try peer.send(rtp: audioPacket(UInt16(i), timestamp: 48_000 + UInt32(i - 1) * 960))
        }
        let reports = peer.rtcpReceived.compactMap { if case .senderReport(let sr) = $0 { sr } else { nil } }
            .filter { $0.ssrc == Self.ourAudioSSRC }
        let report = try #require(reports.last)
        // Our RTP time r is the browser's r − 96 000 (the 2 s offset at 48 kHz), captured at
        // 3e9.5 s + (r − 96 000 − 48 000) / 48 000 s; ours says 2 s later.
        let ticks = Int64(report.rtpTime) - 96_000 - 48_000
        let expected = Double(captured) / 4_294_967_296 + Double(ticks) / 48_000 + 2
        let said = Double(report.ntpTime) / 4_294_967_296
        #expect(abs(said - expected) < 1e-6, "SR says \(said), expected \(expected)")
        // The wall clock (1 700 000 000 s since 1970 in MemoryPeer) is not what it says.
        #expect(abs(said - Double(NTPTime.from(unixSeconds: 1_700_000_000)) / 4_294_967_296) > 1000)
    }
}

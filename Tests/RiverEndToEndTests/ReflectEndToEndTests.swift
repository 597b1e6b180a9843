import Foundation
import Testing

/// `river serve --reflect` against Debian's headless Chromium (flags in DESIGN.md). Browser tests
/// run one at a time: each costs a good part of a core.
@Suite(.serialized) struct ReflectEndToEndTests {
    @Test func chromiumVideoComesBackDecodedAndRampsUp() async throws {
        let serve = try await ServeProcess()
        defer { serve.stop() }
        let result = try await runChromiumReflect(against: serve, audio: false)
        #expect(result["status"] as? Int == 201)
        let final = try #require(result["final"] as? [String: Any], "no stats: \(result)")
        let encoded = try #require(final["framesEncoded"] as? Int, "\(final)")
        let decoded = try #require(final["framesDecoded"] as? Int, "\(final)")
        #expect(final["connectionState"] as? String == "connected")
        #expect(encoded > 100, "10 s at 30 fps should encode far more than 100 frames: \(final)")
        #expect(Double(decoded) >= 0.8 * Double(encoded), "decoded \(decoded) of \(encoded)")
        #expect(final["inboundCodec"] as? String == "video/H264")
        let bitrate = try #require(result["maxSendBitrate"] as? Double)
        #expect(bitrate > 1_000_000, "the sender never passed 1 Mbps (REMB): \(bitrate)")
        // The page hung up with DELETE: the session is gone.
        #expect(try await eventually { try await serve.sessionCount() == 0 })
    }

    @Test func offerWithAudioStillConnectsAndAudioIsRejected() async throws {
        let serve = try await ServeProcess()
        defer { serve.stop() }
        let result = try await runChromiumReflect(against: serve, audio: true, seconds: 6)
        #expect(result["status"] as? Int == 201)
        let answer = try #require(result["answer"] as? String)
        #expect(answer.contains("m=audio 0 "), "audio must be rejected with port 0:\n\(answer)")
        let final = try #require(result["final"] as? [String: Any], "no stats: \(result)")
        #expect(final["connectionState"] as? String == "connected")
        #expect((final["framesDecoded"] as? Int ?? 0) > 30, "\(final)")
        #expect(final["inboundCodec"] as? String == "video/H264")
        let transceivers = try #require(final["transceivers"] as? [[String: Any]])
        // A rejected section stops its transceiver (JSEP §5.10); Chromium then drops it.
        let audioSending = transceivers.contains {
            $0["kind"] as? String == "audio"
                && ["sendonly", "sendrecv"].contains($0["currentDirection"] as? String ?? "")
        }
        #expect(!audioSending, "\(transceivers)")
        #expect((final["audioPacketsSent"] as? Int ?? 0) == 0, "\(final)")
    }

    @Test func badInputAtThePortNeitherAnswersNorDisturbsALiveSession() async throws {
        let serve = try await ServeProcess()
        defer { serve.stop() }
        let result = try await runChromiumReflect(against: serve, audio: false, seconds: 8, noise: true)
        #expect(result["status"] as? Int == 201)
        let noiseSent = result["noiseSent"] as? Int ?? 0
        #expect(noiseSent > 300, "only \(noiseSent) bad datagrams sent")
        #expect(result["controlReply"] as? Bool == true, "a correct connectivity check went unanswered")
        #expect(result["noiseReplies"] as? Int == 0, "bad STUN or garbage got an answer")
        let samples = try #require(result["samples"] as? [[String: Any]])
        let decoded = samples.map { $0["framesDecoded"] as? Int ?? 0 }
        #expect(
            decoded.count >= 6 && decoded.last! > decoded[decoded.count / 2], "decoding stalled: \(decoded)")
        let final = try #require(samples.last)
        #expect(final["connectionState"] as? String == "connected")
        let encoded = final["framesEncoded"] as? Int ?? 0
        #expect(Double(decoded.last!) >= 0.8 * Double(encoded), "decoded \(decoded.last!) of \(encoded)")
        #expect(serve.child.process.isRunning)
        // Every kind of garbage was dropped and counted where it landed.
        let counters = try await serve.debugCounters()
        #expect((counters["stunRejected"] ?? 0) >= noiseSent / 6, "\(counters)")
        #expect((counters["droppedBySessions"] ?? 0) > 0, "\(counters)")
        #expect((counters["droppedUnknownKind"] ?? 0) > 0, "\(counters)")
    }

    @Test func signallingRejectsBadOffersWithAReason() async throws {
        let serve = try await ServeProcess()
        defer { serve.stop() }
        let garbage = try await serve.request("POST", "/whip", body: "hello", contentType: "application/sdp")
        #expect(garbage.status == 400)
        #expect(garbage.body.contains("offer rejected: "), "\(garbage.body)")
        let noVideo = try await serve.request(
            "POST", "/whip",
            body:
                "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n",
            contentType: "application/sdp")
        #expect(noVideo.status == 400)
        #expect(noVideo.body.contains("video"), "\(noVideo.body)")
        let wrongType = try await serve.request("POST", "/whip", body: "{}", contentType: "application/json")
        #expect(wrongType.status == 415)
        let unknown = try await serve.request("DELETE", "/whip/nosuchsession")
        #expect(unknown.status == 404)
        #expect(try await serve.sessionCount() == 0)
    }
}

func eventually(timeout: Duration = .seconds(15), _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(200))
    }
    return try await condition()
}

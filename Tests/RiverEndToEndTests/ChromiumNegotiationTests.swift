import Foundation
import Testing

@testable import RiverSDP

/// Negotiates with live headless Chromium through `scripts/browser/negotiate.py`: Chromium makes
/// each offer of capture_offers.py, river answers, Chromium must accept the answer.
@Suite(.timeLimit(.minutes(3))) struct ChromiumNegotiationTests {
    struct Outcome: Decodable {
        var scenario: String
        var ok: Bool
        var error: String?
        var signalingState: String
        var transceivers: [Transceiver]
        var sctp: Bool
    }

    struct Transceiver: Decodable {
        var mid: String?
        var currentDirection: String?
        var codecs: [String]
    }

    /// Answer options as `river serve` fills them in (those of RiverSDPTests' `testOptions`).
    static let options = AnswerOptions(
        iceUfrag: "rvUf", icePwd: "riverpasswordriverpass",
        fingerprintSHA256: (0..<32).map { String(format: "%02X", $0 * 7 % 256) }.joined(separator: ":"),
        candidates: HostCandidate.list(addresses: ["127.0.0.1", "::1"], port: 40_000),
        h264Profiles: ["42e0", "4200", "4d00"], dataChannels: true, sendSSRC: 0x1234_5678, sessionID: 42)

    @Test func chromiumAcceptsRiversAnswers() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", repo.appendingPathComponent("scripts/browser/negotiate.py").path]
        let toScript = Pipe()
        let fromScript = Pipe()
        process.standardInput = toScript
        process.standardOutput = fromScript
        try process.run()
        // The script kills its browser when stdin closes or on SIGTERM; the watchdog bounds a hang.
        let watchdog = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + 150, execute: watchdog)
        defer {
            watchdog.cancel()
            try? toScript.fileHandleForWriting.close()
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
        }

        var reader = LineReader(handle: fromScript.fileHandleForReading)
        var outcomes: [String: (Outcome, NegotiatedSession)] = [:]
        while let line = reader.next() {
            let object = try #require(
                try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            if object["done"] != nil { break }
            let name = try #require(object["scenario"] as? String)
            let offer = try #require(object["offer"] as? String, "expected an offer for \(name)")
            let answer = try OfferAnswer.answer(offer: offer, options: Self.options)
            let reply = try JSONSerialization.data(withJSONObject: ["answer": answer.sdp]) + Data("\n".utf8)
            toScript.fileHandleForWriting.write(reply)
            let line = reader.next()
            let result = try #require(line, "no result for \(name)")
            outcomes[name] = (
                try JSONDecoder().decode(Outcome.self, from: Data(result.utf8)), answer.negotiated
            )
        }

        // Every Chromium offer RiverSDPTests answers from its fixtures was negotiated live here
        // (the Firefox ones come from capture_firefox_offer.py).
        let fixtures = try FileManager.default.contentsOfDirectory(
            atPath: repo.appendingPathComponent("Tests/RiverSDPTests/Fixtures").path)
        #expect(
            Set(outcomes.keys)
                == Set(
                    fixtures.filter { $0.hasPrefix("chromium-") && $0.hasSuffix(".sdp") }.map {
                        String($0.dropLast(4))
                    })
        )
        for (name, (outcome, negotiated)) in outcomes {
            #expect(outcome.ok, "\(name): \(outcome.error ?? "")")
            #expect(outcome.signalingState == "closed" || outcome.signalingState == "stable", "\(name)")
            let video = try #require(outcome.transceivers.first { $0.mid == negotiated.videoMid }, "\(name)")
            let h264 = "video/H264/\(negotiated.videoPayloadType)"
            if negotiated.videoDirection == "sendonly" {
                // A viewer's offer (recvonly): its receiver takes the format river sends.
                #expect(video.codecs.contains(h264), "\(name): \(video.codecs)")
            } else {
                #expect(video.codecs == [h264], "\(name)")
            }
            // The offerer's view of river's answer, mirrored (RFC 3264 §6.1).
            let expectedDirection =
                ["sendrecv": "sendrecv", "recvonly": "sendonly", "sendonly": "recvonly"][
                    negotiated.videoDirection]
            #expect(video.currentDirection == expectedDirection, "\(name)")
            #expect(outcome.sctp == negotiated.dataChannelAccepted, "\(name)")
        }
    }
}

/// Blocking line reader over a pipe; `nil` at end of file.
struct LineReader {
    let handle: FileHandle
    var buffer = Data()

    init(handle: FileHandle) { self.handle = handle }

    mutating func next() -> String? {
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = buffer[buffer.startIndex..<newline]
                buffer.removeSubrange(buffer.startIndex...newline)
                return String(decoding: line, as: UTF8.self)
            }
            let chunk = handle.availableData
            if chunk.isEmpty { return nil }
            buffer.append(chunk)
        }
    }
}

import Foundation
import Testing

/// Data channels of `river serve --reflect` in Debian's headless Chromium: echo, a channel the
/// server opens, closing from both sides, the association freed with the session, and the
/// one-way throughput figure. An extension of the reflect suite so that its `.serialized` trait
/// keeps all browser tests one at a time (a 2-core CI box cannot run two Chromiums and keep the
/// reflect test's frame counts honest).
extension ReflectEndToEndTests {
    @Test func chromiumMessagesEchoInOrderAndChannelsAndAssociationAreFreed() async throws {
        let serve = try await ServeProcess()
        defer { serve.stop() }
        let result = try await runChromiumDataChannels(against: serve, count: 1000, megabytes: 16)
        #expect(result["status"] as? Int == 201)
        let answer = try #require(result["answer"] as? String)
        #expect(answer.contains("m=application 9 UDP/DTLS/SCTP webrtc-datachannel"), "\(answer)")
        #expect(answer.contains("a=max-message-size:262144"))

        // 1,000 messages, 0 B to 64 KiB, half text, came back in order and byte-identical.
        let echo = try #require(result["echo"] as? [String: Any], "\(result)")
        #expect(echo["received"] as? Int == 1000, "\(echo)")
        #expect(echo["mismatches"] as? Int == 0, "\(echo)")
        #expect(echo["text"] as? Int == 500)
        #expect(echo["empty"] as? Int == 100)
        #expect((echo["bytes"] as? Int ?? 0) > 10_000_000)
        #expect(echo["channelId"] as? Int == 0, "the page (DTLS client) uses even stream ids")
        #expect(echo["maxMessageSize"] as? Int == 262_144)

        // River's own channel: odd stream id (river is the DTLS server), every message received in
        // order, and closed by river after the page answered.
        let server = try #require(result["server"] as? [String: Any], "\(result)")
        #expect(server["label"] as? String == "river-server")
        #expect(server["id"] as? Int == 1)
        #expect(server["closed"] as? Bool == true)
        let messages = try #require(server["messages"] as? [Any])
        #expect(messages.count == 20)
        for (index, message) in messages.enumerated() {
            if index % 2 == 0 {
                #expect(message as? String == "server message \(index)")
            } else {
                let bytes = (0..<(index * 100)).map { UInt8(truncatingIfNeeded: $0 &+ index) }
                let digest = message as? [String: Any]
                #expect(digest?["length"] as? Int == bytes.count, "message \(index): \(message)")
                #expect(digest?["fnv1a"] as? Int == Int(fnv1a(bytes)), "message \(index)")
            }
        }
        #expect((result["duringSession"] as? [String: Any])?["associations"] as? Int == 1)

        // One way, Chromium → river, counted by river.
        let throughput = try #require(result["throughput"] as? [String: Any], "\(result)")
        #expect(throughput["bytes"] as? Int == throughput["bytesSent"] as? Int, "\(throughput)")
        let rate = throughput["megabytesPerSecond"] as? Double ?? 0
        print(
            "data channel throughput, Chromium → river, one way: \(String(format: "%.1f", rate)) MB/s (\(throughput))"
        )

        // Closing "river" from the page and river's channel from river left no channel behind;
        // ending the session freed the SCTP association.
        #expect(result["riverState"] as? String == "closed")
        #expect((result["afterChannelsClosed"] as? [String: Any])?["channels"] as? Int == 0, "\(result)")
        #expect((result["afterSessionClosed"] as? [String: Any])?["associations"] as? Int == 0, "\(result)")
        #expect((result["afterSessionClosed"] as? [String: Any])?["channels"] as? Int == 0)
        // A second session, closed by the page alone (pc.close(), no DELETE), frees it too.
        #expect((result["secondEcho"] as? [String: Any])?["mismatches"] as? Int == 0, "\(result)")
        #expect((result["secondDuring"] as? [String: Any])?["associations"] as? Int == 1)
        #expect((result["afterPeerClosed"] as? [String: Any])?["associations"] as? Int == 0, "\(result)")
        #expect(try await eventually { try await serve.sessionCount() == 0 })
        #expect(serve.child.process.isRunning)
    }
}

private func fnv1a(_ bytes: [UInt8]) -> UInt32 {
    bytes.reduce(UInt32(0x811C_9DC5)) { ($0 ^ UInt32($1)) &* 0x0100_0193 }
}

/// Runs scripts/e2e/datachannel_check.py (headless Chromium) against `serve`, decodes its JSON.
func runChromiumDataChannels(against serve: ServeProcess, count: Int, megabytes: Int) async throws
    -> [String: Any]
{
    let clip = repositoryRoot.appendingPathComponent("fixtures/reflect-640x480.y4m")
    try #require(
        FileManager.default.fileExists(atPath: clip.path),
        "missing \(clip.path): run scripts/setup.sh (make_fixtures.sh)")
    let command = [
        "python3", repositoryRoot.appendingPathComponent("scripts/e2e/datachannel_check.py").path,
        "--url", serve.baseURL.absoluteString + "/", "--y4m", clip.path, "--count", "\(count)",
        "--megabytes", "\(megabytes)",
    ]
    // One browser at a time across suites (BrowserSlot).
    let (status, output) = try await BrowserSlot.shared.hold {
        let driver = try ChildProcess(URL(fileURLWithPath: "/usr/bin/env"), command)
        defer { driver.stop() }
        let status = await driver.waitForExit(timeout: .seconds(480))
        return (status, driver.output)
    }
    try #require(status == 0, "datachannel_check.py failed (\(String(describing: status))):\n\(output)")
    let line = try #require(
        output.split(separator: "\n").last { $0.hasPrefix("{") }, "no JSON in:\n\(output)")
    return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
}

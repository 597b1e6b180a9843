import Foundation
import Testing

/// WHIP access control (RFC 9725 §4.5) on the built binary: `river serve --proxy … --token-file`.
/// The proxy address is closed on purpose: sessions are created and ended, never connected.
@Suite(.serialized) struct AccessTokenEndToEndTests {
    static let token = "s3cret-\(UUID().uuidString)"

    static func offer() throws -> String {
        try String(
            contentsOf: repositoryRoot.appendingPathComponent(
                "Tests/RiverSDPTests/Fixtures/chromium-video-sendrecv.sdp"),
            encoding: .utf8)
    }

    static func tokenFile() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "river-token-\(UUID().uuidString)")
        try Data((token + "\n").utf8).write(to: url)
        return url
    }

    func get(_ serve: ServeProcess, _ path: String, token: String?) async throws -> (Int, String) {
        let response = try await serve.request(
            "GET", path, headers: token.map { ["Authorization": "Bearer \($0)"] } ?? [:])
        return (response.status, response.body)
    }

    @Test func withoutTheTokenNothingIsAllocatedAndWithItSessionsWork() async throws {
        let file = try Self.tokenFile()
        defer { try? FileManager.default.removeItem(at: file) }
        let serve = try await ServeProcess(
            mode: ["--proxy", "tcp://127.0.0.1:9"], extraArguments: ["--token-file", file.path])
        defer { serve.stop() }
        let offer = try Self.offer()
        let good = ["Authorization": "Bearer \(Self.token)"]

        for headers in [[:], ["Authorization": "Bearer wrong"], ["Authorization": "Basic \(Self.token)"]] {
            let refused = try await serve.request(
                "POST", "/whip", body: offer, contentType: "application/sdp", headers: headers)
            #expect(refused.status == 401, "\(headers)")
            let challenge = refused.headers.first { ($0.key as? String)?.lowercased() == "www-authenticate" }?
                .value
            #expect((challenge as? String)?.hasPrefix("Bearer") == true, "\(refused.headers)")
        }
        #expect(try await get(serve, "/debug/sessions", token: nil).0 == 401)
        #expect(try await get(serve, "/metrics", token: "wrong").0 == 401)
        #expect(try await get(serve, "/healthz", token: nil).0 == 200)
        #expect(try await get(serve, "/", token: nil).0 == 200)  // the page asks for the token itself
        // The refused offers left nothing behind: no session, no decode thread.
        let (status, body) = try await get(serve, "/debug/sessions", token: Self.token)
        #expect(status == 200)
        let idle = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Int])
        #expect(idle["sessions"] == 0 && idle["pipelineThreads"] == 0, "\(idle)")

        let created = try await serve.request(
            "POST", "/whip", body: offer, contentType: "application/sdp", headers: good)
        #expect(created.status == 201, "\(created.body)")
        let location = try #require(created.headers["Location"] as? String)
        let id = String(location.dropFirst("/whip/".count))
        #expect(location.hasPrefix("/whip/") && id.count >= 26, "\(location)")  // ≥ 128 bits
        // The session exists; its decode thread comes only once it connects (admission).
        let live = try await get(serve, "/debug/sessions", token: Self.token)
        #expect(live.1.contains("\"sessions\": 1") && live.1.contains("\"pipelineThreads\": 0"), "\(live.1)")

        #expect(try await serve.request("DELETE", location).status == 401)
        #expect(try await serve.request("DELETE", location, headers: good).status == 200)
        #expect(try await get(serve, "/metrics", token: Self.token).0 == 200)
        let after = try await get(serve, "/debug/sessions", token: Self.token)
        #expect(after.1.contains("\"sessions\": 0"), "\(after.1)")
        #expect(!serve.child.output.contains(id), "the log holds a full session id")
    }

    /// `--admin-port`: `/metrics` and `/debug/*` leave the public port (even with the token) for a
    /// plain-HTTP port on loopback only, which needs no token.
    @Test func anAdminPortOnLoopbackServesMetricsAndDebugWithoutTheToken() async throws {
        let file = try Self.tokenFile()
        defer { try? FileManager.default.removeItem(at: file) }
        let serve = try await ServeProcess(
            mode: ["--proxy", "tcp://127.0.0.1:9"],
            extraArguments: ["--token-file", file.path, "--admin-port", "0"])
        defer { serve.stop() }
        _ = try await eventually(timeout: .seconds(10)) { serve.child.output.contains("river serve admin: ") }
        let line = try #require(
            serve.child.output.split(separator: "\n").first { $0.hasPrefix("river serve admin: ") },
            "\(serve.child.output)")
        let admin = try #require(URL(string: String(line.dropFirst("river serve admin: ".count))), "\(line)")
        let port = try #require(admin.port)
        #expect(admin.host == "127.0.0.1" && port != serve.httpPort, "\(line)")

        for path in ["/metrics", "/debug/sessions", "/debug/datachannels"] {
            #expect(try await get(serve, path, token: Self.token).0 == 404, "\(path) on the public port")
            let (status, body) = try await get(serve, admin.absoluteString + path.dropFirst(), token: nil)
            #expect(status == 200, "\(path) on the admin port: \(body)")
        }
        let metrics = try await get(serve, admin.absoluteString + "metrics", token: nil).1
        #expect(metrics.contains("river_sessions "), "\(metrics)")
        // The admin port has the WHIP routes of neither kind, and the page stays public.
        let offer = try Self.offer()
        let refused = try await serve.request(
            "POST", admin.absoluteString + "whip", body: offer, contentType: "application/sdp")
        #expect(refused.status == 404)
        #expect(try await get(serve, "/healthz", token: nil).0 == 200)
        // Bound to loopback alone: the kernel's table of listening sockets says 127.0.0.1.
        let listening = try String(contentsOfFile: "/proc/net/tcp", encoding: .utf8)
        let local = String(format: ":%04X ", port)
        let rows = listening.split(separator: "\n").filter { $0.contains(local) && $0.contains(" 0A ") }
        #expect(!rows.isEmpty && rows.allSatisfy { $0.contains("0100007F\(local)") }, "\(rows)")
    }

    @Test func anUnusableTokenFileStopsTheStartNamingTheFile() async throws {
        let missing = "/nonexistent/river-token-\(UUID().uuidString)"
        let child = try ChildProcess(
            try riverBinary(),
            ["serve", "--reflect", "--host", "127.0.0.1", "--http-port", "0", "--token-file", missing])
        defer { child.stop() }
        let status = await child.waitForExit(timeout: .seconds(20))
        #expect(status != nil && status != 0)
        #expect(child.output.contains(missing), "\(child.output)")
    }
}

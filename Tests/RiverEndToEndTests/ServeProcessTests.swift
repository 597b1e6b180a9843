import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `river serve --reflect` stopped by a signal, as `river up`, systemd or Ctrl-C stop it: it
/// closes its sessions and sockets and exits with status 0 within a few seconds.
@Suite struct ServeProcessTests {
    @Test(arguments: [SIGTERM, SIGINT])
    func serveExitsZeroPromptlyOnAStopSignal(signal: Int32) async throws {
        let serve = try await ServeProcess()
        defer { serve.stop() }
        // A session that has signalled but not connected: it is closed on the way out.
        let offer = try String(
            contentsOf: repositoryRoot.appendingPathComponent(
                "Tests/RiverSDPTests/Fixtures/chromium-video-sendrecv.sdp"), encoding: .utf8)
        let answer = try await serve.request("POST", "/whip", body: offer, contentType: "application/sdp")
        #expect(answer.status == 201, "\(answer.body)")
        #expect(try await serve.sessionCount() == 1)

        let sent = ContinuousClock.now
        kill(serve.child.process.processIdentifier, signal)
        let status = await serve.child.waitForExit(timeout: .seconds(10))
        let took = ContinuousClock.now - sent
        #expect(status == 0, "exit status \(String(describing: status)):\n\(serve.child.output)")
        #expect(serve.child.process.terminationReason == .exit, "ended by a signal")
        #expect(took < .seconds(5), "took \(took) to stop")
    }

    /// A socket bound to a free port of 127.0.0.1, held open so serve cannot have it.
    static func occupiedPort(_ type: Int32) throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, type, 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        try #require(bound && (type != Int32(SOCK_STREAM.rawValue) || listen(fd, 1) == 0))
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    /// A port in use stops the start with one line naming the port and the option that moves it.
    @Test(arguments: ["--udp-port", "--http-port"])
    func aPortInUseIsNamedWithItsOption(option: String) async throws {
        let taken = try Self.occupiedPort(
            option == "--udp-port" ? Int32(SOCK_DGRAM.rawValue) : Int32(SOCK_STREAM.rawValue))
        defer { close(taken.fd) }
        let ports =
            option == "--udp-port"
            ? ["--udp-port", "\(taken.port)", "--http-port", "0"]
            : ["--udp-port", "0", "--http-port", "\(taken.port)"]
        let child = try ChildProcess(
            try riverBinary(),
            ["serve", "--reflect", "--host", "127.0.0.1"] + ports)
        defer { child.stop() }
        let status = await child.waitForExit(timeout: .seconds(20))
        #expect(status != nil && status != 0)
        #expect(
            child.output.contains("127.0.0.1:\(taken.port)") && child.output.contains("already in use"),
            "\(child.output)")
        #expect(child.output.contains("choose another with \(option)"), "\(child.output)")
    }

    /// Past `--max-sessions`, a WHIP offer gets 503 with Retry-After and allocates nothing.
    @Test func offersPastMaxSessionsGet503WithRetryAfter() async throws {
        let serve = try await ServeProcess(extraArguments: ["--max-sessions", "1"])
        defer { serve.stop() }
        let offer = try String(
            contentsOf: repositoryRoot.appendingPathComponent(
                "Tests/RiverSDPTests/Fixtures/chromium-video-sendrecv.sdp"), encoding: .utf8)
        let first = try await serve.request("POST", "/whip", body: offer, contentType: "application/sdp")
        #expect(first.status == 201, "\(first.body)")
        let second = try await serve.request("POST", "/whip", body: offer, contentType: "application/sdp")
        #expect(second.status == 503, "\(second.body)")
        #expect(second.headers["Retry-After"] as? String == "5", "\(second.headers)")
        #expect(second.body.contains("--max-sessions"))
        #expect(try await serve.sessionCount() == 1)
    }

    /// Live but not ready: with no proxy answering, /healthz is 200 and /readyz 503 with the reason.
    @Test func withoutAProxyServeIsLiveButNotReady() async throws {
        let serve = try await ServeProcess(mode: ["--proxy", "tcp://127.0.0.1:9"])
        defer { serve.stop() }
        #expect(try await serve.request("GET", "/healthz").status == 200)
        let ready = try await serve.request("GET", "/readyz")
        #expect(ready.status == 503, "\(ready.body)")
        #expect(ready.body.contains("no answer from the proxy"), "\(ready.body)")
    }
}

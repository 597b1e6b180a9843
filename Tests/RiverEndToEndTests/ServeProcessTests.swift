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
}

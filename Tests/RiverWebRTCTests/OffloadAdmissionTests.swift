import NIOConcurrencyHelpers
import RiverDTLS
import RiverSession
import Testing

@testable import RiverWebRTC

/// A session's offload (its decoder thread and inference share in serve) exists only once the
/// session has connected: offers that never get through ICE and DTLS cost neither.
@Suite struct OffloadAdmissionTests {
    final class CountingOffload: SessionOffload {
        func decode(_ job: AccessUnitJob) {}
        func infer(_ job: InferenceJob) {}
        func close() {}
    }

    @Test func theOffloadIsMadeWhenTheSessionConnects() async throws {
        let server = try await WebRTCServer.bind(.init(host: "127.0.0.1", port: 0))
        let peer = try await FakePeer(
            server: server.localAddress, certificate: try DTLSCertificate(commonName: "o"))
        defer {
            Task {
                await peer.close()
                try? await server.shutdown()
            }
        }
        let made = NIOLockedValueBox(0)
        let log = EventLog()
        let session = peer.sessionConfiguration(id: "o")
        try await server.open(
            session,
            makeOffload: { _ in
                made.withLockedValue { $0 += 1 }
                return CountingOffload()
            }, onEvent: log.handler)
        // A valid check alone does not connect the session.
        try await peer.send(peer.bindingRequest(to: session))
        _ = await peer.receive(.stun)
        try await Task.sleep(for: .milliseconds(100))
        #expect(made.withLockedValue { $0 } == 0)
        try await peer.connect(to: session)
        #expect(await waitUntil { log.contains(.connected) })
        #expect(made.withLockedValue { $0 } == 1)
    }
}

import Foundation
import Logging
import RiverWebRTC
import Testing

@testable import RiverServe

@Suite struct ReflectServiceTests {
    static func fixture(_ name: String) throws -> String {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("RiverSDPTests/Fixtures/\(name).sdp")
        return try String(contentsOf: url, encoding: .utf8)
    }

    static func service() async throws -> ReflectService {
        let server = try await WebRTCServer.bind(.init(host: "127.0.0.1", port: 0))
        return ReflectService(
            server: server, candidateAddresses: ["127.0.0.1"], rembBitrate: 2_500_000,
            logger: Logger(label: "test"))
    }

    @Test func fiftyWHIPCyclesEndWithZeroSessions() async throws {
        let service = try await Self.service()
        defer { Task { try? await service.server.shutdown() } }
        let offer = try Self.fixture("chromium-video-sendrecv")
        for _ in 0..<50 {
            let (id, answer) = try await service.createSession(offer: offer)
            #expect(answer.contains("a=ice-lite"))
            #expect(answer.contains("a=setup:passive"))
            #expect(answer.contains("127.0.0.1 \(service.server.port) typ host"))
            #expect(try await service.sessionCount() == 1)
            #expect(try await service.endSession(id: id))
            #expect(try await service.endSession(id: id) == false)
        }
        #expect(try await service.sessionCount() == 0)
        #expect(try await service.server.routeCount() == 0)
    }

    @Test func rejectsOffersReflectCannotServe() async throws {
        let service = try await Self.service()
        defer { Task { try? await service.server.shutdown() } }
        await #expect(throws: OfferRejected.self) { try await service.createSession(offer: "not sdp") }
        // sendonly video: nothing to reflect into.
        let error = await #expect(throws: OfferRejected.self) {
            try await service.createSession(offer: try Self.fixture("chromium-video-sendonly"))
        }
        #expect(error?.reason.contains("sendrecv") == true)
        #expect(try await service.sessionCount() == 0)
    }
}

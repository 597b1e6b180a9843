import Foundation
import Logging
import RiverBroker
import RiverWebRTC
import Testing

@testable import RiverServe

@Suite(.serialized) struct PipelineServiceTests {
    static func service() async throws -> (PipelineService, BrokerClient) {
        let server = try await WebRTCServer.bind(.init(host: "127.0.0.1", port: 0))
        // Nothing listens there: sessions that never connect never send a request.
        let client = BrokerClient(connect: "tcp://127.0.0.1:9")
        let service = PipelineService(
            server: server, candidateAddresses: ["127.0.0.1"], rembBitrate: 2_500_000,
            delay: .fixed(.seconds(3)), backend: client, logger: Logger(label: "test"))
        return (service, client)
    }

    @Test func whipCyclesEndWithZeroSessionsAndNoPipelineThreads() async throws {
        let (service, client) = try await Self.service()
        defer {
            client.close()
            Task { try? await service.server.shutdown() }
        }
        let offer = try ReflectServiceTests.fixture("chromium-video-sendrecv")
        for _ in 0..<20 {
            let (id, answer) = try await service.createSession(offer: offer)
            #expect(answer.contains("a=ice-lite"))
            #expect(try await service.sessionCount() == 1)
            #expect(try await service.endSession(id: id))
        }
        #expect(try await service.sessionCount() == 0)
        #expect(try await service.server.routeCount() == 0)
        // A session leaves the table only after its pipeline thread was joined (PipelineStream.stop).
        #expect(try await service.debugCounters()["pipelines"] == 0)
    }

    @Test func rejectsOffersWithoutAVideoToSendBack() async throws {
        let (service, client) = try await Self.service()
        defer {
            client.close()
            Task { try? await service.server.shutdown() }
        }
        let error = await #expect(throws: OfferRejected.self) {
            try await service.createSession(offer: try ReflectServiceTests.fixture("chromium-video-sendonly"))
        }
        #expect(error?.reason.contains("sendrecv") == true)
    }
}

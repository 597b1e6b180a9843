import Foundation
import Logging
import RiverBroker
import RiverCore
import RiverResults
import RiverSession
import RiverWebRTC
import Testing

@testable import RiverServe

/// The WHIP side of ``SessionService`` against a real ``WebRTCServer`` on 127.0.0.1: sessions
/// that are answered and ended, in reflect and pipeline mode, leave nothing behind.
@Suite(.serialized) struct SessionServiceTests {
    static func fixture(_ name: String) throws -> String {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("RiverSDPTests/Fixtures/\(name).sdp")
        return try String(contentsOf: url, encoding: .utf8)
    }

    /// Never called: these sessions never connect, so they never decode.
    struct Unreachable: InferenceBackend {
        func infer(
            _ frame: VideoFrame, streamID: UInt64, deadline: Instant,
            completion: @escaping @Sendable (InferenceOutcome) -> Void
        ) {
            completion(.failed(.noWorker))
        }
    }

    /// Limits that let a test post as fast as it likes from one address.
    static var unlimited: SessionService.Limits {
        var limits = SessionService.Limits()
        limits.postsPerSecond = 10_000
        limits.postBurst = 10_000
        return limits
    }

    static func service(pipeline: Bool, limits: SessionService.Limits = unlimited) async throws
        -> SessionService
    {
        let server = try await WebRTCServer.bind(.init(host: "127.0.0.1", port: 0))
        return SessionService(
            server: server, candidateAddresses: ["127.0.0.1"], rembBitrate: 2_500_000,
            pipeline: pipeline ? .init(delay: .fixed(.seconds(3)), backend: Unreachable()) : nil,
            limits: limits, logger: Logger(label: "test"))
    }

    @Test(arguments: [false, true])
    func whipCyclesEndWithZeroSessionsRoutesAndThreads(pipeline: Bool) async throws {
        let service = try await Self.service(pipeline: pipeline)
        defer { Task { try? await service.server.shutdown() } }
        let offer = try Self.fixture("chromium-video-sendrecv")
        for _ in 0..<30 {
            let (id, answer) = try await service.createSession(offer: offer, from: "127.0.0.1")
            #expect(answer.contains("a=ice-lite"))
            #expect(answer.contains("a=setup:passive"))
            #expect(answer.contains("127.0.0.1 \(service.server.port) typ host"))
            #expect(try await service.sessionCount() == 1)
            #expect(try await service.endSession(id: id))
            #expect(try await service.endSession(id: id) == false)
        }
        #expect(try await service.sessionCount() == 0)
        #expect(try await service.server.routeCount() == 0)
        if pipeline {
            // A session leaves the table only after its decode thread was joined.
            let counters = try await service.debugCounters()
            #expect(counters["pipelines"] == 0 && counters["pipelineThreads"] == 0)
        }
    }

    /// Firefox under max-bundle offers its data channel as `m=application 0` with
    /// `a=bundle-only`; river once answered only the video, and the page never got its results.
    @Test func firefoxsBundleOnlyDataChannelGetsAnAssociation() async throws {
        let offer = try Self.fixture("firefox-sendrecv-datachannel")
        let offeredMaxMessageSize = try #require(
            offer.split(separator: "\r\n").first { $0.hasPrefix("a=max-message-size:") }.flatMap {
                Int($0.dropFirst("a=max-message-size:".count))
            })
        let accepted = try AcceptedOffer(
            offer: offer, port: 40_000, tcpPort: 40_000, candidateAddresses: ["127.0.0.1"],
            rembBitrate: 2_500_000)
        #expect(accepted.negotiated.dataChannelMid == "1")
        let sctp = try #require(accepted.session.dataChannels)
        #expect(sctp.role == .server)
        #expect(sctp.remotePort == 5000)
        #expect(sctp.peerMaxMessageSize == offeredMaxMessageSize)

        let service = try await Self.service(pipeline: false)
        defer { Task { try? await service.server.shutdown() } }
        let (id, answer) = try await service.createSession(offer: offer, from: "127.0.0.1")
        #expect(answer.contains("a=group:BUNDLE 0 1"))
        #expect(answer.contains("m=application 9 UDP/DTLS/SCTP webrtc-datachannel"))
        #expect(!answer.contains("a=bundle-only"))
        #expect(try await service.endSession(id: id))
    }

    @Test func rejectsOffersRiverCannotServe() async throws {
        let service = try await Self.service(pipeline: false)
        defer { Task { try? await service.server.shutdown() } }
        await #expect(throws: OfferRejected.self) {
            try await service.createSession(offer: "not sdp", from: "127.0.0.1")
        }
        // sendonly video: nothing to send back into.
        let error = await #expect(throws: OfferRejected.self) {
            try await service.createSession(
                offer: try Self.fixture("chromium-video-sendonly"), from: "127.0.0.1")
        }
        #expect(error?.reason.contains("sendrecv") == true)
        #expect(try await service.sessionCount() == 0)
    }

    @Test func everyBrokerFailureBecomesAStatusThePageKnows() {
        let cases: [(BrokerError, ResultMessage.Status)] = [
            (.rejected(requestID: 1, code: .expired, message: ""), .expired),
            (.rejected(requestID: 1, code: .workerLost, message: ""), .workerLost),
            (.rejected(requestID: 1, code: .noWorker, message: ""), .noWorker),
            (.rejected(requestID: 1, code: .overloaded, message: ""), .saturated),
            (.rejected(requestID: 1, code: .workerFailed, message: ""), .workerFailed),
            (.timedOut(requestID: 1), .expired),
            (.notConnected(endpoint: "tcp://127.0.0.1:1"), .noWorker),
            (.connectionLost(requestID: 1), .workerLost),
        ]
        for (error, status) in cases {
            #expect(BrokerClient.outcome(.failure(error)) == .failed(status), "\(error)")
        }
    }
}

/// Admission in front of a real ``WebRTCServer``: refused offers allocate nothing, and a session
/// that never connects costs no decoder thread and leaves at its connect timeout.
@Suite(.serialized) struct SessionAdmissionTests {
    @Test func offersPastTheCapsAreRefusedAndAllocateNothing() async throws {
        var limits = SessionServiceTests.unlimited
        limits.sessions = 3
        limits.sessionsPerAddress = 2
        let service = try await SessionServiceTests.service(pipeline: true, limits: limits)
        defer { Task { try? await service.server.shutdown() } }
        let offer = try SessionServiceTests.fixture("chromium-video-sendrecv")
        _ = try await service.createSession(offer: offer, from: "192.0.2.1")
        _ = try await service.createSession(offer: offer, from: "192.0.2.1")
        let perAddress = await #expect(throws: SessionRefused.self) {
            try await service.createSession(offer: offer, from: "192.0.2.1")
        }
        #expect(perAddress?.status == .tooManyRequests)
        _ = try await service.createSession(offer: offer, from: "192.0.2.2")
        let full = await #expect(throws: SessionRefused.self) {
            try await service.createSession(offer: offer, from: "192.0.2.3")
        }
        #expect(full?.status == .serviceUnavailable)
        #expect(full?.retryAfter == 5)
        #expect(try await service.sessionCount() == 3)
        // None of them connected: no decoder thread exists for any.
        #expect(MediaWorker.liveThreads == 0)
        #expect(try await service.debugCounters()["pipelineThreads"] == 0)
    }

    @Test func aSessionThatNeverConnectsLeavesAtItsConnectTimeout() async throws {
        var limits = SessionServiceTests.unlimited
        limits.connectTimeout = .milliseconds(300)
        limits.sessions = 1
        let service = try await SessionServiceTests.service(pipeline: true, limits: limits)
        defer { Task { try? await service.server.shutdown() } }
        let offer = try SessionServiceTests.fixture("chromium-video-sendrecv")
        _ = try await service.createSession(offer: offer, from: "192.0.2.1")
        await #expect(throws: SessionRefused.self) {
            try await service.createSession(offer: offer, from: "192.0.2.9")
        }
        let deadline = ContinuousClock.now + .seconds(5)
        while try await service.sessionCount() > 0 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(try await service.sessionCount() == 0)
        // Its slot is free again.
        _ = try await service.createSession(offer: offer, from: "192.0.2.9")
    }

    /// WHEP: a recvonly offer becomes a viewer of a live session, within the session's viewer cap;
    /// the wrong kind of offer on either route gets the reason, and a viewer ends with its publisher.
    @Test func viewersAreAnsweredCappedAndEndedWithTheirPublisher() async throws {
        var limits = SessionServiceTests.unlimited
        limits.viewersPerSession = 1
        let service = try await SessionServiceTests.service(pipeline: true, limits: limits)
        defer { Task { try? await service.server.shutdown() } }
        let watch = try SessionServiceTests.fixture("chromium-video-recvonly-datachannel")
        await #expect(throws: ViewerRefused.noSuchSession) {
            try await service.createViewer(of: "nobody", offer: watch, from: "127.0.0.1")
        }
        let (publisher, _) = try await service.createSession(
            offer: try SessionServiceTests.fixture("chromium-video-sendrecv"), from: "127.0.0.1")
        // A recvonly offer is a viewer's, not a publisher's: WHIP says where to send it.
        let misplaced = await #expect(throws: OfferRejected.self) {
            try await service.createSession(offer: watch, from: "127.0.0.1")
        }
        #expect(misplaced?.reason.contains("/whep/") == true)
        let sending = await #expect(throws: OfferRejected.self) {
            try await service.createViewer(
                of: publisher, offer: try SessionServiceTests.fixture("chromium-video-sendrecv"), from: "127.0.0.1")
        }
        #expect(sending?.reason.contains("recvonly") == true)

        let (viewer, answer) = try await service.createViewer(of: publisher, offer: watch, from: "127.0.0.1")
        #expect(viewer != publisher)
        #expect(answer.contains("a=sendonly") && answer.contains("a=ssrc:"))
        #expect(answer.contains("m=application 9 UDP/DTLS/SCTP webrtc-datachannel"))
        #expect(service.liveSessions().map { $0.viewers } == [1], "a viewer is counted, not listed")
        #expect(try await service.sessionCount() == 2)
        await #expect(throws: ViewerRefused.tooManyViewers(limit: 1)) {
            try await service.createViewer(of: publisher, offer: watch, from: "127.0.0.1")
        }
        #expect(try await service.sessionCount() == 2, "a refused viewer allocates nothing")

        #expect(try await service.endSession(id: publisher))
        #expect(try await service.sessionCount() == 0)
        #expect(try await service.endSession(id: viewer) == false)
        #expect(try await service.server.routeCount() == 0)
    }
}

import Logging
import NIOCore
import RiverSDP
import RiverWebRTC

/// Answers WHIP offers with reflect sessions on one ``WebRTCServer``.
///
/// `@unchecked Sendable`: `sessions` is only touched on the server's event loop.
public final class ReflectService: WHIPSessionFactory, @unchecked Sendable {
    public let server: WebRTCServer
    /// Addresses announced as host candidates (the `--public-ip`s, or the bound address).
    public let candidateAddresses: [String]
    public let rembBitrate: UInt64
    private let logger: Logger
    private var sessions: [String: ReflectSession] = [:]

    public init(server: WebRTCServer, candidateAddresses: [String], rembBitrate: UInt64, logger: Logger) {
        self.server = server
        self.candidateAddresses = candidateAddresses
        self.rembBitrate = rembBitrate
        self.logger = logger
    }

    public func createSession(offer: String) async throws -> (id: String, answer: String) {
        let accepted = try AcceptedOffer(offer: offer, server: server, candidateAddresses: candidateAddresses)
        let (id, options, answer, negotiated) = (
            accepted.id, accepted.options, accepted.answer, accepted.negotiated
        )
        let (connection, outgoingSSRC) = (accepted.connection, accepted.outgoingSSRC)
        let session = ReflectSession(
            connection: connection, payloadType: negotiated.videoPayloadType, outgoingSSRC: outgoingSSRC,
            rembBitrate: rembBitrate)
        let sctp = DataChannelReflector.configuration(for: negotiated, options: options)
        try await server.eventLoop.submit {
            connection.sctpConfiguration = sctp
            session.onClosed = { [weak self] in self?.sessions[id] = nil }
            session.start()
            self.sessions[id] = session
            self.server.register(connection)
        }.get()
        logger.info(
            "session \(id): H264 pt \(negotiated.videoPayloadType) \(negotiated.h264ProfileLevelID), rejected \(negotiated.rejectedMids)"
        )
        return (id, answer.sdp)
    }

    public func endSession(id: String) async throws -> Bool {
        try await server.closeSession(id: id)
    }

    public func sessionCount() async throws -> Int {
        try await server.sessionCount()
    }

    public func debugCounters() async throws -> [String: Int] {
        let counters = try await server.counters()
        return [
            "sessions": try await server.sessionCount(), "datagramsReceived": counters.received,
            "droppedUnknownKind": counters.droppedUnknownKind, "droppedUnrouted": counters.droppedUnrouted,
            "droppedBySessions": counters.droppedBySessions, "stunRejected": counters.stunRejected,
        ]
    }
}

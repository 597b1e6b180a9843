import Logging
import NIOCore
import RiverSDP
import RiverWebRTC

/// Answers WHIP offers with pipeline sessions (`river serve --proxy …`) on one ``WebRTCServer``:
/// each session's video comes back delayed, with a result message per frame on data channel `river`.
///
/// `@unchecked Sendable`: `sessions` and `nextStreamID` are only touched on the server's event loop.
public final class PipelineService: WHIPSessionFactory, @unchecked Sendable {
    public let server: WebRTCServer
    public let candidateAddresses: [String]
    public let rembBitrate: UInt64
    public let delay: PipelineDelay
    public let backend: any InferenceBackend
    public let configuration: FramePipeline.Configuration
    public let metrics: ServeMetrics?
    private let logger: Logger
    private var sessions: [String: PipelineSession] = [:]
    private var nextStreamID: UInt64 = 1

    public init(
        server: WebRTCServer, candidateAddresses: [String], rembBitrate: UInt64, delay: PipelineDelay,
        backend: any InferenceBackend, configuration: FramePipeline.Configuration = .init(),
        metrics: ServeMetrics? = nil, logger: Logger
    ) {
        self.server = server
        self.candidateAddresses = candidateAddresses
        self.rembBitrate = rembBitrate
        self.delay = delay
        self.backend = backend
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
    }

    public func createSession(offer: String) async throws -> (id: String, answer: String) {
        let accepted = try AcceptedOffer(offer: offer, server: server, candidateAddresses: candidateAddresses)
        let (id, options, answer, negotiated) = (
            accepted.id, accepted.options, accepted.answer, accepted.negotiated
        )
        let (connection, outgoingSSRC) = (accepted.connection, accepted.outgoingSSRC)
        let sessionLogger = {
            var logger = logger
            logger[metadataKey: "session"] = "\(id)"
            return logger
        }()
        let session = PipelineSession(connection: connection, logger: sessionLogger)
        let sctp = DataChannelReflector.configuration(for: negotiated, options: options)
        let (delay, backend, configuration, metrics, rembBitrate) = (
            self.delay, self.backend, self.configuration, self.metrics, self.rembBitrate
        )
        try await server.eventLoop.submit {
            connection.sctpConfiguration = sctp
            let streamID = self.nextStreamID
            self.nextStreamID += 1
            try session.start { sink in
                try PipelineStream(
                    eventLoop: connection.eventLoop, payloadType: negotiated.videoPayloadType,
                    outgoingSSRC: outgoingSSRC, rembBitrate: rembBitrate, delay: delay, streamID: streamID,
                    backend: backend, sink: sink, configuration: configuration, metrics: metrics,
                    logger: sessionLogger
                ) { [weak connection] output in
                    switch output {
                    case .rtp(let packet): connection?.send(rtp: packet)
                    case .rtcp(let compound): connection?.send(rtcp: compound)
                    }
                }
            }
            session.onClosed = { [weak self] in
                self?.sessions[id] = nil
                metrics?.sessions.record(self?.sessions.count ?? 0)
                // Once the session's last references (pipeline thread, pending timers) are gone.
                connection.eventLoop.scheduleTask(in: .seconds(1)) { HeapTrim.releaseFreedMemory() }
            }
            self.sessions[id] = session
            metrics?.sessions.record(self.sessions.count)
            self.server.register(connection)
        }.get()
        logger.info(
            "session \(id): H264 pt \(negotiated.videoPayloadType) \(negotiated.h264ProfileLevelID), delay \(delay), data channel \(sctp != nil)"
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
        let (results, pipelines) = try await server.eventLoop.submit {
            (
                self.sessions.values.reduce((0, 0)) { ($0.0 + $1.resultsSent, $0.1 + $1.resultsUndelivered) },
                self.sessions.count
            )
        }.get()
        return [
            "sessions": try await server.sessionCount(), "datagramsReceived": counters.received,
            "droppedUnrouted": counters.droppedUnrouted, "droppedBySessions": counters.droppedBySessions,
            "resultsSent": results.0, "resultsUndelivered": results.1, "pipelines": pipelines,
            "pipelineThreads": FramePipeline.liveCount,
        ]
    }
}

import Dispatch
import Foundation
import Logging
import NIOCore
import RiverCore
import RiverMedia
import RiverResults
import RiverSession
import RiverWebRTC
import Synchronization

/// Answers WHIP offers with sessions on one ``WebRTCServer``: reflect (`river serve --reflect`: the
/// video straight back, data channels echoed) or pipeline (`river serve --proxy …`: the video back
/// after the delay, one result message per frame on data channel `river`). Both are the same
/// ``SessionEngine``; a pipeline session adds the frame builder, the inference stage and a
/// ``MediaWorker``.
///
/// A viewer (WHEP, ``createViewer(of:offer:from:)``) is a session too, for admission and the
/// session count, but it is not listed as one: its publisher's ``LiveSession/viewers`` counts it.
public final class SessionService: WHIPSessionFactory {
    /// Decode and inference for pipeline sessions.
    public struct Pipeline: Sendable {
        public var delay: PipelineDelay
        public var backend: any InferenceBackend
        /// Requests each session keeps out at once; nil follows the backend's worker slots shared
        /// among this service's sessions (``SessionConfiguration/Inference/fairShare(totalSlots:sessions:)``).
        public var maxInFlight: Int?
        /// The backend's total worker slots, when it knows them.
        public var totalSlots: @Sendable () -> Int?
        /// The most pixels a decoded picture may have (`--max-pixels`).
        public var maxPixels: Int
        /// Each session's recording (`--record`), or none.
        public var recording: RecordingOptions?

        public init(
            delay: PipelineDelay, backend: any InferenceBackend, maxInFlight: Int? = nil,
            totalSlots: @escaping @Sendable () -> Int? = { nil },
            maxPixels: Int = H264Decoder.defaultMaxPixels, recording: RecordingOptions? = nil
        ) {
            self.recording = recording
            self.delay = delay
            self.backend = backend
            self.maxInFlight = maxInFlight
            self.totalSlots = totalSlots
            self.maxPixels = maxPixels
        }
    }

    private struct Figures {
        var sessions = 0
        /// Sessions past DTLS: the ones that share worker slots.
        var connected: Set<String> = []
        var admission: Admission
        var nextStreamID: UInt64 = 1
        var resultsSent = 0
        var resultsUndelivered = 0
        var live: [String: LiveSession] = [:]
        /// Each live publisher's H264 profile, which its viewers must take.
        var profiles: [String: String] = [:]
    }

    /// A live session as `GET /v1/sessions` lists it.
    public struct LiveSession: Sendable, Codable, Equatable {
        public var id: String
        /// When its offer was answered, ms since the Unix epoch.
        public var startedAt: Double
        /// `pipeline` (results from the workers) or `reflect`.
        public var mode: String
        /// Past its DTLS handshake.
        public var connected = false
        /// Frames that ended in a result message, and those among them with `status` `ok`.
        public var frames = 0
        public var framesOK = 0
        /// The delay in force, ms (moves under `--delay auto`).
        public var delayMs: Double
        /// Readers of its results feed now.
        public var feedSubscribers = 0
        /// Its viewers (WHEP) now, connected or not yet.
        public var viewers = 0
    }

    public let server: WebRTCServer
    public let candidateAddresses: [String]
    public let rembBitrate: UInt64
    public let pipeline: Pipeline?
    public let metrics: ServeMetrics?
    /// Every session's result messages for readers other than its page.
    public let feed: ResultsFeed
    /// `--results-webhook`: the same messages, POSTed in batches.
    public let webhook: ResultsWebhook?
    private let logger: Logger
    private let figures: Mutex<Figures>
    /// Heap trimming runs here, never on the media loop.
    private let trimQueue = DispatchQueue(label: "river.heap-trim")

    /// Admission limits (``Admission``) and the lifetime of a session.
    public struct Limits: Sendable {
        public var sessions = 64
        public var sessionsPerAddress = 8
        /// Viewers (WHEP) of one session at once; each also takes a session slot.
        public var viewersPerSession = 4
        public var postsPerSecond = 2.0
        public var postBurst = 10.0
        /// Close a session that has not connected this long after its offer.
        public var connectTimeout: Duration = .seconds(10)
        /// Close any session this long after its offer (nil: no limit).
        public var maxLifetime: Duration?
        public init() {}
    }

    public let limits: Limits

    public init(
        server: WebRTCServer, candidateAddresses: [String], rembBitrate: UInt64, pipeline: Pipeline? = nil,
        metrics: ServeMetrics? = nil, limits: Limits = .init(), webhook: ResultsWebhook? = nil, logger: Logger
    ) {
        self.limits = limits
        self.webhook = webhook
        figures = Mutex(
            Figures(
                admission: Admission(
                    .init(
                        sessions: limits.sessions, sessionsPerAddress: limits.sessionsPerAddress,
                        postsPerSecond: limits.postsPerSecond, postBurst: limits.postBurst))))
        self.server = server
        self.candidateAddresses = candidateAddresses
        self.rembBitrate = rembBitrate
        self.pipeline = pipeline
        self.metrics = metrics
        self.logger = logger
        feed = ResultsFeed { metrics?.resultsFeedCutOff.increment() }
    }

    /// This service's logger, naming the session in its metadata.
    private func logger(for session: SessionConfiguration) -> Logger {
        var logger = self.logger
        logger[metadataKey: "session"] = "\(session.logID)"
        return logger
    }

    /// Admission: a refused offer allocates nothing, not even a parse of its SDP.
    private func admit(_ peer: String) throws {
        let verdict = figures.withLock { $0.admission.admit(address: peer, now: .now) }
        switch verdict {
        case .admitted: break
        case .full:
            metrics?.sessionRefused(reason: verdict.reason)
            throw SessionRefused(
                status: .serviceUnavailable, retryAfter: 5,
                description:
                    "every session slot is taken (--max-sessions \(limits.sessions)); try again later")
        case .addressFull:
            metrics?.sessionRefused(reason: verdict.reason)
            throw SessionRefused(
                status: .tooManyRequests, retryAfter: 5,
                description:
                    "this address holds \(limits.sessionsPerAddress) sessions (--max-sessions-per-address); end one first"
            )
        case .tooFast(let retryAfter):
            metrics?.sessionRefused(reason: verdict.reason)
            throw SessionRefused(
                status: .tooManyRequests, retryAfter: retryAfter,
                description: "too many offers from this address")
        }
    }

    /// Admits `peer` and answers its offer; a refused offer gives its admission back.
    private func accept(_ offer: String, as role: AcceptedOffer.Role, from peer: String) throws
        -> AcceptedOffer
    {
        try admit(peer)
        do {
            return try AcceptedOffer(
                offer: offer, role: role, port: server.port, tcpPort: server.tcpPort,
                candidateAddresses: candidateAddresses, rembBitrate: rembBitrate)
        } catch {
            figures.withLock { $0.admission.ended(address: peer) }
            throw error
        }
    }

    public func createSession(offer: String, from address: String?) async throws -> (
        id: String, answer: String
    ) {
        let peer = address ?? "unknown"
        let accepted = try accept(offer, as: .publisher, from: peer)
        var session = accepted.session
        session.connectTimeout = limits.connectTimeout
        session.maxLifetime = limits.maxLifetime
        let id = session.id
        let logger = logger(for: session)
        var makeOffload: (@Sendable (SessionInputs) -> any SessionOffload)?
        if let pipeline {
            session.delay = pipeline.delay
            var inference = SessionConfiguration.Inference()
            if let fixed = pipeline.maxInFlight.map({ max(1, $0) }) {
                inference.maxInFlight = { fixed }
            } else {
                let totalSlots = pipeline.totalSlots
                inference.maxInFlight = { [weak self] in
                    SessionConfiguration.Inference.fairShare(
                        totalSlots: totalSlots(), sessions: self?.figures.withLock { $0.connected.count } ?? 1
                    )
                }
            }
            session.inference = inference
            let streamID = figures.withLock { figures in
                defer { figures.nextStreamID += 1 }
                return figures.nextStreamID
            }
            let (backend, metrics, maxPixels) = (pipeline.backend, metrics, pipeline.maxPixels)
            var recorder: SessionRecorder?
            if let recording = pipeline.recording {
                do {
                    recorder = try SessionRecorder(
                        options: recording, sessionID: id, started: Date(), audio: session.audio != nil,
                        metrics: metrics, logger: logger)
                    session.records = true
                } catch {
                    metrics?.recordingsStopped.increment()
                    logger.error("no recording for this session: \(error)")
                }
            }
            makeOffload = { [logger, recorder] inputs in
                MediaWorker(
                    streamID: streamID, backend: backend, inputs: inputs, metrics: metrics,
                    maxPixels: maxPixels, recorder: recorder, logger: logger)
            }
        } else {
            session.echoDataChannels = true
        }
        let live = LiveSession(
            id: id, startedAt: (Date().timeIntervalSince1970 * 1000).rounded(),
            mode: pipeline == nil ? "reflect" : "pipeline",
            delayMs: Double(session.delay.start.nanosecondsClamped) / 1e6)
        let count = figures.withLock { figures in
            figures.sessions += 1
            figures.live[id] = live
            figures.profiles[id] = String(accepted.negotiated.h264ProfileLevelID.prefix(4))
            return figures.sessions
        }
        metrics?.sessions.record(count)
        feed.open(session: id)
        do {
            try await server.open(session, makeOffload: makeOffload) { [self] event, counters, summary in
                sessionEvent(event, id: id, from: peer, counters: counters, summary: summary, logger: logger)
            }
        } catch {
            sessionEnded(id: id, from: peer)
            throw error
        }
        let negotiated = accepted.negotiated
        let summary =
            "H264 pt \(negotiated.videoPayloadType) \(negotiated.h264ProfileLevelID), delay \(session.delay), "
            + "data channel \(session.dataChannels != nil), "
            + "audio \(negotiated.audio.map { "opus pt \($0.payloadType)" } ?? "none"), "
            + "rejected \(negotiated.rejectedMids)"
        logger.info("session started: \(summary)")
        return (id, accepted.answer.sdp)
    }

    private func sessionEvent(
        _ event: SessionEvent, id: String, from peer: String, counters: SessionEngine.Counters,
        summary: () -> String, logger: Logger
    ) {
        switch event {
        case .frameFinished(let message, let json, let latency, let delay):
            let sequence = figures.withLock { figures -> Int in
                figures.live[id]?.frames += 1
                if message.status == .ok { figures.live[id]?.framesOK += 1 }
                figures.live[id]?.delayMs = message.delay
                return figures.live[id]?.frames ?? 0
            }
            feed.publish(session: id, sequence: sequence, json: json)
            webhook?.enqueue(session: id, sequence: sequence, json: json)
            guard let metrics else { return }
            metrics.delaySeconds.record(delay.seconds)
            let status = message.status
            if status == .ok {
                metrics.framesInferred.increment()
            } else {
                metrics.frameDropped(reason: status.rawValue)
            }
            if let latency { metrics.inferenceLatency.recordNanoseconds(latency.nanosecondsClamped) }
        case .closed(let reason):
            logger.info("session ended: \(summary())")
            let results = figures.withLock { $0.live[id]?.frames ?? 0 }
            feed.close(session: id, reason: "\(reason)", results: results)
            figures.withLock {
                $0.resultsSent += counters.resultsSent
                $0.resultsUndelivered += counters.resultsUndelivered
            }
            sessionEnded(id: id, from: peer)
            // Once the session's last references (its decode thread, queued jobs) are gone.
            trimQueue.asyncAfter(deadline: .now() + .seconds(1)) { HeapTrim.releaseFreedMemory() }
        case .connected:
            figures.withLock { _ = $0.connected.insert(id) }
        case .addressAuthenticated, .channelOpened, .keyFrameWanted:
            break
        }
    }

    private func sessionEnded(id: String, from peer: String) {
        let count = figures.withLock { figures in
            figures.sessions -= 1
            figures.connected.remove(id)
            figures.live.removeValue(forKey: id)
            figures.profiles.removeValue(forKey: id)
            figures.admission.ended(address: peer)
            return figures.sessions
        }
        metrics?.sessions.record(count)
    }

    /// Answers a viewer's offer (WHEP) for the live session `publisherID`: its delayed video and
    /// result messages, forwarded. Throws ``ViewerRefused`` when there is no such session or it has
    /// ``Limits/viewersPerSession`` viewers, besides what ``createSession(offer:from:)`` throws.
    public func createViewer(of publisherID: String, offer: String, from address: String?) async throws -> (
        id: String, answer: String
    ) {
        guard let profile = figures.withLock({ $0.profiles[publisherID] }) else {
            throw ViewerRefused.noSuchSession
        }
        let peer = address ?? "unknown"
        let accepted = try accept(offer, as: .viewer(profile: profile), from: peer)
        var session = accepted.session
        session.viewer = true
        session.connectTimeout = limits.connectTimeout
        session.maxLifetime = limits.maxLifetime
        let id = session.id
        let logger = logger(for: session)
        let count = figures.withLock { figures in
            figures.sessions += 1
            return figures.sessions
        }
        metrics?.sessions.record(count)
        do {
            try await server.open(session, viewing: (publisherID, limits.viewersPerSession)) {
                [self] event, _, summary in
                guard case .closed = event else { return }
                logger.info("viewer ended: \(summary())")
                viewerEnded(of: publisherID, from: peer)
            }
        } catch {
            viewerEnded(of: nil, from: peer)
            throw error
        }
        figures.withLock { $0.live[publisherID]?.viewers += 1 }
        logger.info(
            "viewer started for \(publisherID.prefix(8)): H264 pt \(accepted.negotiated.videoPayloadType), data channel \(session.dataChannels != nil)"
        )
        return (id, accepted.answer.sdp)
    }

    private func viewerEnded(of publisherID: String?, from peer: String) {
        let count = figures.withLock { figures in
            figures.sessions -= 1
            if let publisherID { figures.live[publisherID]?.viewers -= 1 }
            figures.admission.ended(address: peer)
            return figures.sessions
        }
        metrics?.sessions.record(count)
    }

    public func endSession(id: String) async throws -> Bool {
        try await server.closeSession(id: id)
    }

    /// The live sessions, oldest first.
    public func liveSessions() -> [LiveSession] {
        let (live, connected) = figures.withLock { (Array($0.live.values), $0.connected) }
        return live.map { session in
            var session = session
            session.connected = connected.contains(session.id)
            session.feedSubscribers = feed.subscriberCount(of: session.id)
            return session
        }.sorted { ($0.startedAt, $0.id) < ($1.startedAt, $1.id) }
    }

    public func sessionCount() async throws -> Int {
        try await server.sessionCount()
    }

    public func debugCounters() async throws -> [String: Int] {
        let counters = try await server.counters()
        let live = try await server.sessionCounters()
        let (sent, undelivered) = figures.withLock { ($0.resultsSent, $0.resultsUndelivered) }
        var out = [
            "sessions": live.count, "datagramsReceived": counters.received,
            "droppedUnknownKind": counters.droppedUnknownKind, "droppedUnrouted": counters.droppedUnrouted,
            "droppedBySessions": counters.droppedBySessions, "stunRejected": counters.stunRejected,
        ]
        if pipeline != nil {
            out["resultsSent"] = sent + live.values.reduce(0) { $0 + $1.resultsSent }
            out["resultsUndelivered"] = undelivered + live.values.reduce(0) { $0 + $1.resultsUndelivered }
            out["pipelines"] = live.count
            out["pipelineThreads"] = MediaWorker.liveThreads
        }
        out["resultsFeedSubscribers"] = feed.subscriberCount
        out["resultsFeedCutOff"] = feed.cutOff
        return out
    }
}

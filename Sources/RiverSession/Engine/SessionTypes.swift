import RiverCore
import RiverICE
import RiverRTP
import RiverResults

/// How a datagram reached the server: on the shared UDP port, or as one RFC 4571 frame of a TCP
/// connection (ICE-TCP, RFC 6544), which the shell tells apart by the connection.
public enum Transport: Sendable, Hashable {
    case udp
    case tcp
}

/// One datagram from the network, already demultiplexed to this session.
public struct Datagram: Sendable {
    public var source: TransportAddress
    public var transport: Transport
    /// RFC 7983's classification of the first byte.
    public var kind: DatagramKind
    public var bytes: [UInt8]

    public init(source: TransportAddress, transport: Transport = .udp, kind: DatagramKind, bytes: [UInt8]) {
        self.source = source
        self.transport = transport
        self.kind = kind
        self.bytes = bytes
    }
}

/// Bytes for the shell to send.
public struct Transmit: Sendable {
    public var destination: TransportAddress
    public var transport: Transport
    public var bytes: [UInt8]
}

/// A complete access unit to decode, off the event loop.
public struct AccessUnitJob: Sendable {
    public var annexB: [UInt8]
    /// The output RTP timestamp (input + the session's fixed offset).
    public var outputTimestamp: UInt32
    /// When its last packet arrived.
    public var arrival: Instant
    /// Wall clock, ms since the Unix epoch, when its last packet arrived (for the page).
    public var receivedAt: Double
}

/// A decoded frame the engine's scheduler sends to inference; its answer comes back as
/// ``SessionInput/inferred(id:_:)`` with the same `id`.
public struct InferenceJob: Sendable {
    public var id: UInt64
    public var frame: VideoFrame
    /// When the result stops being useful: its frame leaves the delay line (less a margin).
    public var deadline: Instant
}

/// What inference answered, in river's own terms (the backend converts the wire's reply).
public enum InferenceOutcome: Sendable, Equatable {
    /// The worker answered. `detections` is nil when its model failed on the frame.
    case reply(detections: [Detection]?, compute: Duration)
    /// No answer; the status says why (`expired`, `noWorker`, `workerLost`, `workerFailed`,
    /// `saturated`).
    case failed(ResultMessage.Status)
}

/// Everything that can happen to a session engine.
public enum SessionInput: Sendable {
    case datagram(Datagram)
    /// The deadline the engine last returned has passed (early calls are harmless).
    case timeout
    case decoded(AccessUnitJob, frames: [VideoFrame], decodeTime: Duration)
    case decodeFailed(AccessUnitJob)
    case inferred(id: UInt64, InferenceOutcome)
    /// A viewer's video: one packet of the publisher's stream as it left the publisher
    /// (``SessionOutput/forward(_:)``).
    case forwarded(RTPPacket)
    /// A viewer's result message: the publisher's, as its data channel got it.
    case forwardedResult(json: String)
    /// One of the publisher's viewers wants a key frame (``SessionEvent/keyFrameWanted``).
    case keyFrameRequest
    /// The owner ends the session (WHIP DELETE, shutdown).
    case close(SessionCloseReason)
}

/// Why a session ended.
public enum SessionCloseReason: Sendable, Equatable {
    /// The owner closed it (e.g. WHIP `DELETE`).
    case local
    /// The peer sent DTLS close_notify.
    case remoteClosed
    /// No valid connectivity check from the peer for the consent timeout (RFC 7675 §5.1).
    case consentExpired
    /// The DTLS handshake failed, e.g. the certificate did not match `a=fingerprint`.
    case dtlsFailed(String)
    /// The server shut down.
    case serverShutdown
    /// DTLS had not connected within ``SessionConfiguration/connectTimeout``.
    case connectTimeout
    /// The session reached ``SessionConfiguration/maxLifetime``.
    case lifetimeExceeded
    /// A viewer's publisher ended: there is nothing more to watch.
    case publisherClosed
}

/// What the engine tells its owner besides bytes and work.
public enum SessionEvent: Sendable, Equatable {
    /// A connectivity check from this address authenticated: route its datagrams here.
    case addressAuthenticated(TransportAddress)
    /// ICE, DTLS and SRTP are up: media can flow.
    case connected
    /// A data channel opened (either side).
    case channelOpened(label: String)
    /// One frame's result message was produced (sent or not), for metrics and the results feed:
    /// the message and its JSON text as the data channel got it, the inference round trip when a
    /// worker answered, and the session's delay in force.
    case frameFinished(ResultMessage, json: String, inferenceLatency: Duration?, delay: Duration)
    /// A viewer's receiver asked for a key frame (spaced): hand the publisher
    /// ``SessionInput/keyFrameRequest``.
    case keyFrameWanted
    /// The session ended; nothing more comes out but this session's final `.timeout(nil)`.
    case closed(SessionCloseReason)
}

/// What a recording of the session keeps (``SessionConfiguration/records``): the browser's own
/// media as it came, and each frame's result message.
public enum RecordedItem: Sendable {
    /// An access unit as it went to decode.
    case video(AccessUnitJob)
    /// One of the browser's Opus packets (the RTP payload) with its output RTP timestamp (48 kHz)
    /// and when it arrived.
    case audio(payload: [UInt8], outputTimestamp: UInt32, arrival: Instant)
    /// A frame's result message, as it went to the data channel.
    case result(ResultMessage)
}

/// What ``SessionEngine/poll()`` returns, one at a time, in order.
public enum SessionOutput: Sendable {
    case transmit(Transmit)
    case decode(AccessUnitJob)
    case infer(InferenceJob)
    case event(SessionEvent)
    /// For the session's recording, when it has one.
    case record(RecordedItem)
    /// A packet of our stream as it left, for each of the session's viewers
    /// (``SessionInput/forwarded(_:)``), while ``SessionEngine/forwardsToViewers`` is on.
    case forward(RTPPacket)
    /// Nothing more now: call ``SessionEngine/handle(_:now:)`` with ``SessionInput/timeout`` at
    /// this instant (nil: no timer; the session is closed).
    case timeout(Instant?)
}

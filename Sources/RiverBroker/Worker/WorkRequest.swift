import RiverCore

/// One request as a worker's handler sees it: the header, the deadline on this host's clock, and
/// the pixels, still in the ZeroMQ frame they arrived in.
public struct WorkRequest: Sendable {
    public let header: RequestHeader
    /// The request's deadline, converted from the wire's relative budget on arrival.
    public let deadline: ContinuousClock.Instant
    let pixels: ReceivedPixels

    /// Reads the pixels in place, without copying them.
    public func withPixels<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try body(pixels.message.bytes)
    }

    /// The pixels as a `VideoFrame` (one copy). The codec already checked that the geometry fits.
    public func frame() throws(VideoFrameError) -> VideoFrame {
        try VideoFrame(
            width: Int(header.width), height: Int(header.height), format: header.format,
            strides: header.strides.map(Int.init), offsets: header.offsets.map(Int.init),
            data: Array(pixels.message.bytes), rtpTimestamp: header.rtpTimestamp)
    }
}

/// What a handler answers: a status and the result document (JSON bytes, opaque to the broker).
public struct WorkResult: Sendable {
    public var status: ReplyStatus
    public var document: [UInt8]

    public init(status: ReplyStatus = .ok, document: [UInt8]) {
        self.status = status
        self.document = document
    }
}

/// The worker's model, called once per request, up to `slots` at a time.
public typealias WorkHandler = @Sendable (WorkRequest) async throws -> WorkResult

/// The pixel frame of a received request.
///
/// @unchecked Sendable: the frame is never written after `zmq_msg_recv` filled it, and libzmq's
/// reference counting of shared message content is atomic, so reading it and finally closing it on
/// another thread than the receiving one is safe.
final class ReceivedPixels: @unchecked Sendable {
    let message: ZMQMessage
    init(_ message: ZMQMessage) { self.message = message }
}

/// Settings of a worker's connection to the proxy.
public struct WorkerConfiguration: Sendable {
    /// Announced in READY; the proxy sends at most this many requests at once.
    public var slots: Int
    /// Shown in the proxy's logs.
    public var name: String
    /// Must match the proxy's.
    public var heartbeatInterval: Duration
    public var liveness: Int
    /// First and largest wait before reconnecting after the proxy went silent.
    public var initialBackoff: Duration
    public var maxBackoff: Duration

    public init(
        slots: Int = 1, name: String = "worker", heartbeatInterval: Duration = .seconds(1), liveness: Int = 3,
        initialBackoff: Duration = .milliseconds(250), maxBackoff: Duration = .seconds(8)
    ) {
        self.slots = max(1, min(Int(UInt16.max), slots))
        self.name = name
        self.heartbeatInterval = heartbeatInterval
        self.liveness = liveness
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
    }
}

/// A worker's totals.
public struct WorkerCounters: Sendable, Equatable {
    public var received = 0
    public var answered = 0
    /// Handler threw: answered with ERROR(workerFailed).
    public var failed = 0
    /// Deadline passed before the handler could start: answered with ERROR(expired).
    public var expired = 0
    /// Messages from the proxy that failed to decode.
    public var malformed = 0
    /// Times the socket was dropped and made again after the proxy went silent.
    public var reconnects = 0
    /// Times the proxy asked us to register again (it restarted, or expired us).
    public var reregistrations = 0
    public init() {}
}

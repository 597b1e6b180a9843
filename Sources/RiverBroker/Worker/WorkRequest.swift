import RiverCore

/// One request as a worker's handler sees it: the header, the deadline on this host's clock, and
/// the pixels, still in the ZeroMQ frame they arrived in.
public struct WorkRequest: Sendable {
    public let header: RequestHeader
    /// The request's deadline, converted from the wire's relative budget on arrival.
    public let deadline: Instant
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

/// The worker's model, called once per request on one of the worker's slot threads: up to
/// `slots` calls at once, each on its own thread. Synchronous, because the models it runs are
/// (ONNX Runtime's `Run` blocks); a thrown error is answered ERROR(workerFailed) with its text.
public typealias WorkHandler = @Sendable (WorkRequest) throws -> WorkResult

/// The pixel frame of a received request.
///
/// @unchecked Sendable: the frame is never written after `zmq_msg_recv` filled it, and libzmq's
/// reference counting of shared message content is atomic, so reading it and finally closing it on
/// another thread than the receiving one is safe.
final class ReceivedPixels: @unchecked Sendable {
    let message: ZMQMessage
    init(_ message: ZMQMessage) { self.message = message }
}

import RiverCore

/// The seven message types of river's broker protocol (see `docs/protocol.md`).
public enum MessageType: UInt8, Sendable, CustomStringConvertible {
    /// Worker → proxy: "I am here, can hold `slots` requests at once, and my model takes pictures of
    /// this size" (or any size).
    case ready = 1
    /// Both ways between proxy and worker, and client → proxy (answered with CAPACITY): liveness.
    case heartbeat = 2
    /// Client → proxy → worker: one frame to run the model on.
    case request = 3
    /// Worker → proxy → client: the result document of one request.
    case reply = 4
    /// Anyone → sender: a request or message could not be served; carries a code and a text.
    case error = 5
    /// Worker → proxy: leaving; proxy → worker: "I do not know you, register again".
    case disconnect = 6
    /// Proxy → client, in answer to each client HEARTBEAT (version 2): the workers' slots now.
    case capacity = 7

    public var description: String {
        switch self {
        case .ready: "READY"
        case .heartbeat: "HEARTBEAT"
        case .request: "REQUEST"
        case .reply: "REPLY"
        case .error: "ERROR"
        case .disconnect: "DISCONNECT"
        case .capacity: "CAPACITY"
        }
    }

    /// Frames a message of this type has after the routing envelope: the header, plus a body for
    /// the three types that carry one (pixels, result document, error text).
    public var frameCount: Int {
        switch self {
        case .request, .reply, .error: 2
        case .ready, .heartbeat, .disconnect, .capacity: 1
        }
    }
}

/// The fixed part of a REQUEST: ids, timing and the image geometry. The pixels travel as the
/// message's second frame, exactly `byteCount` bytes, so they are never copied into a header.
public struct RequestHeader: Sendable, Equatable {
    /// Chosen by the sender and echoed in the REPLY. The proxy substitutes its own ticket on the
    /// way to a worker and restores the client's id on the way back.
    public var requestID: UInt64
    /// The client's stream (one per video session); opaque to proxy and worker.
    public var streamID: UInt64
    /// RTP timestamp of the frame (90 kHz), echoed for the client's bookkeeping.
    public var rtpTimestamp: UInt32
    /// Time left until the deadline when the message was sent, in microseconds. Relative, not a
    /// wall-clock instant, so hosts need no synchronised clocks (gRPC does the same); each hop turns
    /// it into a local monotonic deadline and sends what is left onward.
    public var budgetMicros: UInt32
    public var width: UInt16
    public var height: UInt16
    public var format: PixelFormat
    /// Per plane (`format.planeCount` of them): bytes between rows, and start in the pixel frame.
    public var strides: [UInt32]
    public var offsets: [UInt32]
    /// Length of the pixel frame.
    public var byteCount: UInt32

    public init(
        requestID: UInt64, streamID: UInt64, rtpTimestamp: UInt32, budgetMicros: UInt32, width: UInt16,
        height: UInt16, format: PixelFormat, strides: [UInt32], offsets: [UInt32], byteCount: UInt32
    ) {
        self.requestID = requestID
        self.streamID = streamID
        self.rtpTimestamp = rtpTimestamp
        self.budgetMicros = budgetMicros
        self.width = width
        self.height = height
        self.format = format
        self.strides = strides
        self.offsets = offsets
        self.byteCount = byteCount
    }

    /// The header describing `frame`'s pixels. Fails for frames the wire cannot describe
    /// (sides over 65535, buffers over 4 GiB).
    public init(
        frame: VideoFrame, requestID: UInt64, streamID: UInt64, budgetMicros: UInt32
    ) throws(ProtocolError) {
        guard let width = UInt16(exactly: frame.width), let height = UInt16(exactly: frame.height) else {
            throw .badField("REQUEST size \(frame.width)x\(frame.height) exceeds 65535")
        }
        guard let count = UInt32(exactly: frame.data.count) else {
            throw .badField("REQUEST pixel buffer of \(frame.data.count) bytes exceeds 4 GiB")
        }
        var strides: [UInt32] = []
        var offsets: [UInt32] = []
        for plane in 0..<frame.format.planeCount {
            guard let stride = UInt32(exactly: frame.strides[plane]),
                let offset = UInt32(exactly: frame.offsets[plane])
            else { throw .badField("REQUEST plane \(plane) stride/offset out of range") }
            strides.append(stride)
            offsets.append(offset)
        }
        self.init(
            requestID: requestID, streamID: streamID, rtpTimestamp: frame.rtpTimestamp,
            budgetMicros: budgetMicros, width: width, height: height, format: frame.format,
            strides: strides, offsets: offsets, byteCount: count)
    }
}

/// How a worker fared with a request it accepted.
public enum ReplyStatus: UInt8, Sendable {
    /// The document is the model's result.
    case ok = 0
    /// The model could not run on this frame; the document explains why (JSON `{"error": …}`).
    case failed = 1
}

/// Where the time went, in microseconds, as measured by each hop with its own clock.
public struct ReplyTimings: Sendable, Equatable {
    /// Waiting in the proxy's queue for a free worker slot.
    public var proxyQueueMicros: UInt32
    /// Waiting inside the worker before its handler started.
    public var workerQueueMicros: UInt32
    /// The worker's handler (pre-processing, model, post-processing).
    public var computeMicros: UInt32

    public init(proxyQueueMicros: UInt32 = 0, workerQueueMicros: UInt32 = 0, computeMicros: UInt32 = 0) {
        self.proxyQueueMicros = proxyQueueMicros
        self.workerQueueMicros = workerQueueMicros
        self.computeMicros = computeMicros
    }
}

/// The fixed part of a REPLY; the result document is the second frame.
public struct ReplyHeader: Sendable, Equatable {
    public var requestID: UInt64
    public var status: ReplyStatus
    public var timings: ReplyTimings

    public init(requestID: UInt64, status: ReplyStatus, timings: ReplyTimings) {
        self.requestID = requestID
        self.status = status
        self.timings = timings
    }
}

/// Why a request or message was refused. Values are part of the wire format.
public enum ErrorCode: UInt8, Sendable, CustomStringConvertible {
    /// The message's protocol version is not one this peer speaks.
    case badVersion = 1
    /// The message could not be parsed (frame count, truncated header, bad field, size mismatch).
    case malformed = 2
    /// The deadline passed before a worker could take the request.
    case expired = 3
    /// The worker holding the request went silent and it could not be dispatched again in time.
    case workerLost = 4
    /// The proxy's queue is full.
    case overloaded = 5
    /// The worker's handler threw.
    case workerFailed = 6
    /// No worker is registered with the proxy, so nothing can take the request.
    case noWorker = 7

    public var description: String {
        switch self {
        case .badVersion: "bad version"
        case .malformed: "malformed"
        case .expired: "expired"
        case .workerLost: "worker lost"
        case .overloaded: "overloaded"
        case .workerFailed: "worker failed"
        case .noWorker: "no worker"
        }
    }
}

/// The fixed part of an ERROR; a UTF-8 explanation is the second frame.
public struct ErrorHeader: Sendable, Equatable {
    /// The request this answers, or 0 when the message it answers had no readable id.
    public var requestID: UInt64
    public var code: ErrorCode

    public init(requestID: UInt64, code: ErrorCode) {
        self.requestID = requestID
        self.code = code
    }
}

/// What the proxy can hold right now, as it tells clients in CAPACITY.
public struct ProxyCapacity: Sendable, Equatable {
    /// Registered workers.
    public var workers: UInt16
    /// Slots announced by the registered workers (their READY `slots`, summed).
    public var totalSlots: UInt32
    /// Of those, the slots not holding a request.
    public var freeSlots: UInt32
    /// Requests waiting in the proxy for a free slot (saturates at 65,535).
    public var queued: UInt16
    /// The size a frame should be scaled down to fit before it is sent: the largest model input
    /// the registered workers announced, side by side, or nil when one of them takes any size (or
    /// none is registered). A frame that fits loses nothing any worker would use.
    public var input: FrameSize?

    public init(
        workers: UInt16, totalSlots: UInt32, freeSlots: UInt32, queued: UInt16 = 0, input: FrameSize? = nil
    ) {
        self.workers = workers
        self.totalSlots = totalSlots
        self.freeSlots = freeSlots
        self.queued = queued
        self.input = input
    }
}

/// A decoded header frame. Bodies (pixels, documents, texts) stay in their own frames.
public enum WireMessage: Sendable, Equatable {
    /// `input`: the model's input size, nil for a model that takes frames of any size.
    case ready(slots: UInt16, name: String, input: FrameSize? = nil)
    case heartbeat
    case request(RequestHeader)
    case reply(ReplyHeader)
    case error(ErrorHeader)
    case disconnect
    case capacity(ProxyCapacity)

    public var type: MessageType {
        switch self {
        case .ready: .ready
        case .heartbeat: .heartbeat
        case .request: .request
        case .reply: .reply
        case .error: .error
        case .disconnect: .disconnect
        case .capacity: .capacity
        }
    }
}

// The wire carries spans of time (budgets, ReplyTimings) as whole microseconds relative to when a
// hop sends or reads them; inside the broker they are `Duration`s and points in time `Instant`s.
// These two are the only conversions.
extension RequestHeader {
    /// ``budgetMicros`` as a span: a hop's deadline is its `now` on arrival plus this.
    public var budget: Duration { .microseconds(Int64(budgetMicros)) }
}

extension Duration {
    /// This span in whole microseconds for a wire field, clamped to 0…`UInt32.max` (about 71
    /// minutes): a deadline already passed is sent as 0 (docs/protocol.md).
    var wireMicros: UInt32 { UInt32(clamping: nanosecondsClamped / 1000) }
}

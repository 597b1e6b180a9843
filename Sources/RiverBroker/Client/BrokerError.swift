/// Why `BrokerClient.infer` did not return a reply.
public enum BrokerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No answer arrived by the deadline (plus the client's grace).
    case timedOut(requestID: UInt64)
    /// The proxy or the worker answered ERROR.
    case rejected(requestID: UInt64, code: ErrorCode, message: String)
    /// No proxy connection took the request before its deadline; it was never sent.
    case notConnected(endpoint: String)
    /// The proxy went silent while the request was in flight; the client reconnected.
    case connectionLost(requestID: UInt64)
    /// The frame cannot be described on the wire.
    case invalidFrame(ProtocolError)
    /// The client was closed.
    case closed

    public var description: String {
        switch self {
        case .timedOut(let id): "request \(id) timed out"
        case .rejected(let id, let code, let message): "request \(id) rejected (\(code)): \(message)"
        case .notConnected(let endpoint): "no connection to the proxy at \(endpoint) before the deadline"
        case .connectionLost(let id): "connection to the proxy lost while request \(id) was in flight"
        case .invalidFrame(let error): "frame cannot be sent: \(error)"
        case .closed: "client closed"
        }
    }
}

/// A worker's answer to one `infer` call.
public struct BrokerReply: Sendable {
    public var requestID: UInt64
    public var streamID: UInt64
    public var rtpTimestamp: UInt32
    public var status: ReplyStatus
    /// The result document (JSON bytes of `river infer`'s result), opaque to the broker.
    public var document: [UInt8]
    /// Time spent in the proxy's queue and in the worker, as they measured it.
    public var timings: ReplyTimings
    /// From handing the request to the socket to receiving the reply.
    public var roundTrip: Duration
}

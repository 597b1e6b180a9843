/// Joins the pieces of SCTP user messages that usrsctp hands over without MSG_EOR (partial
/// delivery, or a message longer than the read buffer) back into whole messages, per stream.
///
/// Bounded: a message growing past `maxMessageSize` (our `a=max-message-size`, RFC 8841 §6) is
/// discarded up to its end and reported once, so a peer cannot make us buffer without limit.
struct MessageReassembler {
    enum Output: Equatable {
        /// A whole message.
        case message(stream: UInt16, ppid: UInt32, payload: [UInt8])
        /// A message passed the size limit; the rest of it will be dropped silently.
        case oversized(stream: UInt16, ppid: UInt32)
    }

    private struct Partial {
        var ppid: UInt32
        var bytes: [UInt8]
        var discarding: Bool
    }

    let maxMessageSize: Int
    private var partials: [UInt16: Partial] = [:]

    init(maxMessageSize: Int) {
        self.maxMessageSize = maxMessageSize
    }

    /// Bytes currently held for unfinished messages.
    var bufferedBytes: Int { partials.values.reduce(0) { $0 + $1.bytes.count } }

    /// Adds one piece; `end` is MSG_EOR.
    mutating func append(
        stream: UInt16, ppid: UInt32, piece: UnsafeRawBufferPointer, end: Bool
    ) -> Output? {
        if end, partials[stream] == nil {
            // Fast path: the whole message arrived in one read.
            guard piece.count <= maxMessageSize else { return .oversized(stream: stream, ppid: ppid) }
            return .message(stream: stream, ppid: ppid, payload: Array(piece))
        }
        var partial =
            partials.removeValue(forKey: stream) ?? Partial(ppid: ppid, bytes: [], discarding: false)
        var output: Output? = nil
        if !partial.discarding {
            if partial.bytes.count + piece.count > maxMessageSize {
                partial.discarding = true
                partial.bytes = []
                output = .oversized(stream: stream, ppid: partial.ppid)
            } else {
                partial.bytes.append(contentsOf: piece)
            }
        }
        if end {
            if !partial.discarding {
                output = .message(stream: stream, ppid: partial.ppid, payload: partial.bytes)
            }
        } else {
            partials[stream] = partial
        }
        return output
    }

    /// Forgets an unfinished message, e.g. when usrsctp aborts a partial delivery or the stream is
    /// reset.
    mutating func discard(stream: UInt16) {
        partials[stream] = nil
    }
}

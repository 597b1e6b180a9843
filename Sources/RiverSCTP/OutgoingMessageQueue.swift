import RiverCore

/// One user or DCEP message waiting to be handed to usrsctp, possibly partly handed over already.
struct OutgoingMessage {
    let stream: UInt16
    let ppid: UInt32
    let payload: [UInt8]
    /// Bytes already accepted by usrsctp (explicit EOR lets a message go in several pieces).
    var sent = 0
    /// What this message adds to its channel's `bufferedAmount`: the user's byte count, which is
    /// 0 for an empty message (whose wire form is one byte) and for DCEP messages.
    let countedBytes: Int
    let reliability: DataChannelReliability
    let unordered: Bool
    let enqueued: Instant
    /// Sent without a channel (tests inject hostile DCEP and PPIDs this way).
    var raw = false

    var remaining: Int { payload.count - sent }
    /// Counted bytes not yet handed to usrsctp.
    var countedRemaining: Int { max(0, countedBytes - sent) }
}

/// A FIFO of outgoing messages shared by all channels of an association.
///
/// One queue keeps every channel's messages in order and respects usrsctp's rule that, with
/// explicit EOR, a message must be finished before another stream may start one. Array plus
/// head index: O(1) amortised pop without a dependency on swift-collections.
struct OutgoingMessageQueue {
    private var storage: [OutgoingMessage] = []
    private var head = 0

    var isEmpty: Bool { head == storage.count }
    var count: Int { storage.count - head }

    var first: OutgoingMessage? {
        get { isEmpty ? nil : storage[head] }
        set {
            precondition(!isEmpty, "no first message to replace")
            if let newValue { storage[head] = newValue } else { _ = popFirst() }
        }
    }

    mutating func append(_ message: OutgoingMessage) {
        storage.append(message)
    }

    @discardableResult
    mutating func popFirst() -> OutgoingMessage? {
        guard !isEmpty else { return nil }
        let message = storage[head]
        head += 1
        if head >= 64 && head * 2 >= storage.count {
            storage.removeFirst(head)
            head = 0
        }
        return message
    }

    mutating func removeAll() {
        storage.removeAll()
        head = 0
    }
}

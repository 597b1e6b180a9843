import RiverCore

/// What the reorder buffer releases, in sequence order.
public enum RTPReorderEvent: Sendable, Equatable {
    case packet(RTPPacket)
    /// `count` packets from `first` on were given up (waited too long, or pushed out by newer ones).
    case lost(first: UInt16, count: Int)
}

/// Puts RTP packets back in sequence order (16-bit numbers with wraparound, RFC 3550 §A.1) and waits
/// a bounded time for missing ones.
///
/// Packets are held in a ring indexed by `sequenceNumber & (capacity - 1)`: insert and release are
/// O(1) and nothing is allocated per packet. A gap is waited for until `maxWait` after the first
/// packet behind it arrived (long enough for a NACK and its retransmission), or until the ring would
/// overflow; then it is released as ``RTPReorderEvent/lost(first:count:)``. Duplicates and packets
/// older than what was already released are dropped and counted; a long run of those is taken as
/// the sender restarting its numbering, and the buffer follows it.
public struct RTPReorderBuffer: Sendable {
    public let capacity: Int
    public let maxWait: Duration
    public private(set) var duplicates = 0
    public private(set) var late = 0
    public private(set) var lost = 0

    private var slots: [RTPPacket?]
    private var arrivals: [Instant]
    private var expected: UInt16 = 0  // next sequence number to release
    private var started = false
    private var held = 0
    private var consecutiveLate = 0
    /// Late packets in a row taken as a restarted sequence rather than stragglers.
    static let restartAfterLate = 32

    /// - Parameters:
    ///   - capacity: packets held at most; rounded up to a power of two.
    ///   - maxWait: how long a gap is waited for.
    public init(capacity: Int = 1024, maxWait: Duration = .milliseconds(250)) {
        var c = 16
        while c < capacity { c <<= 1 }
        precondition(c <= 16384, "capacity must stay well under half the sequence space")
        self.capacity = c
        self.maxWait = maxWait
        slots = Array(repeating: nil, count: c)
        arrivals = Array(repeating: .zero, count: c)
    }

    /// Packets currently held behind a gap.
    public var heldCount: Int { held }

    /// When ``poll(now:into:)`` should be called next to release a gap, or nil if nothing waits.
    public var nextDeadline: Instant? {
        guard held > 0, let first = firstHeldOffset() else { return nil }
        return arrivals[Int(expected &+ UInt16(first)) & (capacity - 1)] + maxWait
    }

    /// Adds a packet received at `now` and appends what can be released to `out`.
    public mutating func push(_ packet: RTPPacket, now: Instant, into out: inout [RTPReorderEvent]) {
        if !started {
            started = true
            expected = packet.sequenceNumber
        }
        var distance = sequenceDistance(packet.sequenceNumber, from: expected)
        if distance < 0 {
            late += 1
            consecutiveLate += 1
            guard consecutiveLate >= Self.restartAfterLate else { return }
            // So many late packets in a row are no reordering: the sender restarted its sequence
            // numbers. Release what is held and follow the new numbering.
            flush(into: &out)
            expected = packet.sequenceNumber
            distance = 0
        }
        consecutiveLate = 0
        if distance >= capacity {
            // The ring would overflow: give up the oldest gaps until this packet fits.
            skip(to: packet.sequenceNumber &- UInt16(capacity - 1), into: &out)
        }
        let index = Int(packet.sequenceNumber) & (capacity - 1)
        if slots[index] != nil {
            duplicates += 1
            return
        }
        slots[index] = packet
        arrivals[index] = now
        held += 1
        drain(into: &out)
        poll(now: now, into: &out)
    }

    /// Releases gaps that have waited `maxWait`, and the packets behind them.
    public mutating func poll(now: Instant, into out: inout [RTPReorderEvent]) {
        while held > 0, let first = firstHeldOffset() {
            let seq = expected &+ UInt16(first)
            guard now >= arrivals[Int(seq) & (capacity - 1)] + maxWait else { return }
            skip(to: seq, into: &out)
        }
    }

    /// Releases everything held, gaps included (end of stream).
    public mutating func flush(into out: inout [RTPReorderEvent]) {
        while held > 0, let first = firstHeldOffset() { skip(to: expected &+ UInt16(first), into: &out) }
    }

    /// Gives up every sequence number before `target`, releasing held packets among them in order.
    private mutating func skip(to target: UInt16, into out: inout [RTPReorderEvent]) {
        var missingFrom: UInt16 = expected
        var missing = 0
        while sequenceDistance(target, from: expected) > 0 {
            let index = Int(expected) & (capacity - 1)
            if let packet = slots[index] {
                if missing > 0 {
                    out.append(.lost(first: missingFrom, count: missing))
                    lost += missing
                }
                missing = 0
                slots[index] = nil
                held -= 1
                out.append(.packet(packet))
            } else {
                if missing == 0 { missingFrom = expected }
                missing += 1
            }
            expected &+= 1
        }
        if missing > 0 {
            out.append(.lost(first: missingFrom, count: missing))
            lost += missing
        }
        drain(into: &out)
    }

    private mutating func drain(into out: inout [RTPReorderEvent]) {
        while held > 0 {
            let index = Int(expected) & (capacity - 1)
            guard let packet = slots[index] else { return }
            slots[index] = nil
            held -= 1
            out.append(.packet(packet))
            expected &+= 1
        }
    }

    /// Offset from `expected` of the first held packet (only called while a gap is at `expected`).
    private func firstHeldOffset() -> Int? {
        for offset in 1..<capacity where slots[(Int(expected) + offset) & (capacity - 1)] != nil {
            return offset
        }
        return nil
    }
}

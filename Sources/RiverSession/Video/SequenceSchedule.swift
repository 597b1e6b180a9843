import RiverCore

/// When each recent packet of the browser's video leaves the delay line, by sequence number, so
/// that a packet that comes late leaves beside its neighbours rather than at its own arrival plus
/// the delay.
///
/// A late packet is most often the repair of an upstream loss: it comes a NACK round trip after
/// its frame, or a frame interval and a round trip when it was the frame's last packet (the loss
/// shows only when the next frame arrives). Scheduled by its own arrival it would hold the whole
/// echoed frame back by that much, although the delay (seconds) left ample time for the repair.
/// Scheduled by its neighbour it leaves on the frame's own schedule, and upstream loss no longer
/// moves the delay the user sees.
///
/// It also tells a packet already held (the browser resent one that was not lost): forwarding it
/// again would only be counted as a duplicate by the receiver; and when each recent frame's last
/// packet leaves (``frameDue(_:)``).
struct SequenceSchedule {
    enum Placement: Equatable {
        /// The newest so far, or one too old or too far from its neighbours to place: the line's
        /// tail.
        case newest
        /// Late: leave at this due time (see ``place(_:timestamp:ssrc:)``).
        case late(due: Instant)
        /// Held or sent already.
        case duplicate
    }

    /// Sequence numbers remembered; a packet older than this behind the newest goes to the tail.
    static let window = 1024
    /// How far from a late packet a neighbour is looked for.
    static let neighbourSearch = 16
    /// Frames whose last due time is remembered.
    static let framesRemembered = 64

    private var sequences = [UInt16](repeating: 0, count: window)
    private var dues = [Instant?](repeating: nil, count: window)
    private var timestamps = [UInt32](repeating: 0, count: window)
    private var newest: UInt16?
    private var ssrc: UInt32?
    /// (RTP timestamp, latest due of its packets) of recent frames, oldest first.
    private var frames: [(timestamp: UInt32, due: Instant)] = []

    /// Where a packet with this sequence number and RTP timestamp (of stream `ssrc`, 90 kHz)
    /// belongs. A late packet is due with the nearest packet of its own frame (same timestamp);
    /// next to a packet of another frame, it is due that packet's due time moved by the
    /// timestamps' difference (the sender's spacing of the frames), kept between its neighbours.
    mutating func place(_ sequence: UInt16, timestamp: UInt32, ssrc: UInt32) -> Placement {
        if ssrc != self.ssrc {
            clear()
            self.ssrc = ssrc
        }
        guard let newest else { return .newest }
        let behind = Int(newest &- sequence)
        if behind == 0 || behind >= 0x8000 { return due(of: sequence) == nil ? .newest : .duplicate }
        guard behind < Self.window else { return .newest }
        if due(of: sequence) != nil { return .duplicate }
        let before = neighbour(of: sequence, step: 0 &- 1)
        let after = neighbour(of: sequence, step: 1)
        var due: Instant
        if let after, after.timestamp == timestamp {
            due = after.due - .nanoseconds(1)  // just ahead of it: the frame's packets stay in order
        } else if let before {
            due = before.due + Self.duration(from: before.timestamp, to: timestamp)
        } else if let after {
            due = after.due - Self.duration(from: timestamp, to: after.timestamp)
        } else {
            return .newest
        }
        if let after { due = min(due, after.due) }
        if let before { due = max(due, before.due) }
        return .late(due: due)
    }

    /// The time from one 90 kHz timestamp to a later one; zero when it is not later.
    private static func duration(from start: UInt32, to end: UInt32) -> Duration {
        let ticks = end &- start
        return ticks < 0x8000_0000 ? .nanoseconds(Int64(ticks) * 100_000 / 9) : .zero
    }

    /// The nearest packet held or sent in the direction of `step` (±1), within ``neighbourSearch``.
    private func neighbour(of sequence: UInt16, step: UInt16) -> (due: Instant, timestamp: UInt32)? {
        var other = sequence
        for _ in 0..<Self.neighbourSearch {
            other &+= step
            if let due = due(of: other) { return (due, timestamps[Int(other) % Self.window]) }
        }
        return nil
    }

    /// The packet was put in the line to leave at `due`.
    mutating func record(_ sequence: UInt16, timestamp: UInt32, due: Instant) {
        if let newest {
            let ahead = Int(sequence &- newest)
            // The numbers skipped are missing: their slots must not answer for an older packet.
            if ahead < 0x8000 {
                for step in 1..<max(1, min(ahead, Self.window + 1)) {
                    dues[Int(newest &+ UInt16(step)) % Self.window] = nil
                }
                self.newest = sequence
            }
        } else {
            newest = sequence
        }
        let slot = Int(sequence) % Self.window
        sequences[slot] = sequence
        dues[slot] = due
        timestamps[slot] = timestamp
        if let index = frames.lastIndex(where: { $0.timestamp == timestamp }) {
            frames[index].due = max(frames[index].due, due)
        } else {
            if frames.count == Self.framesRemembered { frames.removeFirst() }
            frames.append((timestamp, due))
        }
    }

    /// When the last packet recorded of the frame with this RTP timestamp leaves: the frame
    /// reaches the receiver then. A frame the reorder buffer released late, behind a repaired
    /// gap, has this as its own arrival, not the repair's.
    func frameDue(_ timestamp: UInt32) -> Instant? {
        frames.last { $0.timestamp == timestamp }?.due
    }

    /// Forgets every due time (the line's were all moved, or a new stream began).
    mutating func clear() {
        for i in dues.indices { dues[i] = nil }
        newest = nil
        frames.removeAll(keepingCapacity: true)
    }

    private func due(of sequence: UInt16) -> Instant? {
        guard let newest, Int(newest &- sequence) < Self.window else { return nil }
        let slot = Int(sequence) % Self.window
        return sequences[slot] == sequence ? dues[slot] : nil
    }
}

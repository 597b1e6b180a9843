import RiverCore

/// Why a picture loss indication is asked for.
public enum PLIReason: Sendable, Equatable {
    /// A keyframe is needed (before the first one, or since an earlier request) and none has arrived:
    /// repeated every ``LossRepair/Configuration/keyframeRequestInterval`` while packets keep coming.
    case noKeyframeYet
    /// A gap was not repaired by retransmission in time.
    case lossNotRepaired
    /// The decoder could not decode what it was given.
    case decoderError
    /// An access unit arrived whole but malformed (bad aggregate or fragment) and was dropped.
    case malformedPayload
    /// An access unit grew past the depacketizer's bound and was dropped.
    case unitTooLarge
}

/// Feedback a receiver should send; the I/O shell turns these into RTCP packets.
public enum LossRepairEvent: Sendable, Equatable {
    /// Generic NACK (RFC 4585 §6.2.1) for these sequence numbers, oldest first.
    case nack([UInt16])
    /// Picture loss indication (RFC 4585 §6.3.1).
    case pli(PLIReason)
}

/// Receiver-side loss repair as a sans-IO state machine: fed each received sequence number with the
/// time, it asks for retransmission of missing packets (generic NACK, RFC 4585 §6.2.1) a bounded
/// number of times, and for a keyframe (PLI, RFC 4585 §6.3.1) when a gap is not repaired in time, when
/// the decoder fails, and periodically until the first keyframe arrives.
///
/// A keyframe request can itself be lost, so it is repeated every `keyframeRequestInterval` until a
/// keyframe arrives; only while packets keep arriving, since a sender that has gone quiet cannot
/// answer, and its next packet re-arms the request.
///
/// A packet is first NACKed `nackDelay` after its gap was seen, so packets that are merely reordered
/// are not asked for. Retries follow every `nackInterval`, at most `maxNackRetries` times; after
/// `repairTimeout` the packet is given up. PLIs are spaced at least `minPLIInterval` apart.
public struct LossRepair: Sendable {
    public struct Configuration: Sendable {
        public var nackDelay: Duration = .milliseconds(10)
        public var nackInterval: Duration = .milliseconds(50)
        public var maxNackRetries = 3
        public var repairTimeout: Duration = .milliseconds(250)
        public var minPLIInterval: Duration = .milliseconds(200)
        public var keyframeRequestInterval: Duration = .milliseconds(500)
        /// Missing packets tracked at most; a larger gap is not NACKed but answered with a PLI.
        public var maxMissing = 512
        /// False for a stream without keyframes (Opus audio): only NACKs, never a PLI, and a gap
        /// too large or not repaired in time is just given up.
        public var keyframes = true
        public init() {}
    }

    private struct Missing {
        var seenAt: Instant
        var nacks: Int
        var lastNackAt: Instant
    }

    public let configuration: Configuration
    public private(set) var nacksSent = 0
    public private(set) var plisSent = 0
    public private(set) var packetsGivenUp = 0
    public private(set) var packetsRepaired = 0
    /// True from the start and from every keyframe request until ``keyframeReceived()``.
    public private(set) var needsKeyframe = true

    private var started = false
    /// A packet arrived since the last keyframe request (or since the start): a repeat may be sent.
    private var arrivedSinceRequest = false
    private var highest: UInt16 = 0
    private var startedAt: Instant = .zero
    private var lastPLIAt: Instant?
    private var behind = 0  // packets in a row older than `highest` that filled no gap
    /// Keyed by sequence number; small (only current gaps), so a dictionary keeps lookups O(1).
    private var missing: [UInt16: Missing] = [:]

    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
        needsKeyframe = configuration.keyframes
    }

    /// Sequence numbers currently missing, oldest first.
    public var missingSequenceNumbers: [UInt16] {
        missing.keys.sorted { sequenceDistance($0, from: highest) < sequenceDistance($1, from: highest) }
    }

    /// When ``tick(now:into:)`` should run next, or nil if nothing is pending.
    public var nextDeadline: Instant? {
        var deadline: Instant?
        func consider(_ d: Instant) { deadline = deadline.map { Swift.min($0, d) } ?? d }
        for m in missing.values {
            if m.nacks <= configuration.maxNackRetries {
                consider(
                    m.nacks == 0
                        ? m.seenAt + configuration.nackDelay : m.lastNackAt + configuration.nackInterval)
            }
            consider(m.seenAt + configuration.repairTimeout)
        }
        if let repeatAt = keyframeRepeatDeadline { consider(repeatAt) }
        return deadline
    }

    /// A packet with `sequenceNumber` arrived at `now` (originals and retransmissions alike).
    public mutating func receive(sequenceNumber seq: UInt16, now: Instant, into out: inout [LossRepairEvent])
    {
        arrivedSinceRequest = true
        if !started {
            started = true
            startedAt = now
            highest = seq
            return tick(now: now, into: &out)
        }
        let distance = sequenceDistance(seq, from: highest)
        if distance > 0 {
            if distance - 1 + missing.count > configuration.maxMissing {
                // Too many to ask for one by one: a keyframe is cheaper than the retransmissions.
                packetsGivenUp += missing.count + distance - 1
                missing.removeAll(keepingCapacity: true)
                requestKeyframe(.lossNotRepaired, now: now, into: &out)
            } else {
                var s = highest &+ 1
                while s != seq {
                    missing[s] = Missing(seenAt: now, nacks: 0, lastNackAt: now)
                    s &+= 1
                }
            }
            highest = seq
        } else if distance < 0 {
            if missing.removeValue(forKey: seq) != nil {
                packetsRepaired += 1
                behind = 0
            } else {
                behind += 1
                if behind >= RTPReorderBuffer.restartAfterLate {
                    // The sender restarted its numbering: old gaps will never be filled.
                    missing.removeAll(keepingCapacity: true)
                    highest = seq
                    behind = 0
                }
            }
            return tick(now: now, into: &out)
        }
        behind = 0
        tick(now: now, into: &out)
    }

    /// A complete keyframe reached the decoder: repeated keyframe requests stop.
    public mutating func keyframeReceived() {
        needsKeyframe = false
    }

    /// When the keyframe request is due again, or nil if none is needed or the sender is quiet.
    private var keyframeRepeatDeadline: Instant? {
        guard started && needsKeyframe && arrivedSinceRequest else { return nil }
        return (lastPLIAt ?? startedAt) + configuration.keyframeRequestInterval
    }

    /// The decoder rejected a unit: ask for a keyframe.
    public mutating func decoderFailed(now: Instant, into out: inout [LossRepairEvent]) {
        requestKeyframe(.decoderError, now: now, into: &out)
    }

    /// Sends NACKs and PLIs that are due at `now`.
    public mutating func tick(now: Instant, into out: inout [LossRepairEvent]) {
        var gaveUp = false
        var due: [UInt16] = []
        if !missing.isEmpty {
            for (seq, var m) in missing {
                if now >= m.seenAt + configuration.repairTimeout {
                    missing[seq] = nil
                    packetsGivenUp += 1
                    gaveUp = true
                    continue
                }
                let isDue =
                    m.nacks == 0
                    ? now >= m.seenAt + configuration.nackDelay
                    : now >= m.lastNackAt + configuration.nackInterval
                if isDue && m.nacks <= configuration.maxNackRetries {
                    m.nacks += 1
                    m.lastNackAt = now
                    missing[seq] = m
                    due.append(seq)
                }
            }
        }
        if !due.isEmpty {
            due.sort { sequenceDistance($0, from: highest) < sequenceDistance($1, from: highest) }
            nacksSent += 1
            out.append(.nack(due))
        }
        if gaveUp {
            requestKeyframe(.lossNotRepaired, now: now, into: &out)
        } else if let repeatAt = keyframeRepeatDeadline, now >= repeatAt {
            requestKeyframe(.noKeyframeYet, now: now, into: &out)
        }
    }

    /// Asks for a keyframe unless one was asked for less than `minPLIInterval` ago; either way one is
    /// needed until ``keyframeReceived()``, and is asked for again if it does not come.
    public mutating func requestKeyframe(
        _ reason: PLIReason, now: Instant, into out: inout [LossRepairEvent]
    ) {
        guard configuration.keyframes else { return }
        needsKeyframe = true
        if let last = lastPLIAt, now < last + configuration.minPLIInterval { return }
        lastPLIAt = now
        arrivedSinceRequest = false
        plisSent += 1
        out.append(.pli(reason))
    }
}

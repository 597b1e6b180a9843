import RiverCore

/// What the frame builder gives the stream's owner.
public enum H264FrameBuilderEvent: Sendable, Equatable {
    /// A complete access unit the decoder may take.
    case accessUnit(H264AccessUnit)
    /// Ask the sender to retransmit these sequence numbers (generic NACK).
    case nack([UInt16])
    /// Ask the sender for a keyframe.
    case pli(PLIReason)
    /// An access unit was dropped and why (for metrics and logs; nothing to send).
    case dropped(timestamp: UInt32, H264DepacketizerError)
    /// A complete access unit held back until the next keyframe: it refers to a picture the
    /// decoder never got, so it is not decoded (its owner may still say so about its frame).
    case skipped(timestamp: UInt32)
}

/// Rebuilds H.264 access units from one stream's RTP packets and drives its loss repair: the receive
/// half of DESIGN.md's frame builder, sans-IO (packets and time in, units and feedback out).
///
/// Stages, each usable alone: ``RTPReorderBuffer`` → ``H264Depacketizer`` with ``LossRepair`` watching
/// every arrival. After an unrepaired loss (or before the first keyframe) units are held back until
/// the next keyframe, so the decoder never gets a picture that refers to one it never saw.
public struct H264FrameBuilder: Sendable {
    public struct Configuration: Sendable {
        public var mode: H264PacketizationMode = .nonInterleaved
        public var spropParameterSets: String?
        public var reorderCapacity = 1024
        /// The bound on one access unit (``H264Depacketizer/maxUnitBytes``).
        public var maxUnitBytes = H264Depacketizer.defaultMaxUnitBytes
        public var lossRepair = LossRepair.Configuration()
        public init() {}
    }

    public private(set) var reorder: RTPReorderBuffer
    public private(set) var depacketizer: H264Depacketizer
    public private(set) var repair: LossRepair
    /// Units held back because a keyframe was needed.
    public private(set) var unitsSkippedAwaitingKeyframe = 0
    private var awaitingKeyframe = true
    private var ordered: [RTPReorderEvent] = []
    private var units: [H264DepacketizerOutput] = []
    private var feedback: [LossRepairEvent] = []

    public init(configuration: Configuration = .init()) throws(H264DepacketizerError) {
        // The reorder buffer gives a gap up exactly when loss repair does.
        reorder = RTPReorderBuffer(
            capacity: configuration.reorderCapacity, maxWait: configuration.lossRepair.repairTimeout)
        depacketizer = try H264Depacketizer(
            mode: configuration.mode, spropParameterSets: configuration.spropParameterSets,
            maxUnitBytes: configuration.maxUnitBytes)
        repair = LossRepair(configuration: configuration.lossRepair)
    }

    /// When ``tick(now:)`` should run next, or nil if nothing is pending.
    public var nextDeadline: Instant? {
        Instant.earliest(reorder.nextDeadline, repair.nextDeadline)
    }

    /// Takes one received packet (original or retransmission) at `now`.
    public mutating func push(_ packet: RTPPacket, now: Instant) -> [H264FrameBuilderEvent] {
        repair.receive(sequenceNumber: packet.sequenceNumber, now: now, into: &feedback)
        reorder.push(packet, now: now, into: &ordered)
        return collect(now: now)
    }

    /// Lets timers run: NACK retries, gaps given up, periodic keyframe requests.
    public mutating func tick(now: Instant) -> [H264FrameBuilderEvent] {
        repair.tick(now: now, into: &feedback)
        reorder.poll(now: now, into: &ordered)
        return collect(now: now)
    }

    /// The decoder rejected a unit: ask for a keyframe and hold units back until one comes.
    public mutating func decoderFailed(now: Instant) -> [H264FrameBuilderEvent] {
        awaitingKeyframe = true
        repair.decoderFailed(now: now, into: &feedback)
        return collect(now: now)
    }

    private mutating func collect(now: Instant) -> [H264FrameBuilderEvent] {
        var events: [H264FrameBuilderEvent] = []
        if !ordered.isEmpty {
            for event in ordered {
                switch event {
                case .packet(let packet): depacketizer.push(packet, into: &units)
                case .lost: depacketizer.packetsLost()
                }
            }
            ordered.removeAll(keepingCapacity: true)
        }
        if !units.isEmpty {
            for unit in units {
                switch unit {
                case .accessUnit(let au):
                    if au.isKeyframe {
                        awaitingKeyframe = false
                        repair.keyframeReceived()
                    }
                    if awaitingKeyframe {
                        unitsSkippedAwaitingKeyframe += 1
                        events.append(.skipped(timestamp: au.timestamp))
                    } else {
                        events.append(.accessUnit(au))
                    }
                case .dropped(let ts, let why):
                    awaitingKeyframe = true
                    if case .packetsLost = why {
                        // Loss repair already asked for a keyframe when it gave the gap up.
                    } else if case .unitTooLarge = why {
                        repair.requestKeyframe(.unitTooLarge, now: now, into: &feedback)
                    } else {
                        repair.requestKeyframe(.malformedPayload, now: now, into: &feedback)
                    }
                    events.append(.dropped(timestamp: ts, why))
                }
            }
            units.removeAll(keepingCapacity: true)
        }
        for f in feedback {
            switch f {
            case .nack(let seqs): events.append(.nack(seqs))
            case .pli(let reason): events.append(.pli(reason))
            }
        }
        feedback.removeAll(keepingCapacity: true)
        return events
    }
}

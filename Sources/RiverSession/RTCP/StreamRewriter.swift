import RiverRTP

/// Turns the browser's packets into packets of our own outgoing stream (RFC 3550 §5.1): our SSRC,
/// sequence numbers continuous from a random start, RTP timestamps plus a fixed offset. Every
/// output of a session (reflect or delayed) goes through one of these.
///
/// When the upstream SSRC changes (the browser restarted its sender) the numbering continues where
/// it stopped, so the receiver sees one stream without a gap.
public struct StreamRewriter: Sendable {
    public let outgoingSSRC: UInt32
    /// Added to every input RTP timestamp (90 kHz for video).
    public let timestampOffset: UInt32
    public private(set) var upstreamSSRC: UInt32?
    private var sequenceOffset: UInt16 = 0
    private var lastOutgoingSequence: UInt16

    public init(
        outgoingSSRC: UInt32, timestampOffset: UInt32 = 0, firstSequence: UInt16 = .random(in: 0...0x7FFF)
    ) {
        self.outgoingSSRC = outgoingSSRC
        self.timestampOffset = timestampOffset
        self.lastOutgoingSequence = firstSequence &- 1
    }

    /// The output RTP timestamp of an input timestamp.
    @inlinable
    public func outputTimestamp(_ input: UInt32) -> UInt32 { input &+ timestampOffset }

    public mutating func rewrite(_ incoming: RTPPacket) -> RTPPacket {
        if incoming.ssrc != upstreamSSRC {
            upstreamSSRC = incoming.ssrc
            sequenceOffset = lastOutgoingSequence &+ 1 &- incoming.sequenceNumber
        }
        var packet = incoming
        packet.ssrc = outgoingSSRC
        packet.sequenceNumber = incoming.sequenceNumber &+ sequenceOffset
        packet.timestamp = outputTimestamp(incoming.timestamp)
        if packet.sequenceNumber &- lastOutgoingSequence < 0x8000 {
            lastOutgoingSequence = packet.sequenceNumber
        }
        return packet
    }

    /// A duration in RTP units of `clockRate` (90 kHz: video), modulo 2³².
    public static func rtpUnits(_ duration: Duration, clockRate: UInt64 = 90_000) -> UInt32 {
        let ns = UInt64(max(0, duration.nanosecondsClamped))
        return UInt32(
            truncatingIfNeeded: ns / 1_000_000_000 * clockRate + (ns % 1_000_000_000) * clockRate
                / 1_000_000_000)
    }
}

import RiverCore
import RiverRTP

/// What RTCP stages hand back to the engine: compounds for the peer (feedback on the browser's
/// stream, reports on ours) and packets of our stream to send again.
public struct RTCPStageOutput: Sendable {
    /// Each element goes out as one SRTCP packet (RFC 5506 reduced-size compounds allowed).
    public var compounds: [[RTCPPacket]] = []
    /// Packets of our outgoing stream to send (retransmissions).
    public var retransmissions: [RTPPacket] = []
    /// A viewer's receiver asked for a key frame, which only the publisher's browser can make
    /// (``PLIForwarder/Source/publisher``).
    public var keyFrameWanted = false

    public init() {}

    public var isEmpty: Bool { compounds.isEmpty && retransmissions.isEmpty && !keyFrameWanted }
}

/// One small piece of RTCP behaviour, in the manner of Pion's interceptors: it watches the RTP that
/// comes in and goes out and the RTCP the peer sends, and produces RTCP (or retransmissions) when
/// something arrives or when its own deadline passes.
///
/// The engine parses each SRTCP compound once and offers every packet in it to every stage; a stage
/// ignores what is not for it. Stages are sans-IO and each is tested alone.
public protocol RTCPStage {
    /// A packet of the peer's stream arrived (after SRTP, before any reordering).
    mutating func received(rtp packet: RTPPacket, now: Instant)
    /// A packet of our outgoing stream was sent (first transmission, already rewritten).
    mutating func sent(rtp packet: RTPPacket, now: Instant)
    /// One packet of an RTCP compound from the peer.
    mutating func received(rtcp packet: RTCPPacket, now: Instant, into out: inout RTCPStageOutput)
    /// When ``handleTimeout(now:into:)`` wants to run, or nil.
    var nextDeadline: Instant? { get }
    mutating func handleTimeout(now: Instant, into out: inout RTCPStageOutput)
}

extension RTCPStage {
    public mutating func received(rtp packet: RTPPacket, now: Instant) {}
    public mutating func sent(rtp packet: RTPPacket, now: Instant) {}
    public mutating func received(rtcp packet: RTCPPacket, now: Instant, into out: inout RTCPStageOutput) {}
    public var nextDeadline: Instant? { nil }
    public mutating func handleTimeout(now: Instant, into out: inout RTCPStageOutput) {}
}

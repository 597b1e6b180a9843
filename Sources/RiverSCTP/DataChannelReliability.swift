/// How a data channel delivers its messages: the channel type and reliability parameter of a
/// DCEP DATA_CHANNEL_OPEN (RFC 8832 §5.1), realised with PR-SCTP (RFC 3758) policies.
public enum DataChannelReliability: Sendable, Hashable {
    /// Every message is retransmitted until acknowledged.
    case reliable
    /// A message is abandoned after this many retransmissions (`maxRetransmits`);
    /// SCTP_PR_SCTP_RTX in usrsctp.
    case maxRetransmits(UInt32)
    /// A message is abandoned once it is this many milliseconds old (`maxPacketLifeTime`);
    /// SCTP_PR_SCTP_TTL in usrsctp.
    case maxPacketLifeTime(milliseconds: UInt32)
}

/// The part of a data channel's parameters that the DCEP OPEN message carries and both ends
/// agree on. The stream identifier is chosen by the opener (RFC 8832 §6).
public struct DataChannelParameters: Sendable, Hashable {
    /// The channel's label; the page's `RTCDataChannel.label`.
    public var label: String
    /// The sub-protocol, often empty (RFC 8832 §5.1 "Protocol").
    public var `protocol`: String
    /// Whether messages are delivered in the order they were sent.
    public var ordered: Bool
    public var reliability: DataChannelReliability
    /// RFC 8832 §5.1 "Priority"; 256 is the "normal" of RFC 8831 §6.4.
    public var priority: UInt16

    public init(
        label: String, protocol: String = "", ordered: Bool = true,
        reliability: DataChannelReliability = .reliable, priority: UInt16 = 256
    ) {
        self.label = label
        self.protocol = `protocol`
        self.ordered = ordered
        self.reliability = reliability
        self.priority = priority
    }
}

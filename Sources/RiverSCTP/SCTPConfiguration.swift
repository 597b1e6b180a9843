/// Settings of one SCTP association carrying data channels.
public struct SCTPConfiguration: Sendable {
    /// Our DTLS role, which decides the parity of the stream ids we pick (RFC 8832 §6): the DTLS
    /// client uses even ids, the DTLS server (river, `a=setup:passive`) odd ones.
    public enum DTLSRole: Sendable, Hashable {
        case client
        case server
    }

    public var role: DTLSRole
    /// Our `a=sctp-port` (RFC 8841 §5); 5000 by convention.
    public var localPort: UInt16 = 5000
    /// The peer's `a=sctp-port`.
    public var remotePort: UInt16 = 5000
    /// The largest message we accept, our `a=max-message-size` (RFC 8841 §6). Larger incoming
    /// messages are dropped and counted.
    public var maxMessageSize = 262_144
    /// The peer's `a=max-message-size`: the largest message we may send. RFC 8841 §6 says 64 KiB
    /// when the attribute is absent; 0 means "no limit".
    public var peerMaxMessageSize = 262_144
    /// Streams we offer in each direction (INIT's OS and MIS); ids go up to this minus one.
    public var streams: UInt16 = 1024
    /// SCTP packet size limit. The DTLS record around a packet adds up to 37 bytes with AES-GCM
    /// (13-byte header, 8-byte explicit nonce, 16-byte tag), so 1160 keeps datagrams under the
    /// 1200 bytes the DTLS endpoint is configured for.
    public var mtu: UInt32 = 1160
    /// usrsctp's socket send buffer: how much it holds unacknowledged or not yet sent.
    public var sendBufferSize: Int32 = 1 << 20
    /// usrsctp's socket receive buffer, which sets the receive window we advertise.
    public var receiveBufferSize: Int32 = 1 << 20
    /// Default ``DataChannel/bufferedAmountLimit`` for new channels.
    public var bufferedAmountLimit = 4 << 20
    /// Default ``DataChannel/bufferedAmountLowThreshold`` for new channels.
    public var bufferedAmountLowThreshold = 256 << 10
    /// The most channels (open or closing, either side's) the association holds: a peer's OPEN
    /// past it is refused (its stream reset at once, counted in
    /// ``SCTPAssociationStatistics/channelsRefused``), so a peer cannot make us hold a channel,
    /// and its buffer, per stream id.
    public var maxChannels = 16
    /// The most bytes queued for sending across all channels: each channel's
    /// ``DataChannel/bufferedAmountLimit`` alone would let a peer that never acknowledges
    /// make us hold that much per channel. A send past it fails with `bufferFull`.
    public var maxBufferedAmount = 8 << 20

    public init(role: DTLSRole) {
        self.role = role
    }
}

/// Counters of one association; malformed input is dropped and counted here, never fatal.
public struct SCTPAssociationStatistics: Sendable, Hashable {
    /// Packets dropped before usrsctp: too short, wrong destination port or bad CRC32c.
    public var malformedPackets = 0
    /// DCEP messages that did not parse, or were not valid where they arrived (an OPEN on an id of
    /// the wrong parity or one in use, an ACK nobody waited for).
    public var malformedDCEP = 0
    /// User messages with a PPID data channels do not use.
    public var unknownPPID = 0
    /// User messages on a stream without an open channel.
    public var messagesWithoutChannel = 0
    /// Incoming messages larger than ``SCTPConfiguration/maxMessageSize``.
    public var oversizedMessages = 0
    /// Partially reliable messages whose lifetime ended while still in our queue, plus those
    /// usrsctp reported as abandoned or failed.
    public var abandonedMessages = 0
    /// Peer OPENs refused because ``SCTPConfiguration/maxChannels`` were held.
    public var channelsRefused = 0
    /// Sends refused because the association's queue held ``SCTPConfiguration/maxBufferedAmount``.
    public var sendsOverBudget = 0
    public var messagesSent = 0
    public var messagesReceived = 0
    public var bytesSent = 0
    public var bytesReceived = 0

    public init() {}
}

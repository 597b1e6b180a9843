/// A WebRTC data channel (RFC 8831): one SCTP stream id in both directions, opened with DCEP
/// (RFC 8832).
///
/// Confined to the owning association's executor, like the association itself. Messages arrive
/// as ``SCTPAssociation/Event/message(_:_:)`` events.
///
/// **Backpressure.** ``bufferedAmount`` counts bytes accepted by ``send(_:)`` that usrsctp has not
/// yet taken into its (bounded) socket send buffer. `send` refuses a message that would take it
/// past ``bufferedAmountLimit`` with ``DataChannelError/bufferFull(bufferedAmount:limit:)``, and
/// the association reports ``SCTPAssociation/Event/bufferedAmountLow(_:)`` when the amount falls
/// to ``bufferedAmountLowThreshold`` or below, so a slow peer cannot make us buffer without bound.
public final class DataChannel {
    public enum State: Sendable, Hashable {
        /// Opened by us before the association is up; messages sent now are queued.
        case connecting
        case open
        /// `close()` was called or the peer reset its stream; queued messages still go out,
        /// then both directions of the stream are reset (RFC 8831 §6.7).
        case closing
        case closed
    }

    /// The SCTP stream id: odd for channels the DTLS server opened, even for the DTLS client's
    /// (RFC 8832 §6).
    public let id: UInt16
    public let parameters: DataChannelParameters
    /// True when the peer opened the channel (we answered its DATA_CHANNEL_OPEN).
    public let openedByPeer: Bool
    public internal(set) var state: State
    public internal(set) var bufferedAmount = 0
    /// The most ``bufferedAmount`` may reach; set from the configuration, adjustable per channel.
    public var bufferedAmountLimit: Int
    /// ``SCTPAssociation/Event/bufferedAmountLow(_:)`` fires when ``bufferedAmount`` falls from
    /// above this to at most this.
    public var bufferedAmountLowThreshold: Int

    public var label: String { parameters.label }

    weak var association: SCTPAssociation?
    /// Until the ACK arrives, the opener must send ordered (RFC 8832 §6).
    var acknowledged: Bool
    /// Messages of this channel still in the association's queue.
    var queuedMessages = 0
    var lowWaterArmed = false
    var outgoingResetRequested = false
    var outgoingReset = false
    var incomingReset = false

    init(
        id: UInt16, parameters: DataChannelParameters, openedByPeer: Bool, state: State,
        association: SCTPAssociation, limit: Int, lowThreshold: Int
    ) {
        self.id = id
        self.parameters = parameters
        self.openedByPeer = openedByPeer
        self.state = state
        self.association = association
        self.acknowledged = openedByPeer
        self.bufferedAmountLimit = limit
        self.bufferedAmountLowThreshold = lowThreshold
    }

    /// Queues a message and hands as much as possible to SCTP at once.
    public func send(_ message: DataChannelMessage) throws(DataChannelError) {
        guard let association else { throw .closed(channel: id) }
        try association.send(message, on: self)
    }

    public func send(text: String) throws(DataChannelError) {
        try send(.text(text))
    }

    public func send(binary: [UInt8]) throws(DataChannelError) {
        try send(.binary(binary))
    }

    /// Closes the channel: messages already queued are still delivered, then the stream is reset.
    public func close() {
        association?.close(self)
    }
}

/// Why a data-channel operation was refused.
public enum DataChannelError: Error, Sendable, Hashable, CustomStringConvertible {
    case closed(channel: UInt16)
    case messageTooLarge(size: Int, limit: Int)
    case bufferFull(bufferedAmount: Int, limit: Int)
    case noStreamAvailable
    case associationClosed

    public var description: String {
        switch self {
        case .closed(let id): "data channel \(id) is closing or closed"
        case .messageTooLarge(let size, let limit):
            "message of \(size) bytes exceeds the peer's max-message-size \(limit)"
        case .bufferFull(let amount, let limit):
            "buffered amount \(amount) would exceed the limit \(limit); wait for bufferedAmountLow"
        case .noStreamAvailable: "no free SCTP stream id for a new data channel"
        case .associationClosed: "the SCTP association is closed"
        }
    }
}

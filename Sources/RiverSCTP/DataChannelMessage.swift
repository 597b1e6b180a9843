/// One data-channel message: a string or binary payload (RFC 8831 §6.6).
///
/// Text is kept as its UTF-8 bytes rather than a `String`, so that a message can be echoed back
/// byte-identical even if a peer sent ill-formed UTF-8.
public struct DataChannelMessage: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        case text
        case binary
    }

    public var kind: Kind
    public var payload: [UInt8]

    public init(kind: Kind, payload: [UInt8]) {
        self.kind = kind
        self.payload = payload
    }

    public static func text(_ string: String) -> DataChannelMessage {
        DataChannelMessage(kind: .text, payload: Array(string.utf8))
    }

    public static func binary(_ bytes: [UInt8]) -> DataChannelMessage {
        DataChannelMessage(kind: .binary, payload: bytes)
    }

    /// The payload decoded as UTF-8, or nil if it is not valid UTF-8.
    public var text: String? { String(validating: payload, as: UTF8.self) }
}

/// SCTP Payload Protocol Identifiers used by WebRTC (RFC 8831 §8, RFC 8832 §8.1).
enum PayloadProtocolIdentifier {
    static let dcep: UInt32 = 50
    static let string: UInt32 = 51
    static let binary: UInt32 = 53
    /// SCTP cannot carry an empty user message, so an empty one travels as a single byte with
    /// these PPIDs and the receiver ignores that byte (RFC 8831 §6.6).
    static let stringEmpty: UInt32 = 56
    static let binaryEmpty: UInt32 = 57

    /// The PPID and the bytes to put on the wire for a message.
    static func encode(_ message: DataChannelMessage) -> (ppid: UInt32, payload: [UInt8]) {
        switch (message.kind, message.payload.isEmpty) {
        case (.text, false): (string, message.payload)
        case (.binary, false): (binary, message.payload)
        case (.text, true): (stringEmpty, [0])
        case (.binary, true): (binaryEmpty, [0])
        }
    }

    /// The message a received user message stands for, or nil for a PPID data channels do not use
    /// (including the deprecated partial PPIDs 52 and 54, which RFC 8831 §8 says not to use).
    static func decode(ppid: UInt32, payload: [UInt8]) -> DataChannelMessage? {
        switch ppid {
        case string: DataChannelMessage(kind: .text, payload: payload)
        case binary: DataChannelMessage(kind: .binary, payload: payload)
        case stringEmpty: DataChannelMessage(kind: .text, payload: [])
        case binaryEmpty: DataChannelMessage(kind: .binary, payload: [])
        default: nil
        }
    }
}

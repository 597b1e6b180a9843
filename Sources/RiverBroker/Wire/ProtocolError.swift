/// Why a multipart message was refused by `WireCodec`. Each case says what was wrong and where,
/// so a log line is enough to find the misbehaving peer's bug.
public enum ProtocolError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The message had the wrong number of frames after its routing envelope.
    case wrongFrameCount(type: MessageType?, expected: Int, got: Int)
    /// The header frame ended before the field `field` (which needs `need` bytes; `got` were there).
    case truncated(field: String, need: Int, got: Int)
    /// The header does not start with the protocol's signature "RV".
    case badSignature
    /// The header's version byte is not `WireCodec.version`.
    case unsupportedVersion(UInt8)
    /// The type byte names no message type.
    case unknownType(UInt8)
    /// A field holds a value the protocol forbids.
    case badField(String)
    /// The body frame's length disagrees with the header.
    case bodySizeMismatch(type: MessageType, declared: Int, actual: Int)

    public var description: String {
        switch self {
        case .wrongFrameCount(let type, let expected, let got):
            "\(type.map(String.init(describing:)) ?? "message") needs \(expected) frame(s), got \(got)"
        case .truncated(let field, let need, let got):
            "header truncated at \(field): needs \(need) bytes, has \(got)"
        case .badSignature: "header does not start with the signature \"RV\""
        case .unsupportedVersion(let version):
            "protocol version \(version) is not supported (this peer speaks \(WireCodec.version))"
        case .unknownType(let type): "unknown message type \(type)"
        case .badField(let why): "bad field: \(why)"
        case .bodySizeMismatch(let type, let declared, let actual):
            "\(type) header declares a \(declared)-byte body, the frame has \(actual)"
        }
    }

    /// The ERROR code that answers this problem.
    public var errorCode: ErrorCode {
        if case .unsupportedVersion = self { return .badVersion }
        return .malformed
    }
}

/// A Data Channel Establishment Protocol message (RFC 8832 §5), carried in an SCTP user message
/// with PPID 50 on the stream of the channel it opens.
///
/// Parsing is strict and total: any byte string either becomes a message or a ``DCEPError`` that
/// names the field at fault, so a hostile peer can only make us drop and count its message.
public enum DCEPMessage: Sendable, Hashable {
    /// DATA_CHANNEL_OPEN (message type 0x03): the opener's channel parameters.
    case open(DataChannelParameters)
    /// DATA_CHANNEL_ACK (message type 0x02): the receiver accepted the OPEN.
    case ack

    static let openType: UInt8 = 0x03
    static let ackType: UInt8 = 0x02
    /// Fixed part of DATA_CHANNEL_OPEN before the label and protocol (RFC 8832 §5.1).
    static let openHeaderLength = 12

    /// Parses one DCEP message; the bytes are the whole SCTP user message.
    public init(parsing bytes: some Collection<UInt8>) throws(DCEPError) {
        let bytes = Array(bytes)
        guard let type = bytes.first else { throw .empty }
        switch type {
        case Self.ackType:
            // RFC 8832 §5.2: the ACK is the single message-type byte.
            guard bytes.count == 1 else { throw .badLength(type: type, length: bytes.count) }
            self = .ack
        case Self.openType:
            self = .open(try Self.parseOpen(bytes))
        default:
            throw .unknownMessageType(type)
        }
    }

    private static func parseOpen(_ b: [UInt8]) throws(DCEPError) -> DataChannelParameters {
        guard b.count >= openHeaderLength else { throw .badLength(type: openType, length: b.count) }
        let channelType = b[1]
        let priority = UInt16(b[2]) << 8 | UInt16(b[3])
        let parameter = UInt32(b[4]) << 24 | UInt32(b[5]) << 16 | UInt32(b[6]) << 8 | UInt32(b[7])
        let labelLength = Int(b[8]) << 8 | Int(b[9])
        let protocolLength = Int(b[10]) << 8 | Int(b[11])
        guard openHeaderLength + labelLength + protocolLength == b.count else {
            throw .lengthMismatch(label: labelLength, protocol: protocolLength, available: b.count - 12)
        }
        let labelEnd = openHeaderLength + labelLength
        guard let label = String(validating: b[openHeaderLength..<labelEnd], as: UTF8.self) else {
            throw .invalidUTF8(field: "label")
        }
        guard let proto = String(validating: b[labelEnd...], as: UTF8.self) else {
            throw .invalidUTF8(field: "protocol")
        }
        // RFC 8832 §5.1: the high bit of the channel type means unordered; the low bits the policy.
        let ordered = channelType & 0x80 == 0
        let reliability: DataChannelReliability
        switch channelType & 0x7F {
        case 0x00: reliability = .reliable
        case 0x01: reliability = .maxRetransmits(parameter)
        case 0x02: reliability = .maxPacketLifeTime(milliseconds: parameter)
        default: throw .unknownChannelType(channelType)
        }
        return DataChannelParameters(
            label: label, protocol: proto, ordered: ordered, reliability: reliability, priority: priority)
    }

    /// The wire form of this message.
    public func serialized() -> [UInt8] {
        switch self {
        case .ack:
            return [Self.ackType]
        case .open(let p):
            let label = Array(p.label.utf8)
            let proto = Array(p.protocol.utf8)
            var channelType: UInt8
            let parameter: UInt32
            switch p.reliability {
            case .reliable: (channelType, parameter) = (0x00, 0)
            case .maxRetransmits(let n): (channelType, parameter) = (0x01, n)
            case .maxPacketLifeTime(let ms): (channelType, parameter) = (0x02, ms)
            }
            if !p.ordered { channelType |= 0x80 }
            var out = [UInt8]()
            out.reserveCapacity(Self.openHeaderLength + label.count + proto.count)
            out.append(Self.openType)
            out.append(channelType)
            out.append(contentsOf: [UInt8(p.priority >> 8), UInt8(p.priority & 0xFF)])
            out.append(contentsOf: [
                UInt8(parameter >> 24), UInt8((parameter >> 16) & 0xFF), UInt8((parameter >> 8) & 0xFF),
                UInt8(parameter & 0xFF),
            ])
            out.append(contentsOf: [UInt8(label.count >> 8), UInt8(label.count & 0xFF)])
            out.append(contentsOf: [UInt8(proto.count >> 8), UInt8(proto.count & 0xFF)])
            out.append(contentsOf: label)
            out.append(contentsOf: proto)
            return out
        }
    }
}

/// Why a DCEP message was rejected.
public enum DCEPError: Error, Sendable, Hashable, CustomStringConvertible {
    case empty
    case unknownMessageType(UInt8)
    case badLength(type: UInt8, length: Int)
    case lengthMismatch(label: Int, protocol: Int, available: Int)
    case unknownChannelType(UInt8)
    case invalidUTF8(field: String)

    public var description: String {
        switch self {
        case .empty: "DCEP: empty message"
        case .unknownMessageType(let t): "DCEP: unknown message type 0x\(String(t, radix: 16))"
        case .badLength(let t, let n): "DCEP: message type 0x\(String(t, radix: 16)) has bad length \(n)"
        case .lengthMismatch(let l, let p, let a):
            "DCEP OPEN: label length \(l) + protocol length \(p) != \(a) bytes present"
        case .unknownChannelType(let t): "DCEP OPEN: unknown channel type 0x\(String(t, radix: 16))"
        case .invalidUTF8(let f): "DCEP OPEN: \(f) is not UTF-8"
        }
    }
}

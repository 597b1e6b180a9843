import RiverCore

/// One STUN attribute (RFC 8489 §14): type and value, padding dropped.
public struct STUNAttribute: Sendable, Equatable {
    public var type: UInt16
    public var value: [UInt8]

    public init(type: UInt16, value: [UInt8]) {
        self.type = type
        self.value = value
    }

    public init(_ kind: Kind, _ value: [UInt8]) {
        self.init(type: kind.rawValue, value: value)
    }

    /// Attribute types river reads or writes (RFC 8489 §18.3, RFC 8445 §16.1).
    public enum Kind: UInt16, Sendable {
        case mappedAddress = 0x0001
        case username = 0x0006
        case messageIntegrity = 0x0008
        case errorCode = 0x0009
        case unknownAttributes = 0x000A
        case realm = 0x0014
        case nonce = 0x0015
        case xorMappedAddress = 0x0020
        case priority = 0x0024
        case useCandidate = 0x0025
        case software = 0x8022
        case fingerprint = 0x8028
        case iceControlled = 0x8029
        case iceControlling = 0x802A
    }

    /// Types below 0x8000 are comprehension-required (RFC 8489 §14).
    public var comprehensionRequired: Bool { type < 0x8000 }

    public static func username(_ name: String) -> STUNAttribute {
        STUNAttribute(.username, Array(name.utf8))
    }
    public static func software(_ name: String) -> STUNAttribute {
        STUNAttribute(.software, Array(name.utf8))
    }
    public static func priority(_ p: UInt32) -> STUNAttribute { STUNAttribute(.priority, bigEndianBytes(p)) }
    public static let useCandidate = STUNAttribute(.useCandidate, [])
    public static func iceControlling(_ tieBreaker: UInt64) -> STUNAttribute {
        STUNAttribute(
            .iceControlling,
            bigEndianBytes(UInt32(tieBreaker >> 32)) + bigEndianBytes(UInt32(truncatingIfNeeded: tieBreaker)))
    }
    public static func iceControlled(_ tieBreaker: UInt64) -> STUNAttribute {
        STUNAttribute(
            .iceControlled,
            bigEndianBytes(UInt32(tieBreaker >> 32)) + bigEndianBytes(UInt32(truncatingIfNeeded: tieBreaker)))
    }
    public static func xorMappedAddress(_ address: TransportAddress, transactionID: [UInt8]) -> STUNAttribute
    {
        STUNAttribute(.xorMappedAddress, address.xorValue(transactionID: transactionID))
    }
    /// ERROR-CODE (RFC 8489 §14.8), e.g. 400 Bad Request, 401 Unauthorized, 487 Role Conflict.
    public static func errorCode(_ code: Int, reason: String) -> STUNAttribute {
        STUNAttribute(.errorCode, [0, 0, UInt8(code / 100), UInt8(code % 100)] + Array(reason.utf8))
    }

    func append(to out: inout [UInt8], padding: UInt8 = 0) {
        appendUInt16(&out, type)
        appendUInt16(&out, UInt16(value.count))
        out.append(contentsOf: value)
        // RFC 8489 §14: pad to 4 bytes; receivers ignore the padding's content.
        let pad = (4 - value.count % 4) % 4
        out.append(contentsOf: repeatElement(padding, count: pad))
    }
}

import RiverCore

/// A STUN message (RFC 8489 §5) as a plain value: parse with ``init(parsing:)``, write with
/// ``serialized(integrityKey:fingerprint:)``.
///
/// Attributes are kept in order as raw type/value pairs; typed accessors read the ones ICE uses.
/// A parsed message keeps its wire bytes so MESSAGE-INTEGRITY and FINGERPRINT can be checked over
/// exactly what was received (RFC 8489 §14.5, §14.7).
public struct STUNMessage: Sendable, Equatable {
    public static let magicCookie: UInt32 = 0x2112_A442
    public static let headerSize = 20

    public var method: STUNMethod
    public var messageClass: STUNClass
    /// 96 bits (RFC 8489 §5).
    public var transactionID: [UInt8]
    /// Attributes other than MESSAGE-INTEGRITY and FINGERPRINT, which ``serialized(integrityKey:fingerprint:)``
    /// computes; on a parsed message those two are here too, as received.
    public var attributes: [STUNAttribute]
    /// The datagram this message was parsed from (empty for a message built in code).
    public private(set) var raw: [UInt8] = []
    /// Offsets in ``raw`` of the MESSAGE-INTEGRITY and FINGERPRINT attribute headers, if present.
    private var integrityOffset: Int?
    private var fingerprintOffset: Int?

    public init(
        method: STUNMethod = .binding, messageClass: STUNClass, transactionID: [UInt8],
        attributes: [STUNAttribute] = []
    ) {
        precondition(transactionID.count == 12, "a STUN transaction ID has 96 bits")
        self.method = method
        self.messageClass = messageClass
        self.transactionID = transactionID
        self.attributes = attributes
    }

    /// A new random transaction ID (RFC 8489 §6: uniformly random).
    public static func randomTransactionID() -> [UInt8] {
        var rng = SystemRandomNumberGenerator()
        return (0..<12).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    /// True when `bytes` looks like STUN: first two bits zero (RFC 7983 range 0–3), the magic
    /// cookie and a length that matches (RFC 8489 §5). Cheap; use it to demultiplex.
    public static func isSTUN<Bytes: RandomAccessCollection>(_ bytes: Bytes) -> Bool
    where Bytes.Element == UInt8, Bytes.Index == Int {
        let b = bytes.startIndex
        guard bytes.count >= headerSize, bytes[b] & 0xC0 == 0 else { return false }
        let length = Int(bytes[b + 2]) << 8 | Int(bytes[b + 3])
        return length + headerSize == bytes.count && length % 4 == 0
            && readUInt32(bytes, b + 4) == magicCookie
    }

    /// Parses one STUN message. Attributes after MESSAGE-INTEGRITY other than FINGERPRINT are
    /// ignored, and nothing may follow FINGERPRINT (RFC 8489 §14.5, §14.7).
    public init<Bytes: RandomAccessCollection>(parsing bytes: Bytes) throws(STUNParseError)
    where Bytes.Element == UInt8, Bytes.Index == Int {
        let data = Array(bytes)
        guard data.count >= Self.headerSize else {
            throw .truncated("header needs 20 bytes, got \(data.count)")
        }
        guard data[0] & 0xC0 == 0 else { throw .notSTUN("first two bits are not zero") }
        guard readUInt32(data, 4) == Self.magicCookie else { throw .notSTUN("no magic cookie") }
        let length = Int(data[2]) << 8 | Int(data[3])
        guard length % 4 == 0 else { throw .badLength("message length \(length) is not a multiple of 4") }
        guard length + Self.headerSize == data.count else {
            throw .badLength(
                "message length \(length) but \(data.count - Self.headerSize) bytes follow the header")
        }
        let type = UInt16(data[0]) << 8 | UInt16(data[1])
        method = STUNMethod(rawValue: type & 0x000F | (type & 0x00E0) >> 1 | (type & 0x3E00) >> 2)
        messageClass = STUNClass(rawValue: UInt8((type & 0x0010) >> 4 | (type & 0x0100) >> 7))!
        transactionID = Array(data[8..<20])
        attributes = []
        raw = data

        var offset = Self.headerSize
        while offset < data.count {
            guard offset + 4 <= data.count else { throw .truncated("attribute header at byte \(offset)") }
            let attributeType = UInt16(data[offset]) << 8 | UInt16(data[offset + 1])
            let valueLength = Int(data[offset + 2]) << 8 | Int(data[offset + 3])
            let valueStart = offset + 4
            guard valueStart + valueLength <= data.count else {
                throw .truncated(
                    "attribute 0x\(String(attributeType, radix: 16)) of \(valueLength) bytes at byte \(offset)"
                )
            }
            if fingerprintOffset != nil {
                throw .badAttribute("attribute after FINGERPRINT at byte \(offset)")
            }
            let value = Array(data[valueStart..<(valueStart + valueLength)])
            switch attributeType {
            case STUNAttribute.Kind.messageIntegrity.rawValue where integrityOffset == nil:
                guard valueLength == 20 else {
                    throw .badAttribute("MESSAGE-INTEGRITY of \(valueLength) bytes")
                }
                integrityOffset = offset
                attributes.append(STUNAttribute(type: attributeType, value: value))
            case STUNAttribute.Kind.fingerprint.rawValue:
                guard valueLength == 4 else { throw .badAttribute("FINGERPRINT of \(valueLength) bytes") }
                fingerprintOffset = offset
                attributes.append(STUNAttribute(type: attributeType, value: value))
            default:
                if integrityOffset == nil {
                    attributes.append(STUNAttribute(type: attributeType, value: value))
                }
            }
            offset = valueStart + (valueLength + 3) & ~3
        }
    }

    // MARK: writing

    /// The message on the wire. With `integrityKey`, MESSAGE-INTEGRITY (HMAC-SHA1, RFC 8489 §14.5)
    /// is appended; with `fingerprint`, FINGERPRINT (RFC 8489 §14.7) goes last. Any such attributes
    /// already in ``attributes`` are left out and recomputed.
    public func serialized(integrityKey: [UInt8]? = nil, fingerprint: Bool = false) -> [UInt8] {
        serialized(integrityKey: integrityKey, fingerprint: fingerprint, padding: 0)
    }

    /// `padding` fills attribute padding; receivers ignore it (RFC 8489 §14), and RFC 5769's
    /// vectors use spaces, so tests pass 0x20 to rebuild them byte for byte.
    func serialized(integrityKey: [UInt8]?, fingerprint: Bool, padding: UInt8) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128)
        let type =
            method.rawValue & 0x000F | (method.rawValue & 0x0070) << 1 | (method.rawValue & 0x0F80) << 2
            | UInt16(messageClass.rawValue & 1) << 4 | UInt16(messageClass.rawValue & 2) << 7
        appendUInt16(&out, type)
        appendUInt16(&out, 0)
        appendUInt32(&out, Self.magicCookie)
        out.append(contentsOf: transactionID)
        for attribute in attributes
        where attribute.type != STUNAttribute.Kind.messageIntegrity.rawValue
            && attribute.type != STUNAttribute.Kind.fingerprint.rawValue
        {
            attribute.append(to: &out, padding: padding)
        }
        if let key = integrityKey {
            // The length field covers everything up to and including MESSAGE-INTEGRITY (§14.5).
            setLength(&out, out.count - Self.headerSize + 24)
            let mac = hmacSHA1(key: key, data: out)
            STUNAttribute(.messageIntegrity, mac).append(to: &out)
        }
        setLength(&out, out.count - Self.headerSize)
        if fingerprint { Self.appendFingerprint(&out) }
        return out
    }

    /// Appends FINGERPRINT to a complete message: CRC-32 over it with the length already counting
    /// the 8 bytes, xor 0x5354554E (RFC 8489 §14.7).
    static func appendFingerprint(_ out: inout [UInt8]) {
        let length = out.count - headerSize + 8
        out[2] = UInt8(length >> 8)
        out[3] = UInt8(truncatingIfNeeded: length)
        STUNAttribute(.fingerprint, bigEndianBytes(crc32(out) ^ 0x5354_554E)).append(to: &out)
    }

    private func setLength(_ out: inout [UInt8], _ length: Int) {
        out[2] = UInt8(length >> 8)
        out[3] = UInt8(truncatingIfNeeded: length)
    }

    // MARK: checks on a parsed message

    public var hasIntegrity: Bool { integrityOffset != nil }
    public var hasFingerprint: Bool { fingerprintOffset != nil }

    /// Whether MESSAGE-INTEGRITY is present and matches `key`: HMAC-SHA1 over the message up to
    /// the attribute, with the length field rewritten to end just after it (RFC 8489 §14.5).
    public func checkIntegrity(key: [UInt8]) -> Bool {
        guard let offset = integrityOffset else { return false }
        var covered = Array(raw[0..<offset])
        setLength(&covered, offset - Self.headerSize + 24)
        let expected = hmacSHA1(key: key, data: covered)
        let received = raw[(offset + 4)..<(offset + 24)]
        // Constant-time compare: the MAC is a secret-derived value.
        var difference: UInt8 = 0
        for (a, b) in zip(expected, received) { difference |= a ^ b }
        return difference == 0
    }

    /// Whether FINGERPRINT is present and is CRC-32 of the message before it xor 0x5354554E,
    /// with the length field covering it (RFC 8489 §14.7).
    public func checkFingerprint() -> Bool {
        guard let offset = fingerprintOffset else { return false }
        var covered = Array(raw[0..<offset])
        setLength(&covered, offset - Self.headerSize + 8)
        return readUInt32(raw, offset + 4) == crc32(covered) ^ 0x5354_554E
    }

    // MARK: typed attributes

    public func attribute(_ kind: STUNAttribute.Kind) -> [UInt8]? {
        attributes.first { $0.type == kind.rawValue }?.value
    }

    /// USERNAME (RFC 8489 §14.3); for ICE `<receiver ufrag>:<sender ufrag>` (RFC 8445 §7.2.2).
    public var username: String? { attribute(.username).map { String(decoding: $0, as: UTF8.self) } }
    public var software: String? { attribute(.software).map { String(decoding: $0, as: UTF8.self) } }
    /// PRIORITY (RFC 8445 §16.1).
    public var priority: UInt32? {
        attribute(.priority).flatMap { $0.count == 4 ? readUInt32($0, 0) : nil }
    }
    /// USE-CANDIDATE (RFC 8445 §16.1): the controlling agent nominates this pair.
    public var useCandidate: Bool { attribute(.useCandidate) != nil }
    public var iceControlling: UInt64? { attribute(.iceControlling).flatMap(readUInt64) }
    public var iceControlled: UInt64? { attribute(.iceControlled).flatMap(readUInt64) }
    /// XOR-MAPPED-ADDRESS (RFC 8489 §14.2), decoded with this message's transaction ID.
    public var xorMappedAddress: TransportAddress? {
        attribute(.xorMappedAddress).flatMap { TransportAddress(xorValue: $0, transactionID: transactionID) }
    }
    /// ERROR-CODE (RFC 8489 §14.8) as (code, reason).
    public var errorCode: (code: Int, reason: String)? {
        guard let v = attribute(.errorCode), v.count >= 4 else { return nil }
        return (Int(v[2] & 0x07) * 100 + Int(v[3]), String(decoding: v[4...], as: UTF8.self))
    }
}

/// STUN method (RFC 8489 §18.2); ICE only uses Binding.
public struct STUNMethod: RawRepresentable, Sendable, Equatable, Hashable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let binding = STUNMethod(rawValue: 0x001)
}

/// STUN message class (RFC 8489 §5): the C1/C0 bits.
public enum STUNClass: UInt8, Sendable {
    case request = 0
    case indication = 1
    case successResponse = 2
    case errorResponse = 3
}

/// Why bytes were not a STUN message.
public enum STUNParseError: Error, Equatable, CustomStringConvertible {
    case truncated(String)
    case notSTUN(String)
    case badLength(String)
    case badAttribute(String)

    public var description: String {
        switch self {
        case .truncated(let what): "truncated STUN message: \(what)"
        case .notSTUN(let why): "not a STUN message: \(why)"
        case .badLength(let why): "bad STUN length: \(why)"
        case .badAttribute(let why): "bad STUN attribute: \(why)"
        }
    }
}

private func readUInt64(_ v: [UInt8]) -> UInt64? {
    guard v.count == 8 else { return nil }
    return UInt64(readUInt32(v, 0)) << 32 | UInt64(readUInt32(v, 4))
}

import COpenSSL
import NIOCore

/// The ICE-lite side of connectivity checks (RFC 8445 §2.5, §7.3): answers a Binding request
/// whose USERNAME is `ourUfrag:theirUfrag` and whose MESSAGE-INTEGRITY verifies with our
/// password (RFC 8489 §14.5); anything else gets no answer at all, so an attacker learns nothing.
struct STUNResponder {
    let localUfrag: String
    let localPassword: String
    let remoteUfrag: String

    struct Reply {
        var response: [UInt8]
        /// The request carried USE-CANDIDATE (RFC 8445 §7.3.1.5): the controlling agent chose this pair.
        var nominated: Bool
    }

    static let magicCookie: UInt32 = 0x2112_A442

    /// The first half of USERNAME, used by the demux before any integrity check.
    static func localUfrag(in message: [UInt8]) -> String? {
        guard let parsed = STUNMessageView(message), let username = parsed.attribute(.username) else {
            return nil
        }
        let name = String(decoding: message[username], as: UTF8.self)
        guard let colon = name.firstIndex(of: ":") else { return nil }
        return String(name[..<colon])
    }

    func respond(to message: [UInt8], from address: SocketAddress) -> Reply? {
        guard let parsed = STUNMessageView(message), parsed.type == 0x0001,
            let username = parsed.attribute(.username),
            String(decoding: message[username], as: UTF8.self) == "\(localUfrag):\(remoteUfrag)",
            parsed.verifyIntegrity(key: Array(localPassword.utf8)),
            parsed.verifyFingerprintIfPresent()
        else { return nil }
        var response = STUNMessageWriter(type: 0x0101, transactionID: parsed.transactionID)
        response.appendXORMappedAddress(address)
        response.appendIntegrity(key: Array(localPassword.utf8))
        response.appendFingerprint()
        return Reply(response: response.bytes, nominated: parsed.attribute(.useCandidate) != nil)
    }
}

enum STUNAttributeType: UInt16 {
    case username = 0x0006
    case messageIntegrity = 0x0008
    case xorMappedAddress = 0x0020
    case useCandidate = 0x0025
    case fingerprint = 0x8028
}

/// A validated view over a STUN message's header and attribute list (RFC 8489 §5, §14).
struct STUNMessageView {
    let bytes: [UInt8]
    let type: UInt16
    let transactionID: ArraySlice<UInt8>
    /// (type, value range, offset of the attribute header).
    let attributes: [(type: UInt16, value: Range<Int>, start: Int)]

    init?(_ bytes: [UInt8]) {
        guard bytes.count >= 20, bytes[0] & 0xC0 == 0 else { return nil }
        let length = Int(bytes[2]) << 8 | Int(bytes[3])
        guard length + 20 == bytes.count, length % 4 == 0,
            readBE32(bytes, 4) == STUNResponder.magicCookie
        else { return nil }
        var attributes: [(UInt16, Range<Int>, Int)] = []
        var offset = 20
        while offset + 4 <= bytes.count {
            let type = UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
            let valueLength = Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
            let end = offset + 4 + valueLength
            guard end <= bytes.count else { return nil }
            attributes.append((type, (offset + 4)..<end, offset))
            offset = end + (4 - valueLength % 4) % 4
        }
        guard offset == bytes.count else { return nil }
        self.bytes = bytes
        self.type = UInt16(bytes[0]) << 8 | UInt16(bytes[1])
        self.transactionID = bytes[8..<20]
        self.attributes = attributes
    }

    func attribute(_ type: STUNAttributeType) -> Range<Int>? {
        attributes.first { $0.type == type.rawValue }?.value
    }

    /// HMAC-SHA1 over the message up to MESSAGE-INTEGRITY, with the header length rewritten to
    /// end just after it (RFC 8489 §14.5).
    func verifyIntegrity(key: [UInt8]) -> Bool {
        guard
            let index = attributes.firstIndex(where: {
                $0.type == STUNAttributeType.messageIntegrity.rawValue
            }),
            attributes[index].value.count == 20
        else { return false }
        // Only FINGERPRINT may follow MESSAGE-INTEGRITY.
        guard attributes[(index + 1)...].allSatisfy({ $0.type == STUNAttributeType.fingerprint.rawValue })
        else {
            return false
        }
        let start = attributes[index].start
        var covered = Array(bytes[0..<start])
        let length = start + 24 - 20
        covered[2] = UInt8(length >> 8)
        covered[3] = UInt8(length & 0xFF)
        return hmacSHA1(key: key, data: covered) == Array(bytes[attributes[index].value])
    }

    func verifyFingerprintIfPresent() -> Bool {
        guard let last = attributes.last, last.type == STUNAttributeType.fingerprint.rawValue else {
            return !attributes.contains { $0.type == STUNAttributeType.fingerprint.rawValue }
        }
        guard last.value.count == 4 else { return false }
        return crc32(bytes[0..<last.start]) ^ 0x5354_554E == readBE32(bytes, last.value.lowerBound)
    }
}

/// Builds a STUN message attribute by attribute.
struct STUNMessageWriter {
    var bytes: [UInt8]

    init(type: UInt16, transactionID: ArraySlice<UInt8>) {
        bytes = [UInt8(type >> 8), UInt8(type & 0xFF), 0, 0, 0x21, 0x12, 0xA4, 0x42] + transactionID
    }

    mutating func append(_ type: STUNAttributeType, _ value: [UInt8]) {
        bytes += [
            UInt8(type.rawValue >> 8), UInt8(type.rawValue & 0xFF), UInt8(value.count >> 8),
            UInt8(value.count & 0xFF),
        ]
        bytes += value
        bytes += repeatElement(0, count: (4 - value.count % 4) % 4)
        setLength(bytes.count - 20)
    }

    private mutating func setLength(_ length: Int) {
        bytes[2] = UInt8(length >> 8)
        bytes[3] = UInt8(length & 0xFF)
    }

    /// RFC 8489 §14.2: port XOR the cookie's top half; address XOR cookie (‖ transaction id for IPv6).
    mutating func appendXORMappedAddress(_ address: SocketAddress) {
        let port = UInt16(address.port ?? 0) ^ 0x2112
        let mask = Array(bytes[4..<20])
        switch address {
        case .v4(let v4):
            let ip = withUnsafeBytes(of: v4.address.sin_addr.s_addr) { Array($0) }  // network order
            append(
                .xorMappedAddress,
                [0, 0x01, UInt8(port >> 8), UInt8(port & 0xFF)] + zip(ip, mask).map { $0 ^ $1 })
        case .v6(let v6):
            let ip = withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }
            append(
                .xorMappedAddress,
                [0, 0x02, UInt8(port >> 8), UInt8(port & 0xFF)] + zip(ip, mask).map { $0 ^ $1 })
        default:
            break
        }
    }

    mutating func appendIntegrity(key: [UInt8]) {
        setLength(bytes.count - 20 + 24)
        let mac = hmacSHA1(key: key, data: bytes)
        append(.messageIntegrity, mac)
    }

    mutating func appendFingerprint() {
        setLength(bytes.count - 20 + 8)
        let crc = crc32(bytes[...]) ^ 0x5354_554E
        append(
            .fingerprint,
            [UInt8(crc >> 24), UInt8((crc >> 16) & 0xFF), UInt8((crc >> 8) & 0xFF), UInt8(crc & 0xFF)])
    }
}

func readBE32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
    UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8
        | UInt32(bytes[offset + 3])
}

func hmacSHA1(key: [UInt8], data: [UInt8]) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: 20)
    var length: UInt32 = 0
    _ = HMAC(EVP_sha1(), key, Int32(key.count), data, data.count, &out, &length)
    return out
}

/// CRC-32 (ISO 3309, as in zlib) for STUN FINGERPRINT.
func crc32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    return ~crc
}

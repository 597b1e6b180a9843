import RiverCore

/// The 4-byte header every RTCP packet starts with (RFC 3550 §6.4.1):
/// version 2, padding flag, a 5-bit count (reports, sources, or the feedback FMT of RFC 4585
/// §6.1), the packet type, and the length in 32-bit words minus one.
public struct RTCPHeader: Sendable, Equatable {
    public var padding: Bool
    /// Reception report count, source count, or feedback message type (FMT), by packet type.
    public var count: UInt8
    public var packetType: UInt8
    /// Length of the whole packet in 32-bit words, minus one.
    public var length: UInt16

    public init(padding: Bool = false, count: UInt8, packetType: UInt8, length: UInt16) {
        self.padding = padding
        self.count = count
        self.packetType = packetType
        self.length = length
    }

    /// Packet types (RFC 3550 §12.1, RFC 4585 §6.1).
    public static let senderReport: UInt8 = 200
    public static let receiverReport: UInt8 = 201
    public static let sourceDescription: UInt8 = 202
    public static let goodbye: UInt8 = 203
    public static let applicationDefined: UInt8 = 204
    /// Transport-layer feedback (generic NACK FMT 1, transport-cc FMT 15).
    public static let transportFeedback: UInt8 = 205
    /// Payload-specific feedback (PLI FMT 1, FIR FMT 4, REMB FMT 15).
    public static let payloadFeedback: UInt8 = 206

    func append(to out: inout [UInt8]) {
        out.append(2 << 6 | (padding ? 0x20 : 0) | count & 0x1F)
        out.append(packetType)
        appendUInt16(&out, length)
    }
}

/// Why bytes were not RTCP. Each case says which packet of the compound (0-based) and what.
public enum RTCPParseError: Error, Equatable, CustomStringConvertible {
    case truncated(packet: Int, String)
    case badVersion(packet: Int, UInt8)
    case badPadding(packet: Int, Int)
    /// A known packet type whose body does not match its format.
    case malformed(packet: Int, type: UInt8, String)

    public var description: String {
        switch self {
        case .truncated(let i, let what): "truncated RTCP packet #\(i): \(what)"
        case .badVersion(let i, let v): "RTCP packet #\(i) has version \(v), expected 2"
        case .badPadding(let i, let n): "RTCP packet #\(i): padding count \(n) does not fit"
        case .malformed(let i, let type, let what): "RTCP packet #\(i) (type \(type)): \(what)"
        }
    }
}

/// Reads big-endian fields from a packet body, throwing the caller's error when it runs out.
struct RTCPReader {
    let bytes: [UInt8]
    var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var remaining: Int { bytes.count - offset }

    mutating func u8() -> UInt8? {
        guard remaining >= 1 else { return nil }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u16() -> UInt16? {
        guard remaining >= 2 else { return nil }
        defer { offset += 2 }
        return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    mutating func u32() -> UInt32? {
        guard remaining >= 4 else { return nil }
        defer { offset += 4 }
        return readUInt32(bytes, offset)
    }

    mutating func take(_ n: Int) -> [UInt8]? {
        guard n >= 0, remaining >= n else { return nil }
        defer { offset += n }
        return Array(bytes[offset..<(offset + n)])
    }
}

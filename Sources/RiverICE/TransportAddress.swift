import RiverCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An IP address and UDP port, as STUN carries them (RFC 8489 §14.1) and the ICE responder keys
/// pairs by. Sans-IO: the socket layer converts its own address type to and from this.
public struct TransportAddress: Sendable, Hashable, CustomStringConvertible {
    /// 4 bytes for IPv4, 16 for IPv6, network order.
    public var ip: [UInt8]
    public var port: UInt16

    public init?(ip: [UInt8], port: UInt16) {
        guard ip.count == 4 || ip.count == 16 else { return nil }
        self.ip = ip
        self.port = port
    }

    /// Parses a textual IPv4 or IPv6 address (`inet_pton`).
    public init?(_ text: String, port: UInt16) {
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            ip = withUnsafeBytes(of: &v4) { Array($0) }
        } else if inet_pton(AF_INET6, text, &v6) == 1 {
            ip = withUnsafeBytes(of: &v6) { Array($0) }
        } else {
            return nil
        }
        self.port = port
    }

    public var isIPv4: Bool { ip.count == 4 }

    public var description: String {
        if isIPv4 { return ip.map(String.init).joined(separator: ".") + ":\(port)" }
        var groups: [String] = []
        for i in stride(from: 0, to: 16, by: 2) {
            groups.append(String(UInt16(ip[i]) << 8 | UInt16(ip[i + 1]), radix: 16))
        }
        return "[" + groups.joined(separator: ":") + "]:\(port)"
    }

    /// XOR-MAPPED-ADDRESS value (RFC 8489 §14.2): port xor the cookie's top half, address xor the
    /// cookie (IPv4) or cookie + transaction ID (IPv6).
    func xorValue(transactionID: [UInt8]) -> [UInt8] {
        let mask = bigEndianBytes(STUNMessage.magicCookie) + transactionID
        var out: [UInt8] = [0, isIPv4 ? 0x01 : 0x02]
        appendUInt16(&out, port ^ UInt16(STUNMessage.magicCookie >> 16))
        for (i, byte) in ip.enumerated() { out.append(byte ^ mask[i]) }
        return out
    }

    init?(xorValue v: [UInt8], transactionID: [UInt8]) {
        guard v.count >= 8 else { return nil }
        let mask = bigEndianBytes(STUNMessage.magicCookie) + transactionID
        let length: Int
        switch v[1] {
        case 0x01: length = 4
        case 0x02: length = 16
        default: return nil
        }
        guard v.count == 4 + length else { return nil }
        port = (UInt16(v[2]) << 8 | UInt16(v[3])) ^ UInt16(STUNMessage.magicCookie >> 16)
        ip = (0..<length).map { v[4 + $0] ^ mask[$0] }
    }
}

import COpenSSL

/// HMAC-SHA1 (RFC 2104) for MESSAGE-INTEGRITY, via OpenSSL's one-shot `HMAC`.
func hmacSHA1(key: [UInt8], data: [UInt8]) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: 20)
    var length: UInt32 = 0
    key.withUnsafeBytes { k in
        data.withUnsafeBufferPointer { d in
            _ = HMAC(EVP_sha1(), k.baseAddress, Int32(k.count), d.baseAddress, d.count, &out, &length)
        }
    }
    return out
}

/// The long-term credential key (RFC 8489 §9.2.2): MD5(username ":" realm ":" password), the
/// password already OpaqueString/SASLprep-processed by the caller.
public func stunLongTermKey(username: String, realm: String, password: String) -> [UInt8] {
    let input = Array("\(username):\(realm):\(password)".utf8)
    var out = [UInt8](repeating: 0, count: 16)
    var length: UInt32 = 0
    _ = input.withUnsafeBufferPointer { EVP_Digest($0.baseAddress, $0.count, &out, &length, EVP_md5(), nil) }
    return out
}

/// CRC-32 as ISO 3309 / ITU-T V.42 define it (reflected, polynomial 0xEDB88320), which
/// FINGERPRINT uses (RFC 8489 §14.7). A table per byte: it runs on every STUN packet.
func crc32(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes { crc = crcTable[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
    return crc ^ 0xFFFF_FFFF
}

private let crcTable: [UInt32] = (0..<256).map { n in
    var c = UInt32(n)
    for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
    return c
}

@inline(__always)
func bigEndianBytes(_ v: UInt32) -> [UInt8] {
    [
        UInt8(v >> 24), UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 8),
        UInt8(truncatingIfNeeded: v),
    ]
}

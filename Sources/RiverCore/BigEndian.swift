// Network byte order helpers shared by the packet parsers (RTP, RTCP, STUN).
// `@inlinable` because they sit on the per-packet path of other modules.

/// The big-endian 32-bit integer at `bytes[i..<i+4]` (the caller checks the length).
@inlinable @inline(__always)
public func readUInt32<Bytes: RandomAccessCollection>(_ bytes: Bytes, _ i: Int) -> UInt32
where Bytes.Element == UInt8, Bytes.Index == Int {
    UInt32(bytes[i]) << 24 | UInt32(bytes[i + 1]) << 16 | UInt32(bytes[i + 2]) << 8 | UInt32(bytes[i + 3])
}

/// Appends `v` in network byte order.
@inlinable @inline(__always)
public func appendUInt16(_ out: inout [UInt8], _ v: UInt16) {
    out.append(UInt8(v >> 8))
    out.append(UInt8(truncatingIfNeeded: v))
}

/// Appends `v` in network byte order.
@inlinable @inline(__always)
public func appendUInt32(_ out: inout [UInt8], _ v: UInt32) {
    out.append(UInt8(v >> 24))
    out.append(UInt8(truncatingIfNeeded: v >> 16))
    out.append(UInt8(truncatingIfNeeded: v >> 8))
    out.append(UInt8(truncatingIfNeeded: v))
}

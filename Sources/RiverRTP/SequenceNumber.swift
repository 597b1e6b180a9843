/// Signed distance from `b` to `a` on the 16-bit RTP sequence circle (RFC 3550 §A.1): positive when
/// `a` comes after `b`, correct across the wrap from 65535 to 0 for distances under 32768.
@inline(__always)
public func sequenceDistance(_ a: UInt16, from b: UInt16) -> Int {
    Int(Int16(bitPattern: a &- b))
}

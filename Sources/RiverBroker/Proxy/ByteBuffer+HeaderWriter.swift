import NIOCore

// Kept out of `Wire/` so the wire codec needs no NIO: the fuzz package (`Fuzz/`) builds those
// files on their own.

/// The proxy writes headers straight into the buffer that goes to the socket.
extension ByteBuffer: HeaderWriter {
    mutating func u8(_ value: UInt8) { writeInteger(value) }
    mutating func u16(_ value: UInt16) { writeInteger(value) }
    mutating func u32(_ value: UInt32) { writeInteger(value) }
    mutating func u64(_ value: UInt64) { writeInteger(value) }
    mutating func bytes(_ value: [UInt8]) { writeBytes(value) }
}

import NIOCore

/// ZMTP 3.x framing (RFC 23/ZMTP): the greeting, frame headers, commands and their properties.
enum ZMTPWire {
    static let greetingLength = 64

    /// Flags byte of a frame (RFC 23 §"Framing"): the low three bits; the others are reserved.
    static let more: UInt8 = 0x01
    static let long: UInt8 = 0x02
    static let command: UInt8 = 0x04

    /// Signature (0xFF, 8 bytes of padding, 0x7F), version 3.1, mechanism "NULL", as-server 0
    /// and filler. The padding's last byte is 1 so a ZMTP 1.0 peer reads a valid empty identity.
    static func writeGreeting(into buffer: inout ByteBuffer) {
        buffer.writeBytes([0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 3, 1])
        buffer.writeString("NULL")
        buffer.writeRepeatingByte(0, count: 16 + 1 + 31)
    }

    /// Checks as much of a peer's greeting as has arrived: ZMTP 3.x with the NULL mechanism.
    /// Signature and version are judged as soon as they are in, so neither a stray client
    /// (HTTP, say) nor an older ZMTP peer waiting for our reply holds the connection open.
    static func checkGreeting(_ greeting: ByteBuffer) throws(ZMTPError) {
        let bytes = greeting.readableBytesView
        let start = bytes.startIndex
        let count = min(bytes.count, greetingLength)
        guard bytes[start] == 0xFF, count < 10 || bytes[start + 9] & 0x01 == 1 else { throw .badSignature }
        guard count > 10 else { return }
        let major = bytes[start + 10]
        guard major >= 3 else { throw .unsupportedVersion(major) }
        guard count >= 32 else { return }
        let mechanism = bytes[(start + 12)..<(start + 32)]
        let name = String(decoding: mechanism.prefix { $0 != 0 }, as: UTF8.self)
        guard name == "NULL" else { throw .unsupportedMechanism(name) }
    }

    struct FrameHeader {
        var flags: UInt8
        var headerLength: Int
        var size: Int
        var more: Bool { flags & ZMTPWire.more != 0 }
        var isCommand: Bool { flags & ZMTPWire.command != 0 }
    }

    /// The header of the frame at the start of `buffer`, or nil until all of it has arrived.
    static func frameHeader(_ buffer: ByteBuffer) throws(ZMTPError) -> FrameHeader? {
        guard let flags = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return nil }
        guard flags & ~(more | long | command) == 0 else { throw .reservedFlags(flags) }
        if flags & long == 0 {
            guard let size = buffer.getInteger(at: buffer.readerIndex + 1, as: UInt8.self) else { return nil }
            return FrameHeader(flags: flags, headerLength: 2, size: Int(size))
        }
        guard let size = buffer.getInteger(at: buffer.readerIndex + 1, as: UInt64.self) else { return nil }
        return FrameHeader(flags: flags, headerLength: 9, size: Int(clamping: size))
    }

    /// Writes the header of a message frame of `size` bytes.
    static func writeFrameHeader(size: Int, more: Bool, into buffer: inout ByteBuffer) {
        writeHeader(flags: more ? Self.more : 0, size: size, into: &buffer)
    }

    /// Flags, then the size in one byte, or in eight with the LONG flag when it does not fit.
    private static func writeHeader(flags: UInt8, size: Int, into buffer: inout ByteBuffer) {
        if size <= 255 {
            buffer.writeInteger(flags)
            buffer.writeInteger(UInt8(size))
        } else {
            buffer.writeInteger(flags | long)
            buffer.writeInteger(UInt64(size))
        }
    }

    /// Writes a message frame whose body `write` appends, sizing the header afterwards.
    static func writeMessageFrame(
        more: Bool, into buffer: inout ByteBuffer, _ write: (inout ByteBuffer) -> Void
    ) {
        let start = buffer.writerIndex
        // Most bodies fit a short frame: leave room for its header and fill it in after.
        buffer.writeInteger(UInt16(0))
        write(&buffer)
        let size = buffer.writerIndex - start - 2
        if size <= 255 {
            buffer.setInteger(more ? Self.more : 0, at: start)
            buffer.setInteger(UInt8(size), at: start + 1)
            return
        }
        var body = buffer.getSlice(at: start + 2, length: size)!
        buffer.moveWriterIndex(to: start)
        writeFrameHeader(size: size, more: more, into: &buffer)
        buffer.writeBuffer(&body)
    }

    /// Writes a command frame: its name, length-prefixed, then `body`.
    static func writeCommand(name: String, body: ByteBuffer, into buffer: inout ByteBuffer) {
        writeHeader(flags: command, size: 1 + name.utf8.count + body.readableBytes, into: &buffer)
        buffer.writeInteger(UInt8(name.utf8.count))
        buffer.writeString(name)
        var body = body
        buffer.writeBuffer(&body)
    }

    /// READY's metadata (RFC 23 §"Command frames"): name-size, name, 4-byte value-size, value.
    static func properties(_ properties: [String: String]) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: 64)
        for (name, value) in properties.sorted(by: { $0.key < $1.key }) {
            buffer.writeInteger(UInt8(name.utf8.count))
            buffer.writeString(name)
            buffer.writeInteger(UInt32(value.utf8.count))
            buffer.writeString(value)
        }
        return buffer
    }

    /// Parses READY's metadata; names come back lowercased.
    static func parseProperties(_ body: ByteBuffer) throws(ZMTPError) -> [String: [UInt8]] {
        var body = body
        var properties: [String: [UInt8]] = [:]
        while body.readableBytes > 0 {
            guard let nameLength = body.readInteger(as: UInt8.self),
                let name = body.readString(length: Int(nameLength)),
                let valueLength = body.readInteger(as: UInt32.self),
                let value = body.readBytes(length: Int(valueLength))
            else { throw .malformedCommand }
            // Property names are case-insensitive (RFC 23 §"The NULL Security Mechanism").
            properties[name.lowercased()] = value
        }
        return properties
    }
}

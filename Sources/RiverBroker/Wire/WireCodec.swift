import RiverCore

/// Encodes and decodes the header frame of river's broker messages (see `docs/protocol.md`).
///
/// Sans-IO: it sees bytes and frame counts, never sockets. Bodies (pixels, documents, texts) are
/// separate ZeroMQ frames that the codec only measures, so pixels are never copied to be parsed.
/// All integers are big-endian.
public enum WireCodec {
    /// The protocol version this build speaks. Peers answer any other version with ERROR(badVersion).
    /// Version 2 added CAPACITY (proxy → client); version 3 added the model input size to READY and
    /// CAPACITY. Older peers are refused, as any other version.
    public static let version: UInt8 = 3
    /// Every header starts with "RV", then the version, then the type.
    static let signature: (UInt8, UInt8) = (0x52, 0x56)
    static let prefixLength = 4
    static let requestLength = 64
    static let replyLength = 28
    static let errorLength = 16
    static let capacityLength = 20

    // MARK: Decoding

    /// Decodes a header frame.
    /// - Parameters:
    ///   - header: the first frame after the routing envelope.
    ///   - frameCount: frames after the envelope, header included.
    ///   - bodyCount: bytes in the second frame (0 when there is none).
    public static func decode(
        header: UnsafeRawBufferPointer, frameCount: Int, bodyCount: Int
    ) throws(ProtocolError) -> WireMessage {
        var reader = ByteReader(header)
        guard header.count >= prefixLength else {
            throw .truncated(field: "signature/version/type", need: prefixLength, got: header.count)
        }
        guard reader.u8() == signature.0, reader.u8() == signature.1 else { throw .badSignature }
        let version = reader.u8()
        guard version == Self.version else { throw .unsupportedVersion(version) }
        let rawType = reader.u8()
        guard let type = MessageType(rawValue: rawType) else { throw .unknownType(rawType) }
        guard frameCount == type.frameCount else {
            throw .wrongFrameCount(type: type, expected: type.frameCount, got: frameCount)
        }
        switch type {
        case .heartbeat, .disconnect:
            guard header.count == prefixLength else {
                throw .badField("\(type) header has \(header.count) bytes, expected \(prefixLength)")
            }
            return type == .heartbeat ? .heartbeat : .disconnect
        case .ready:
            try reader.need(7, field: "READY slots/input size/name length")
            let slots = reader.u16()
            let input = try inputSize(&reader, of: type)
            let nameLength = Int(reader.u8())
            try reader.need(nameLength, field: "READY name")
            guard slots > 0 else { throw .badField("READY announces 0 slots") }
            // Strict, as docs/protocol.md says UTF-8: replacing bad bytes with U+FFFD (3 bytes each)
            // made a name that re-encodes longer than it arrived, and differently (found by FuzzBrokerWire).
            guard let name = String(validating: reader.bytes(nameLength), as: UTF8.self) else {
                throw .badField("READY name is not UTF-8")
            }
            guard reader.remaining == 0 else {
                throw .badField("READY has \(reader.remaining) bytes after its name")
            }
            return .ready(slots: slots, name: name, input: input)
        case .request:
            return .request(try decodeRequest(&reader, bodyCount: bodyCount))
        case .capacity:
            try reader.need(capacityLength - prefixLength, field: "CAPACITY header")
            let workers = reader.u16()
            let queued = reader.u16()
            let total = reader.u32()
            let free = reader.u32()
            let input = try inputSize(&reader, of: type)
            guard free <= total else { throw .badField("CAPACITY has \(free) free of \(total) slots") }
            return .capacity(
                ProxyCapacity(
                    workers: workers, totalSlots: total, freeSlots: free, queued: queued, input: input))
        case .reply:
            try reader.need(replyLength - prefixLength, field: "REPLY header")
            let id = reader.u64()
            let rawStatus = reader.u8()
            guard let status = ReplyStatus(rawValue: rawStatus) else {
                throw .badField("REPLY status \(rawStatus)")
            }
            reader.skip(3)
            let timings = ReplyTimings(
                proxyQueueMicros: reader.u32(), workerQueueMicros: reader.u32(), computeMicros: reader.u32())
            return .reply(ReplyHeader(requestID: id, status: status, timings: timings))
        case .error:
            try reader.need(errorLength - prefixLength, field: "ERROR header")
            let id = reader.u64()
            let rawCode = reader.u8()
            guard let code = ErrorCode(rawValue: rawCode) else { throw .badField("ERROR code \(rawCode)") }
            return .error(ErrorHeader(requestID: id, code: code))
        }
    }

    /// A model input size: width and height, both 0 for none (a model that takes any size).
    private static func inputSize(_ reader: inout ByteReader, of type: MessageType) throws(ProtocolError)
        -> FrameSize?
    {
        let width = reader.u16()
        let height = reader.u16()
        guard width > 0 || height > 0 else { return nil }
        guard width > 0, height > 0 else { throw .badField("\(type) input size \(width)x\(height)") }
        return FrameSize(width: Int(width), height: Int(height))
    }

    private static func writeInputSize<Writer: HeaderWriter>(_ size: FrameSize?, into writer: inout Writer) {
        // Sizes past the field are sent as none: a worker with such an input takes any frame.
        guard let size, let width = UInt16(exactly: size.width), let height = UInt16(exactly: size.height),
            width > 0, height > 0
        else {
            writer.u32(0)
            return
        }
        writer.u16(width)
        writer.u16(height)
    }

    private static func decodeRequest(
        _ reader: inout ByteReader, bodyCount: Int
    ) throws(ProtocolError) -> RequestHeader {
        try reader.need(requestLength - prefixLength, field: "REQUEST header")
        let requestID = reader.u64()
        let streamID = reader.u64()
        let rtp = reader.u32()
        let budget = reader.u32()
        let width = reader.u16()
        let height = reader.u16()
        let rawFormat = reader.u8()
        let planeCount = Int(reader.u8())
        reader.skip(2)
        var strides: [UInt32] = []
        var offsets: [UInt32] = []
        for _ in 0..<3 {
            strides.append(reader.u32())
            offsets.append(reader.u32())
        }
        let byteCount = reader.u32()
        guard let format = PixelFormat(rawValue: rawFormat) else {
            throw .badField("REQUEST \(requestID): pixel format \(rawFormat)")
        }
        guard width > 0, height > 0 else { throw .badField("REQUEST \(requestID): size \(width)x\(height)") }
        guard planeCount == format.planeCount else {
            throw .badField(
                "REQUEST \(requestID): \(format) has \(format.planeCount) planes, header says \(planeCount)")
        }
        // The geometry must fit in the declared buffer, and the buffer must be what was sent.
        for plane in 0..<planeCount {
            let (rowBytes, rows) = format.planeSize(plane, width: Int(width), height: Int(height))
            let stride = Int(strides[plane])
            guard stride >= rowBytes else {
                throw .badField("REQUEST \(requestID): plane \(plane) stride \(stride) < row \(rowBytes)")
            }
            let end = Int(offsets[plane]) + stride * (rows - 1) + rowBytes
            guard end <= Int(byteCount) else {
                throw .badField(
                    "REQUEST \(requestID): plane \(plane) ends at byte \(end), pixels declared \(byteCount)")
            }
        }
        guard Int(byteCount) == bodyCount else {
            throw .bodySizeMismatch(type: .request, declared: Int(byteCount), actual: bodyCount)
        }
        return RequestHeader(
            requestID: requestID, streamID: streamID, rtpTimestamp: rtp, budgetMicros: budget, width: width,
            height: height, format: format, strides: Array(strides[0..<planeCount]),
            offsets: Array(offsets[0..<planeCount]), byteCount: byteCount)
    }

    /// Best effort: the request id of a header that failed to decode, so an ERROR can name it.
    /// Only REQUEST headers of this version are trusted that far.
    public static func requestID(ofUndecodable header: UnsafeRawBufferPointer) -> UInt64 {
        guard header.count >= 12, header[0] == signature.0, header[1] == signature.1,
            header[2] == version, header[3] == MessageType.request.rawValue
        else { return 0 }
        var reader = ByteReader(header)
        reader.skip(4)
        return reader.u64()
    }

    // MARK: Encoding

    /// READY's name as it goes on the wire: at most 255 bytes, cut before the first Unicode scalar
    /// that would not fit, so a long name still arrives as valid UTF-8 the decoder accepts.
    static func readyName(_ name: String) -> [UInt8] {
        var utf8: [UInt8] = []
        for scalar in name.unicodeScalars {
            let encoded = Array(String(scalar).utf8)
            guard utf8.count + encoded.count <= 255 else { break }
            utf8 += encoded
        }
        return utf8
    }

    /// The header frame for `message`.
    public static func encode(_ message: WireMessage) -> [UInt8] {
        var writer = ByteWriter(capacity: requestLength)
        encode(message, into: &writer)
        return writer.buffer
    }

    /// Writes the header frame for `message` at the end of `writer`.
    static func encode<Writer: HeaderWriter>(_ message: WireMessage, into writer: inout Writer) {
        writer.u8(signature.0)
        writer.u8(signature.1)
        writer.u8(version)
        writer.u8(message.type.rawValue)
        switch message {
        case .heartbeat, .disconnect:
            break
        case .ready(let slots, let name, let input):
            let utf8 = Self.readyName(name)
            writer.u16(slots)
            writeInputSize(input, into: &writer)
            writer.u8(UInt8(utf8.count))
            writer.bytes(utf8)
        case .request(let h):
            writer.u64(h.requestID)
            writer.u64(h.streamID)
            writer.u32(h.rtpTimestamp)
            writer.u32(h.budgetMicros)
            writer.u16(h.width)
            writer.u16(h.height)
            writer.u8(h.format.rawValue)
            writer.u8(UInt8(h.strides.count))
            writer.u16(0)
            for plane in 0..<3 {
                writer.u32(plane < h.strides.count ? h.strides[plane] : 0)
                writer.u32(plane < h.offsets.count ? h.offsets[plane] : 0)
            }
            writer.u32(h.byteCount)
        case .reply(let h):
            writer.u64(h.requestID)
            writer.u8(h.status.rawValue)
            writer.u8(0)
            writer.u16(0)
            writer.u32(h.timings.proxyQueueMicros)
            writer.u32(h.timings.workerQueueMicros)
            writer.u32(h.timings.computeMicros)
        case .error(let h):
            writer.u64(h.requestID)
            writer.u8(h.code.rawValue)
            writer.u8(0)
            writer.u16(0)
        case .capacity(let c):
            writer.u16(c.workers)
            writer.u16(c.queued)
            writer.u32(c.totalSlots)
            writer.u32(c.freeSlots)
            writeInputSize(c.input, into: &writer)
        }
    }
}

/// Big-endian reads from a header frame. Callers check lengths with `need` first.
struct ByteReader {
    private let base: UnsafeRawBufferPointer
    private(set) var position = 0

    init(_ base: UnsafeRawBufferPointer) { self.base = base }

    var remaining: Int { base.count - position }

    func need(_ count: Int, field: String) throws(ProtocolError) {
        guard remaining >= count else {
            throw .truncated(field: field, need: position + count, got: base.count)
        }
    }

    mutating func skip(_ count: Int) { position += count }

    mutating func u8() -> UInt8 {
        defer { position += 1 }
        return base[position]
    }

    mutating func u16() -> UInt16 { UInt16(u8()) << 8 | UInt16(u8()) }
    mutating func u32() -> UInt32 { UInt32(u16()) << 16 | UInt32(u16()) }
    mutating func u64() -> UInt64 { UInt64(u32()) << 32 | UInt64(u32()) }

    mutating func bytes(_ count: Int) -> UnsafeRawBufferPointer {
        defer { position += count }
        return UnsafeRawBufferPointer(rebasing: base[position..<position + count])
    }
}

/// Big-endian field writes, for `WireCodec.encode`.
protocol HeaderWriter {
    mutating func u8(_ value: UInt8)
    mutating func u16(_ value: UInt16)
    mutating func u32(_ value: UInt32)
    mutating func u64(_ value: UInt64)
    mutating func bytes(_ value: [UInt8])
}

/// Big-endian writes into a growing array, for libzmq's sockets.
struct ByteWriter: HeaderWriter {
    var buffer: [UInt8]

    init(capacity: Int) {
        buffer = []
        buffer.reserveCapacity(capacity)
    }

    mutating func u8(_ value: UInt8) { buffer.append(value) }
    mutating func u16(_ value: UInt16) {
        withUnsafeBytes(of: value.bigEndian) { buffer.append(contentsOf: $0) }
    }
    mutating func u32(_ value: UInt32) {
        withUnsafeBytes(of: value.bigEndian) { buffer.append(contentsOf: $0) }
    }
    mutating func u64(_ value: UInt64) {
        withUnsafeBytes(of: value.bigEndian) { buffer.append(contentsOf: $0) }
    }
    mutating func bytes(_ value: [UInt8]) { buffer.append(contentsOf: value) }
}

import RiverCore

/// An RTP packet (RFC 3550 §5.1) as a plain value: parse with ``init(parsing:)``, write with
/// ``serialized()``.
///
/// The header extension is kept raw (profile + data, RFC 3550 §5.3.1); RFC 8285 one- and two-byte
/// elements are read from it on demand. Padding is removed on parse and added back from
/// ``paddingSize`` on write.
public struct RTPPacket: Sendable, Equatable {
    public var marker: Bool
    public var payloadType: UInt8
    public var sequenceNumber: UInt16
    public var timestamp: UInt32
    public var ssrc: UInt32
    public var csrcs: [UInt32]
    /// The 16-bit "defined by profile" field of the header extension (0xBEDE for RFC 8285 one-byte).
    public var extensionProfile: UInt16?
    /// Extension bytes after the 4-byte extension header; a multiple of 4 bytes.
    public var extensionData: [UInt8]
    public var payload: [UInt8]
    /// Padding bytes to append on write (the last one holds the count, RFC 3550 §5.1 "P").
    public var paddingSize: UInt8

    public init(
        marker: Bool = false, payloadType: UInt8, sequenceNumber: UInt16, timestamp: UInt32, ssrc: UInt32,
        csrcs: [UInt32] = [], extensionProfile: UInt16? = nil, extensionData: [UInt8] = [],
        payload: [UInt8], paddingSize: UInt8 = 0
    ) {
        self.marker = marker
        self.payloadType = payloadType
        self.sequenceNumber = sequenceNumber
        self.timestamp = timestamp
        self.ssrc = ssrc
        self.csrcs = csrcs
        self.extensionProfile = extensionProfile
        self.extensionData = extensionData
        self.payload = payload
        self.paddingSize = paddingSize
    }

    /// Parses one RTP packet. Throws on a wrong version or any length that overruns the datagram.
    public init<Bytes: RandomAccessCollection>(parsing bytes: Bytes) throws(RTPParseError)
    where Bytes.Element == UInt8, Bytes.Index == Int {
        let b = bytes.startIndex
        let count = bytes.count
        guard count >= 12 else { throw .truncated("header needs 12 bytes, got \(count)") }
        let first = bytes[b]
        guard first >> 6 == 2 else { throw .badVersion(first >> 6) }
        let hasPadding = first & 0x20 != 0
        let hasExtension = first & 0x10 != 0
        let csrcCount = Int(first & 0x0F)
        marker = bytes[b + 1] & 0x80 != 0
        payloadType = bytes[b + 1] & 0x7F
        sequenceNumber = UInt16(bytes[b + 2]) << 8 | UInt16(bytes[b + 3])
        timestamp = readUInt32(bytes, b + 4)
        ssrc = readUInt32(bytes, b + 8)
        var offset = 12
        guard count >= offset + 4 * csrcCount else {
            throw .truncated("\(csrcCount) CSRCs overrun the packet")
        }
        csrcs = (0..<csrcCount).map { readUInt32(bytes, b + 12 + 4 * $0) }
        offset += 4 * csrcCount
        if hasExtension {
            guard count >= offset + 4 else { throw .truncated("extension header overruns the packet") }
            extensionProfile = UInt16(bytes[b + offset]) << 8 | UInt16(bytes[b + offset + 1])
            let words = Int(bytes[b + offset + 2]) << 8 | Int(bytes[b + offset + 3])
            offset += 4
            guard count >= offset + 4 * words else {
                throw .truncated("extension of \(words) words overruns the packet")
            }
            extensionData = Array(bytes[(b + offset)..<(b + offset + 4 * words)])
            offset += 4 * words
        } else {
            extensionProfile = nil
            extensionData = []
        }
        var end = count
        if hasPadding {
            let pad = Int(bytes[b + count - 1])
            guard pad >= 1, offset + pad <= count else { throw .badPadding(pad) }
            end -= pad
            paddingSize = UInt8(pad)
        } else {
            paddingSize = 0
        }
        payload = Array(bytes[(b + offset)..<(b + end)])
    }

    /// Size of the header (fixed part, CSRCs and extension) in bytes.
    public var headerSize: Int {
        12 + 4 * csrcs.count + (extensionProfile == nil ? 0 : 4 + extensionData.count)
    }

    /// The packet on the wire.
    public func serialized() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(headerSize + payload.count + Int(paddingSize))
        serialize(into: &out)
        return out
    }

    /// Appends the packet to `out` (lets a caller reuse one buffer per packet).
    public func serialize(into out: inout [UInt8]) {
        precondition(csrcs.count <= 15 && extensionData.count % 4 == 0 && payloadType < 128)
        var first: UInt8 = 2 << 6 | UInt8(csrcs.count)
        if paddingSize > 0 { first |= 0x20 }
        if extensionProfile != nil { first |= 0x10 }
        out.append(first)
        out.append((marker ? 0x80 : 0) | payloadType)
        appendUInt16(&out, sequenceNumber)
        appendUInt32(&out, timestamp)
        appendUInt32(&out, ssrc)
        for csrc in csrcs { appendUInt32(&out, csrc) }
        if let profile = extensionProfile {
            appendUInt16(&out, profile)
            appendUInt16(&out, UInt16(extensionData.count / 4))
            out.append(contentsOf: extensionData)
        }
        out.append(contentsOf: payload)
        if paddingSize > 0 {
            out.append(contentsOf: repeatElement(0, count: Int(paddingSize) - 1))
            out.append(paddingSize)
        }
    }

    /// RFC 8285 header extension elements (one-byte form under profile 0xBEDE, two-byte under
    /// 0x1000–0x100F), as (id, data). Empty for other profiles or malformed extension data.
    public var extensionElements: [(id: UInt8, data: [UInt8])] {
        guard let profile = extensionProfile else { return [] }
        var elements: [(UInt8, [UInt8])] = []
        var i = 0
        let d = extensionData
        if profile == 0xBEDE {
            while i < d.count {
                if d[i] == 0 {
                    i += 1
                    continue
                }  // padding
                let id = d[i] >> 4
                if id == 15 { break }
                let length = Int(d[i] & 0x0F) + 1
                guard i + 1 + length <= d.count else { return [] }
                elements.append((id, Array(d[(i + 1)..<(i + 1 + length)])))
                i += 1 + length
            }
        } else if profile & 0xFFF0 == 0x1000 {
            while i < d.count {
                if d[i] == 0 {
                    i += 1
                    continue
                }
                guard i + 1 < d.count else { return [] }
                let id = d[i]
                let length = Int(d[i + 1])
                guard i + 2 + length <= d.count else { return [] }
                elements.append((id, Array(d[(i + 2)..<(i + 2 + length)])))
                i += 2 + length
            }
        }
        return elements
    }
}

/// Why bytes were not an RTP packet.
public enum RTPParseError: Error, Equatable, CustomStringConvertible {
    case truncated(String)
    case badVersion(UInt8)
    case badPadding(Int)

    public var description: String {
        switch self {
        case .truncated(let what): "truncated RTP packet: \(what)"
        case .badVersion(let v): "RTP version \(v), expected 2"
        case .badPadding(let n): "RTP padding count \(n) does not fit the packet"
        }
    }
}

/// One RTCP packet of a compound datagram (RFC 3550 §6, RFC 4585 §6). Parse a whole compound
/// with ``parseCompound(_:)``; write one with ``serializeCompound(_:)``.
///
/// Types river does not understand (e.g. transport-cc, PT 205 FMT 15; XR, PT 207) are kept as
/// ``RTCPPacket/unknown(_:)`` with their header and body, so a compound that carries them still
/// yields every packet river does understand.
public enum RTCPPacket: Sendable, Equatable {
    case senderReport(RTCPSenderReport)
    case receiverReport(RTCPReceiverReport)
    case sourceDescription(RTCPSourceDescription)
    case goodbye(RTCPGoodbye)
    case pictureLossIndication(RTCPPictureLossIndication)
    case fullIntraRequest(RTCPFullIntraRequest)
    case nack(RTCPGenericNACK)
    case remb(RTCPReceiverEstimatedMaximumBitrate)
    case unknown(RTCPRawPacket)

    /// Parses every packet of a compound RTCP datagram (RFC 3550 §6.1) in order. Throws a typed
    /// error naming the first packet that is truncated or malformed.
    public static func parseCompound<Bytes: RandomAccessCollection>(_ bytes: Bytes) throws(RTCPParseError)
        -> [RTCPPacket]
    where Bytes.Element == UInt8, Bytes.Index == Int {
        var packets: [RTCPPacket] = []
        try parseCompound(bytes, into: &packets)
        return packets
    }

    /// Like ``parseCompound(_:)`` but keeps what came before a broken packet: returns the packets
    /// parsed up to the first error, and that error (`nil` when the whole datagram parsed). A
    /// session can act on a good PLI even if a later packet of the compound is damaged.
    public static func parsePrefix<Bytes: RandomAccessCollection>(_ bytes: Bytes) -> (
        packets: [RTCPPacket], error: RTCPParseError?
    )
    where Bytes.Element == UInt8, Bytes.Index == Int {
        var packets: [RTCPPacket] = []
        do {
            try parseCompound(bytes, into: &packets)
            return (packets, nil)
        } catch {
            return (packets, error)
        }
    }

    static func parseCompound<Bytes: RandomAccessCollection>(_ bytes: Bytes, into packets: inout [RTCPPacket])
        throws(RTCPParseError)
    where Bytes.Element == UInt8, Bytes.Index == Int {
        var offset = bytes.startIndex
        let end = bytes.endIndex
        var index = 0
        guard offset < end else { throw .truncated(packet: 0, "empty datagram") }
        while offset < end {
            guard end - offset >= 4 else {
                throw .truncated(packet: index, "\(end - offset) bytes left, header needs 4")
            }
            let first = bytes[offset]
            guard first >> 6 == 2 else { throw .badVersion(packet: index, first >> 6) }
            let header = RTCPHeader(
                padding: first & 0x20 != 0, count: first & 0x1F, packetType: bytes[offset + 1],
                length: UInt16(bytes[offset + 2]) << 8 | UInt16(bytes[offset + 3]))
            let size = (Int(header.length) + 1) * 4
            guard end - offset >= size else {
                throw .truncated(packet: index, "length says \(size) bytes, \(end - offset) left")
            }
            var bodyEnd = offset + size
            if header.padding {
                // RFC 3550 §6.4.1: the last octet counts the padding, itself included.
                let pad = Int(bytes[bodyEnd - 1])
                guard pad >= 1, pad <= size - 4 else { throw .badPadding(packet: index, pad) }
                bodyEnd -= pad
            }
            let body = Array(bytes[(offset + 4)..<bodyEnd])
            packets.append(try parse(header: header, body: body, index: index))
            offset += size
            index += 1
        }
    }

    static func parse(header: RTCPHeader, body: [UInt8], index: Int) throws(RTCPParseError) -> RTCPPacket {
        func fail(_ why: String) -> RTCPParseError { .malformed(packet: index, type: header.packetType, why) }
        switch (header.packetType, header.count) {
        case (RTCPHeader.senderReport, _):
            guard let sr = RTCPSenderReport(count: header.count, body: body) else {
                throw fail("sender report with \(header.count) reports does not fit \(body.count) bytes")
            }
            return .senderReport(sr)
        case (RTCPHeader.receiverReport, _):
            guard let rr = RTCPReceiverReport(count: header.count, body: body) else {
                throw fail("receiver report with \(header.count) reports does not fit \(body.count) bytes")
            }
            return .receiverReport(rr)
        case (RTCPHeader.sourceDescription, _):
            guard let sdes = RTCPSourceDescription(count: header.count, body: body) else {
                throw fail("SDES with \(header.count) chunks does not fit \(body.count) bytes")
            }
            return .sourceDescription(sdes)
        case (RTCPHeader.goodbye, _):
            guard let bye = RTCPGoodbye(count: header.count, body: body) else {
                throw fail("BYE with \(header.count) sources does not fit \(body.count) bytes")
            }
            return .goodbye(bye)
        case (RTCPHeader.transportFeedback, RTCPGenericNACK.format):
            guard let nack = RTCPGenericNACK(body: body) else {
                throw fail("generic NACK of \(body.count) bytes")
            }
            return .nack(nack)
        case (RTCPHeader.payloadFeedback, RTCPPictureLossIndication.format):
            guard let pli = RTCPPictureLossIndication(body: body) else {
                throw fail("PLI of \(body.count) bytes")
            }
            return .pictureLossIndication(pli)
        case (RTCPHeader.payloadFeedback, RTCPFullIntraRequest.format):
            guard let fir = RTCPFullIntraRequest(body: body) else { throw fail("FIR of \(body.count) bytes") }
            return .fullIntraRequest(fir)
        case (RTCPHeader.payloadFeedback, RTCPReceiverEstimatedMaximumBitrate.format)
        where RTCPReceiverEstimatedMaximumBitrate.matches(body):
            guard let remb = RTCPReceiverEstimatedMaximumBitrate(body: body) else {
                throw fail("REMB of \(body.count) bytes")
            }
            return .remb(remb)
        default:
            return .unknown(RTCPRawPacket(count: header.count, packetType: header.packetType, body: body))
        }
    }

    /// The packets as one compound datagram, no padding.
    public static func serializeCompound(_ packets: [RTCPPacket]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(packets.count * 32)
        for packet in packets { packet.serialize(into: &out) }
        return out
    }

    /// This packet on the wire.
    public func serialized() -> [UInt8] {
        var out: [UInt8] = []
        serialize(into: &out)
        return out
    }

    public func serialize(into out: inout [UInt8]) {
        let start = out.count
        let (count, type): (UInt8, UInt8)
        out.append(contentsOf: [0, 0, 0, 0])  // header, filled in below once the length is known
        switch self {
        case .senderReport(let p):
            (count, type) = (UInt8(p.reports.count), RTCPHeader.senderReport)
            p.appendBody(to: &out)
        case .receiverReport(let p):
            (count, type) = (UInt8(p.reports.count), RTCPHeader.receiverReport)
            p.appendBody(to: &out)
        case .sourceDescription(let p):
            (count, type) = (UInt8(p.chunks.count), RTCPHeader.sourceDescription)
            p.appendBody(to: &out)
        case .goodbye(let p):
            (count, type) = (UInt8(p.sources.count), RTCPHeader.goodbye)
            p.appendBody(to: &out)
        case .nack(let p):
            (count, type) = (RTCPGenericNACK.format, RTCPHeader.transportFeedback)
            p.appendBody(to: &out)
        case .pictureLossIndication(let p):
            (count, type) = (RTCPPictureLossIndication.format, RTCPHeader.payloadFeedback)
            p.appendBody(to: &out)
        case .fullIntraRequest(let p):
            (count, type) = (RTCPFullIntraRequest.format, RTCPHeader.payloadFeedback)
            p.appendBody(to: &out)
        case .remb(let p):
            (count, type) = (RTCPReceiverEstimatedMaximumBitrate.format, RTCPHeader.payloadFeedback)
            p.appendBody(to: &out)
        case .unknown(let p):
            (count, type) = (p.count, p.packetType)
            out.append(contentsOf: p.body)
            // A raw body that is not whole words is padded with zeros to stay parseable.
            while (out.count - start) % 4 != 0 { out.append(0) }
        }
        var header: [UInt8] = []
        RTCPHeader(count: count, packetType: type, length: UInt16((out.count - start) / 4 - 1)).append(
            to: &header)
        out.replaceSubrange(start..<(start + 4), with: header)
    }
}

/// An RTCP packet river does not interpret (RFC 3550 §6.1 says to ignore unknown types): kept so
/// it can be counted, logged or forwarded.
public struct RTCPRawPacket: Sendable, Equatable {
    /// The header's 5-bit count/FMT field.
    public var count: UInt8
    public var packetType: UInt8
    /// Everything after the 4-byte header, padding removed.
    public var body: [UInt8]

    public init(count: UInt8, packetType: UInt8, body: [UInt8]) {
        self.count = count
        self.packetType = packetType
        self.body = body
    }
}

import RiverCore

/// Picture Loss Indication, PT 206 FMT 1 (RFC 4585 §6.3.1): the receiver lost picture data and
/// asks the sender for a new key frame.
public struct RTCPPictureLossIndication: Sendable, Equatable {
    static let format: UInt8 = 1
    public var senderSSRC: UInt32
    public var mediaSSRC: UInt32

    public init(senderSSRC: UInt32, mediaSSRC: UInt32) {
        self.senderSSRC = senderSSRC
        self.mediaSSRC = mediaSSRC
    }

    init?(body: [UInt8]) {
        // RFC 4585 §6.3.1: no FCI; tolerate (and ignore) trailing bytes as Chromium's parser does.
        var r = RTCPReader(body)
        guard let sender = r.u32(), let media = r.u32() else { return nil }
        self.init(senderSSRC: sender, mediaSSRC: media)
    }

    func appendBody(to out: inout [UInt8]) {
        appendUInt32(&out, senderSSRC)
        appendUInt32(&out, mediaSSRC)
    }
}

/// Full Intra Request, PT 206 FMT 4 (RFC 5104 §4.3.1): asks each listed sender for a decoder
/// refresh point. The command sequence number distinguishes new requests from repeats.
public struct RTCPFullIntraRequest: Sendable, Equatable {
    static let format: UInt8 = 4
    public var senderSSRC: UInt32
    public var entries: [Entry]

    public struct Entry: Sendable, Equatable {
        public var ssrc: UInt32
        public var sequenceNumber: UInt8

        public init(ssrc: UInt32, sequenceNumber: UInt8) {
            self.ssrc = ssrc
            self.sequenceNumber = sequenceNumber
        }
    }

    public init(senderSSRC: UInt32, entries: [Entry]) {
        self.senderSSRC = senderSSRC
        self.entries = entries
    }

    init?(body: [UInt8]) {
        var r = RTCPReader(body)
        // The media source SSRC is unused and set to 0 (RFC 5104 §4.3.1.2).
        guard let sender = r.u32(), r.u32() != nil, r.remaining % 8 == 0, r.remaining > 0 else { return nil }
        var entries: [Entry] = []
        while r.remaining >= 8 {
            let ssrc = r.u32()!
            let sequence = r.u8()!
            _ = r.take(3)
            entries.append(Entry(ssrc: ssrc, sequenceNumber: sequence))
        }
        self.init(senderSSRC: sender, entries: entries)
    }

    func appendBody(to out: inout [UInt8]) {
        appendUInt32(&out, senderSSRC)
        appendUInt32(&out, 0)
        for entry in entries {
            appendUInt32(&out, entry.ssrc)
            out.append(contentsOf: [entry.sequenceNumber, 0, 0, 0])
        }
    }
}

/// Receiver Estimated Maximum Bitrate, PT 206 FMT 15 (draft-alvestrand-rmcat-remb-03 §2.2): the
/// total bitrate the receiver wants the listed SSRCs to stay under. Chromium raises its send
/// bitrate towards it when `goog-remb` is negotiated.
public struct RTCPReceiverEstimatedMaximumBitrate: Sendable, Equatable {
    static let format: UInt8 = 15
    static let identifier: [UInt8] = Array("REMB".utf8)
    public var senderSSRC: UInt32
    /// Bits per second. The wire form is an 18-bit mantissa and 6-bit exponent, so large values
    /// are rounded down to what that form holds.
    public var bitrate: UInt64
    public var ssrcs: [UInt32]

    public init(senderSSRC: UInt32, bitrate: UInt64, ssrcs: [UInt32]) {
        self.senderSSRC = senderSSRC
        self.bitrate = bitrate
        self.ssrcs = ssrcs
    }

    /// PT 206 FMT 15 is "application layer feedback"; REMB is the one whose FCI starts "REMB".
    static func matches(_ body: [UInt8]) -> Bool {
        body.count >= 12 && Array(body[8..<12]) == identifier
    }

    init?(body: [UInt8]) {
        var r = RTCPReader(body)
        guard let sender = r.u32(), r.u32() != nil, r.take(4) == Self.identifier, let count = r.u8(),
            let b1 = r.u8(), let b2 = r.u8(), let b3 = r.u8()
        else { return nil }
        let exponent = UInt64(b1 >> 2)
        let mantissa = UInt64(b1 & 0x03) << 16 | UInt64(b2) << 8 | UInt64(b3)
        // A mantissa shifted past 64 bits is not a real estimate; saturate instead of trapping.
        let bitrate = mantissa == 0 ? 0 : (exponent + 18 > 64 ? UInt64.max : mantissa << exponent)
        var ssrcs: [UInt32] = []
        for _ in 0..<count {
            guard let ssrc = r.u32() else { return nil }
            ssrcs.append(ssrc)
        }
        self.init(senderSSRC: sender, bitrate: bitrate, ssrcs: ssrcs)
    }

    func appendBody(to out: inout [UInt8]) {
        appendUInt32(&out, senderSSRC)
        appendUInt32(&out, 0)
        out.append(contentsOf: Self.identifier)
        out.append(UInt8(min(ssrcs.count, 255)))
        var mantissa = bitrate
        var exponent: UInt64 = 0
        while mantissa >= 1 << 18 {
            mantissa >>= 1
            exponent += 1
        }
        out.append(UInt8(exponent << 2) | UInt8(mantissa >> 16))
        out.append(UInt8(truncatingIfNeeded: mantissa >> 8))
        out.append(UInt8(truncatingIfNeeded: mantissa))
        for ssrc in ssrcs.prefix(255) { appendUInt32(&out, ssrc) }
    }
}

/// The RTCP the reflect loop reads and writes (RFC 3550 §6.4, RFC 4585 §6.3.1, RFC 5104 §4.3.1,
/// draft-alvestrand-rmcat-remb §2.2), kept to exactly what reflect needs.
enum ReflectFeedback {
    /// What a received compound packet asks of us.
    struct Parsed: Equatable {
        /// A PLI or FIR named `mediaSSRC` (the stream we send).
        var keyframeRequested = false
        /// Middle 32 bits of the NTP timestamp of an SR from `senderSSRC` (for LSR in our RR).
        var senderReportNTP: UInt32?
    }

    /// Walks a compound packet; stops quietly at the first malformed header (the rest is unusable)
    /// and skips packet types it does not know (e.g. transport-cc feedback).
    static func parse(_ compound: [UInt8], ourSSRC: UInt32, remoteSSRC: UInt32?) -> Parsed {
        var parsed = Parsed()
        var offset = 0
        while offset + 8 <= compound.count {
            guard compound[offset] >> 6 == 2 else { break }
            let format = compound[offset] & 0x1F
            let type = compound[offset + 1]
            let length = (Int(compound[offset + 2]) << 8 | Int(compound[offset + 3]) + 1) * 4
            guard offset + length <= compound.count else { break }
            switch (type, format) {
            case (206, 1) where length >= 12:  // PLI
                if be32(compound, offset + 8) == ourSSRC { parsed.keyframeRequested = true }
            case (206, 4) where length >= 20:  // FIR: FCI entries of SSRC + seq
                var fci = offset + 12
                while fci + 8 <= offset + length {
                    if be32(compound, fci) == ourSSRC { parsed.keyframeRequested = true }
                    fci += 8
                }
            case (200, _) where length >= 28:  // SR
                if remoteSSRC == nil || be32(compound, offset + 4) == remoteSSRC {
                    parsed.senderReportNTP = be32(compound, offset + 10)
                }
            default: break
            }
            offset += length
        }
        return parsed
    }

    /// Picture Loss Indication (RFC 4585 §6.3.1).
    static func pli(sender: UInt32, media: UInt32) -> [UInt8] {
        var out: [UInt8] = [0x81, 206, 0, 2]
        put32(&out, sender)
        put32(&out, media)
        return out
    }

    /// One receiver report block's numbers (RFC 3550 §6.4.1).
    struct ReportBlock {
        var ssrc: UInt32
        var fractionLost: UInt8
        var cumulativeLost: Int32
        var extendedHighestSequence: UInt32
        var lastSR: UInt32
        /// Delay since that SR in 1/65536 s.
        var delaySinceLastSR: UInt32
    }

    /// RR with one report block followed by REMB for `bitrate` bits per second: a compound
    /// packet must start with SR or RR (RFC 3550 §6.1).
    static func receiverReportWithREMB(sender: UInt32, block: ReportBlock, bitrate: UInt64) -> [UInt8] {
        var out: [UInt8] = [0x81, 201, 0, 7]
        put32(&out, sender)
        put32(&out, block.ssrc)
        let lost = UInt32(bitPattern: max(min(block.cumulativeLost, 0x7F_FFFF), -0x80_0000)) & 0xFF_FFFF
        put32(&out, UInt32(block.fractionLost) << 24 | lost)
        put32(&out, block.extendedHighestSequence)
        put32(&out, 0)  // interarrival jitter: not measured by the reflect loop
        put32(&out, block.lastSR)
        put32(&out, block.delaySinceLastSR)
        out += remb(sender: sender, bitrate: bitrate, ssrcs: [block.ssrc])
        return out
    }

    /// Receiver Estimated Maximum Bitrate: 6-bit exponent, 18-bit mantissa.
    static func remb(sender: UInt32, bitrate: UInt64, ssrcs: [UInt32]) -> [UInt8] {
        var exponent: UInt64 = 0
        var mantissa = bitrate
        while mantissa > 0x3FFFF {
            mantissa >>= 1
            exponent += 1
        }
        let words = 4 + ssrcs.count
        var out: [UInt8] = [0x8F, 206, UInt8(words >> 8), UInt8(words & 0xFF)]
        put32(&out, sender)
        put32(&out, 0)
        out += Array("REMB".utf8)
        put32(&out, UInt32(ssrcs.count) << 24 | UInt32(exponent) << 18 | UInt32(mantissa))
        for ssrc in ssrcs { put32(&out, ssrc) }
        return out
    }

    static func be32(_ b: [UInt8], _ i: Int) -> UInt32 {
        UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
    }

    static func put32(_ out: inout [UInt8], _ v: UInt32) {
        out += [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
    }
}

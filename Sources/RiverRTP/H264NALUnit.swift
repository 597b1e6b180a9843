/// H.264 NAL unit header facts used by the RTP payload format (RFC 6184 §1.3, §5.2).
///
/// Only the five-bit `nal_unit_type` and the types this module acts on are named here; the rest
/// travel through untouched.
public enum H264NALType {
    /// Coded slice of a non-IDR picture.
    public static let slice: UInt8 = 1
    /// Coded slice of an IDR picture: a decoder can start here.
    public static let idr: UInt8 = 5
    public static let sei: UInt8 = 6
    /// Sequence parameter set.
    public static let sps: UInt8 = 7
    /// Picture parameter set.
    public static let pps: UInt8 = 8
    /// Access unit delimiter.
    public static let aud: UInt8 = 9
    /// Single-time aggregation packet (RFC 6184 §5.7.1).
    public static let stapA: UInt8 = 24
    public static let stapB: UInt8 = 25
    public static let mtap16: UInt8 = 26
    public static let mtap24: UInt8 = 27
    /// Fragmentation unit without DON (RFC 6184 §5.8).
    public static let fuA: UInt8 = 28
    public static let fuB: UInt8 = 29

    /// The type in a NAL header byte.
    @inline(__always)
    public static func of(_ header: UInt8) -> UInt8 { header & 0x1F }
}

/// RTP packetization modes (RFC 6184 §6): which payload structures a stream may carry.
public enum H264PacketizationMode: Int, Sendable {
    /// Mode 0: single NAL unit packets only.
    case singleNAL = 0
    /// Mode 1: single NAL units, STAP-A and FU-A, in decoding order.
    case nonInterleaved = 1
}

/// Annex-B byte streams (ITU-T H.264 Annex B): NAL units separated by 00 00 01 start codes.
public enum AnnexB {
    /// The 4-byte start code river writes before every NAL unit.
    public static let startCode: [UInt8] = [0, 0, 0, 1]

    /// Ranges of the NAL units in an Annex-B buffer, without start codes or trailing zero bytes.
    ///
    /// Scans with a raw pointer and skips three bytes whenever the third byte cannot end a start
    /// code: this runs once per access unit over every byte, so it avoids per-byte closures and
    /// index checks.
    public static func nalUnitRanges(in bytes: [UInt8]) -> [Range<Int>] {
        bytes.withUnsafeBufferPointer { nalUnitRanges(in: $0) }
    }

    /// See ``nalUnitRanges(in:)-([UInt8])``.
    public static func nalUnitRanges(in p: UnsafeBufferPointer<UInt8>) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        let n = p.count
        var start = -1  // first byte of the current NAL, -1 before the first start code
        var i = 0
        while i + 2 < n {
            if p[i + 2] > 1 {
                i += 3
            } else if p[i + 2] == 1 && p[i] == 0 && p[i + 1] == 0 {
                if start >= 0 { appendTrimmed(&ranges, p, start, i) }
                start = i + 3
                i += 3
            } else {
                i += 1
            }
        }
        if start >= 0 { appendTrimmed(&ranges, p, start, n) }
        return ranges
    }

    @inline(__always)
    private static func appendTrimmed(
        _ ranges: inout [Range<Int>], _ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int
    ) {
        // A NAL unit never ends in a zero byte (rbsp_stop_one_bit), so zeros before the next start
        // code are zero_byte / trailing_zero_8bits of the byte stream.
        var e = end
        while e > start && p[e - 1] == 0 { e -= 1 }
        if e > start { ranges.append(start..<e) }
    }
}

/// Parses the `sprop-parameter-sets` fmtp parameter (RFC 6184 §8.1): comma-separated base64 NAL units.
///
/// Returns the decoded NAL units in order; throws naming the entry that is not base64.
public func parseSpropParameterSets(_ value: String) throws(H264DepacketizerError) -> [[UInt8]] {
    var units: [[UInt8]] = []
    for (index, part) in value.split(separator: ",").enumerated() {
        let text = part.trimmingCharacters(in: " \t")
        guard !text.isEmpty else { continue }
        guard let bytes = Base64.decode(text), !bytes.isEmpty else {
            throw .badSpropParameterSets("entry \(index) '\(text)' is not base64")
        }
        units.append(bytes)
    }
    return units
}

extension Substring {
    fileprivate func trimmingCharacters(in set: String) -> Substring {
        var s = self
        while let f = s.first, set.contains(f) { s.removeFirst() }
        while let l = s.last, set.contains(l) { s.removeLast() }
        return s
    }
}

/// Standard base64 (RFC 4648 §4) decoding, padding optional; enough for fmtp parameters without
/// pulling Foundation into a sans-IO module.
enum Base64 {
    static func decode(_ text: Substring) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count * 3 / 4)
        var acc: UInt32 = 0
        var bits = 0
        var padding = 0
        for c in text.utf8 {
            let v: UInt32
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): v = UInt32(c - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): v = UInt32(c - UInt8(ascii: "a")) + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = UInt32(c - UInt8(ascii: "0")) + 52
            case UInt8(ascii: "+"): v = 62
            case UInt8(ascii: "/"): v = 63
            case UInt8(ascii: "="):
                padding += 1
                continue
            default: return nil
            }
            guard padding == 0 else { return nil }  // data after '='
            acc = acc << 6 | v
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: acc >> UInt32(bits)))
            }
        }
        guard padding <= 2, bits < 6 else { return nil }
        return out
    }
}

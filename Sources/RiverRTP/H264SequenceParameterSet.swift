/// The picture size a sequence parameter set announces (ITU-T H.264 §7.3.2.1.1), read without a
/// decoder: enough to refuse a stream whose pictures would be too large before libavcodec
/// allocates them.
///
/// Only the fields up to `frame_mbs_only_flag` are read. The size is in whole macroblocks, before
/// cropping (1080p reads as 1920×1088), which is what a decoder allocates.
public struct H264SequenceParameterSet: Sendable, Equatable {
    public var profileIDC: UInt8
    /// Luma width and height in pixels, macroblock-aligned (no cropping applied).
    public var width: Int
    public var height: Int

    public var pixels: Int { width * height }

    /// Parses one SPS NAL unit (its header byte first, emulation prevention bytes still in).
    /// Returns nil when it is not an SPS or is truncated or out of the standard's ranges.
    public init?(nal: some Collection<UInt8>) {
        var bits = RBSPReader(nal.dropFirst())
        guard let header = nal.first, H264NALType.of(header) == H264NALType.sps,
            let profile = bits.bits(8), bits.bits(16) != nil,  // constraint flags, level_idc
            let spsID = bits.ue(), spsID <= 31
        else { return nil }
        if [100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135].contains(profile) {
            guard let chroma = bits.ue(), chroma <= 3 else { return nil }
            if chroma == 3 { guard bits.bits(1) != nil else { return nil } }  // separate_colour_plane
            guard let luma = bits.ue(), luma <= 6, let chromaDepth = bits.ue(), chromaDepth <= 6,
                bits.bits(1) != nil,  // qpprime_y_zero_transform_bypass_flag
                let scaling = bits.bits(1)
            else { return nil }
            if scaling == 1 {
                for list in 0..<(chroma == 3 ? 12 : 8) {
                    guard let present = bits.bits(1) else { return nil }
                    if present == 1 {
                        guard bits.skipScalingList(size: list < 6 ? 16 : 64) else { return nil }
                    }
                }
            }
        }
        guard let log2MaxFrameNum = bits.ue(), log2MaxFrameNum <= 12, let pocType = bits.ue() else {
            return nil
        }
        switch pocType {
        case 0:
            guard let log2MaxPOC = bits.ue(), log2MaxPOC <= 12 else { return nil }
        case 1:
            guard bits.bits(1) != nil, bits.se() != nil, bits.se() != nil, let cycle = bits.ue(), cycle <= 255
            else { return nil }
            for _ in 0..<cycle { guard bits.se() != nil else { return nil } }
        case 2: break
        default: return nil
        }
        guard bits.ue() != nil, bits.bits(1) != nil,  // max_num_ref_frames, gaps_in_frame_num_allowed
            let widthMBs = bits.ue(), let heightUnits = bits.ue(), let frameMBsOnly = bits.bits(1),
            // §7.4.2.1.1 bounds neither directly; 2^16 macroblocks a side is past any level.
            widthMBs < 1 << 16, heightUnits < 1 << 16
        else { return nil }
        profileIDC = UInt8(profile)
        width = (widthMBs + 1) * 16
        height = (heightUnits + 1) * 16 * (frameMBsOnly == 1 ? 1 : 2)
    }
}

/// Reads bits of a NAL unit's payload, dropping emulation prevention bytes (the 0x03 of
/// 0x00 0x00 0x03, §7.4.1) as it goes.
private struct RBSPReader {
    private var bytes: [UInt8]
    private var bit = 0

    init(_ payload: some Collection<UInt8>) {
        var out: [UInt8] = []
        out.reserveCapacity(payload.count)
        var zeros = 0
        for byte in payload {
            if zeros >= 2 && byte == 3 {
                zeros = 0
                continue
            }
            zeros = byte == 0 ? zeros + 1 : 0
            out.append(byte)
        }
        bytes = out
    }

    mutating func bits(_ count: Int) -> Int? {
        guard bit + count <= bytes.count * 8 else { return nil }
        var value = 0
        for _ in 0..<count {
            value = value << 1 | Int(bytes[bit >> 3] >> (7 - UInt8(bit & 7)) & 1)
            bit += 1
        }
        return value
    }

    /// Unsigned Exp-Golomb (§9.1); nil past 31 leading zeros (no field of an SPS is that large).
    mutating func ue() -> Int? {
        var zeros = 0
        while true {
            guard let b = bits(1) else { return nil }
            if b == 1 { break }
            zeros += 1
            if zeros > 31 { return nil }
        }
        guard let rest = bits(zeros) else { return nil }
        return (1 << zeros) - 1 + rest
    }

    /// Signed Exp-Golomb (§9.1.1).
    mutating func se() -> Int? {
        guard let k = ue() else { return nil }
        return k & 1 == 1 ? (k + 1) / 2 : -(k / 2)
    }

    /// scaling_list() of §7.3.2.1.1.1: only its length matters here.
    mutating func skipScalingList(size: Int) -> Bool {
        var last = 8
        var next = 8
        for _ in 0..<size {
            if next != 0 {
                guard let delta = se(), (-128...127).contains(delta) else { return false }
                next = (last + delta + 256) % 256
            }
            last = next == 0 ? last : next
        }
        return true
    }
}

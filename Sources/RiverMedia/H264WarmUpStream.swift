/// A tiny H.264 stream built in code (ITU-T H.264 §7.3), for warming the decoder up at start-up.
///
/// Constrained Baseline, CAVLC, 32×32 pixels (2×2 macroblocks), the tools a WebRTC sender's stream
/// uses: an IDR picture of Intra 16×16 DC macroblocks, then a P picture with one quarter-pel
/// motion-compensated macroblock and skipped ones, so decoding it runs libavcodec's parameter-set,
/// slice, CAVLC, intra, inter (sub-pel interpolation) and deblocking code once. No residual is
/// coded: every picture is flat grey.
enum H264WarmUpStream {
    static let width = 32
    static let height = 32

    /// Access units in Annex-B form: SPS + PPS + IDR slice, then a P slice.
    static var accessUnits: [[UInt8]] {
        [nal(3, 7, sps) + nal(3, 8, pps) + nal(3, 5, idrSlice), nal(2, 1, pSlice)]
    }

    private static let macroblocks = (width / 16) * (height / 16)

    /// §7.3.2.1.1: profile 66 with constraint_set1 (Constrained Baseline), level 1.0.
    private static var sps: [UInt8] {
        var w = BitWriter()
        w.bits(66, 8)  // profile_idc
        w.bits(0b1100_0000, 8)  // constraint_set0/1 flags, reserved
        w.bits(10, 8)  // level_idc
        w.ue(0)  // seq_parameter_set_id
        w.ue(0)  // log2_max_frame_num_minus4
        w.ue(2)  // pic_order_cnt_type: order = decoding order
        w.ue(1)  // max_num_ref_frames
        w.bit(0)  // gaps_in_frame_num_value_allowed_flag
        w.ue(UInt32(width / 16 - 1))
        w.ue(UInt32(height / 16 - 1))
        w.bit(1)  // frame_mbs_only_flag
        w.bit(1)  // direct_8x8_inference_flag
        w.bit(0)  // frame_cropping_flag
        w.bit(0)  // vui_parameters_present_flag
        return w.trailing()
    }

    /// §7.3.2.2, CAVLC, deblocking control in the slice header.
    private static var pps: [UInt8] {
        var w = BitWriter()
        w.ue(0)  // pic_parameter_set_id
        w.ue(0)  // seq_parameter_set_id
        w.bit(0)  // entropy_coding_mode_flag: CAVLC
        w.bit(0)  // bottom_field_pic_order_in_frame_present_flag
        w.ue(0)  // num_slice_groups_minus1
        w.ue(0)  // num_ref_idx_l0_default_active_minus1
        w.ue(0)  // num_ref_idx_l1_default_active_minus1
        w.bit(0)  // weighted_pred_flag
        w.bits(0, 2)  // weighted_bipred_idc
        w.se(0)  // pic_init_qp_minus26
        w.se(0)  // pic_init_qs_minus26
        w.se(0)  // chroma_qp_index_offset
        w.bit(1)  // deblocking_filter_control_present_flag
        w.bit(0)  // constrained_intra_pred_flag
        w.bit(0)  // redundant_pic_cnt_present_flag
        return w.trailing()
    }

    /// §7.3.3 then §7.3.4: every macroblock I_16x16_2_0_0 (DC prediction, no coded residual).
    private static var idrSlice: [UInt8] {
        var w = BitWriter()
        w.ue(0)  // first_mb_in_slice
        w.ue(7)  // slice_type: I (all slices)
        w.ue(0)  // pic_parameter_set_id
        w.bits(0, 4)  // frame_num
        w.ue(0)  // idr_pic_id
        w.bit(0)  // no_output_of_prior_pics_flag
        w.bit(0)  // long_term_reference_flag
        w.se(0)  // slice_qp_delta
        w.ue(0)  // disable_deblocking_filter_idc: filter on
        w.se(0)  // slice_alpha_c0_offset_div2
        w.se(0)  // slice_beta_offset_div2
        for _ in 0..<macroblocks {
            w.ue(3)  // mb_type I_16x16_2_0_0 (Table 7-11)
            w.ue(0)  // intra_chroma_pred_mode: DC
            w.se(0)  // mb_qp_delta
            w.bit(1)  // Intra16x16DCLevel coeff_token: no coefficients (nC 0, Table 9-5)
        }
        return w.trailing()
    }

    /// One P_L0_16x16 macroblock moved by (+1¼, +½) pixels, then the rest skipped.
    private static var pSlice: [UInt8] {
        var w = BitWriter()
        w.ue(0)  // first_mb_in_slice
        w.ue(5)  // slice_type: P (all slices)
        w.ue(0)  // pic_parameter_set_id
        w.bits(1, 4)  // frame_num
        w.bit(0)  // num_ref_idx_active_override_flag
        w.bit(0)  // ref_pic_list_modification_flag_l0
        w.bit(0)  // adaptive_ref_pic_marking_mode_flag
        w.se(0)  // slice_qp_delta
        w.ue(0)  // disable_deblocking_filter_idc
        w.se(0)
        w.se(0)
        w.ue(0)  // mb_skip_run
        w.ue(0)  // mb_type P_L0_16x16 (one reference: no ref_idx)
        w.se(5)  // mvd_l0 x, quarter pixels
        w.se(2)  // mvd_l0 y
        w.ue(0)  // coded_block_pattern 0 (inter mapping, Table 9-4): no residual, no qp delta
        w.ue(UInt32(macroblocks - 1))  // mb_skip_run to the end
        return w.trailing()
    }

    /// Start code, NAL header (§7.3.1) and the payload with emulation prevention bytes.
    private static func nal(_ refIdc: UInt8, _ type: UInt8, _ rbsp: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0, 0, 0, 1, refIdc << 5 | type]
        var zeros = 0
        for byte in rbsp {
            if zeros >= 2 && byte <= 3 {
                out.append(3)
                zeros = 0
            }
            out.append(byte)
            zeros = byte == 0 ? zeros + 1 : 0
        }
        return out
    }
}

/// MSB-first bit writer with Exp-Golomb codes (§9.1).
private struct BitWriter {
    private var bytes: [UInt8] = []
    private var current: UInt8 = 0
    private var used = 0

    mutating func bit(_ value: UInt8) {
        current = current << 1 | (value & 1)
        used += 1
        if used == 8 {
            bytes.append(current)
            current = 0
            used = 0
        }
    }

    mutating func bits(_ value: UInt32, _ count: Int) {
        for shift in stride(from: count - 1, through: 0, by: -1) { bit(UInt8(value >> UInt32(shift) & 1)) }
    }

    /// ue(v): leading zeros, then value + 1 in binary.
    mutating func ue(_ value: UInt32) {
        let coded = value + 1
        let length = 32 - coded.leadingZeroBitCount
        bits(0, length - 1)
        bits(coded, length)
    }

    /// se(v): k > 0 maps to 2k − 1, k ≤ 0 to −2k.
    mutating func se(_ value: Int32) {
        ue(value > 0 ? UInt32(2 * value - 1) : UInt32(-2 * value))
    }

    /// rbsp_trailing_bits: a one, then zeros to the byte boundary.
    mutating func trailing() -> [UInt8] {
        bit(1)
        while used != 0 { bit(0) }
        return bytes
    }
}

extension H264Decoder {
    /// Opens a decoder, decodes ``H264WarmUpStream`` and drops it: `river serve` does this once at
    /// start-up, so libavcodec's one-time set-up (its static tables, the decoder's code paged in) is
    /// paid before the server says it is ready rather than by the first session, and a broken
    /// libavcodec fails the start instead of every session. Returns the pictures decoded (2).
    @discardableResult
    public static func warmUp() throws(MediaError) -> Int {
        let decoder = try H264Decoder()
        var pictures = 0
        for (index, unit) in H264WarmUpStream.accessUnits.enumerated() {
            try decoder.decode(unit, rtpTimestamp: UInt32(index)) { frame throws(MediaError) in
                guard frame.width == H264WarmUpStream.width, frame.height == H264WarmUpStream.height else {
                    throw .conversionFailed("warm-up picture is \(frame.width)x\(frame.height)")
                }
                pictures += 1
            }
        }
        return pictures
    }
}

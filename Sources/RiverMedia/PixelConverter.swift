import CFFmpeg
import RiverCore

/// Converts pictures between pixel formats with libswscale, at the same size (I420 → RGB24 for
/// models, and any decoder output → I420).
///
/// Keeps one `SwsContext` and rebuilds it only when the source size or format changes (a resolution
/// change mid-stream), so steady-state conversion allocates only the output buffer.
///
/// Not `Sendable`: the swscale context is a C object; keep a converter on one thread.
public final class PixelConverter {
    private var context: OpaquePointer?
    private var key: (width: Int32, height: Int32, src: Int32, dst: Int32) = (0, 0, -1, -1)

    public init() {}

    deinit { sws_freeContext(context) }

    /// An RGB24 copy of an I420 frame, same size and RTP timestamp.
    public func rgb24(from frame: VideoFrame) throws(MediaError) -> VideoFrame {
        guard frame.format == .i420 else {
            if frame.format == .rgb24 { return frame }
            throw .conversionFailed("unsupported source format \(frame.format)")
        }
        let ctx = try context(
            width: frame.width, height: frame.height, from: AV_PIX_FMT_YUV420P, to: AV_PIX_FMT_RGB24)
        let width = frame.width
        let height = frame.height
        let outStride = width * 3
        // swscale writes straight into uninitialized storage: zero-filling 0.9 MB per 640×480 frame
        // first (as VideoFrame(packedWidth:) does) is pure waste on this per-frame path.
        let data = frame.data.withUnsafeBufferPointer { src in
            [UInt8](unsafeUninitializedCapacity: outStride * height) { dst, initialized in
                let base = src.baseAddress!
                let srcPlanes: [UnsafePointer<UInt8>?] = [
                    base + frame.offsets[0], base + frame.offsets[1], base + frame.offsets[2],
                ]
                let srcStrides: [Int32] = [
                    Int32(frame.strides[0]), Int32(frame.strides[1]), Int32(frame.strides[2]),
                ]
                let dstPlanes: [UnsafeMutablePointer<UInt8>?] = [dst.baseAddress!]
                _ = sws_scale(ctx, srcPlanes, srcStrides, 0, Int32(height), dstPlanes, [Int32(outStride)])
                initialized = outStride * height
            }
        }
        do {
            return try VideoFrame(
                width: width, height: height, format: .rgb24, strides: [outStride], offsets: [0], data: data,
                rtpTimestamp: frame.rtpTimestamp)
        } catch {
            throw .conversionFailed("RGB24 picture \(width)x\(height): \(error)")
        }
    }

    /// A packed copy of a decoder picture in `format`.
    func convert(_ frame: UnsafeMutablePointer<AVFrame>, to format: PixelFormat, rtpTimestamp: UInt32)
        throws(MediaError) -> VideoFrame
    {
        let width = Int(frame.pointee.width)
        let height = Int(frame.pointee.height)
        let dstFormat = format == .i420 ? AV_PIX_FMT_YUV420P : AV_PIX_FMT_RGB24
        let ctx = try context(
            width: width, height: height, from: AVPixelFormat(rawValue: frame.pointee.format), to: dstFormat)
        var out = VideoFrame(packedWidth: width, height: height, format: format, rtpTimestamp: rtpTimestamp)
        let strides = out.strides.map { Int32($0) }
        let offsets = out.offsets
        out.data.withUnsafeMutableBufferPointer { dst in
            let dstPlanes: [UnsafeMutablePointer<UInt8>?] = offsets.map { dst.baseAddress! + $0 }
            withUnsafePlanes(of: frame) { planes, srcStrides in
                let srcPlanes: [UnsafePointer<UInt8>?] = planes.map { $0.map { UnsafePointer($0) } }
                _ = sws_scale(ctx, srcPlanes, srcStrides, 0, Int32(height), dstPlanes, strides)
            }
        }
        return out
    }

    private func context(width: Int, height: Int, from src: AVPixelFormat, to dst: AVPixelFormat)
        throws(MediaError) -> OpaquePointer
    {
        let k = (Int32(width), Int32(height), src.rawValue, dst.rawValue)
        if let context, key == k { return context }
        sws_freeContext(context)
        // SWS_BICUBIC matches the ffmpeg command line's default, so results compare with `ffmpeg -pix_fmt`.
        context = sws_getContext(k.0, k.1, src, k.0, k.1, dst, SWS_BICUBIC, nil, nil, nil)
        guard let context else {
            key = (0, 0, -1, -1)
            throw .conversionFailed(
                "no swscale path from format \(src.rawValue) to \(dst.rawValue) at \(width)x\(height)")
        }
        key = k
        return context
    }
}

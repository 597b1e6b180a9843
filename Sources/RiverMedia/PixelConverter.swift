import CFFmpeg
import RiverCore

/// Converts pictures between pixel formats with libswscale (I420 → RGB24 for models, and any decoder
/// output → I420, scaled down to the model's input size when the worker asked for it).
///
/// Keeps one `SwsContext` and rebuilds it only when the source or destination size or format
/// changes (a resolution change mid-stream), so steady-state conversion allocates only the output
/// buffer.
///
/// Not `Sendable`: the swscale context is a C object; keep a converter on one thread.
public final class PixelConverter {
    private var context: OpaquePointer?
    private var key: Key?

    private struct Key: Equatable {
        var source: FrameSize
        var sourceFormat: Int32
        var destination: FrameSize
        var destinationFormat: Int32
    }

    public init() {}

    deinit { sws_freeContext(context) }

    /// An RGB24 copy of an I420 frame, same size and RTP timestamp.
    public func rgb24(from frame: VideoFrame) throws(MediaError) -> VideoFrame {
        guard frame.format == .i420 else {
            if frame.format == .rgb24 { return frame }
            throw .conversionFailed("unsupported source format \(frame.format)")
        }
        let ctx = try context(
            Key(
                source: frame.size, sourceFormat: AV_PIX_FMT_YUV420P.rawValue, destination: frame.size,
                destinationFormat: AV_PIX_FMT_RGB24.rawValue))
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

    /// A packed copy of a decoder picture in `format`, at `size` (default: the picture's own).
    func convert(
        _ frame: UnsafeMutablePointer<AVFrame>, to format: PixelFormat, size: FrameSize? = nil,
        rtpTimestamp: UInt32
    ) throws(MediaError) -> VideoFrame {
        let height = Int(frame.pointee.height)
        let source = FrameSize(width: Int(frame.pointee.width), height: height)
        let destination = size ?? source
        let dstFormat = format == .i420 ? AV_PIX_FMT_YUV420P : AV_PIX_FMT_RGB24
        let ctx = try context(
            Key(
                source: source, sourceFormat: frame.pointee.format, destination: destination,
                destinationFormat: dstFormat.rawValue))
        var out = VideoFrame(
            packedWidth: destination.width, height: destination.height, format: format,
            rtpTimestamp: rtpTimestamp)
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

    private func context(_ wanted: Key) throws(MediaError) -> OpaquePointer {
        if let context, key == wanted { return context }
        sws_freeContext(context)
        // At the same size SWS_BICUBIC, the ffmpeg command line's default, so results compare with
        // `ffmpeg -pix_fmt`. Scaling down to a model's input, SWS_BILINEAR: swscale widens its filter
        // to the whole footprint when it shrinks, so the picture does not alias, and it costs less
        // than bicubic (DecodeBenchmark's fitted row).
        let flags = wanted.source == wanted.destination ? SWS_BICUBIC : SWS_BILINEAR
        context = sws_getContext(
            Int32(wanted.source.width), Int32(wanted.source.height),
            AVPixelFormat(rawValue: wanted.sourceFormat),
            Int32(wanted.destination.width), Int32(wanted.destination.height),
            AVPixelFormat(rawValue: wanted.destinationFormat), flags, nil, nil, nil)
        guard let context else {
            key = nil
            throw .conversionFailed(
                "no swscale path from format \(wanted.sourceFormat) \(wanted.source) to "
                    + "\(wanted.destinationFormat) \(wanted.destination)")
        }
        key = wanted
        return context
    }
}

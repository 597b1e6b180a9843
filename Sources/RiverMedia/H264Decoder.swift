import CFFmpeg
import RiverCore
import RiverRTP

/// Decodes H.264 access units (Annex-B) with libavcodec into I420 ``RiverCore/VideoFrame``s that
/// carry the RTP timestamp of the unit they came from.
///
/// One decoder per stream, one decoding thread (`thread_count = 1`: frame threading would add a
/// frame of latency per thread) and `AV_CODEC_FLAG_LOW_DELAY`, so each unit's picture comes out of the
/// call that decoded it. Resolution changes mid-stream (a new SPS) are handled by libavcodec; each
/// frame carries its own size.
///
/// Pictures are bounded by ``maxPixels`` twice over: each SPS in a unit is read first
/// (``RiverRTP/H264SequenceParameterSet``) and a stream whose pictures would pass the bound is
/// refused without calling libavcodec until an SPS within it comes; and libavcodec itself is told
/// (`AVCodecContext.max_pixels`), so an SPS this reading missed still fails in the decoder rather
/// than allocating. A crafted 8192×8192 SPS would otherwise cost ~96 MiB a picture.
///
/// Not `Sendable`: the codec context is a C object that must stay on one thread. Create, use and
/// drop a decoder on the stream's own thread.
public final class H264Decoder {
    private let context: UnsafeMutablePointer<AVCodecContext>
    private let packet: UnsafeMutablePointer<AVPacket>
    private let frame: UnsafeMutablePointer<AVFrame>
    private var converter: PixelConverter?
    /// Pictures produced, and units libavcodec rejected.
    public private(set) var framesDecoded = 0
    public private(set) var errors = 0
    /// The most pixels (width × height, macroblock-aligned) a picture may have.
    public let maxPixels: Int
    /// 1080p, whose coded height is 1088.
    public static let defaultMaxPixels = 1920 * 1088
    /// The size of the last SPS seen, when it passed ``maxPixels``: units are refused until an SPS
    /// within the bound arrives.
    private var oversized: H264SequenceParameterSet?

    public init(maxPixels: Int = H264Decoder.defaultMaxPixels) throws(MediaError) {
        self.maxPixels = max(1, maxPixels)
        guard let codec = avcodec_find_decoder(AV_CODEC_ID_H264) else {
            throw .decoderUnavailable("libavcodec was built without an H264 decoder")
        }
        guard let context = avcodec_alloc_context3(codec) else { throw .decoderUnavailable("out of memory") }
        context.pointee.thread_count = 1
        context.pointee.flags |= Int32(AV_CODEC_FLAG_LOW_DELAY)
        context.pointee.max_pixels = Int64(self.maxPixels)
        var ctx: UnsafeMutablePointer<AVCodecContext>? = context
        let status = avcodec_open2(context, codec, nil)
        guard status >= 0, let packet = av_packet_alloc(), let frame = av_frame_alloc() else {
            avcodec_free_context(&ctx)
            throw .decoderUnavailable(status < 0 ? ffmpegMessage(status) : "out of memory")
        }
        self.context = context
        self.packet = packet
        self.frame = frame
    }

    deinit {
        var ctx: UnsafeMutablePointer<AVCodecContext>? = context
        avcodec_free_context(&ctx)
        var p: UnsafeMutablePointer<AVPacket>? = packet
        av_packet_free(&p)
        var f: UnsafeMutablePointer<AVFrame>? = frame
        av_frame_free(&f)
    }

    /// Decodes one access unit; returns the pictures it completed (one, with low delay and no
    /// B-frames), each with `rtpTimestamp`. Throws when libavcodec rejects the data or conceals errors
    /// in the picture: the caller should then ask the sender for a keyframe.
    ///
    /// With `box`, a picture larger than it comes out scaled down (libswscale, aspect kept) to fit
    /// inside: the model input a worker announced, so the wire carries no pixel the model would
    /// throw away (``RiverCore/FrameSize/fitted(into:)``).
    public func decode(_ accessUnit: [UInt8], rtpTimestamp: UInt32, fittingInto box: FrameSize? = nil)
        throws(MediaError) -> [VideoFrame]
    {
        var frames: [VideoFrame] = []
        try decode(accessUnit, rtpTimestamp: rtpTimestamp, fittingInto: box) { (frame: VideoFrame) in
            frames.append(frame)
        }
        return frames
    }

    /// Like ``decode(_:rtpTimestamp:fittingInto:)`` but hands each picture to `body` (no array per unit).
    public func decode(
        _ accessUnit: [UInt8], rtpTimestamp: UInt32, fittingInto box: FrameSize? = nil,
        _ body: (VideoFrame) throws(MediaError) -> Void
    ) throws(MediaError) {
        guard !accessUnit.isEmpty else { return }
        try checkPictureSize(accessUnit, rtpTimestamp: rtpTimestamp)
        // libavcodec wants a refcounted, zero-padded buffer (AV_INPUT_BUFFER_PADDING_SIZE); it would
        // copy a plain pointer into one anyway, so this is the one copy of the unit. Its size is an
        // Int32: a unit that does not fit is refused, not trapped on.
        guard let size = Int32(exactly: accessUnit.count), size < Int32.max - 64 else {
            errors += 1
            throw .decodeFailed(rtpTimestamp: rtpTimestamp, code: -1, message: "unit too large")
        }
        let status = av_new_packet(packet, size)
        guard status >= 0 else {
            throw .decodeFailed(rtpTimestamp: rtpTimestamp, code: status, message: ffmpegMessage(status))
        }
        accessUnit.withUnsafeBufferPointer { src in
            packet.pointee.data.update(from: src.baseAddress!, count: src.count)
        }
        packet.pointee.pts = Int64(rtpTimestamp)
        let sent = avcodec_send_packet(context, packet)
        av_packet_unref(packet)
        guard sent >= 0 else {
            errors += 1
            throw .decodeFailed(rtpTimestamp: rtpTimestamp, code: sent, message: ffmpegMessage(sent))
        }
        try receiveFrames(fallbackTimestamp: rtpTimestamp, fittingInto: box, body)
    }

    /// Reads the unit's SPS, if it has one, and refuses the unit while the stream's pictures are
    /// over ``maxPixels`` (see the type's note).
    private func checkPictureSize(_ accessUnit: [UInt8], rtpTimestamp: UInt32) throws(MediaError) {
        for range in AnnexB.nalUnitRanges(in: accessUnit)
        where !range.isEmpty && H264NALType.of(accessUnit[range.lowerBound]) == H264NALType.sps {
            guard let sps = H264SequenceParameterSet(nal: accessUnit[range]) else { continue }
            oversized = sps.pixels > maxPixels ? sps : nil
        }
        if let oversized {
            errors += 1
            throw .tooManyPixels(
                rtpTimestamp: rtpTimestamp, width: oversized.width, height: oversized.height, limit: maxPixels
            )
        }
    }

    /// Drains pictures the decoder still holds (end of stream). The decoder can not be fed after this.
    public func flush() throws(MediaError) -> [VideoFrame] {
        var frames: [VideoFrame] = []
        _ = avcodec_send_packet(context, nil)
        try receiveFrames(fallbackTimestamp: 0, fittingInto: nil) { (frame: VideoFrame) in
            frames.append(frame)
        }
        return frames
    }

    private func receiveFrames(
        fallbackTimestamp: UInt32, fittingInto box: FrameSize?,
        _ body: (VideoFrame) throws(MediaError) -> Void
    ) throws(MediaError) {
        while true {
            let status = avcodec_receive_frame(context, frame)
            if status == river_AVERROR_EAGAIN() || status == river_AVERROR_EOF() { return }
            guard status >= 0 else {
                errors += 1
                throw .decodeFailed(
                    rtpTimestamp: fallbackTimestamp, code: status, message: ffmpegMessage(status))
            }
            defer { av_frame_unref(frame) }
            let pts = frame.pointee.pts
            let timestamp = pts == Int64.min ? fallbackTimestamp : UInt32(truncatingIfNeeded: pts)
            if frame.pointee.decode_error_flags != 0
                || frame.pointee.flags & Int32(AV_FRAME_FLAG_CORRUPT) != 0
            {
                errors += 1
                throw .corruptPicture(rtpTimestamp: timestamp)
            }
            framesDecoded += 1
            try body(try packedI420(timestamp: timestamp, fittingInto: box))
        }
    }

    /// Copies the decoder's picture into one tightly packed I420 buffer (the layout VideoFrame and the
    /// broker use). libavcodec pads its rows and reuses its buffers, so one copy is unavoidable; when
    /// the picture must shrink to fit `box`, swscale's scaling is that copy.
    private func packedI420(timestamp: UInt32, fittingInto box: FrameSize?) throws(MediaError) -> VideoFrame {
        let f = frame.pointee
        let width = Int(f.width)
        let height = Int(f.height)
        let format = AVPixelFormat(rawValue: f.format)
        let size = FrameSize(width: width, height: height)
        let fitted = box.map { size.fitted(into: $0) } ?? size
        guard fitted == size, format == AV_PIX_FMT_YUV420P || format == AV_PIX_FMT_YUVJ420P else {
            // Scaling, and 4:2:2 / 4:4:4 / high bit depth streams: let swscale make I420 of them.
            if converter == nil { converter = PixelConverter() }
            return try converter!.convert(frame, to: .i420, size: fitted, rtpTimestamp: timestamp)
        }
        let cw = (width + 1) / 2
        let ch = (height + 1) / 2
        let total = width * height + 2 * cw * ch
        let data = [UInt8](unsafeUninitializedCapacity: total) { out, initialized in
            var dst = out.baseAddress!
            withUnsafePlanes(of: frame) { planes, strides in
                for (plane, (rowBytes, rows)) in [(width, height), (cw, ch), (cw, ch)].enumerated() {
                    var src = UnsafePointer(planes[plane]!)
                    let stride = Int(strides[plane])
                    for _ in 0..<rows {
                        dst.update(from: src, count: rowBytes)
                        dst += rowBytes
                        src += stride
                    }
                }
            }
            initialized = total
        }
        do {
            return try VideoFrame(
                width: width, height: height, format: .i420, strides: [width, cw, cw],
                offsets: [0, width * height, width * height + cw * ch], data: data, rtpTimestamp: timestamp)
        } catch {
            throw .conversionFailed("decoded picture \(width)x\(height): \(error)")
        }
    }
}

/// The first three plane pointers and strides of an AVFrame (C fixed arrays import as tuples).
func withUnsafePlanes<R>(
    of frame: UnsafeMutablePointer<AVFrame>,
    _ body: ([UnsafeMutablePointer<UInt8>?], [Int32]) throws -> R
) rethrows -> R {
    let f = frame.pointee
    return try body([f.data.0, f.data.1, f.data.2], [f.linesize.0, f.linesize.1, f.linesize.2])
}

import CFFmpeg
import RiverCore

/// One picture sent over HTTP (`POST /v1/infer`), decoded from memory into an I420 frame, the
/// format sessions send to the workers.
///
/// The bytes are hostile: libavcodec decodes them with `max_pixels` set, so a small file that
/// claims a huge picture is refused before its picture is allocated, and raw pixels must be exactly
/// as long as their stated size needs.
public enum StillImage {
    /// How the bytes are encoded.
    public enum Encoding: Sendable, Equatable {
        case jpeg
        case png
        /// Packed pixels without padding: I420 (Y, then U, then V) or RGB24, at `size`.
        case raw(PixelFormat, FrameSize)
    }

    /// Why a picture could not be read.
    public enum Failure: Error, Equatable, CustomStringConvertible {
        /// Not a picture of this encoding, or a damaged one; the reason in words.
        case undecodable(String)
        /// The picture has more pixels than allowed.
        case tooManyPixels(width: Int, height: Int, limit: Int)

        public var description: String {
            switch self {
            case .undecodable(let why): why
            case .tooManyPixels(let width, let height, let limit):
                "a \(width)x\(height) picture has more than \(limit) pixels"
            }
        }
    }

    /// Decodes `bytes` into a packed I420 frame, scaled down to fit `box` when it is given (keeping
    /// the aspect ratio). Returns the frame and the picture's own size.
    public static func decode(
        _ bytes: [UInt8], as encoding: Encoding, maxPixels: Int, fittingInto box: FrameSize? = nil
    ) throws(Failure) -> (frame: VideoFrame, size: FrameSize) {
        switch encoding {
        case .jpeg: try decodeCompressed(bytes, codec: AV_CODEC_ID_MJPEG, name: "JPEG", maxPixels, box)
        case .png: try decodeCompressed(bytes, codec: AV_CODEC_ID_PNG, name: "PNG", maxPixels, box)
        case .raw(let format, let size): try decodeRaw(bytes, format: format, size: size, maxPixels, box)
        }
    }

    private static func decodeCompressed(
        _ bytes: [UInt8], codec id: AVCodecID, name: String, _ maxPixels: Int, _ box: FrameSize?
    ) throws(Failure) -> (frame: VideoFrame, size: FrameSize) {
        guard !bytes.isEmpty else { throw .undecodable("the body is empty") }
        guard let decoder = avcodec_find_decoder(id) else {
            throw .undecodable("this FFmpeg has no \(name) decoder")
        }
        var context = avcodec_alloc_context3(decoder)
        var packet = av_packet_alloc()
        var picture = av_frame_alloc()
        defer {
            avcodec_free_context(&context)
            av_packet_free(&packet)
            av_frame_free(&picture)
        }
        guard let context, let packet, let picture else { throw .undecodable("out of memory") }
        context.pointee.max_pixels = Int64(max(1, maxPixels))
        guard avcodec_open2(context, decoder, nil) >= 0, av_new_packet(packet, Int32(bytes.count)) >= 0 else {
            throw .undecodable("cannot open the \(name) decoder")
        }
        bytes.withUnsafeBufferPointer { packet.pointee.data.update(from: $0.baseAddress!, count: $0.count) }
        var status = avcodec_send_packet(context, packet)
        if status >= 0 {
            _ = avcodec_send_packet(context, nil)
            status = avcodec_receive_frame(context, picture)
        }
        guard status >= 0 else {
            // libavcodec refuses a picture over max_pixels before it allocates it, with the same
            // error as a damaged file, so the reason names both.
            throw .undecodable(
                "not a \(name) picture of at most \(maxPixels) pixels: \(ffmpegMessage(status))")
        }
        let size = FrameSize(width: Int(picture.pointee.width), height: Int(picture.pointee.height))
        guard size.width > 0, size.height > 0 else { throw .undecodable("the \(name) picture is empty") }
        guard size.width * size.height <= maxPixels else {
            throw .tooManyPixels(width: size.width, height: size.height, limit: maxPixels)
        }
        return (try convert(picture, size: size, box: box), size)
    }

    private static func decodeRaw(
        _ bytes: [UInt8], format: PixelFormat, size: FrameSize, _ maxPixels: Int, _ box: FrameSize?
    ) throws(Failure) -> (frame: VideoFrame, size: FrameSize) {
        guard size.width > 0, size.height > 0, size.width <= 65535, size.height <= 65535 else {
            throw .undecodable("a raw picture's width and height are 1 to 65535, not \(size)")
        }
        guard size.width * size.height <= maxPixels else {
            throw .tooManyPixels(width: size.width, height: size.height, limit: maxPixels)
        }
        guard format == .rgb24 || (size.width.isMultiple(of: 2) && size.height.isMultiple(of: 2)) else {
            throw .undecodable("I420 needs an even width and height, not \(size)")
        }
        let needed = (0..<format.planeCount).reduce(0) { total, plane in
            let (rowBytes, rows) = format.planeSize(plane, width: size.width, height: size.height)
            return total + rowBytes * rows
        }
        guard bytes.count == needed else {
            throw .undecodable("\(format) at \(size) is \(needed) bytes; the body has \(bytes.count)")
        }
        var picture = av_frame_alloc()
        defer { av_frame_free(&picture) }
        guard let picture else { throw .undecodable("out of memory") }
        picture.pointee.width = Int32(size.width)
        picture.pointee.height = Int32(size.height)
        picture.pointee.format = (format == .i420 ? AV_PIX_FMT_YUV420P : AV_PIX_FMT_RGB24).rawValue
        return try bytes.withUnsafeBufferPointer { buffer throws(Failure) in
            // The frame borrows the body's bytes for the conversion alone; swscale only reads them.
            let filled = withUnsafeMutablePointer(to: &picture.pointee.data.0) { data in
                withUnsafeMutablePointer(to: &picture.pointee.linesize.0) { lines in
                    av_image_fill_arrays(
                        data, lines, buffer.baseAddress, AVPixelFormat(picture.pointee.format),
                        Int32(size.width), Int32(size.height), 1)
                }
            }
            guard filled == needed else { throw .undecodable("cannot lay out \(format) at \(size)") }
            return (try convert(picture, size: size, box: box), size)
        }
    }

    private static func convert(_ picture: UnsafeMutablePointer<AVFrame>, size: FrameSize, box: FrameSize?)
        throws(Failure) -> VideoFrame
    {
        let target = box.map { size.fitted(into: $0) } ?? size
        do {
            return try PixelConverter().convert(picture, to: .i420, size: target, rtpTimestamp: 0)
        } catch {
            throw .undecodable("\(error)")
        }
    }
}

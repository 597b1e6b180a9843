import CFFmpeg
import Foundation
import RiverCore

/// Why an image file could not be read or written.
public enum ImageFileError: Error, Equatable, CustomStringConvertible {
    /// The file is missing, unreadable or not a picture FFmpeg can decode.
    case unreadable(path: String, reason: String)
    /// The PNG could not be encoded or written.
    case unwritable(path: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): "cannot read image \(path): \(reason)"
        case .unwritable(let path, let reason): "cannot write image \(path): \(reason)"
        }
    }
}

/// Still images (PNG, JPEG, anything FFmpeg's image demuxers read) to and from RGB24 frames.
///
/// Uses libavformat to open the file, libavcodec to decode or encode, libswscale to convert.
public enum ImageFile {
    /// Decodes the first picture in `path` into a tightly packed RGB24 frame.
    public static func load(_ path: String) throws(ImageFileError) -> VideoFrame {
        func fail(_ reason: String) -> ImageFileError { .unreadable(path: path, reason: reason) }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw fail("no such file")
        }
        guard !isDirectory.boolValue else { throw fail("is a directory") }
        // Failures come back as return codes with our own message; FFmpeg's log lines would only
        // add noise on stderr. (Not thread-safe with other log-level changes; at worst a line shows.)
        let logLevel = av_log_get_level()
        av_log_set_level(AV_LOG_QUIET)
        defer { av_log_set_level(logLevel) }

        var format: UnsafeMutablePointer<AVFormatContext>?
        var status = avformat_open_input(&format, path, nil, nil)
        guard status >= 0 else { throw fail(errorText(status)) }
        defer { avformat_close_input(&format) }
        status = avformat_find_stream_info(format, nil)
        guard status >= 0 else { throw fail(errorText(status)) }
        let streamIndex = av_find_best_stream(format, AVMEDIA_TYPE_VIDEO, -1, -1, nil, 0)
        guard streamIndex >= 0, let stream = format!.pointee.streams[Int(streamIndex)],
            let parameters = stream.pointee.codecpar
        else { throw fail("no picture in file") }
        guard let decoder = avcodec_find_decoder(parameters.pointee.codec_id) else {
            throw fail("no decoder for this image format")
        }
        var codec = avcodec_alloc_context3(decoder)
        defer { avcodec_free_context(&codec) }
        guard codec != nil, avcodec_parameters_to_context(codec, parameters) >= 0 else {
            throw fail("bad codec parameters")
        }
        status = avcodec_open2(codec, decoder, nil)
        guard status >= 0 else { throw fail(errorText(status)) }

        var packet = av_packet_alloc()
        var picture = av_frame_alloc()
        defer {
            av_packet_free(&packet)
            av_frame_free(&picture)
        }
        var decoded = false
        while !decoded {
            status = av_read_frame(format, packet)
            if status < 0 {
                // End of file: drain the decoder.
                _ = avcodec_send_packet(codec, nil)
                decoded = avcodec_receive_frame(codec, picture) >= 0
                break
            }
            defer { av_packet_unref(packet) }
            guard packet!.pointee.stream_index == streamIndex else { continue }
            status = avcodec_send_packet(codec, packet)
            guard status >= 0 else { throw fail(errorText(status)) }
            decoded = avcodec_receive_frame(codec, picture) >= 0
        }
        guard decoded, let picture else { throw fail("decoder produced no picture") }
        return try convert(picture, fail: fail)
    }

    private static func convert(_ picture: UnsafeMutablePointer<AVFrame>, fail: (String) -> ImageFileError)
        throws(ImageFileError) -> VideoFrame
    {
        let width = Int(picture.pointee.width)
        let height = Int(picture.pointee.height)
        guard width > 0, height > 0 else { throw fail("picture has size \(width)x\(height)") }
        guard
            let scaler = sws_getContext(
                Int32(width), Int32(height), AVPixelFormat(picture.pointee.format), Int32(width),
                Int32(height),
                AV_PIX_FMT_RGB24, Int32(SWS_BILINEAR), nil, nil, nil)
        else { throw fail("cannot convert pixel format \(picture.pointee.format) to RGB24") }
        defer { sws_freeContext(scaler) }
        var frame = VideoFrame(packedWidth: width, height: height, format: .rgb24)
        let lines = withUnsafePointer(to: picture.pointee.linesize) {
            $0.withMemoryRebound(to: Int32.self, capacity: 8) {
                Array(UnsafeBufferPointer(start: $0, count: 8))
            }
        }
        let planes = withUnsafePointer(to: picture.pointee.data) {
            $0.withMemoryRebound(to: UnsafeMutablePointer<UInt8>?.self, capacity: 8) { data in
                (0..<8).map { i -> UnsafePointer<UInt8>? in UnsafePointer(data[i]) }
            }
        }
        let rows = frame.data.withUnsafeMutableBufferPointer { out -> Int32 in
            var destination: [UnsafeMutablePointer<UInt8>?] = [out.baseAddress, nil, nil, nil]
            var destinationStrides: [Int32] = [Int32(width * 3), 0, 0, 0]
            return sws_scale(scaler, planes, lines, 0, Int32(height), &destination, &destinationStrides)
        }
        guard rows == height else { throw fail("pixel conversion failed") }
        return frame
    }

    /// Encodes an RGB24 frame as PNG and writes it to `path` (replacing any file there).
    public static func savePNG(_ frame: VideoFrame, to path: String) throws(ImageFileError) {
        func fail(_ reason: String) -> ImageFileError { .unwritable(path: path, reason: reason) }
        guard frame.format == .rgb24 else {
            throw fail("only RGB24 frames can be saved, got \(frame.format)")
        }
        guard let encoder = avcodec_find_encoder(AV_CODEC_ID_PNG) else {
            throw fail("FFmpeg has no PNG encoder")
        }
        var codec = avcodec_alloc_context3(encoder)
        defer { avcodec_free_context(&codec) }
        guard let context = codec else { throw fail("cannot allocate encoder") }
        context.pointee.width = Int32(frame.width)
        context.pointee.height = Int32(frame.height)
        context.pointee.pix_fmt = AV_PIX_FMT_RGB24
        context.pointee.time_base = AVRational(num: 1, den: 1)
        var status = avcodec_open2(context, encoder, nil)
        guard status >= 0 else { throw fail(errorText(status)) }

        var picture = av_frame_alloc()
        var packet = av_packet_alloc()
        defer {
            av_frame_free(&picture)
            av_packet_free(&packet)
        }
        guard let picture, let packet else { throw fail("out of memory") }
        picture.pointee.width = Int32(frame.width)
        picture.pointee.height = Int32(frame.height)
        picture.pointee.format = AV_PIX_FMT_RGB24.rawValue
        status = av_frame_get_buffer(picture, 0)
        guard status >= 0 else { throw fail(errorText(status)) }
        let rowBytes = frame.width * 3
        let stride = Int(picture.pointee.linesize.0)
        frame.data.withUnsafeBufferPointer { src in
            for y in 0..<frame.height {
                (picture.pointee.data.0! + y * stride).update(
                    from: src.baseAddress! + frame.offsets[0] + y * frame.strides[0], count: rowBytes)
            }
        }
        status = avcodec_send_frame(context, picture)
        guard status >= 0 else { throw fail(errorText(status)) }
        _ = avcodec_send_frame(context, nil)
        var bytes = Data()
        while avcodec_receive_packet(context, packet) >= 0 {
            bytes.append(packet.pointee.data, count: Int(packet.pointee.size))
            av_packet_unref(packet)
        }
        guard !bytes.isEmpty else { throw fail("encoder produced no data") }
        do { try bytes.write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw fail((error as NSError).localizedDescription)
        }
    }

    private static func errorText(_ code: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: 128)
        av_strerror(code, &buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

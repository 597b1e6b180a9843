import CFFmpeg
import RiverCore

/// Copies an MP4 with its video decoded, changed picture by picture, and encoded again (libx264
/// through libavcodec), and its audio copied as it is: `river annotate` burns a recording's boxes
/// into its pictures this way.
///
/// Presentation times are kept, so each picture keeps the time its results are keyed by.
public enum VideoReencoder {
    public struct Summary: Sendable, Equatable {
        public var framesDecoded = 0
        public var framesEncoded = 0
        public var audioPacketsCopied = 0
    }

    /// - Parameter transform: called with each decoded picture (I420, packed) and its presentation
    ///   time in seconds; what it leaves in the frame is encoded.
    public static func reencode(
        input: String, output: String, transform: (inout VideoFrame, Double) -> Void
    ) throws(MediaError) -> Summary {
        // libx264 reports its settings and statistics at the info level; errors still show.
        let level = av_log_get_level()
        av_log_set_level(min(level, AV_LOG_WARNING))
        defer { av_log_set_level(level) }
        func fail(_ path: String, _ code: Int32) -> MediaError { .recordingFailed(path, ffmpegMessage(code)) }
        var inContext: UnsafeMutablePointer<AVFormatContext>?
        var status = avformat_open_input(&inContext, input, nil, nil)
        guard status >= 0, let source = inContext else { throw fail(input, status) }
        defer { avformat_close_input(&inContext) }
        status = avformat_find_stream_info(source, nil)
        guard status >= 0 else { throw fail(input, status) }
        let streams = (0..<Int(source.pointee.nb_streams)).map { source.pointee.streams[$0]! }
        guard
            let videoIn = streams.first(where: {
                $0.pointee.codecpar.pointee.codec_type == AVMEDIA_TYPE_VIDEO
            })
        else { throw .recordingFailed(input, "no video stream") }
        let audioIn = streams.first { $0.pointee.codecpar.pointee.codec_type == AVMEDIA_TYPE_AUDIO }

        // The decoder, from the stream's own parameters (MP4's avcC).
        guard let decoderCodec = avcodec_find_decoder(videoIn.pointee.codecpar.pointee.codec_id),
            var decoder = avcodec_alloc_context3(decoderCodec)
        else { throw .decoderUnavailable("no decoder for \(input)'s video") }
        defer {
            var d: UnsafeMutablePointer<AVCodecContext>? = decoder
            avcodec_free_context(&d)
        }
        avcodec_parameters_to_context(decoder, videoIn.pointee.codecpar)
        decoder.pointee.pkt_timebase = videoIn.pointee.time_base
        status = avcodec_open2(decoder, decoderCodec, nil)
        guard status >= 0 else { throw .decoderUnavailable(ffmpegMessage(status)) }

        var outContext: UnsafeMutablePointer<AVFormatContext>?
        status = avformat_alloc_output_context2(&outContext, nil, "mp4", output)
        guard status >= 0, let sink = outContext else { throw fail(output, status) }
        defer {
            if sink.pointee.pb != nil { avio_closep(&sink.pointee.pb) }
            avformat_free_context(sink)
        }
        let width = videoIn.pointee.codecpar.pointee.width
        let height = videoIn.pointee.codecpar.pointee.height
        guard
            let encoderCodec = avcodec_find_encoder_by_name("libx264")
                ?? avcodec_find_encoder(AV_CODEC_ID_H264),
            var encoder = avcodec_alloc_context3(encoderCodec)
        else { throw .recordingFailed(output, "libavcodec has no H264 encoder") }
        defer {
            var e: UnsafeMutablePointer<AVCodecContext>? = encoder
            avcodec_free_context(&e)
        }
        encoder.pointee.width = width
        encoder.pointee.height = height
        encoder.pointee.pix_fmt = AV_PIX_FMT_YUV420P
        encoder.pointee.time_base = videoIn.pointee.time_base
        encoder.pointee.max_b_frames = 0  // decode order stays presentation order, as in the source
        let rate = videoIn.pointee.avg_frame_rate
        if rate.num > 0 && rate.den > 0 { encoder.pointee.framerate = rate }
        if sink.pointee.oformat.pointee.flags & AVFMT_GLOBALHEADER != 0 {
            encoder.pointee.flags |= Int32(AV_CODEC_FLAG_GLOBAL_HEADER)
        }
        av_opt_set(encoder.pointee.priv_data, "preset", "veryfast", 0)
        av_opt_set(encoder.pointee.priv_data, "crf", "20", 0)
        status = avcodec_open2(encoder, encoderCodec, nil)
        guard status >= 0 else { throw fail(output, status) }
        guard let videoOut = avformat_new_stream(sink, nil) else {
            throw .recordingFailed(output, "out of memory")
        }
        avcodec_parameters_from_context(videoOut.pointee.codecpar, encoder)
        videoOut.pointee.time_base = encoder.pointee.time_base
        var audioOut: UnsafeMutablePointer<AVStream>?
        if let audioIn {
            audioOut = avformat_new_stream(sink, nil)
            guard let audioOut else { throw .recordingFailed(output, "out of memory") }
            avcodec_parameters_copy(audioOut.pointee.codecpar, audioIn.pointee.codecpar)
            audioOut.pointee.codecpar.pointee.codec_tag = 0
            if audioOut.pointee.codecpar.pointee.frame_size == 0 {
                audioOut.pointee.codecpar.pointee.frame_size = 960  // Opus's 20 ms, WebRTC's packet
            }
            audioOut.pointee.time_base = audioIn.pointee.time_base
        }
        status = avio_open(&sink.pointee.pb, output, AVIO_FLAG_WRITE)
        guard status >= 0 else { throw fail(output, status) }
        status = avformat_write_header(sink, nil)
        guard status >= 0 else { throw fail(output, status) }

        var summary = Summary()
        var lastDuration: Int64 = 0
        var packetBox = av_packet_alloc()
        var decodedBox = av_frame_alloc()
        var encodedBox = av_frame_alloc()
        let converter = PixelConverter()
        defer {
            av_packet_free(&packetBox)
            av_frame_free(&decodedBox)
            av_frame_free(&encodedBox)
        }
        guard let packet = packetBox, let decoded = decodedBox, let encoded = encodedBox else {
            throw .recordingFailed(output, "out of memory")
        }
        encoded.pointee.format = AV_PIX_FMT_YUV420P.rawValue
        encoded.pointee.width = width
        encoded.pointee.height = height
        status = av_frame_get_buffer(encoded, 0)
        guard status >= 0 else { throw fail(output, status) }

        // Each encoded packet is held until the next one gives its duration: the muxer would
        // otherwise mark the last picture discarded (an edit list ending at its start).
        var heldPacket: UnsafeMutablePointer<AVPacket>?
        defer { av_packet_free(&heldPacket) }
        func write(held: UnsafeMutablePointer<AVPacket>, nextPTS: Int64?) throws(MediaError) {
            if let nextPTS {
                held.pointee.duration = nextPTS - held.pointee.pts
            } else if held.pointee.duration <= 0 {
                held.pointee.duration = max(1, lastDuration)
            }
            lastDuration = held.pointee.duration
            av_packet_rescale_ts(held, encoder.pointee.time_base, videoOut.pointee.time_base)
            held.pointee.stream_index = videoOut.pointee.index
            let written = av_interleaved_write_frame(sink, held)
            guard written >= 0 else { throw fail(output, written) }
        }
        func writeEncoded() throws(MediaError) {
            while true {
                guard let out = av_packet_alloc() else { throw .recordingFailed(output, "out of memory") }
                let received = avcodec_receive_packet(encoder, out)
                guard received >= 0 else {
                    var unused: UnsafeMutablePointer<AVPacket>? = out
                    av_packet_free(&unused)
                    if received == river_AVERROR_EAGAIN() || received == river_AVERROR_EOF() { return }
                    throw fail(output, received)
                }
                if let held = heldPacket { try write(held: held, nextPTS: out.pointee.pts) }
                av_packet_free(&heldPacket)
                heldPacket = out
            }
        }
        func drainDecoder() throws(MediaError) {
            while avcodec_receive_frame(decoder, decoded) >= 0 {
                defer { av_frame_unref(decoded) }
                summary.framesDecoded += 1
                let pts = decoded.pointee.best_effort_timestamp
                guard av_frame_make_writable(encoded) >= 0 else {
                    throw .recordingFailed(output, "out of memory")
                }
                // Into the encoder's size and format: the sender may have changed its resolution
                // mid-stream (Chromium scales down under load).
                var frame = try converter.convert(
                    decoded, to: .i420, size: FrameSize(width: Int(width), height: Int(height)),
                    rtpTimestamp: 0)
                transform(&frame, Double(pts) * av_q2d(videoIn.pointee.time_base))
                Self.unpack(frame, into: encoded)
                encoded.pointee.pts = pts
                let sent = avcodec_send_frame(encoder, encoded)
                guard sent >= 0 else { throw fail(output, sent) }
                summary.framesEncoded += 1
                try writeEncoded()
            }
        }

        while av_read_frame(source, packet) >= 0 {
            defer { av_packet_unref(packet) }
            if packet.pointee.stream_index == videoIn.pointee.index {
                if avcodec_send_packet(decoder, packet) >= 0 { try drainDecoder() }
            } else if let audioIn, let audioOut, packet.pointee.stream_index == audioIn.pointee.index {
                av_packet_rescale_ts(packet, audioIn.pointee.time_base, audioOut.pointee.time_base)
                packet.pointee.stream_index = audioOut.pointee.index
                packet.pointee.pos = -1
                let written = av_interleaved_write_frame(sink, packet)
                guard written >= 0 else { throw fail(output, written) }
                summary.audioPacketsCopied += 1
            }
        }
        avcodec_send_packet(decoder, nil)
        try drainDecoder()
        avcodec_send_frame(encoder, nil)
        try writeEncoded()
        if let held = heldPacket { try write(held: held, nextPTS: nil) }
        status = av_write_trailer(sink)
        guard status >= 0 else { throw fail(output, status) }
        return summary
    }

    /// Copies a packed I420 frame into an allocated 4:2:0 picture of its size.
    static func unpack(_ frame: VideoFrame, into picture: UnsafeMutablePointer<AVFrame>) {
        for plane in 0..<3 {
            let (rows, rowBytes) =
                plane == 0 ? (frame.height, frame.width) : ((frame.height + 1) / 2, (frame.width + 1) / 2)
            withUnsafePlanes(of: picture) { targets, strides in
                frame.data.withUnsafeBufferPointer { buffer in
                    for row in 0..<rows {
                        (targets[plane]! + row * Int(strides[plane])).update(
                            from: buffer.baseAddress! + frame.offsets[plane] + row * frame.strides[plane],
                            count: rowBytes)
                    }
                }
            }
        }
    }
}

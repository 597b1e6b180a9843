import CFFmpeg
import RiverRTP

/// Writes the browser's own H.264 access units and Opus packets, as they came (no re-encoding),
/// into a fragmented MP4 with libavformat: an empty `moov`, then a `moof` + `mdat` pair at each
/// keyframe and at least every second (ISO/IEC 14496-12 §8.8). A process killed mid-session leaves
/// a file that players read up to its last complete fragment.
///
/// The file starts at the first keyframe: its SPS and PPS become the track's configuration, and
/// what comes before it (video that cannot be decoded, audio without picture) is not written.
/// Timestamps are in each stream's own clock (90 kHz, 48 kHz) from a common origin that the
/// caller chooses; a packet that does not move its stream's time forward is dropped and counted
/// (the container needs increasing decode times, and WebRTC's H.264 has no B-frames, so decode
/// order is presentation order).
///
/// Not `Sendable`: the muxer is a C object that must stay on one thread.
public final class FragmentedMP4Writer {
    public let path: String
    public let hasAudio: Bool
    private var context: UnsafeMutablePointer<AVFormatContext>?
    private var videoStream: Int32 = -1
    private var audioStream: Int32 = -1
    private var lastVideo: Int64?
    private var lastAudio: Int64?
    private let packet: UnsafeMutablePointer<AVPacket>
    private var closed = false
    /// Video units and audio packets written, and those dropped (before the first keyframe, or
    /// not after the previous one of their stream).
    public private(set) var videoFramesWritten = 0
    public private(set) var audioPacketsWritten = 0
    public private(set) var dropped = 0

    /// Creates the writer; the file is created at the first keyframe (``writeVideo(annexB:pts:)``).
    public init(path: String, audio: Bool) throws(MediaError) {
        self.path = path
        self.hasAudio = audio
        guard let packet = av_packet_alloc() else { throw .recordingFailed(path, "out of memory") }
        self.packet = packet
    }

    deinit {
        if !closed { try? close() }
        var p: UnsafeMutablePointer<AVPacket>? = packet
        av_packet_free(&p)
    }

    /// Bytes in the file so far (those the muxer still holds for the open fragment not counted).
    public var bytesWritten: Int64 {
        guard let pb = context?.pointee.pb else { return 0 }
        return avio_tell(pb)
    }

    /// Whether the file was created (a keyframe came).
    public private(set) var started = false

    /// One access unit in Annex B, `pts` in 90 kHz units from the recording's origin.
    public func writeVideo(annexB: [UInt8], pts: Int64) throws(MediaError) {
        let nals = AnnexB.nalUnitRanges(in: annexB).map { annexB[$0] }
        let keyframe = nals.contains { $0.first.map(H264NALType.of) == H264NALType.idr }
        if context == nil {
            guard keyframe, let parameters = Self.parameterSets(nals) else {
                dropped += 1
                return
            }
            try open(sps: parameters.sps, configuration: parameters.annexB)
        }
        guard lastVideo.map({ pts > $0 }) ?? true else {
            dropped += 1
            return
        }
        lastVideo = pts
        try write(annexB, stream: videoStream, pts: pts, clock: 90_000, key: keyframe)
        videoFramesWritten += 1
    }

    /// One Opus packet (an RTP payload, RFC 7587), `pts` in 48 kHz units from the origin.
    public func writeAudio(opus: [UInt8], pts: Int64) throws(MediaError) {
        guard hasAudio, context != nil, !opus.isEmpty, lastAudio.map({ pts > $0 }) ?? true, pts >= 0 else {
            dropped += 1
            return
        }
        lastAudio = pts
        try write(opus, stream: audioStream, pts: pts, clock: 48_000, key: true)
        audioPacketsWritten += 1
    }

    /// Writes the last fragment and closes the file. Later writes are errors.
    public func close() throws(MediaError) {
        guard !closed else { return }
        closed = true
        guard let context else { return }
        let status = av_write_trailer(context)
        avio_closep(&context.pointee.pb)
        avformat_free_context(context)
        self.context = nil
        if status < 0 { throw .recordingFailed(path, ffmpegMessage(status)) }
    }

    private func write(
        _ bytes: [UInt8], stream: Int32, pts: Int64, clock: Int32, key: Bool
    ) throws(MediaError) {
        guard let context, !closed else { throw .recordingFailed(path, "closed") }
        guard av_new_packet(packet, Int32(bytes.count)) >= 0 else {
            throw .recordingFailed(path, "out of memory")
        }
        defer { av_packet_unref(packet) }
        bytes.withUnsafeBufferPointer {
            packet.pointee.data.update(from: $0.baseAddress!, count: bytes.count)
        }
        let timeBase = context.pointee.streams[Int(stream)]!.pointee.time_base
        packet.pointee.pts = av_rescale_q(pts, AVRational(num: 1, den: clock), timeBase)
        packet.pointee.dts = packet.pointee.pts
        packet.pointee.stream_index = stream
        if key { packet.pointee.flags |= AV_PKT_FLAG_KEY }
        var status = av_write_frame(context, packet)
        if status >= 0 {
            avio_flush(context.pointee.pb)
            status = context.pointee.pb.pointee.error
        }
        if status < 0 { throw .recordingFailed(path, ffmpegMessage(status)) }
    }

    private func open(sps: H264SequenceParameterSet, configuration: [UInt8]) throws(MediaError) {
        var context: UnsafeMutablePointer<AVFormatContext>?
        var status = avformat_alloc_output_context2(&context, nil, "mp4", path)
        guard status >= 0, let context else { throw .recordingFailed(path, ffmpegMessage(status)) }
        var opened = false
        defer {
            if !opened {
                if context.pointee.pb != nil { avio_closep(&context.pointee.pb) }
                avformat_free_context(context)
            }
        }
        let (video, videoIndex) = try addStream(
            to: context, AVMEDIA_TYPE_VIDEO, AV_CODEC_ID_H264, clock: 90_000, configuration: configuration)
        video.pointee.width = Int32(sps.width)
        video.pointee.height = Int32(sps.height)
        videoStream = videoIndex
        if hasAudio {
            let (audio, audioIndex) = try addStream(
                to: context, AVMEDIA_TYPE_AUDIO, AV_CODEC_ID_OPUS, clock: 48_000, configuration: Self.opusHead
            )
            audio.pointee.sample_rate = 48_000
            audio.pointee.frame_size = 960  // 20 ms, the packet WebRTC sends
            av_channel_layout_default(&audio.pointee.ch_layout, 2)
            audioStream = audioIndex
        }
        status = avio_open(&context.pointee.pb, path, AVIO_FLAG_WRITE)
        guard status >= 0 else { throw .recordingFailed(path, ffmpegMessage(status)) }
        var options: OpaquePointer?
        av_dict_set(&options, "movflags", "frag_keyframe+empty_moov+default_base_moof", 0)
        av_dict_set(&options, "frag_duration", "1000000", 0)  // µs: a fragment at least every second
        status = avformat_write_header(context, &options)
        av_dict_free(&options)
        guard status >= 0 else { throw .recordingFailed(path, ffmpegMessage(status)) }
        avio_flush(context.pointee.pb)
        opened = true
        started = true
        self.context = context
    }

    /// The SPS (read) and SPS + PPS in Annex B (the track's configuration) of a keyframe's NAL units.
    static func parameterSets(_ nals: [ArraySlice<UInt8>]) -> (
        sps: H264SequenceParameterSet, annexB: [UInt8]
    )? {
        guard let spsNAL = nals.first(where: { $0.first.map(H264NALType.of) == H264NALType.sps }),
            let ppsNAL = nals.first(where: { $0.first.map(H264NALType.of) == H264NALType.pps }),
            let sps = H264SequenceParameterSet(nal: spsNAL)
        else { return nil }
        return (sps, AnnexB.startCode + spsNAL + AnnexB.startCode + ppsNAL)
    }

    /// RFC 7845 §5.1's identification header, which MP4's Opus track carries (`dOps`): version 1,
    /// two channels, 312 samples of pre-skip (what libopus encoders, Chromium's among them, use),
    /// 48 kHz, no gain, mapping family 0.
    static let opusHead: [UInt8] =
        Array("OpusHead".utf8) + [1, 2, 0x38, 0x01, 0x80, 0xBB, 0x00, 0x00, 0, 0, 0]

    /// A new stream of the file: its parameters (the codec's configuration record set) and index.
    private func addStream(
        to context: UnsafeMutablePointer<AVFormatContext>, _ type: AVMediaType, _ codec: AVCodecID,
        clock: Int32,
        configuration: [UInt8]
    ) throws(MediaError) -> (UnsafeMutablePointer<AVCodecParameters>, Int32) {
        guard let stream = avformat_new_stream(context, nil) else {
            throw .recordingFailed(path, "out of memory")
        }
        stream.pointee.time_base = AVRational(num: 1, den: clock)
        let parameters = stream.pointee.codecpar!
        parameters.pointee.codec_type = type
        parameters.pointee.codec_id = codec
        try Self.setExtradata(parameters, configuration, path: path)
        return (parameters, stream.pointee.index)
    }

    private static func setExtradata(
        _ parameters: UnsafeMutablePointer<AVCodecParameters>, _ bytes: [UInt8], path: String
    ) throws(MediaError) {
        let padding = Int(AV_INPUT_BUFFER_PADDING_SIZE)
        guard let raw = av_mallocz(bytes.count + padding) else {
            throw .recordingFailed(path, "out of memory")
        }
        let buffer = raw.assumingMemoryBound(to: UInt8.self)
        bytes.withUnsafeBufferPointer { buffer.update(from: $0.baseAddress!, count: bytes.count) }
        parameters.pointee.extradata = buffer
        parameters.pointee.extradata_size = Int32(bytes.count)
    }
}

import CFFmpeg
import Foundation
import RiverMedia
import RiverRTP
import RiverTestSupport
import Testing

/// The recording's container: what libavformat reads back from it, whole and cut off mid-write.
@Suite struct FragmentedMP4WriterTests {
    init() { av_log_set_level(AV_LOG_FATAL) }

    /// One packet of what libavformat's demuxer reads.
    struct ReadPacket {
        var stream: Int
        var seconds: Double
        var key: Bool
        var bytes: [UInt8]
    }

    /// The streams (codec, width, height) and packets of an MP4 file, or the error opening it.
    func read(_ path: String) throws -> (streams: [(AVCodecID, Int32, Int32)], packets: [ReadPacket]) {
        var context: UnsafeMutablePointer<AVFormatContext>?
        let opened = avformat_open_input(&context, path, nil, nil)
        try #require(opened >= 0, "libavformat cannot open \(path): \(opened)")
        defer { avformat_close_input(&context) }
        try #require(avformat_find_stream_info(context, nil) >= 0)
        let format = try #require(context)
        let streams = (0..<Int(format.pointee.nb_streams)).map { i in
            let parameters = format.pointee.streams[i]!.pointee.codecpar!.pointee
            return (parameters.codec_id, parameters.width, parameters.height)
        }
        var packets: [ReadPacket] = []
        let packet = av_packet_alloc()
        defer {
            var p = packet
            av_packet_free(&p)
        }
        while av_read_frame(format, packet) >= 0 {
            let p = packet!.pointee
            let base = format.pointee.streams[Int(p.stream_index)]!.pointee.time_base
            packets.append(
                ReadPacket(
                    stream: Int(p.stream_index), seconds: Double(p.pts) * av_q2d(base),
                    key: p.flags & AV_PKT_FLAG_KEY != 0,
                    bytes: Array(UnsafeBufferPointer(start: p.data, count: Int(p.size)))))
            av_packet_unref(packet)
        }
        return (streams, packets)
    }

    func temporaryPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent(
            "river-mp4-\(UUID().uuidString)-\(name)"
        ).path
    }

    /// A 20 ms Opus packet's worth of bytes: the muxer copies payloads, it does not decode them.
    func opusPacket(_ i: Int) -> [UInt8] { [0xFC, UInt8(truncatingIfNeeded: i), 0xAA, 0x55] }

    @Test func unitsAndOpusPacketsComeBackAsWrittenFromTheFirstKeyframe() throws {
        let units = try H264Clips.accessUnits("clip-b")
        try #require(units.count >= 20)
        let path = temporaryPath("whole.mp4")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let writer = try FragmentedMP4Writer(path: path, audio: true)
        // A unit that refers to a picture before the file's start, and audio before any picture:
        // neither is written.
        try writer.writeVideo(annexB: units[1], pts: 0)
        try writer.writeAudio(opus: opusPacket(0), pts: 0)
        #expect(!writer.started && writer.dropped == 2)
        for (i, unit) in units.enumerated() {
            try writer.writeVideo(annexB: unit, pts: Int64(i) * 3000)  // 30 fps at 90 kHz
            for j in 0..<2 where i * 2 + j < units.count * 5 / 3 {
                try writer.writeAudio(opus: opusPacket(i * 2 + j), pts: Int64(i * 2 + j) * 960)
            }
        }
        // A unit that does not move the video's time on is refused, not written out of order.
        try writer.writeVideo(annexB: units[2], pts: Int64(units.count - 2) * 3000)
        #expect(writer.dropped == 3)
        try writer.close()
        #expect(writer.videoFramesWritten == units.count)

        let (streams, packets) = try read(path)
        try #require(streams.count == 2)
        #expect(streams[0].0 == AV_CODEC_ID_H264 && streams[0].1 > 0 && streams[0].2 > 0)
        #expect(streams[1].0 == AV_CODEC_ID_OPUS)
        let video = packets.filter { $0.stream == 0 }
        let audio = packets.filter { $0.stream == 1 }
        #expect(video.count == units.count)
        #expect(video.first?.key == true)
        for (i, packet) in video.enumerated() {
            #expect(abs(packet.seconds - Double(i) / 30) < 0.001, "frame \(i) at \(packet.seconds) s")
        }
        #expect(audio.count == writer.audioPacketsWritten && audio.count == units.count * 5 / 3)
        #expect(audio.enumerated().allSatisfy { abs($1.seconds - Double($0) * 0.02) < 0.001 })
        #expect(audio.enumerated().allSatisfy { $1.bytes == opusPacket($0) })
        // The pictures are the units' own NAL units, length-prefixed as MP4 stores them.
        let slices = AnnexB.nalUnitRanges(in: units[5]).map { Array(units[5][$0]) }
            .filter { [H264NALType.slice, H264NALType.idr].contains(H264NALType.of($0[0])) }
        let stored = try #require(video.dropFirst(5).first).bytes
        #expect(slices.allSatisfy { slice in stored.indices.contains { stored[$0...].starts(with: slice) } })
    }

    /// A process killed mid-session never writes the trailer: what reached the file is still read,
    /// fragment by fragment.
    @Test func aFileCutOffMidWriteStillReadsUpToItsLastFragment() throws {
        let units = try H264Clips.accessUnits("clip-b")
        let path = temporaryPath("cut.mp4")
        let copy = temporaryPath("cut-copy.mp4")
        defer {
            try? FileManager.default.removeItem(atPath: path)
            try? FileManager.default.removeItem(atPath: copy)
        }
        let writer = try FragmentedMP4Writer(path: path, audio: false)
        // 3 s of frames (the clip looped), fragments at least every second.
        for i in 0..<90 { try writer.writeVideo(annexB: units[i % units.count], pts: Int64(i) * 3000) }
        #expect(writer.bytesWritten > 0)
        try FileManager.default.copyItem(atPath: path, toPath: copy)  // as a SIGKILL leaves it
        try writer.close()
        let (streams, packets) = try read(copy)
        #expect(streams.count == 1 && streams[0].0 == AV_CODEC_ID_H264)
        #expect(packets.count >= 30, "\(packets.count) frames readable")
        let whole = try read(path).packets
        #expect(whole.count == 90)
    }

    @Test func aPathThatCannotBeWrittenFailsNamingIt() throws {
        let units = try H264Clips.accessUnits("clip-b")
        let path = "/nonexistent-river-directory/x.mp4"
        let writer = try FragmentedMP4Writer(path: path, audio: false)
        #expect {
            try writer.writeVideo(annexB: units[0], pts: 0)
        } throws: { error in
            "\(error)".contains(path)
        }
    }
}

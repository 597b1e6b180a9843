import Foundation
import RiverCore
import RiverMedia
import RiverRTP

/// Depacketize + decode (+ RGB24) of the 640×480@30 ~1 Mbps fixture clip, beside
/// `ffmpeg -threads 1` decoding the same clip to null, in one run. Prints frames/s and ratios.
///
///     ./scripts/make_h264_fixtures.sh
///     swift build -c release --product DecodeBenchmark && .build/release/DecodeBenchmark [rounds]
///
/// Our side starts from serialized RTP datagrams (made by our packetizer before timing starts), so
/// it pays for RTP parsing, reordering, loss tracking, depacketizing, decoding and the packed I420
/// copy. ffmpeg's side pays for reading the Annex-B file and decoding. Both use one decoding thread.
@main
struct DecodeBenchmark {
    static func main() throws {
        let rounds = CommandLine.arguments.dropFirst().first.flatMap(Int.init) ?? 10
        var root = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { root.deleteLastPathComponent() }
        let clip = root.appendingPathComponent("fixtures/h264/clip-a.h264").path
        guard let data = FileManager.default.contents(atPath: clip) else {
            fatalError("\(clip) missing: run scripts/make_h264_fixtures.sh")
        }
        // The clip `rounds` times over (each copy starts with SPS, PPS and an IDR), as one file for
        // ffmpeg (its -stream_loop cannot seek raw H264) and one RTP stream for us.
        let stream = [UInt8](Array(repeating: [UInt8](data), count: rounds).joined())
        let looped = FileManager.default.temporaryDirectory.appendingPathComponent(
            "river-bench-\(getpid()).h264")
        try Data(stream).write(to: looped)
        defer { try? FileManager.default.removeItem(at: looped) }
        let datagrams = try packetize(stream)
        let frames = datagrams.filter { $0[1] & 0x80 != 0 }.count
        print(
            "clip: \(clip.split(separator: "/").suffix(3).joined(separator: "/")) ×\(rounds): \(frames) frames, "
                + "\(datagrams.count) RTP packets, \(data.count * 8 * 30 * rounds / frames / 1000) kbit/s")
        print(
            "frames/s = frames / CPU seconds (user+sys) of the decoding process; wall-clock figure beside it")

        // Three trials, interleaved so load from other processes hits all sides alike; medians.
        var ffmpeg: [Rate] = []
        var ffmpegRGB: [Rate] = []
        var ours: [Rate] = []
        var oursRGB: [Rate] = []
        var oursFitted: [Rate] = []
        // What serve does for `river up`'s 256×192 model since wire version 3 (docs/protocol.md).
        let box = FrameSize(width: 256, height: 192)
        for _ in 0..<3 {
            ffmpeg.append(try ffmpegRate(clip: looped.path, frames: frames))
            ffmpegRGB.append(try ffmpegRate(clip: looped.path, frames: frames, rgb: true))
            ours.append(try riverRate(datagrams, frames: frames, rgb: false))
            oursRGB.append(try riverRate(datagrams, frames: frames, rgb: true))
            oursFitted.append(try riverRate(datagrams, frames: frames, rgb: false, fit: box))
        }
        let f = Rate.median(ffmpeg)
        let fr = Rate.median(ffmpegRGB)
        let o = Rate.median(ours)
        let r = Rate.median(oursRGB)
        let s = Rate.median(oursFitted)
        func show(_ v: Double) -> String { String(format: "%7.1f", v) }
        func ratio(_ a: Double, _ b: Double) -> String { String(format: "%.2f", a / b) }
        print("ffmpeg -threads 1 -i clip -f null -          \(show(f.cpu)) frames/s (wall \(show(f.wall)))")
        print(
            "river RTP → depacketize → decode (I420)      \(show(o.cpu)) frames/s (wall \(show(o.wall)))  "
                + "ratio \(ratio(o.cpu, f.cpu)) (wall \(ratio(o.wall, f.wall)))")
        print(
            "ffmpeg -threads 1 -i clip -pix_fmt rgb24 -f null - \(show(fr.cpu)) frames/s (wall \(show(fr.wall)))"
        )
        print(
            "river RTP → depacketize → decode → RGB24     \(show(r.cpu)) frames/s (wall \(show(r.wall)))  "
                + "ratio \(ratio(r.cpu, fr.cpu)) vs ffmpeg rgb24, \(ratio(r.cpu, f.cpu)) vs decode only "
                + "(wall \(ratio(r.wall, fr.wall)), \(ratio(r.wall, f.wall)))")
        print(
            "river … → decode → I420 fitted into \(box)  \(show(s.cpu)) frames/s (wall \(show(s.wall)))  "
                + "ratio \(ratio(s.cpu, o.cpu)) vs decode only (wall \(ratio(s.wall, o.wall)))")
    }

    struct Rate {
        var cpu: Double
        var wall: Double
        static func median(_ v: [Rate]) -> Rate {
            Rate(cpu: v.map(\.cpu).sorted()[v.count / 2], wall: v.map(\.wall).sorted()[v.count / 2])
        }
    }

    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6
    }

    static func median(_ v: [Double]) -> Double { v.sorted()[v.count / 2] }

    /// The clip as RTP datagrams: one access unit per AUD, 30 fps timestamps, FU-A at 1188 bytes.
    static func packetize(_ stream: [UInt8]) throws -> [[UInt8]] {
        var packetizer = H264Packetizer(payloadType: 102, ssrc: 7, initialSequenceNumber: 60000)
        var datagrams: [[UInt8]] = []
        var unit: [UInt8] = []
        var timestamp: UInt32 = 0
        func flush() throws {
            guard !unit.isEmpty else { return }
            for p in try packetizer.packetize(annexB: unit, timestamp: timestamp) {
                datagrams.append(p.serialized())
            }
            timestamp &+= 3000
            unit = []
        }
        for r in AnnexB.nalUnitRanges(in: stream) {
            if H264NALType.of(stream[r.lowerBound]) == H264NALType.aud { try flush() }
            unit += AnnexB.startCode
            unit += stream[r]
        }
        try flush()
        return datagrams
    }

    static func riverRate(_ datagrams: [[UInt8]], frames expected: Int, rgb: Bool, fit: FrameSize? = nil)
        throws
        -> Rate
    {
        var frames = 0
        var checksum = 0
        let clock = ContinuousClock()
        let cpuStart = cpuSeconds()
        let elapsed = try clock.measure {
            var builder = try H264FrameBuilder()
            let decoder = try H264Decoder()
            let converter = PixelConverter()
            for datagram in datagrams {
                let packet = try RTPPacket(parsing: datagram)
                for event in builder.push(packet, now: .now) {
                    guard case .accessUnit(let unit) = event else { continue }
                    try decoder.decode(unit.annexB, rtpTimestamp: unit.timestamp, fittingInto: fit) {
                        (frame) throws(MediaError) in
                        frames += 1
                        if rgb {
                            let out = try converter.rgb24(from: frame)
                            checksum &+= Int(out.data[out.data.count / 2])
                        } else {
                            checksum &+= Int(frame.data[frame.data.count / 2])
                        }
                    }
                }
            }
        }
        let cpu = cpuSeconds() - cpuStart
        precondition(frames == expected, "decoded \(frames) of \(expected) frames")
        if checksum == 42 { print("") }  // keeps the work observable
        return Rate(cpu: Double(frames) / cpu, wall: Double(frames) / seconds(elapsed))
    }

    static func ffmpegRate(clip: String, frames: Int, rgb: Bool = false) throws -> Rate {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments =
            [
                "ffmpeg", "-nostdin", "-hide_banner", "-benchmark", "-threads", "1", "-i", clip,
            ] + (rgb ? ["-pix_fmt", "rgb24", "-sws_flags", "bicubic"] : []) + ["-f", "null", "-"]
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        // "bench: utime=0.43s stime=0.01s rtime=0.45s": CPU and wall time of ffmpeg's decode loop.
        func field(_ name: String) -> Double {
            guard let range = output.range(of: name + "="),
                let value = Double(output[range.upperBound...].prefix { $0 != "s" })
            else { fatalError("no \(name) in ffmpeg -benchmark output:\n\(output)") }
            return value
        }
        let decoded = output.components(separatedBy: "frame=").last.flatMap {
            Int($0.trimmingCharacters(in: .whitespaces).prefix { $0.isNumber })
        }
        precondition(decoded == frames, "ffmpeg decoded \(decoded ?? -1) frames, expected \(frames)")
        return Rate(
            cpu: Double(frames) / (field("utime") + field("stime")), wall: Double(frames) / field("rtime"))
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }
}

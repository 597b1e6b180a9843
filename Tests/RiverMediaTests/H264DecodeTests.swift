import CFFmpeg
import RiverCore
import RiverMedia
import RiverRTP
import RiverTestSupport
import Testing

@Suite struct H264DecodeTests {
    init() { av_log_set_level(AV_LOG_FATAL) }

    @Test(arguments: ["clip-a", "clip-b"])
    func ourPacketizerRoundTripIsBitExact(clip: String) throws {
        let units = try H264Fixtures.accessUnits(clip)
        let reference = try H264Fixtures.referenceMD5s("\(clip).framemd5")
        let mode: H264PacketizationMode = clip == "clip-b" ? .singleNAL : .nonInterleaved
        let packets = try H264Fixtures.ourPackets(units, mode: mode)
        #expect(packets.allSatisfy { $0.payload.count <= 1188 })
        var configuration = H264FrameBuilder.Configuration()
        configuration.mode = mode
        let (built, others) = try buildUnits(packets, configuration: configuration)
        #expect(others.isEmpty, "no loss, so no feedback: \(others)")
        #expect(built.count == units.count)
        #expect(built.map(\.annexB) == units, "depacketized units equal the encoder's units byte for byte")
        let frames = try decodeAll(built)
        #expect(frames.count == reference.count)
        #expect(frames.map(\.md5) == reference)
        #expect(frames.map(\.timestamp) == built.map(\.timestamp))
    }

    @Test(arguments: ["clip-a", "clip-b"])
    func ffmpegRTPMuxerPacketsDecodeBitExact(clip: String) throws {
        let packets = try H264Fixtures.ffmpegPackets(clip)
        let reference = try H264Fixtures.referenceMD5s("\(clip).framemd5")
        let (mode, sprop) = try H264Fixtures.fmtp(clip)
        #expect(mode == (clip == "clip-b" ? .singleNAL : .nonInterleaved))
        var configuration = H264FrameBuilder.Configuration()
        configuration.mode = mode
        configuration.spropParameterSets = sprop
        let (built, others) = try buildUnits(packets, configuration: configuration)
        #expect(others.isEmpty, "\(others)")
        let frames = try decodeAll(built)
        #expect(frames.count == reference.count)
        #expect(frames.map(\.md5) == reference)
        let stapA = packets.filter { H264NALType.of($0.payload[0]) == H264NALType.stapA }.count
        let fuA = packets.filter { H264NALType.of($0.payload[0]) == H264NALType.fuA }.count
        if mode == .nonInterleaved {
            #expect(stapA > 0 && fuA > 0, "ffmpeg's packets exercise STAP-A and FU-A")
        } else {
            #expect(stapA == 0 && fuA == 0)
        }
    }

    /// A receiver joining at the second IDR of a stream that sends SPS/PPS once (in band or only in the
    /// SDP) still decodes: the depacketizer puts the remembered parameter sets before the IDR.
    @Test(arguments: [false, true])
    func parameterSetsAreInsertedBeforeIDRsLackingThem(fromSDP: Bool) throws {
        let all = try H264Fixtures.accessUnits("clip-a")
        let reference = try H264Fixtures.referenceMD5s("clip-a.framemd5")
        // Strip parameter sets from every unit but the first.
        let stripped: [[UInt8]] = all.enumerated().map { i, unit in
            guard i > 0 else { return unit }
            var out: [UInt8] = []
            for r in AnnexB.nalUnitRanges(in: unit) {
                let type = H264NALType.of(unit[r.lowerBound])
                if type == H264NALType.sps || type == H264NALType.pps { continue }
                out += AnnexB.startCode + unit[r]
            }
            return out
        }
        let packets = try H264Fixtures.ourPackets(stripped)
        let joinAt = 30  // the second IDR
        let firstOfJoin = packets.firstIndex {
            $0.timestamp == packets[0].timestamp &+ UInt32(joinAt) * 3000
        }!
        let firstUnitPackets = packets.prefix { $0.timestamp == packets[0].timestamp }
        var configuration = H264FrameBuilder.Configuration()
        if fromSDP { configuration.spropParameterSets = try H264Fixtures.fmtp("clip-a").sprop }
        // In band: the builder sees unit 0 (it carries SPS/PPS); from the SDP: it never does.
        var fed = (fromSDP ? [] : Array(firstUnitPackets)) + packets[firstOfJoin...]
        // Number them as one unbroken stream: skipped packets would be a gap to wait for.
        for i in fed.indices { fed[i].sequenceNumber = UInt16(truncatingIfNeeded: i) }
        let (built, _) = try buildUnits(fed, configuration: configuration)
        let joined = built.filter { $0.timestamp != packets[0].timestamp }
        #expect(joined.first?.isKeyframe == true)
        let frames = try decodeAll(joined)  // a fresh decoder: it has seen no parameter sets
        #expect(frames.count == all.count - joinAt)
        #expect(frames.map(\.md5) == Array(reference[joinAt...]))
    }

    @Test func twoClipsOfDifferentSizesBackToBack() throws {
        let a = try H264Fixtures.accessUnits("clip-a")
        let b = try H264Fixtures.accessUnits("clip-b")
        let reference =
            try H264Fixtures.referenceMD5s("clip-a.framemd5") + H264Fixtures.referenceMD5s("clip-b.framemd5")
        let packets = try H264Fixtures.ourPackets(a + b)
        let (built, _) = try buildUnits(packets)
        let frames = try decodeAll(built)
        #expect(frames.count == a.count + b.count)
        #expect(frames.prefix(a.count).allSatisfy { $0.width == 640 && $0.height == 480 })
        #expect(frames.suffix(b.count).allSatisfy { $0.width == 320 && $0.height == 240 })
        #expect(frames.map(\.md5) == reference)
    }

    @Test func rgb24MatchesFFmpeg() throws {
        let units = try H264Fixtures.accessUnits("clip-a")
        let reference = try H264Fixtures.referenceMD5s("clip-a.rgb.framemd5")
        let decoder = try H264Decoder()
        let converter = PixelConverter()
        var md5s: [String] = []
        for (i, unit) in units.prefix(reference.count).enumerated() {
            for frame in try decoder.decode(unit, rtpTimestamp: UInt32(i)) {
                let rgb = try converter.rgb24(from: frame)
                #expect(
                    rgb.format == .rgb24 && rgb.width == 640 && rgb.height == 480
                        && rgb.rtpTimestamp == UInt32(i))
                md5s.append(md5Hex(rgb.data))
            }
        }
        #expect(md5s == reference)
    }

    /// Frames scaled down to a worker's input as they decode: the picture that fits the box, aspect
    /// kept (640×480 and 320×240 both into 256×192), never scaled up (into 1280×720 the pictures are
    /// the decoder's own, bit for bit), and the same picture: an 8×6 grid of luma block means matches
    /// the full-size decode's.
    @Test func picturesAreScaledDownToFitABox() throws {
        let box = FrameSize(width: 256, height: 192)
        for clip in ["clip-a", "clip-b"] {
            let units = try H264Fixtures.accessUnits(clip)
            let full = try H264Decoder()
            let fitted = try H264Decoder()
            let large = try H264Decoder()
            let reference = try H264Fixtures.referenceMD5s("\(clip).framemd5")
            var unscaled: [String] = []
            for (i, unit) in units.enumerated() {
                let whole = try full.decode(unit, rtpTimestamp: UInt32(i))
                let small = try fitted.decode(unit, rtpTimestamp: UInt32(i), fittingInto: box)
                unscaled += try large.decode(
                    unit, rtpTimestamp: UInt32(i), fittingInto: FrameSize(width: 1280, height: 720)
                )
                .map { md5Hex($0.data) }
                #expect(whole.count == small.count)
                for (a, b) in zip(whole, small) {
                    #expect(b.size == box && b.format == .i420 && b.rtpTimestamp == a.rtpTimestamp)
                    #expect(b.data.count == 256 * 192 * 3 / 2)
                    let difference = zip(blockMeans(a), blockMeans(b)).map { abs($0 - $1) }.max() ?? 255
                    #expect(difference < 6, "\(clip) frame \(i): block means differ by \(difference)")
                }
            }
            #expect(unscaled == reference)
        }
    }

    /// Mean luma of each cell of an 8×6 grid over the picture.
    private func blockMeans(_ frame: VideoFrame) -> [Double] {
        var means: [Double] = []
        for gy in 0..<6 {
            for gx in 0..<8 {
                let (x0, x1) = (gx * frame.width / 8, (gx + 1) * frame.width / 8)
                let (y0, y1) = (gy * frame.height / 6, (gy + 1) * frame.height / 6)
                var sum = 0
                for y in y0..<y1 {
                    for x in x0..<x1 { sum += Int(frame.data[frame.offsets[0] + y * frame.strides[0] + x]) }
                }
                means.append(Double(sum) / Double((x1 - x0) * (y1 - y0)))
            }
        }
        return means
    }

    @Test func garbageIsATypedErrorNotACrash() throws {
        let decoder = try H264Decoder()
        var rng = SplitMix64(seed: 7)
        var failures = 0
        for i in 0..<50 {
            let junk = [0, 0, 0, 1, 0x65] + (0..<200).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            do { _ = try decoder.decode(junk, rtpTimestamp: UInt32(i)) } catch {
                failures += 1
                #expect(!error.description.isEmpty)
            }
        }
        #expect(failures > 0, "random slices must be refused, not decoded as pictures")
        #expect(decoder.errors == failures)
        // Garbage in one decoder does not disturb another in the same process.
        let units = try H264Fixtures.accessUnits("clip-b")
        let reference = try H264Fixtures.referenceMD5s("clip-b.framemd5")
        let good = try H264Decoder()
        let frames = try units.enumerated().flatMap { i, u in try good.decode(u, rtpTimestamp: UInt32(i)) }
        #expect(frames.map { md5Hex($0.data) } == reference)
    }
}

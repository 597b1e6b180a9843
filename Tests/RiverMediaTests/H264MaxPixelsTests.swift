import CFFmpeg
import RiverCore
import RiverMedia
import RiverRTP
import RiverTestSupport
import Testing

/// `--max-pixels`: a stream whose SPS announces pictures over the bound is refused before
/// libavcodec allocates them (`huge.h264`, 8192×8192 from `scripts/make_h264_fixtures.sh`), and
/// the same decoder goes on with a stream within it.
@Suite struct H264MaxPixelsTests {
    init() { av_log_set_level(AV_LOG_FATAL) }

    func sps(_ clip: String) throws -> H264SequenceParameterSet? {
        let unit = try #require(try H264Clips.accessUnits(clip).first)
        let range = try #require(
            AnnexB.nalUnitRanges(in: unit).first { H264NALType.of(unit[$0.lowerBound]) == H264NALType.sps })
        return H264SequenceParameterSet(nal: unit[range])
    }

    @Test func theSPSReaderFindsEachClipsCodedSize() throws {
        #expect(try sps("clip-a").map { [$0.width, $0.height] } == [640, 480])
        #expect(try sps("clip-a")?.profileIDC == 100)  // High: the chroma and scaling fields are read
        #expect(try sps("clip-b").map { [$0.width, $0.height] } == [320, 240])
        #expect(try sps("huge").map { [$0.width, $0.height] } == [8192, 8192])
        // Truncated anywhere, it reads as nothing rather than as a wrong size.
        let unit = try #require(try H264Clips.accessUnits("clip-a").first)
        let range = try #require(
            AnnexB.nalUnitRanges(in: unit).first { H264NALType.of(unit[$0.lowerBound]) == H264NALType.sps })
        for cut in 1..<8 { #expect(H264SequenceParameterSet(nal: unit[range].prefix(cut)) == nil) }
    }

    @Test func picturesOverTheBoundAreRefusedAndTheDecoderGoesOnWithinIt() throws {
        let decoder = try H264Decoder()
        #expect(decoder.maxPixels == 1920 * 1088)
        for (i, unit) in try H264Clips.accessUnits("huge").enumerated() {
            #expect(
                throws: MediaError.tooManyPixels(
                    rtpTimestamp: UInt32(i), width: 8192, height: 8192, limit: 1920 * 1088)
            ) {
                try decoder.decode(unit, rtpTimestamp: UInt32(i))
            }
        }
        #expect(decoder.framesDecoded == 0 && decoder.errors == 2)
        // A stream within the bound, on the same decoder: its SPS lifts the refusal.
        let units = try H264Clips.accessUnits("clip-b")
        let reference = try H264Fixtures.referenceMD5s("clip-b.framemd5")
        let frames = try units.enumerated().flatMap { i, u in try decoder.decode(u, rtpTimestamp: UInt32(i)) }
        #expect(frames.map { md5Hex($0.data) } == reference)
    }

    @Test func aBoundBelowTheStreamRefusesItToo() throws {
        let decoder = try H264Decoder(maxPixels: 320 * 240 - 1)
        let unit = try #require(try H264Clips.accessUnits("clip-b").first)
        #expect(throws: MediaError.self) { try decoder.decode(unit, rtpTimestamp: 0) }
        #expect(decoder.framesDecoded == 0)
    }
}

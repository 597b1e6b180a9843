import CFFmpeg
import RiverCore
import Testing

@testable import RiverMedia

@Suite struct H264WarmUpStreamTests {
    init() { av_log_set_level(AV_LOG_FATAL) }

    @Test func warmUpDecodesBothPictures() throws {
        #expect(try H264Decoder.warmUp() == 2)
    }

    /// The generated stream is valid H.264 as libavcodec reads it: no concealment, the size from
    /// the SPS, and the flat grey that DC prediction without residual gives.
    @Test func generatedStreamDecodesCleanlyToGrey() throws {
        let decoder = try H264Decoder()
        var frames: [VideoFrame] = []
        for (index, unit) in H264WarmUpStream.accessUnits.enumerated() {
            frames += try decoder.decode(unit, rtpTimestamp: UInt32(index))
        }
        #expect(frames.map(\.rtpTimestamp) == [0, 1])
        #expect(decoder.errors == 0)
        for frame in frames {
            #expect(frame.width == 32 && frame.height == 32)
            #expect(frame.data.allSatisfy { $0 == 128 }, "not flat grey")
        }
    }

    @Test func emulationPreventionKeepsStartCodesUnique() {
        for unit in H264WarmUpStream.accessUnits {
            // Start codes only where a NAL unit begins (each is followed by a NAL header).
            var starts = 0
            for i in 0..<(unit.count - 2) where unit[i] == 0 && unit[i + 1] == 0 && unit[i + 2] <= 3 {
                #expect(unit[i + 2] == 1 || unit[i + 2] == 3 || (i + 3 < unit.count && unit[i + 3] == 1))
                if unit[i + 2] == 1 { starts += 1 }
            }
            #expect(starts >= 1)
        }
    }
}

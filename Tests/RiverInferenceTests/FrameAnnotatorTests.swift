import RiverCore
import RiverInference
import Testing

/// Boxes drawn into RGB (PNG output) and I420 (re-encoded video) frames.
@Suite struct FrameAnnotatorTests {
    let box = Detection(label: "face", classIndex: 0, score: 0.9, box: Box(x: 0.25, y: 0.25, w: 0.5, h: 0.5))

    @Test func anRGBFrameGetsTheOutlineInTheColourAndNothingInside() {
        let frame = VideoFrame(packedWidth: 16, height: 16, format: .rgb24)
        let drawn = FrameAnnotator.annotate(frame, with: [box], color: (0, 255, 0), thickness: 2)
        func pixel(_ x: Int, _ y: Int) -> [UInt8] {
            Array(drawn.data[(y * 16 + x) * 3..<(y * 16 + x) * 3 + 3])
        }
        #expect(pixel(4, 4) == [0, 255, 0] && pixel(11, 11) == [0, 255, 0] && pixel(8, 5) == [0, 255, 0])
        #expect(pixel(8, 8) == [0, 0, 0] && pixel(2, 2) == [0, 0, 0] && pixel(13, 8) == [0, 0, 0])
    }

    @Test func anI420FrameGetsTheOutlineInEveryPlane() {
        var frame = VideoFrame(packedWidth: 16, height: 16, format: .i420)
        for i in frame.data.indices { frame.data[i] = 128 }
        let drawn = FrameAnnotator.annotate(frame, with: [box], color: (0, 255, 0), thickness: 2)
        // Limited-range BT.601 green.
        let (y, cb, cr) = (drawn.offsets[0], drawn.offsets[1], drawn.offsets[2])
        #expect(drawn.data[y + 4 * 16 + 4] == 145 && drawn.data[y + 11 * 16 + 8] == 145)
        #expect(drawn.data[y + 8 * 16 + 8] == 128 && drawn.data[y + 2 * 16 + 2] == 128)
        #expect(drawn.data[cb + 2 * 8 + 2] == 54 && drawn.data[cr + 2 * 8 + 2] == 34)
        #expect(drawn.data[cb + 4 * 8 + 4] == 128 && drawn.data[cr + 0] == 128)
    }
}

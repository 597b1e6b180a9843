import Foundation
import RiverCore
import RiverInference
import RiverMedia
import RiverTestSupport
import Testing

/// The default model on a real photo: astronaut.png (scikit-image, public domain), Eileen Collins.
@Suite struct CenterFaceTests {
    @Test func findsTheAstronautsFace() throws {
        let engine = try InferenceEngine(modelPath: InferenceFixtures.centerFace)
        let frame = try ImageFile.load(InferenceFixtures.astronaut)
        let result = try engine.run(frame: frame)
        #expect(result.input == Size(width: 512, height: 512))
        try InferenceFixtures.checkFace(result, width: 512, height: 512)
        #expect(result.detections.count == 1)
    }

    @Test func findsTheFaceInAnI420FrameOfAnotherSize() throws {
        // 4:2:0 conversion and a letterbox: a 640×480-style frame the photo is pasted into.
        let photo = try ImageFile.load(InferenceFixtures.astronaut)
        let frame = Self.i420(pasting: photo, width: 640, height: 544, atX: 64, y: 16)
        let engine = try InferenceEngine(modelPath: InferenceFixtures.centerFace)
        let result = try engine.run(frame: frame)
        let face = try #require(result.detections.first)
        #expect(face.score > 0.5)
        let cx = (face.box.x + face.box.w / 2) * 640 - 64
        let cy = (face.box.y + face.box.h / 2) * 544 - 16
        #expect(abs(cx - InferenceFixtures.faceCentre.x) < 0.05 * 512)
        #expect(abs(cy - InferenceFixtures.faceCentre.y) < 0.05 * 512)
    }

    @Test func fixedInputSizeLetterboxesAndMapsBack() throws {
        let options = InferenceOptions(inputSize: Size(width: 320, height: 256))
        let engine = try InferenceEngine(modelPath: InferenceFixtures.centerFace, options: options)
        let result = try engine.run(frame: try ImageFile.load(InferenceFixtures.astronaut))
        #expect(result.input == Size(width: 320, height: 256))
        try InferenceFixtures.checkFace(result, width: 512, height: 512)
    }

    /// Converts RGB to I420 (BT.601 limited range) on a grey canvas, the photo at (x, y).
    static func i420(pasting photo: VideoFrame, width: Int, height: Int, atX ox: Int, y oy: Int) -> VideoFrame
    {
        var frame = VideoFrame(packedWidth: width, height: height, format: .i420)
        for i in 0..<frame.data.count { frame.data[i] = 128 }
        func rgb(_ x: Int, _ y: Int) -> (Double, Double, Double) {
            let px = x - ox
            let py = y - oy
            guard px >= 0, py >= 0, px < photo.width, py < photo.height else { return (128, 128, 128) }
            let i = py * photo.strides[0] + px * 3
            return (Double(photo.data[i]), Double(photo.data[i + 1]), Double(photo.data[i + 2]))
        }
        for y in 0..<height {
            for x in 0..<width {
                let (r, g, b) = rgb(x, y)
                frame.data[y * width + x] = UInt8(
                    clamping: Int((16 + 0.257 * r + 0.504 * g + 0.098 * b).rounded()))
                if x % 2 == 0, y % 2 == 0 {
                    let ci = (y / 2) * frame.strides[1] + x / 2
                    frame.data[frame.offsets[1] + ci] = UInt8(
                        clamping: Int((128 - 0.148 * r - 0.291 * g + 0.439 * b).rounded()))
                    frame.data[frame.offsets[2] + ci] = UInt8(
                        clamping: Int((128 + 0.439 * r - 0.368 * g - 0.071 * b).rounded()))
                }
            }
        }
        return frame
    }
}

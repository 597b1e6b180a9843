import RiverCore
import RiverInference
import Testing

@Suite struct PreprocessorTests {
    @Test func letterboxGeometry() {
        let wide = Letterbox(frameWidth: 1280, frameHeight: 720, inputWidth: 640, inputHeight: 640)
        #expect(wide.scale == 0.5)
        #expect(wide.scaledWidth == 640 && wide.scaledHeight == 360)
        #expect(wide.padX == 0 && wide.padY == 140)
        let corner = wide.normalized(x: 640, y: 500)
        #expect(corner.x == 1 && corner.y == 1)
        #expect(wide.normalized(x: 320, y: 320) == (0.5, 0.5))
        // No upscaling: a small frame stays 1:1 in a padded input.
        let small = Letterbox(
            frameWidth: 500, frameHeight: 375, inputWidth: 512, inputHeight: 384, allowUpscale: false)
        #expect(small.scale == 1 && small.scaledWidth == 500 && small.padX == 6 && small.padY == 4)
    }

    /// A 4×2 RGB frame whose pixel (x, y) is (10x + y, 100 + x, 200 + y), into a 4×4 input: rows 1–2.
    @Test func rgbFillIsPlanarScaledAndPadded() {
        var frame = VideoFrame(packedWidth: 4, height: 2, format: .rgb24)
        for y in 0..<2 {
            for x in 0..<4 {
                frame.data[y * 12 + x * 3] = UInt8(10 * x + y)
                frame.data[y * 12 + x * 3 + 1] = UInt8(100 + x)
                frame.data[y * 12 + x * 3 + 2] = UInt8(200 + y)
            }
        }
        let pre = Preprocessor(normalization: PixelNormalization(scale: 0.5, padByte: 7))
        let box = Letterbox(frameWidth: 4, frameHeight: 2, inputWidth: 4, inputHeight: 4)
        pre.fill(from: frame, letterbox: box)
        let t = Array(pre.tensor)
        #expect(t.count == 48)
        for x in 0..<4 {
            #expect(t[x] == 3.5)  // top margin, R plane
            #expect(t[4 + x] == Float(10 * x) * 0.5)  // row 1 = frame row 0
            #expect(t[8 + x] == Float(10 * x + 1) * 0.5)
            #expect(t[16 + 4 + x] == Float(100 + x) * 0.5)  // G plane
            #expect(t[32 + 8 + x] == Float(201) * 0.5)  // B plane, frame row 1
            #expect(t[32 + 12 + x] == 3.5)  // bottom margin
        }
    }

    @Test func downscaleIsBilinearBetweenPixelCentres() {
        var frame = VideoFrame(packedWidth: 8, height: 8, format: .rgb24)
        for y in 0..<8 { for x in 0..<8 { frame.data[(y * 8 + x) * 3] = UInt8(y * 8 + x) } }
        let pre = Preprocessor(normalization: .raw)
        pre.fill(
            from: frame, letterbox: Letterbox(frameWidth: 8, frameHeight: 8, inputWidth: 4, inputHeight: 4))
        // Input pixel i's centre falls between frame pixels 2i and 2i+1 in both directions: the
        // mean of four, rounded half up (0, 1, 8, 9 → 4.5 → 5).
        #expect(Array(pre.tensor[0..<4]) == [5, 7, 9, 11])
        #expect(Array(pre.tensor[12..<16]) == [53, 55, 57, 59])
    }

    @Test func i420UsesBT601LimitedRange() {
        // 2×2 frame: luma 16 (black), 235 (white), 81/90/240 ≈ pure red per BT.601.
        var frame = VideoFrame(packedWidth: 2, height: 2, format: .i420)
        frame.data[0] = 16
        frame.data[1] = 235
        frame.data[2] = 16
        frame.data[3] = 235
        frame.data[4] = 128  // U
        frame.data[5] = 128  // V
        let pre = Preprocessor(normalization: .raw)
        pre.fill(
            from: frame, letterbox: Letterbox(frameWidth: 2, frameHeight: 2, inputWidth: 2, inputHeight: 2))
        #expect(Array(pre.tensor) == [0, 255, 0, 255, 0, 255, 0, 255, 0, 255, 0, 255])

        var red = VideoFrame(packedWidth: 2, height: 2, format: .i420)
        for i in 0..<4 { red.data[i] = 81 }
        red.data[4] = 90
        red.data[5] = 240
        pre.fill(
            from: red, letterbox: Letterbox(frameWidth: 2, frameHeight: 2, inputWidth: 2, inputHeight: 2))
        let t = Array(pre.tensor)
        #expect(t[0] >= 253 && t[4] <= 2 && t[8] <= 2)
    }

    @Test func i420DownscaleIsBilinearOnLuma() {
        // Luma 16 + 40x + 8y on a 4×4 frame, neutral chroma; 2×2 output averages 2×2 blocks:
        // Y 40 → grey 28 at the top left, Y 136 → grey 140 at the bottom right.
        var frame = VideoFrame(packedWidth: 4, height: 4, format: .i420)
        for y in 0..<4 { for x in 0..<4 { frame.data[y * 4 + x] = UInt8(16 + 40 * x + 8 * y) } }
        for i in 16..<24 { frame.data[i] = 128 }
        let pre = Preprocessor(normalization: .raw)
        pre.fill(
            from: frame, letterbox: Letterbox(frameWidth: 4, frameHeight: 4, inputWidth: 2, inputHeight: 2))
        let t = Array(pre.tensor)
        for plane in 0..<3 {
            #expect(t[plane * 4] == 28)
            #expect(t[plane * 4 + 3] == 140)
        }
    }

    @Test func stridedPlanesAreHonoured() throws {
        // RGB rows padded to 16 bytes, starting at byte 5.
        var data = [UInt8](repeating: 0, count: 5 + 16 * 2)
        data[5] = 50
        data[5 + 16] = 60
        let frame = try VideoFrame(
            width: 2, height: 2, format: .rgb24, strides: [16], offsets: [5], data: data)
        let pre = Preprocessor(normalization: .raw)
        pre.fill(
            from: frame, letterbox: Letterbox(frameWidth: 2, frameHeight: 2, inputWidth: 2, inputHeight: 2))
        #expect(pre.tensor[0] == 50 && pre.tensor[2] == 60)
    }
}

@Suite struct NMSTests {
    @Test func suppressesOverlapsPerClassBestFirst() {
        let boxes = [
            Candidate(x1: 0, y1: 0, x2: 10, y2: 10, score: 0.5, classIndex: 0),
            Candidate(x1: 1, y1: 1, x2: 11, y2: 11, score: 0.9, classIndex: 0),
            Candidate(x1: 0, y1: 0, x2: 10, y2: 10, score: 0.7, classIndex: 1),
            Candidate(x1: 20, y1: 20, x2: 30, y2: 30, score: 0.6, classIndex: 0),
        ]
        let kept = nonMaximumSuppression(boxes, iouThreshold: 0.5)
        #expect(kept == [boxes[1], boxes[2], boxes[3]])
        let classAgnostic = nonMaximumSuppression(boxes, iouThreshold: 0.5, perClass: false)
        #expect(classAgnostic == [boxes[1], boxes[3]])
        #expect(nonMaximumSuppression(boxes, iouThreshold: 0.5, limit: 1) == [boxes[1]])
    }

    @Test func iou() {
        let a = Candidate(x1: 0, y1: 0, x2: 2, y2: 2, score: 1)
        #expect(a.iou(Candidate(x1: 1, y1: 0, x2: 3, y2: 2, score: 1)) == Float(2) / Float(6))
        #expect(a.iou(Candidate(x1: 2, y1: 2, x2: 3, y2: 3, score: 1)) == 0)
        #expect(a.iou(a) == 1)
    }
}

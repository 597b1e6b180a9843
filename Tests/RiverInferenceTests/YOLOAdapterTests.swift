import Foundation
import RiverCore
import RiverInference
import RiverTestSupport
import Testing

/// YOLO decoding against tiny models whose output tensors are known (scripts/make_test_models.py):
/// candidates A (person 0.81), A2 (person 0.72, overlaps A), A3 (car 0.72, overlaps A), B (dog 0.2),
/// C (dog 0.95), D (person 0.2), E (car 0.9, crosses the right edge), and three empty rows.
@Suite struct YOLOAdapterTests {
    /// The four survivors of threshold 0.25 and per-class NMS 0.45, in frame fractions, best first.
    static func expected(labels: [String] = ["person", "car", "dog"]) -> [Detection] {
        [
            Detection(
                label: labels[2], classIndex: 2, score: Float(0.95) * Float(1.0),
                box: Box(x: 0.671875, y: 0.46875, w: 0.15625, h: 0.3125)),
            Detection(
                label: labels[1], classIndex: 1, score: Float(0.9) * Float(1.0),
                box: Box(x: 0.84375, y: 0.625, w: 0.15625, h: 0.25)),
            Detection(
                label: labels[0], classIndex: 0, score: Float(0.9) * Float(0.9),
                box: Box(x: 0.1875, y: 0.125, w: 0.25, h: 0.5)),
            Detection(
                label: labels[1], classIndex: 1, score: Float(0.9) * Float(0.8),
                box: Box(x: 0.1875, y: 0.1875, w: 0.25, h: 0.5)),
        ]
    }

    @Test(arguments: [("yolov5_tiny.onnx", ModelFamily.yolov5), ("yolov8_tiny.onnx", ModelFamily.yolov8)])
    func decodesLayoutLabelsThresholdAndNMS(model: String, family: ModelFamily) throws {
        let engine = try InferenceEngine(modelPath: try InferenceFixtures.tinyModel(model))
        #expect(engine.family == family)
        let result = try engine.run(frame: InferenceFixtures.wideFrame())
        #expect(result.family == family)
        #expect(result.input == Size(width: 64, height: 64))
        #expect(result.frame == Size(width: 128, height: 64))
        #expect(result.detections == Self.expected())
    }

    @Test func scoreThresholdDropsWeakerBoxes() throws {
        let options = InferenceOptions(decode: DecodeOptions(scoreThreshold: 0.85))
        let engine = try InferenceEngine(
            modelPath: try InferenceFixtures.tinyModel("yolov5_tiny.onnx"), options: options)
        let result = try engine.run(frame: InferenceFixtures.wideFrame())
        #expect(result.detections == Array(Self.expected().prefix(2)))
    }

    @Test func looserIoUKeepsTheOverlappingSameClassBox() throws {
        // A2's IoU with A is 225 / 287 ≈ 0.78: kept at 0.9, suppressed at 0.45.
        let options = InferenceOptions(decode: DecodeOptions(iouThreshold: 0.9))
        let engine = try InferenceEngine(
            modelPath: try InferenceFixtures.tinyModel("yolov8_tiny.onnx"), options: options)
        let result = try engine.run(frame: InferenceFixtures.wideFrame())
        #expect(result.detections.count == 5)
        // A2 ties with A3 at 0.72; ties keep candidate order, so A2 (row 1) comes before A3 (row 2).
        let a2 = result.detections[3]
        #expect(result.detections[4] == Self.expected()[3])
        #expect(a2.label == "person")
        #expect(a2.score == Float(0.8) * Float(0.9))
        #expect(a2.box == Box(x: 0.203125, y: 0.15625, w: 0.25, h: 0.5))
    }

    @Test func maxDetectionsCapsTheList() throws {
        let options = InferenceOptions(decode: DecodeOptions(maxDetections: 3))
        let engine = try InferenceEngine(
            modelPath: try InferenceFixtures.tinyModel("yolov5_tiny.onnx"), options: options)
        #expect(
            try engine.run(frame: InferenceFixtures.wideFrame()).detections
                == Array(Self.expected().prefix(3)))
    }

    @Test func labelsFileNamesClassesAndMissingNamesFallBack() throws {
        let model = try InferenceFixtures.tinyModel("yolov5_nolabels.onnx")
        let bare = try InferenceEngine(modelPath: model)
        #expect(
            try bare.run(frame: InferenceFixtures.wideFrame()).detections
                == Self.expected(labels: ["class 0", "class 1", "class 2"]))

        let directory = try InferenceFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let labels = directory.appendingPathComponent("labels.txt")
        try "walker\nwheels\nbarker\n\n".write(to: labels, atomically: true, encoding: .utf8)
        let named = try InferenceEngine(modelPath: model, options: InferenceOptions(labelsPath: labels.path))
        #expect(
            try named.run(frame: InferenceFixtures.wideFrame()).detections
                == Self.expected(labels: ["walker", "wheels", "barker"]))
    }

    @Test func missingLabelsFileIsATypedError() throws {
        let path = "/nonexistent/labels.txt"
        #expect {
            try InferenceEngine(
                modelPath: try InferenceFixtures.tinyModel("yolov5_tiny.onnx"),
                options: InferenceOptions(labelsPath: path))
        } throws: { error in
            guard case .labelsUnreadable(let where_, _) = error as? InferenceError else { return false }
            return where_ == path
        }
    }

    @Test func forcedFamilyOverridesLayoutDetection() throws {
        // The v8 tensor read as v5: rows become the 7 attribute rows of 10 values, so the result
        // differs from the v8 reading, and the family says what was asked for.
        let options = InferenceOptions(family: .yolov5)
        let engine = try InferenceEngine(
            modelPath: try InferenceFixtures.tinyModel("yolov8_tiny.onnx"), options: options)
        #expect(engine.family == .yolov5)
        let result = try engine.run(frame: InferenceFixtures.wideFrame())
        #expect(result.family == .yolov5)
        #expect(result.detections != Self.expected())
    }

    @Test func layoutFromShape() {
        #expect(YOLOAdapter.layout(of: [1, 25200, 85], classCount: nil) == .v5)
        #expect(YOLOAdapter.layout(of: [1, 84, 8400], classCount: nil) == .v8)
        #expect(YOLOAdapter.layout(of: [1, 84, 8400], classCount: 80) == .v8)
        // Square-ish outputs: the class count decides; both fitting falls back to the shorter axis.
        #expect(YOLOAdapter.layout(of: [1, 8, 8], classCount: 3) == .v5)
        #expect(YOLOAdapter.layout(of: [1, 7, 8], classCount: 3) == .v8)
        #expect(YOLOAdapter.layout(of: [1, 10, 9], classCount: 6) == .v8)
        #expect(YOLOAdapter.layout(of: [1, -1, 85], classCount: nil) == nil)
        #expect(YOLOAdapter.layout(of: [1, 3, 4], classCount: nil) == nil)
        #expect(YOLOAdapter.layout(of: [1, 2, 3, 4], classCount: nil) == nil)
    }

    @Test func classNamesFromUltralyticsMetadata() {
        #expect(
            ClassLabels.parse(metadata: "{0: 'person', 1: 'bicycle', 2: \"traffic light\"}") == [
                "person", "bicycle", "traffic light",
            ])
        #expect(ClassLabels.parse(metadata: "{0: 'a', 2: 'c'}") == ["a", "class 1", "c"])
        #expect(ClassLabels.parse(metadata: "[\"x\", \"y\"]") == ["x", "y"])
        #expect(ClassLabels.parse(metadata: "nonsense") == [])
    }
}

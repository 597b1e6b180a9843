import Foundation
import RiverInference
import RiverTestSupport
import Testing

@Suite struct ClassifierTests {
    @Test func softmaxTopK() throws {
        let engine = try InferenceEngine(
            modelPath: try InferenceFixtures.tinyModel("classifier_tiny.onnx"),
            options: InferenceOptions(decode: DecodeOptions(maxDetections: 3)))
        #expect(engine.family == .classifier)
        let result = try engine.run(frame: InferenceFixtures.wideFrame())
        // Logits 1, 3, 0.5, 2 → softmax; top 3 are dog, bird, cat.
        let logits: [Double] = [1, 3, 0.5, 2]
        let total = logits.map { Foundation.exp($0) }.reduce(0, +)
        let p = logits.map { Foundation.exp($0) / total }
        #expect(result.detections.map(\.label) == ["dog", "bird", "cat"])
        #expect(result.detections.map(\.classIndex) == [1, 3, 0])
        for (detection, index) in zip(result.detections, [1, 3, 0]) {
            #expect(abs(Double(detection.score) - p[index]) < 1e-6)
            #expect(detection.box == Box(x: 0, y: 0, w: 1, h: 1))
        }
    }

    @Test func forcedFamilyThatDoesNotFitIsRefused() throws {
        let path = try InferenceFixtures.tinyModel("classifier_tiny.onnx")
        #expect {
            try InferenceEngine(modelPath: path, options: InferenceOptions(family: .centerface))
        } throws: { error in
            guard case .unsupportedModel(let where_, let reason) = error as? InferenceError else {
                return false
            }
            return where_ == path && reason.contains("fit no centerface adapter")
        }
    }
}

import Foundation
import RiverInference
import Testing

@Suite struct InferenceResultEncoderTests {
    /// Pages and tests read the document by key; sorted keys keep it identical from run to run.
    @Test func resultDocumentShapeIsStable() throws {
        let result = InferenceResult(
            model: "m.onnx", family: .yolov8, frame: Size(width: 4, height: 2),
            input: Size(width: 8, height: 8),
            rtpTimestamp: 3, timings: Timings(preprocessMs: 0.5, inferenceMs: 2, postprocessMs: 0.25),
            detections: [
                Detection(label: "car", classIndex: 1, score: 0.5, box: Box(x: 0, y: 0.25, w: 0.5, h: 0.75))
            ])
        let document = String(decoding: try InferenceResult.encoder.encode(result), as: UTF8.self)
        #expect(
            document
                == #"{"detections":[{"box":{"h":0.75,"w":0.5,"x":0,"y":0.25},"classIndex":1,"label":"car","score":0.5}],"#
                + #""family":"yolov8","frame":{"height":2,"width":4},"input":{"height":8,"width":8},"model":"m.onnx","#
                + #""rtpTimestamp":3,"timings":{"inferenceMs":2,"postprocessMs":0.25,"preprocessMs":0.5}}"#)
    }
}

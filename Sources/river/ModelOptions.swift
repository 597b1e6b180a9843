import ArgumentParser
import RiverInference

/// The model options `river infer` and `river onnx` share: which model, how to decode its outputs,
/// and how ORT runs it.
struct ModelOptions: ParsableArguments {
    @Option(
        help:
            "ONNX model. Default: models/centerface.onnx, searched upwards from here and from the executable."
    )
    var model: String?

    @Option(
        help: "Model family (centerface, yolov5, yolov8, classifier). Default: detected from the outputs.")
    var family: ModelFamily?

    @Option(help: "Class names, one per line (overrides the model's `names` metadata).")
    var labels: String?

    @Option(help: "Minimum score to report (default per family: CenterFace 0.5, YOLO 0.25).")
    var threshold: Float?

    @Option(help: "IoU at which NMS drops the weaker box (CenterFace 0.3, YOLO 0.45).")
    var iou: Float?

    @Option(help: "Most detections per image (classifier: top-k, default 5).")
    var maxDetections: Int?

    @Option(help: "ONNX Runtime intra-op threads per model session.")
    var threads: Int = 1

    @Option(help: "Model input WxH for models with symbolic dims (default: each image's size, padded to 32).")
    var inputSize: String?

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        if let inputSize, Self.parseSize(inputSize) == nil {
            throw ValidationError("--input-size must look like 320x240, got '\(inputSize)'")
        }
    }

    /// The model to load: `--model`, or the default model found near here or the executable.
    func modelPath() throws(InferenceError) -> String {
        if let model { return model }
        return try PathSearch.defaultModel()
    }

    var inferenceOptions: InferenceOptions {
        var options = InferenceOptions(
            family: family, session: SessionOptions(intraOpThreads: threads),
            decode: DecodeOptions(scoreThreshold: threshold, iouThreshold: iou, maxDetections: maxDetections),
            labelsPath: labels)
        options.inputSize = inputSize.flatMap(Self.parseSize)
        return options
    }

    static func parseSize(_ text: String) -> Size? {
        let parts = text.lowercased().split(separator: "x")
        guard parts.count == 2, let w = Int(parts[0]), let h = Int(parts[1]), w > 0, h > 0 else { return nil }
        return Size(width: w, height: h)
    }
}

extension ModelFamily: ExpressibleByArgument {}

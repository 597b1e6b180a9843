import ArgumentParser
import Foundation
import RiverInference
import RiverMedia

/// `river infer`: one-off inference on image files, one JSON result document per image on stdout.
struct InferCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "infer",
        abstract: "Run the model on PNG/JPEG files and print one JSON result per image.",
        discussion: """
            Each line is an InferenceResult document (see RiverInference) plus the image path. Errors go \
            to stderr as one line naming the file; the exit status is non-zero if any image failed.
            """)

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

    @Option(help: "ONNX Runtime intra-op threads.")
    var threads: Int = 1

    @Option(help: "Model input WxH for models with symbolic dims (default: the image size, padded to 32).")
    var inputSize: String?

    @Option(
        help: "Write the image with boxes drawn to this PNG (with several images: NAME-1.png, NAME-2.png, …)."
    )
    var annotate: String?

    @Argument(help: "PNG or JPEG files.")
    var images: [String]

    func validate() throws {
        guard !images.isEmpty else { throw ValidationError("give at least one image file") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        if let inputSize, Self.parseSize(inputSize) == nil {
            throw ValidationError("--input-size must look like 640x480, got '\(inputSize)'")
        }
    }

    func run() throws {
        let engine: InferenceEngine
        do {
            let modelPath = try model ?? PathSearch.defaultModel()
            var options = InferenceOptions(
                family: family, session: SessionOptions(intraOpThreads: threads),
                decode: DecodeOptions(
                    scoreThreshold: threshold, iouThreshold: iou, maxDetections: maxDetections),
                labelsPath: labels)
            options.inputSize = inputSize.flatMap(Self.parseSize)
            engine = try InferenceEngine(modelPath: modelPath, options: options)
        } catch {
            Self.report(error)
            throw ExitCode.failure
        }
        var failures = 0
        for (index, image) in images.enumerated() {
            do {
                let frame = try ImageFile.load(image)
                let result = try engine.run(frame: frame)
                print(Self.document(image: image, result: result))
                if let annotate {
                    let path = images.count == 1 ? annotate : Self.numbered(annotate, index + 1)
                    try ImageFile.savePNG(FrameAnnotator.annotate(frame, with: result.detections), to: path)
                }
            } catch {
                Self.report(error)
                failures += 1
            }
        }
        if failures > 0 { throw ExitCode.failure }
    }

    /// The result document with the image path added as `image`, keys sorted, on one line.
    static func document(image: String, result: InferenceResult) -> String {
        struct Document: Encodable {
            let image: String
            let result: InferenceResult
            func encode(to encoder: any Encoder) throws {
                try result.encode(to: encoder)
                var container = encoder.container(keyedBy: Key.self)
                try container.encode(image, forKey: Key(stringValue: "image"))
            }
            struct Key: CodingKey {
                var stringValue: String
                var intValue: Int? { nil }
                init(stringValue: String) { self.stringValue = stringValue }
                init?(intValue: Int) { nil }
            }
        }
        let data = try! InferenceResult.encoder.encode(Document(image: image, result: result))
        return String(decoding: data, as: UTF8.self)
    }

    static func report(_ error: any Error) {
        FileHandle.standardError.write(Data("river infer: error: \(error)\n".utf8))
    }

    static func parseSize(_ text: String) -> Size? {
        let parts = text.lowercased().split(separator: "x")
        guard parts.count == 2, let w = Int(parts[0]), let h = Int(parts[1]), w > 0, h > 0 else { return nil }
        return Size(width: w, height: h)
    }

    static func numbered(_ path: String, _ n: Int) -> String {
        let url = URL(fileURLWithPath: path)
        let ext = url.pathExtension
        let stem = url.deletingPathExtension().path
        return ext.isEmpty ? "\(stem)-\(n)" : "\(stem)-\(n).\(ext)"
    }
}

extension ModelFamily: ExpressibleByArgument {}

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

    @OptionGroup var modelOptions: ModelOptions

    @Option(
        help: "Write the image with boxes drawn to this PNG (with several images: NAME-1.png, NAME-2.png, …)."
    )
    var annotate: String?

    @Argument(help: "PNG or JPEG files.")
    var images: [String]

    func validate() throws {
        guard !images.isEmpty else { throw ValidationError("give at least one image file") }
    }

    func run() throws {
        let engine: InferenceEngine
        do {
            engine = try InferenceEngine(
                modelPath: modelOptions.modelPath(), options: modelOptions.inferenceOptions)
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

    static func numbered(_ path: String, _ n: Int) -> String {
        let url = URL(fileURLWithPath: path)
        let ext = url.pathExtension
        let stem = url.deletingPathExtension().path
        return ext.isEmpty ? "\(stem)-\(n)" : "\(stem)-\(n).\(ext)"
    }
}

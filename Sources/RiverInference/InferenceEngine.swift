import Foundation
import RiverCore

/// Everything that configures an `InferenceEngine`.
public struct InferenceOptions: Sendable, Equatable {
    /// Force a family instead of detecting it from the model's outputs.
    public var family: ModelFamily?
    /// ORT threads and spinning.
    public var session: SessionOptions
    /// Thresholds and limits for the adapter.
    public var decode: DecodeOptions
    /// Class names, one per line; overrides the model's `names` metadata.
    public var labelsPath: String?
    /// Model input size for models with symbolic dims (rounded up to a multiple of 32). Nil: the
    /// frame's own size, padded to a multiple of 32, no resampling.
    public var inputSize: Size?
    /// ONNX Runtime library; nil: `RIVER_ORT_LIB`, then the repository's `.venv`.
    public var libraryPath: String?

    public init(
        family: ModelFamily? = nil, session: SessionOptions = .init(), decode: DecodeOptions = .init(),
        labelsPath: String? = nil, inputSize: Size? = nil, libraryPath: String? = nil
    ) {
        self.family = family
        self.session = session
        self.decode = decode
        self.labelsPath = labelsPath
        self.inputSize = inputSize
        self.libraryPath = libraryPath
    }
}

/// The inference worker's core: one model, frames in, `InferenceResult`s out.
///
/// Pre-processing letterboxes the frame into a reused tensor, ORT runs the model, the family's
/// adapter decodes the outputs. Not thread-safe: call it from one thread (or task) at a time;
/// run several engines for parallelism. Sans-IO: transports (ZeroMQ, the CLI) live elsewhere.
public final class InferenceEngine {
    public let session: ORTSession
    public let adapter: any ModelAdapter
    public let options: InferenceOptions
    /// The model's file name, as reported in results.
    public let modelName: String
    /// Fixed input width and height, or nil when the model's spatial dims are symbolic.
    public let fixedInputSize: Size?
    private let preprocessor: Preprocessor

    public var family: ModelFamily { adapter.family }

    /// Loads the model and picks its adapter. Fails with a typed error naming the path when the
    /// runtime, the model or the labels are missing or unusable.
    public init(modelPath: String, options: InferenceOptions = .init()) throws(InferenceError) {
        let runtime = try ORTRuntime.shared(libraryPath: options.libraryPath)
        let session = try ORTSession(modelPath: modelPath, options: options.session, runtime: runtime)
        self.session = session
        self.options = options
        modelName = (modelPath as NSString).lastPathComponent

        guard session.inputs.count == 1, let input = session.inputs.first, input.shape.count == 4,
            input.elementType == 1, input.shape[1] == 3 || input.shape[1] < 0
        else {
            throw .unsupportedModel(
                path: modelPath,
                reason: "expected one float32 image input [N,3,H,W], got \(session.inputs.map(\.description))"
            )
        }
        fixedInputSize =
            input.shape[2] > 0 && input.shape[3] > 0
            ? Size(width: input.shape[3], height: input.shape[2]) : nil

        var labels: [String] = []
        if let labelsPath = options.labelsPath {
            labels = try ClassLabels.load(file: labelsPath)
        } else if let names = session.metadata("names") {
            labels = ClassLabels.parse(metadata: names)
        }
        adapter = try Self.adapter(for: session, labels: labels, options: options)
        preprocessor = Preprocessor(normalization: adapter.normalization)
    }

    private static func adapter(for session: ORTSession, labels: [String], options: InferenceOptions)
        throws(InferenceError) -> any ModelAdapter
    {
        let outputs = session.outputs
        let shapes = outputs.map(\.description).joined(separator: ", ")
        let unsupported = InferenceError.unsupportedModel(
            path: session.modelPath,
            reason: "output shapes \(shapes) fit no \(options.family?.rawValue ?? "known") adapter "
                + "(CenterFace: 4 maps with 1,2,2,10 channels; YOLO: [1,N,5+C] or [1,4+C,N]; classifier: [1,C])"
        )
        guard outputs.allSatisfy({ $0.elementType == 1 }) else { throw unsupported }
        let family =
            options.family
            ?? {
                if outputs.count == 4 { return .centerface }
                if outputs.count == 1, outputs[0].shape.count == 3 { return .yolov8 }
                if outputs.count == 1, outputs[0].shape.count == 2 { return .classifier }
                return nil
            }()
        switch family {
        case .centerface:
            if let adapter = CenterFaceAdapter(outputs: outputs, options: options.decode) { return adapter }
        case .yolov5, .yolov8:
            guard outputs.count == 1, outputs[0].shape.count == 3 else { break }
            let shape = outputs[0].shape
            let forced: YOLOAdapter.Layout? =
                switch options.family {
                case .yolov5: .v5
                case .yolov8: .v8
                default: nil
                }
            let adapter = YOLOAdapter(
                outputShape: shape, labels: labels, options: options.decode, layout: forced)
            // A static shape that fits neither layout is refused now rather than on every frame.
            if adapter.layout == nil, !shape.contains(where: { $0 < 0 }) { break }
            return adapter
        case .classifier:
            if outputs.count == 1, outputs[0].shape.count == 2 {
                return ClassifierAdapter(labels: labels, options: options.decode)
            }
        case nil: break
        }
        throw unsupported
    }

    /// The input every frame is letterboxed into: the model's fixed size, or the `inputSize`
    /// option for a model with symbolic dims; nil when the input follows each frame's size. A worker
    /// announces it, so that frames arrive already scaled to fit (docs/protocol.md, READY).
    public var inputSize: FrameSize? {
        if let fixedInputSize { return fixedInputSize }
        return options.inputSize.map {
            FrameSize(width: Self.roundUpTo32($0.width), height: Self.roundUpTo32($0.height))
        }
    }

    private static func roundUpTo32(_ n: Int) -> Int { max(32, (n + 31) / 32 * 32) }

    /// The letterbox for a frame of this size.
    public func letterbox(frameWidth: Int, frameHeight: Int) -> Letterbox {
        if let input = inputSize {
            return Letterbox(
                frameWidth: frameWidth, frameHeight: frameHeight, inputWidth: input.width,
                inputHeight: input.height)
        }
        return Letterbox(
            frameWidth: frameWidth, frameHeight: frameHeight, inputWidth: Self.roundUpTo32(frameWidth),
            inputHeight: Self.roundUpTo32(frameHeight), allowUpscale: false)
    }

    /// Pre-processes, runs and decodes one frame.
    public func run(frame: VideoFrame) throws(InferenceError) -> InferenceResult {
        let clock = ContinuousClock()
        let start = clock.now
        let box = preprocessor.fill(
            from: frame, letterbox: letterbox(frameWidth: frame.width, frameHeight: frame.height))
        let shape: [Int64] = [1, 3, Int64(box.inputHeight), Int64(box.inputWidth)]
        let ran = clock.now
        let outputs = try session.run(input: preprocessor.tensor, shape: shape)
        let decoded = clock.now
        let detections = try adapter.decode(outputs.map(\.view), letterbox: box)
        let end = clock.now
        withExtendedLifetime(outputs) {}
        return InferenceResult(
            model: modelName, family: adapter.family, frame: Size(width: frame.width, height: frame.height),
            input: Size(width: box.inputWidth, height: box.inputHeight), rtpTimestamp: frame.rtpTimestamp,
            timings: Timings(
                preprocessMs: Self.milliseconds(ran - start), inferenceMs: Self.milliseconds(decoded - ran),
                postprocessMs: Self.milliseconds(end - decoded)),
            detections: detections)
    }

    static func milliseconds(_ d: Duration) -> Double {
        Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
    }
}

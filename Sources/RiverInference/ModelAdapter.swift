/// A model output as the adapters see it: dimensions and row-major floats.
public struct TensorView {
    public let shape: [Int]
    public let values: UnsafeBufferPointer<Float>

    public init(shape: [Int], values: UnsafeBufferPointer<Float>) {
        self.shape = shape
        self.values = values
    }
}

extension ORTTensor {
    public var view: TensorView { TensorView(shape: shape, values: floats) }
}

/// What makes one model family usable: how pixels become its input, and how its outputs become
/// detections in frame coordinates.
///
/// Adapters keep per-model state (labels, output roles, scratch buffers); like the engine that owns
/// them, use one from one thread at a time.
public protocol ModelAdapter: AnyObject {
    /// The family, as resolved so far (a YOLO adapter may settle v5 vs v8 on the first output).
    var family: ModelFamily { get }
    /// How the pre-processor maps bytes to input values.
    var normalization: PixelNormalization { get }
    /// Decodes the session outputs (in the session's output order) for one frame.
    func decode(_ outputs: [TensorView], letterbox: Letterbox) throws(InferenceError) -> [Detection]
}

/// Tuning shared by the adapters; nil picks the family's default.
public struct DecodeOptions: Sendable, Equatable {
    /// Minimum score kept (CenterFace 0.5, YOLO 0.25, classifier 0).
    public var scoreThreshold: Float?
    /// IoU at or above which the lower-scored box is suppressed (CenterFace 0.3, YOLO 0.45).
    public var iouThreshold: Float?
    /// Most detections reported per frame (classifier: the k of top-k).
    public var maxDetections: Int?

    public init(scoreThreshold: Float? = nil, iouThreshold: Float? = nil, maxDetections: Int? = nil) {
        self.scoreThreshold = scoreThreshold
        self.iouThreshold = iouThreshold
        self.maxDetections = maxDetections
    }
}

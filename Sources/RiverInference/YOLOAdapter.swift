/// YOLO detection heads exported to ONNX, in the two common layouts:
/// - v5 (also v7): `[1, N, 5 + C]`, one row per candidate: cx, cy, w, h, objectness, C class scores;
///   score = objectness × best class score.
/// - v8 (also v11): `[1, 4 + C, N]`, one column per candidate: cx, cy, w, h, C class scores;
///   score = best class score.
///
/// Coordinates are in input pixels. Candidates under the score threshold are dropped, then
/// per-class NMS runs and boxes are mapped back through the letterbox.
public final class YOLOAdapter: ModelAdapter {
    public enum Layout: Sendable, Equatable {
        case v5
        case v8
    }

    public private(set) var layout: Layout?
    public let labels: [String]
    public let normalization = PixelNormalization.unit
    let scoreThreshold: Float
    let iouThreshold: Float
    let maxDetections: Int
    private var bestScore: [Float] = []
    private var bestClass: [Int32] = []

    public var family: ModelFamily { layout == .v5 ? .yolov5 : .yolov8 }

    /// `outputShape` may hold -1 for symbolic dims; the layout is then settled on the first run.
    /// `layout`, when given, overrides detection (`--family yolov5` / `yolov8`).
    public init(outputShape: [Int], labels: [String], options: DecodeOptions = .init(), layout: Layout? = nil)
    {
        self.labels = labels
        scoreThreshold = options.scoreThreshold ?? 0.25
        iouThreshold = options.iouThreshold ?? 0.45
        maxDetections = options.maxDetections ?? 300
        self.layout = layout ?? Self.layout(of: outputShape, classCount: labels.isEmpty ? nil : labels.count)
    }

    /// The layout of a `[1, a, b]` output. With a known class count the attribute axis is the one of
    /// size 5 + C (v5) or 4 + C (v8); otherwise it is the shorter axis (candidates outnumber classes
    /// in every real export). Nil when the shape fits neither or is not known yet.
    public static func layout(of shape: [Int], classCount: Int?) -> Layout? {
        guard shape.count == 3, shape[1] > 0, shape[2] > 0 else { return nil }
        let (a, b) = (shape[1], shape[2])
        if let classes = classCount {
            let v5 = b == 5 + classes
            let v8 = a == 4 + classes
            // Both can fit (e.g. [1, 7, 8] with 3 classes); then fall through to the shape rule.
            if v5 != v8 { return v5 ? .v5 : .v8 }
        }
        if a < b { return a >= 5 ? .v8 : nil }
        return b >= 6 ? .v5 : nil
    }

    public func decode(_ outputs: [TensorView], letterbox: Letterbox) throws(InferenceError) -> [Detection] {
        guard let output = outputs.first else {
            throw .runtime(operation: "decoding YOLO", message: "the model returned no output")
        }
        let shape = output.shape
        guard let layout = layout ?? Self.layout(of: shape, classCount: labels.isEmpty ? nil : labels.count)
        else {
            throw .runtime(
                operation: "decoding YOLO",
                message: "output shape \(shape) is neither [1,N,5+C] nor [1,4+C,N]")
        }
        self.layout = layout
        let values = output.values
        var candidates: [Candidate] = []
        switch layout {
        case .v5:
            let attributes = shape[2]
            let classes = attributes - 5
            for i in 0..<shape[1] {
                let row = i * attributes
                let objectness = values[row + 4]
                guard objectness > scoreThreshold || classes == 0 else { continue }
                var best = 0
                for c in 1..<max(classes, 1) where values[row + 5 + c] > values[row + 5 + best] { best = c }
                let score = objectness * values[row + 5 + best]
                guard score > scoreThreshold else { continue }
                candidates.append(
                    Self.candidate(
                        values[row], values[row + 1], values[row + 2], values[row + 3], score, best))
            }
        case .v8:
            let count = shape[2]
            let classes = shape[1] - 4
            // Class rows are contiguous: take the running best over rows, not a strided walk per box.
            if bestScore.count != count {
                bestScore = [Float](repeating: 0, count: count)
                bestClass = [Int32](repeating: 0, count: count)
            }
            for i in 0..<count {
                bestScore[i] = values[4 * count + i]
                bestClass[i] = 0
            }
            for c in 1..<max(classes, 1) {
                let row = (4 + c) * count
                for i in 0..<count where values[row + i] > bestScore[i] {
                    bestScore[i] = values[row + i]
                    bestClass[i] = Int32(c)
                }
            }
            for i in 0..<count where bestScore[i] > scoreThreshold {
                candidates.append(
                    Self.candidate(
                        values[i], values[count + i], values[2 * count + i], values[3 * count + i],
                        bestScore[i],
                        Int(bestClass[i])))
            }
        }
        return nonMaximumSuppression(candidates, iouThreshold: iouThreshold, limit: maxDetections).map {
            box in
            Detection(
                label: ClassLabels.name(labels, box.classIndex), classIndex: box.classIndex, score: box.score,
                box: letterbox.normalizedBox(x1: box.x1, y1: box.y1, x2: box.x2, y2: box.y2))
        }
    }

    @inline(__always)
    private static func candidate(
        _ cx: Float, _ cy: Float, _ w: Float, _ h: Float, _ score: Float, _ classIndex: Int
    ) -> Candidate {
        Candidate(
            x1: cx - w / 2, y1: cy - h / 2, x2: cx + w / 2, y2: cy + h / 2, score: score,
            classIndex: classIndex)
    }
}

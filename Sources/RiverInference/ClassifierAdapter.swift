import Foundation

/// Image classifiers with a `[1, C]` output of logits: softmax, then the k best classes, each
/// reported as a detection whose box is the whole frame.
public final class ClassifierAdapter: ModelAdapter {
    public let family = ModelFamily.classifier
    public let normalization: PixelNormalization
    public let labels: [String]
    let topK: Int
    let scoreThreshold: Float

    public init(
        labels: [String], options: DecodeOptions = .init(), normalization: PixelNormalization = .imageNet
    ) {
        self.labels = labels
        self.normalization = normalization
        topK = options.maxDetections ?? 5
        scoreThreshold = options.scoreThreshold ?? 0
    }

    public func decode(_ outputs: [TensorView], letterbox: Letterbox) throws(InferenceError) -> [Detection] {
        guard let logits = outputs.first, logits.shape.count == 2, logits.values.count > 0 else {
            throw .runtime(operation: "decoding classifier", message: "expected a [1, C] output")
        }
        let values = logits.values
        // Subtract the maximum before exp so large logits cannot overflow.
        let peak = values.max()!
        var probabilities = values.map { exp($0 - peak) }
        let total = probabilities.reduce(0, +)
        for i in probabilities.indices { probabilities[i] /= total }
        let order = probabilities.indices.sorted {
            probabilities[$0] != probabilities[$1] ? probabilities[$0] > probabilities[$1] : $0 < $1
        }
        return order.prefix(topK).filter { probabilities[$0] >= scoreThreshold }.map { index in
            Detection(
                label: ClassLabels.name(labels, index), classIndex: index, score: probabilities[index],
                box: Box(x: 0, y: 0, w: 1, h: 1))
        }
    }
}

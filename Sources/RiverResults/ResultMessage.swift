import Foundation

/// One frame's message on the data channel `river` (schema: docs/results.md). Its detections are
/// the worker's own (``InferenceResult/detections``), forwarded unchanged: one schema from the
/// model's post-processing to the page.
public struct ResultMessage: Codable, Sendable, Equatable {
    /// Why a frame has no result, or `ok`.
    public enum Status: String, Codable, Sendable, Equatable {
        case ok
        /// A newer frame replaced it while every inference slot was busy.
        case saturated
        /// The result would have arrived after the frame was shown.
        case expired
        /// The worker holding it went away (or the proxy connection dropped under it).
        case workerLost
        /// No worker connected (or no proxy reachable).
        case noWorker
        /// The decoder could not decode the frame.
        case decodeError
        /// The worker's model failed on this frame.
        case workerFailed
    }

    /// Milliseconds (docs/results.md).
    public struct Timings: Codable, Sendable, Equatable {
        public var decode: Double
        public var queue: Double
        public var inference: Double
        public var total: Double

        public init(decode: Double, queue: Double, inference: Double, total: Double) {
            self.decode = decode
            self.queue = queue
            self.inference = inference
            self.total = total
        }
    }

    public var type = "result"
    /// The *output* RTP timestamp of the frame.
    public var rtpTimestamp: UInt32
    /// Wall clock (ms since the Unix epoch) when the frame's last packet arrived.
    public var receivedAt: Double
    public var width: Int
    public var height: Int
    public var status: Status
    public var detections: [Detection]?
    public var timings: Timings?
    /// The session's delay in force, ms.
    public var delay: Double

    public init(
        rtpTimestamp: UInt32, receivedAt: Double, width: Int, height: Int, status: Status,
        detections: [Detection]? = nil, timings: Timings? = nil, delay: Double
    ) {
        self.rtpTimestamp = rtpTimestamp
        self.receivedAt = receivedAt
        self.width = width
        self.height = height
        self.status = status
        self.detections = detections
        self.timings = timings
        self.delay = delay
    }

    /// The JSON text sent on the channel.
    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }
}

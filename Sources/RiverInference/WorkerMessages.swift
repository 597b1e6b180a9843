import Foundation
import RiverCore

/// A frame to run inference on, as the proxy hands it to a worker.
///
/// On the wire it is two parts (so the pixels travel as one ZeroMQ frame, uncopied): a JSON
/// `Header` describing the frame, then the frame's bytes. See `encodedHeader()` and
/// `init(header:pixels:)`.
public struct InferenceRequest: Sendable {
    /// Chosen by the sender; echoed in the reply so it can match results to frames.
    public var id: UInt64
    /// The sender's name for the stream (e.g. a session id); echoed in the reply.
    public var stream: String
    public var frame: VideoFrame
    /// Wall-clock time (Unix milliseconds) after which the result is useless to the sender; a
    /// worker that picks the request up later answers "expired" without running the model.
    public var deadlineUnixMs: UInt64?

    public init(id: UInt64, stream: String = "", frame: VideoFrame, deadlineUnixMs: UInt64? = nil) {
        self.id = id
        self.stream = stream
        self.frame = frame
        self.deadlineUnixMs = deadlineUnixMs
    }

    /// Largest width or height accepted from the wire.
    public static let maxDimension = 8192

    /// The JSON header part: everything but the pixels.
    public struct Header: Codable, Sendable, Equatable {
        public var id: UInt64
        public var stream: String
        public var width: Int
        public var height: Int
        public var format: PixelFormat
        public var strides: [Int]
        public var offsets: [Int]
        public var rtpTimestamp: UInt32
        public var deadlineUnixMs: UInt64?
    }

    public var header: Header {
        Header(
            id: id, stream: stream, width: frame.width, height: frame.height, format: frame.format,
            strides: frame.strides, offsets: frame.offsets, rtpTimestamp: frame.rtpTimestamp,
            deadlineUnixMs: deadlineUnixMs)
    }

    /// The header as JSON bytes; send `frame.data` as the second part.
    public func encodedHeader() -> [UInt8] {
        // Encoding plain integers and strings cannot fail.
        Array(try! JSONEncoder().encode(header))
    }

    /// Rebuilds a request from its two parts, refusing headers that are not JSON or that describe
    /// planes the pixel part cannot hold.
    public init(header: [UInt8], pixels: [UInt8]) throws(InferenceError) {
        let decoded: Header
        do { decoded = try JSONDecoder().decode(Header.self, from: Data(header)) } catch {
            throw .badRequest("header is not a request header (\(header.count) bytes): \(error)")
        }
        // Bound every number before VideoFrame multiplies them, so a hostile header cannot overflow.
        let limit = InferenceRequest.maxDimension
        guard (1...limit).contains(decoded.width), (1...limit).contains(decoded.height),
            decoded.strides.count <= 3, decoded.offsets.count <= 3,
            decoded.strides.allSatisfy({ (0...(4 * limit)).contains($0) }),
            decoded.offsets.allSatisfy({ (0...pixels.count).contains($0) })
        else {
            throw .badRequest(
                "request \(decoded.id): frame \(decoded.width)x\(decoded.height), strides \(decoded.strides), "
                    + "offsets \(decoded.offsets) out of range for \(pixels.count) pixel bytes")
        }
        do {
            frame = try VideoFrame(
                width: decoded.width, height: decoded.height, format: decoded.format,
                strides: decoded.strides,
                offsets: decoded.offsets, data: pixels, rtpTimestamp: decoded.rtpTimestamp)
        } catch { throw .badRequest("request \(decoded.id): \(error)") }
        id = decoded.id
        stream = decoded.stream
        deadlineUnixMs = decoded.deadlineUnixMs
    }
}

/// A worker's answer to one request: the result, or why there is none.
///
/// JSON: `{"id": 7, "stream": "s1", "result": {…InferenceResult…}}`,
/// `{"id": 7, "stream": "s1", "error": "…"}`, or, for a request past its deadline,
/// `{"id": 7, "stream": "s1", "error": "…", "expired": true}`.
public struct InferenceReply: Codable, Sendable, Equatable {
    public var id: UInt64
    public var stream: String
    public var result: InferenceResult?
    public var error: String?
    /// True when the request was skipped because its deadline had passed.
    public var expired: Bool?

    public init(
        id: UInt64, stream: String, result: InferenceResult? = nil, error: String? = nil, expired: Bool? = nil
    ) {
        self.id = id
        self.stream = stream
        self.result = result
        self.error = error
        self.expired = expired
    }

    /// Compact JSON with sorted keys.
    public func encoded() -> [UInt8] { Array(try! InferenceResult.encoder.encode(self)) }

    public init(decoding bytes: [UInt8]) throws(InferenceError) {
        do { self = try JSONDecoder().decode(InferenceReply.self, from: Data(bytes)) } catch {
            throw .badRequest("reply is not JSON of an inference reply (\(bytes.count) bytes)")
        }
    }
}

extension InferenceEngine {
    /// The worker's processing function: runs one request and always answers, with the result or
    /// with the one-line reason it failed. Never throws, so one bad request cannot stop a worker.
    /// `nowUnixMs` is the current wall-clock time, checked against the request's deadline.
    public func process(_ request: InferenceRequest, nowUnixMs: UInt64 = InferenceEngine.nowUnixMs())
        -> InferenceReply
    {
        if let deadline = request.deadlineUnixMs, nowUnixMs >= deadline {
            return InferenceReply(
                id: request.id, stream: request.stream,
                error: "request \(request.id) expired \(nowUnixMs - deadline) ms before it could run",
                expired: true)
        }
        do throws(InferenceError) {
            return InferenceReply(
                id: request.id, stream: request.stream, result: try run(frame: request.frame))
        } catch {
            return InferenceReply(id: request.id, stream: request.stream, error: error.description)
        }
    }

    /// `process` straight from the two wire parts; a malformed request gets an error reply with
    /// id 0 when even its id cannot be read.
    public func process(
        header: [UInt8], pixels: [UInt8], nowUnixMs: UInt64 = InferenceEngine.nowUnixMs()
    ) -> InferenceReply {
        do throws(InferenceError) {
            return process(try InferenceRequest(header: header, pixels: pixels), nowUnixMs: nowUnixMs)
        } catch {
            let id = (try? JSONDecoder().decode(IDOnly.self, from: Data(header)))
            return InferenceReply(id: id?.id ?? 0, stream: id?.stream ?? "", error: error.description)
        }
    }

    /// Wall-clock Unix time in milliseconds.
    public static func nowUnixMs() -> UInt64 { UInt64(max(0, Date().timeIntervalSince1970 * 1000)) }

    private struct IDOnly: Decodable {
        var id: UInt64
        var stream: String?
    }
}

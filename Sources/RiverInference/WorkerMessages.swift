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

    public init(id: UInt64, stream: String = "", frame: VideoFrame) {
        self.id = id
        self.stream = stream
        self.frame = frame
    }

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
    }

    public var header: Header {
        Header(
            id: id, stream: stream, width: frame.width, height: frame.height, format: frame.format,
            strides: frame.strides, offsets: frame.offsets, rtpTimestamp: frame.rtpTimestamp)
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
        do {
            frame = try VideoFrame(
                width: decoded.width, height: decoded.height, format: decoded.format, strides: decoded.strides,
                offsets: decoded.offsets, data: pixels, rtpTimestamp: decoded.rtpTimestamp)
        } catch { throw .badRequest("request \(decoded.id): \(error)") }
        id = decoded.id
        stream = decoded.stream
    }
}

/// A worker's answer to one request: the result, or why there is none.
///
/// JSON: `{"id": 7, "stream": "s1", "result": {…InferenceResult…}}` or
/// `{"id": 7, "stream": "s1", "error": "…"}`.
public struct InferenceReply: Codable, Sendable, Equatable {
    public var id: UInt64
    public var stream: String
    public var result: InferenceResult?
    public var error: String?

    public init(id: UInt64, stream: String, result: InferenceResult? = nil, error: String? = nil) {
        self.id = id
        self.stream = stream
        self.result = result
        self.error = error
    }

    /// Compact JSON with sorted keys.
    public func encoded() -> [UInt8] { Array(try! InferenceResult.encoder.encode(self)) }

    public init(decoding bytes: [UInt8]) throws(InferenceError) {
        do { self = try JSONDecoder().decode(InferenceReply.self, from: Data(bytes)) } catch {
            throw .badRequest("reply is not JSON of an inference reply (\(bytes.count) bytes)")
        }
    }
}

extension InferenceResult {
    /// The encoder for result documents: compact, keys sorted, so output is stable byte for byte.
    public static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// One line of JSON.
    public func jsonLine() -> String { String(decoding: try! Self.encoder.encode(self), as: UTF8.self) }
}

extension InferenceEngine {
    /// The worker's processing function: runs one request and always answers, with the result or
    /// with the one-line reason it failed. Never throws, so one bad request cannot stop a worker.
    public func process(_ request: InferenceRequest) -> InferenceReply {
        do throws(InferenceError) {
            return InferenceReply(id: request.id, stream: request.stream, result: try run(frame: request.frame))
        } catch {
            return InferenceReply(id: request.id, stream: request.stream, error: error.description)
        }
    }

    /// `process` straight from the two wire parts; a malformed request gets an error reply with
    /// id 0 when even its id cannot be read.
    public func process(header: [UInt8], pixels: [UInt8]) -> InferenceReply {
        do throws(InferenceError) {
            return process(try InferenceRequest(header: header, pixels: pixels))
        } catch {
            let id = (try? JSONDecoder().decode(IDOnly.self, from: Data(header)))
            return InferenceReply(id: id?.id ?? 0, stream: id?.stream ?? "", error: error.description)
        }
    }

    private struct IDOnly: Decodable {
        var id: UInt64
        var stream: String?
    }
}

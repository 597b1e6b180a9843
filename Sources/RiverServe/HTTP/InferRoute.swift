import Foundation
import Hummingbird
import NIOCore
import RiverBroker
import RiverCore
import RiverMedia
import RiverResults

/// One picture's inference, by whatever runs it: the proxy's workers in `river serve`.
public protocol StillInference: Sendable {
    /// The size pictures are scaled down to fit before they are sent (the models' input).
    var frameBox: FrameSize? { get }
    /// The worker's result document for `frame`, or why there is none.
    func infer(_ frame: VideoFrame, deadline: Instant) async -> StillInferenceOutcome
}

/// What became of one picture sent for inference.
public enum StillInferenceOutcome: Sendable {
    case document(InferenceResult)
    /// No result, for the reason the page would be given (docs/results.md).
    case failed(ResultMessage.Status)
}

extension BrokerClient: StillInference {
    /// The broker's stream for HTTP requests; sessions count theirs from 1.
    static let httpStreamID: UInt64 = 0

    /// The proxy's last report when it is fresh (at most 3 s old: the proxy answers every
    /// heartbeat), else nil: no proxy is answering. `/readyz` and `POST /v1/infer` go by it.
    var answeringCapacity: BrokerCapacity? {
        capacity.flatMap { Instant.now - $0.learnedAt < .seconds(3) ? $0 : nil }
    }

    public func infer(_ frame: VideoFrame, deadline: Instant) async -> StillInferenceOutcome {
        // No proxy answering, or none of its workers: say so now (as /readyz would), rather than
        // send the picture into a connection that is down.
        guard let capacity = answeringCapacity, capacity.workers > 0 else { return .failed(.noWorker) }
        let reply: BrokerReply
        do throws(BrokerError) {
            reply = try await infer(frame: frame, streamID: Self.httpStreamID, deadline: deadline)
        } catch {
            return .failed(Self.status(for: error))
        }
        guard reply.status == .ok,
            let document = try? JSONDecoder().decode(InferenceResult.self, from: Data(reply.document))
        else { return .failed(.workerFailed) }
        return .document(document)
    }
}

/// `POST /v1/infer`: one picture in, its detections out, through the same proxy and workers as the
/// sessions (docs/openapi.yaml).
///
/// The body is `image/jpeg`, `image/png`, or raw packed pixels, `application/x-river-i420` or
/// `application/x-river-rgb24`, with the size in `Image-Width` and `Image-Height`. The answer is the
/// worker's result document (docs/results.md, the one `river infer` prints) with `frame` set to
/// the picture's own size. Errors are `{"error": …}`: 400 a body that is no such picture, 413 a body
/// or picture over the bounds, 415 another content type, 503 no worker (or all busy), 502 the model
/// failed, 504 no answer within `?timeoutMs=` (default 5000).
enum InferRoute {
    /// Bodies past this are refused with 413 before they are read whole.
    static let maxBodyBytes = 16 * 1024 * 1024
    static let defaultTimeout = 5_000
    static let maxTimeout = 60_000

    static let widthHeader = HTTPFields.Element.Name("Image-Width")!
    static let heightHeader = HTTPFields.Element.Name("Image-Height")!

    static func add(to router: Router<ServeRequestContext>, inference: some StillInference, maxPixels: Int) {
        router.post("/v1/infer") { request, context -> Response in
            let started = Instant.now
            let encoding: StillImage.Encoding
            switch encodingOf(request) {
            case .encoding(let found): encoding = found
            case .refused(let refusal): return refusal
            }
            let timeout: Int
            if let text = request.uri.queryParameters["timeoutMs"] {
                guard let value = Int(text), (1...maxTimeout).contains(value) else {
                    return JSONResponse.error(
                        .badRequest,
                        "timeoutMs must be a whole number of milliseconds from 1 to \(maxTimeout)")
                }
                timeout = value
            } else {
                timeout = defaultTimeout
            }
            if let length = request.headers[.contentLength].flatMap(Int.init), length > maxBodyBytes {
                return JSONResponse.error(.contentTooLarge, "the body is over \(maxBodyBytes) bytes")
            }
            var request = request
            let body: ByteBuffer
            do {
                body = try await request.collectBody(upTo: maxBodyBytes)
            } catch is NIOTooManyBytesError {
                return JSONResponse.error(.contentTooLarge, "the body is over \(maxBodyBytes) bytes")
            }
            let picture: (frame: VideoFrame, size: FrameSize)
            do throws(StillImage.Failure) {
                picture = try StillImage.decode(
                    Array(buffer: body), as: encoding, maxPixels: maxPixels, fittingInto: inference.frameBox)
            } catch .tooManyPixels(let width, let height, let limit) {
                return JSONResponse.error(
                    .contentTooLarge,
                    "a \(width)x\(height) picture has more than \(limit) pixels (--max-pixels)")
            } catch {
                return JSONResponse.error(.badRequest, "\(error)")
            }
            let deadline = started + .milliseconds(Int64(timeout))
            switch await inference.infer(picture.frame, deadline: deadline) {
            case .document(var document):
                document.frame = Size(width: picture.size.width, height: picture.size.height)
                let body = try InferenceResult.encoder.encode(document)
                return JSONResponse.make(.ok, ByteBuffer(bytes: body))
            case .failed(let status):
                context.logger.debug("POST /v1/infer: \(status)")
                return failure(status, timeout: timeout)
            }
        }
    }

    /// The body's encoding from its headers, or the response that refuses it.
    enum BodyEncoding {
        case encoding(StillImage.Encoding)
        case refused(Response)
    }

    static func encodingOf(_ request: Request) -> BodyEncoding {
        let type =
            (request.headers[.contentType] ?? "").split(separator: ";").first
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        let raw: PixelFormat
        switch type {
        case "image/jpeg": return .encoding(.jpeg)
        case "image/png": return .encoding(.png)
        case "application/x-river-i420": raw = .i420
        case "application/x-river-rgb24": raw = .rgb24
        default:
            return .refused(
                JSONResponse.error(
                    .unsupportedMediaType,
                    "Content-Type must be image/jpeg, image/png, application/x-river-i420 or "
                        + "application/x-river-rgb24, not \"\(type)\""))
        }
        guard let width = request.headers[widthHeader].flatMap(Int.init),
            let height = request.headers[heightHeader].flatMap(Int.init)
        else {
            return .refused(
                JSONResponse.error(.badRequest, "raw pixels need Image-Width and Image-Height headers"))
        }
        return .encoding(.raw(raw, FrameSize(width: width, height: height)))
    }

    /// A picture that got no result, as its status code.
    static func failure(_ status: ResultMessage.Status, timeout: Int) -> Response {
        switch status {
        case .expired:
            return JSONResponse.error(.gatewayTimeout, "no result within \(timeout) ms")
        case .noWorker:
            return JSONResponse.error(.serviceUnavailable, "no worker is connected to the proxy")
        case .saturated:
            var response = JSONResponse.error(.serviceUnavailable, "every worker is busy; try again")
            response.headers[.retryAfter] = "1"
            return response
        case .workerLost:
            return JSONResponse.error(.badGateway, "the worker went away before it answered")
        case .workerFailed, .decodeError, .ok:
            return JSONResponse.error(.badGateway, "the worker's model failed on this picture")
        }
    }
}

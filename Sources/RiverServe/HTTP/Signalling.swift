import Hummingbird
import NIOCore
import RiverWebRTC

/// Creates and ends media sessions for the WHIP routes; the reflect service is one.
public protocol WHIPSessionFactory: Sendable {
    /// Answers an SDP offer from `address` (the peer's IP, nil when unknown) and starts a
    /// session. Throws ``OfferRejected`` for a malformed or unsupported offer (sent back as `400`
    /// with the reason), ``SessionRefused`` when admission says no (`503`/`429`).
    func createSession(offer: String, from address: String?) async throws -> (id: String, answer: String)
    /// Ends a session; false when no session has that id.
    func endSession(id: String) async throws -> Bool
    /// Answers a viewer's offer (WHEP) for the live session `session`. Throws ``ViewerRefused``
    /// (404, 429) besides what ``createSession(offer:from:)`` throws.
    func createViewer(of session: String, offer: String, from address: String?) async throws -> (
        id: String, answer: String
    )
    /// Live sessions (the debug endpoint and tests read it).
    func sessionCount() async throws -> Int
    /// Named counters for `GET /debug/sessions`, including `sessions`.
    func debugCounters() async throws -> [String: Int]
}

extension WHIPSessionFactory {
    public func debugCounters() async throws -> [String: Int] { ["sessions": try await sessionCount()] }
}

/// No session now, whatever the offer: the server or this address is at its limit.
public struct SessionRefused: Error, CustomStringConvertible {
    /// 503 (every slot taken) or 429 (this address).
    public var status: HTTPResponse.Status
    public var retryAfter: Int?
    public var description: String
}

/// An offer river cannot answer; `reason` is a sentence for the person who sent it.
public struct OfferRejected: Error, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// WHIP-style signalling (RFC 9725), non-trickle: the answer carries our candidates.
///
/// - `POST /whip` (`application/sdp` offer) → `201 Created`, `Location: /whip/{id}`, the answer.
/// - `DELETE /whip/{id}` → `200`, or `404` for an unknown session.
/// - `POST /whep/{id}` (a recvonly offer; WHEP, draft-ietf-wish-whep) → `201 Created`,
///   `Location: /whep/{id}/{viewer}`: a viewer of session `id`. `404` when there is no such
///   session, `429` when it has its most viewers.
/// - `DELETE /whep/{id}/{viewer}` → `200`, or `404`.
/// - `GET /debug/sessions` → `{"sessions": N, …counters}`.
public enum Signalling {
    /// Offers larger than this are refused; real offers are a few kilobytes.
    public static let maxOfferBytes = 64 * 1024

    public static func addRoutes<Context: RemoteAddressRequestContext>(
        to router: Router<Context>, sessions: some WHIPSessionFactory
    ) {
        router.post("/whip") { request, context -> Response in
            try await answer(request, context, route: "/whip") { offer, address in
                let (id, answer) = try await sessions.createSession(offer: offer, from: address)
                return ("/whip/\(id)", answer)
            }
        }
        router.delete("/whip/:id") { _, context -> Response in
            let id = try context.parameters.require("id")
            return try await sessions.endSession(id: id)
                ? text(.ok, "session ended\n") : text(.notFound, "no such session\n")
        }
        router.post("/whep/:id") { request, context -> Response in
            let session = try context.parameters.require("id")
            return try await answer(request, context, route: "/whep/{session}") { offer, address in
                let (id, answer) = try await sessions.createViewer(of: session, offer: offer, from: address)
                return ("/whep/\(session)/\(id)", answer)
            }
        }
        router.delete("/whep/:id/:viewer") { _, context -> Response in
            let id = try context.parameters.require("viewer")
            return try await sessions.endSession(id: id)
                ? text(.ok, "viewer ended\n") : text(.notFound, "no such viewer\n")
        }
    }

    /// One offer in, `201` with the answer and its resource out, or the error that says why not.
    private static func answer<Context: RemoteAddressRequestContext>(
        _ request: Request, _ context: Context, route: String,
        create: (_ offer: String, _ address: String?) async throws -> (location: String, answer: String)
    ) async throws -> Response {
        let contentType = request.headers[.contentType] ?? ""
        guard contentType.lowercased().hasPrefix("application/sdp") else {
            return text(
                .unsupportedMediaType,
                "POST \(route) needs Content-Type: application/sdp, got \"\(contentType)\"\n")
        }
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: maxOfferBytes)
        } catch is NIOTooManyBytesError {
            return text(.contentTooLarge, "offers are at most \(maxOfferBytes) bytes\n")
        }
        do {
            let address = context.remoteAddress.flatMap(Admission.key(of:))
            let (location, answer) = try await create(String(buffer: body), address)
            var headers = HTTPFields()
            headers[.contentType] = "application/sdp"
            headers[.location] = location
            return Response(
                status: .created, headers: headers, body: .init(byteBuffer: ByteBuffer(string: answer)))
        } catch let refused as SessionRefused {
            var response = text(refused.status, "\(refused.description)\n")
            if let retry = refused.retryAfter { response.headers[.retryAfter] = "\(retry)" }
            return response
        } catch let rejected as OfferRejected {
            context.logger.info("offer rejected: \(rejected.reason)")
            return text(.badRequest, "offer rejected: \(rejected.reason)\n")
        } catch let refused as ViewerRefused {
            switch refused {
            case .noSuchSession: return text(.notFound, "no such session to watch\n")
            case .tooManyViewers(let limit):
                return text(.tooManyRequests, "this session already has \(limit) viewers (--max-viewers)\n")
            }
        }
    }

    static func text(_ status: HTTPResponse.Status, _ message: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; charset=utf-8"
        return Response(
            status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: message)))
    }
}

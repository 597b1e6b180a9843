import Foundation
import Hummingbird
import NIOCore

/// What other programs read of the live sessions (docs/openapi.yaml):
///
/// - `GET /v1/sessions` → `{"sessions": [LiveSession…]}`, oldest first.
/// - `GET /v1/sessions/{id}/results` → the session's result messages as Server-Sent Events (the
///   WHATWG HTML standard, §9.2): `event: result` with the data channel's JSON, one per frame and
///   in order, `id:` its number among the session's messages; then `event: end` with the reason and
///   the session's count of messages when it ends. A reader that stops reading
///   is cut off (``ResultsFeed``).
///
/// A session's id authorizes its `DELETE`, so these routes are as closed as `/debug/*`: with a
/// token they need it (``BearerTokenMiddleware``); without one they answer loopback peers only.
///
/// Why SSE and not a WebSocket: the feed goes one way, SSE is plain HTTP (it passes the same TLS,
/// token and proxies as the rest of the API), `EventSource` in a browser and `curl -N` read it as
/// they are, and it needs no second protocol in the server.
enum SessionRoutes {
    static func add(to router: Router<ServeRequestContext>, sessions: SessionService, tokenRequired: Bool) {
        add(to: router, feed: sessions.feed, list: { sessions.liveSessions() }, tokenRequired: tokenRequired)
    }

    static func add(
        to router: Router<ServeRequestContext>, feed: ResultsFeed,
        list: @escaping @Sendable () -> [SessionService.LiveSession], tokenRequired: Bool
    ) {
        router.get("/v1/sessions") { _, context -> Response in
            if let refused = refusal(context, tokenRequired: tokenRequired) { return refused }
            struct Listing: Encodable { var sessions: [SessionService.LiveSession] }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let body = try encoder.encode(Listing(sessions: list()))
            return JSONResponse.make(.ok, ByteBuffer(bytes: body))
        }
        router.get("/v1/sessions/:id/results") { _, context -> Response in
            if let refused = refusal(context, tokenRequired: tokenRequired) { return refused }
            let id = try context.parameters.require("id")
            let channel = context.channel
            let subscription: ResultsFeed.Subscription
            do {
                // A reader cut off may be stuck in a write the peer never drains: closing the
                // connection ends that write.
                subscription = try feed.subscribe(session: id) { channel.close(promise: nil) }
            } catch let refusal as ResultsFeed.Refusal {
                switch refusal {
                case .noSuchSession: return JSONResponse.error(.notFound, "no such session")
                case .tooManySubscribers(let limit):
                    return JSONResponse.error(
                        .tooManyRequests, "this session already has \(limit) results readers")
                }
            }
            var headers = HTTPFields()
            headers[.contentType] = "text/event-stream"
            headers[.cacheControl] = "no-store"
            return Response(
                status: .ok, headers: headers,
                body: ResponseBody { writer in
                    defer { subscription.cancel() }
                    try await writer.write(ByteBuffer(string: ": results of session \(id)\n\n"))
                    for await item in subscription.items {
                        switch item {
                        case .result(let sequence, let message):
                            try await writer.write(
                                ByteBuffer(string: "id: \(sequence)\nevent: result\ndata: \(message)\n\n"))
                        case .end(let reason, let results):
                            try await writer.write(
                                ByteBuffer(
                                    string:
                                        "event: end\ndata: {\"reason\":\(JSONResponse.quoted(reason)),\"results\":\(results)}\n\n"
                                ))
                        }
                    }
                    try await writer.finish(nil)
                })
        }
    }

    /// A 403 for a peer off loopback when no token guards these routes.
    static func refusal(_ context: ServeRequestContext, tokenRequired: Bool) -> Response? {
        guard !tokenRequired, !HTTPSChannel.isLoopback(context.remoteAddress) else { return nil }
        return JSONResponse.error(
            .forbidden, "without --token, the session API answers this machine (loopback) only")
    }
}

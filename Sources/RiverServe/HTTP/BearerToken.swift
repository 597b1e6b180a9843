import Foundation
import Hummingbird

/// WHIP access control with a bearer token (RFC 9725 §4.5, RFC 6750): with a token set, every
/// request that changes state (POST, PATCH, DELETE) and every read of `/metrics` and `/debug/*`
/// and of the session API (`/v1/…`) must carry `Authorization: Bearer <token>` (PUT too, though river has no PUT route). Anything else is answered `401` with
/// `WWW-Authenticate: Bearer` before its body is read, so a refused offer allocates nothing: no
/// session, no thread, no decoder.
///
/// The page, `/healthz` and the app's files stay public: the page asks for the token itself.
struct BearerTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: [UInt8]

    init(token: String) {
        self.token = Array(token.utf8)
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        guard Self.needsToken(request), !authorized(request) else { return try await next(request, context) }
        // A resource path names a session; its id authorizes DELETE, so only a prefix is logged.
        let path = request.uri.path
        let shown =
            path.hasPrefix("/whip/") || path.hasPrefix("/whep/") ? String(path.prefix(14)) + "…" : path
        context.logger.info("refused \(request.method) \(shown): missing or wrong bearer token")
        var headers = HTTPFields()
        headers[.wwwAuthenticate] = "Bearer realm=\"river\""
        headers[.contentType] = "text/plain; charset=utf-8"
        return Response(
            status: .unauthorized, headers: headers,
            body: .init(
                byteBuffer: ByteBuffer(string: "this river server needs Authorization: Bearer <token>\n")))
    }

    static func needsToken(_ request: Request) -> Bool {
        switch request.method {
        case .post, .patch, .delete, .put: return true
        default:
            let path = request.uri.path
            return path == "/metrics" || path.hasPrefix("/debug/") || path.hasPrefix("/v1/")
        }
    }

    private func authorized(_ request: Request) -> Bool {
        guard let value = request.headers[.authorization], value.count > 7,
            value.prefix(7).lowercased() == "bearer "
        else { return false }
        return Self.constantTimeEqual(Array(value.dropFirst(7).utf8), token)
    }

    /// Compares without an early exit, so the time taken says nothing about how much matched.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
        for i in 0..<max(a.count, b.count) {
            difference |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return difference == 0
    }
}

/// Reads `--token` / `--token-file` into the token serve requires, or fails naming the file.
public enum AccessToken {
    public struct Unusable: Error, CustomStringConvertible {
        public var description: String
    }

    public static func load(token: String?, file: String?) throws(Unusable) -> String? {
        if token != nil && file != nil {
            throw Unusable(description: "give --token or --token-file, not both")
        }
        var value = token
        if let file {
            do {
                value = try String(contentsOfFile: file, encoding: .utf8)
            } catch {
                throw Unusable(
                    description: "--token-file \(file): cannot read it (\(error.localizedDescription))")
            }
        }
        guard let value else { return nil }
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else {
            throw Unusable(description: file.map { "--token-file \($0) is empty" } ?? "--token is empty")
        }
        guard trimmed.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 0x20 && $0.value < 0x7F }) else {
            throw Unusable(
                description: "the token must be printable ASCII without spaces (RFC 6750 b64token)")
        }
        return trimmed
    }
}

import Foundation
import Hummingbird
import NIOCore

/// The JSON answers of serve's API and operator routes: `application/json`, never cached.
enum JSONResponse {
    static func make(_ status: HTTPResponse.Status, _ body: ByteBuffer) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: body))
    }

    static func make(_ status: HTTPResponse.Status, _ body: String) -> Response {
        make(status, ByteBuffer(string: body))
    }

    /// An error as the API's JSON: `{"error": "…"}`.
    static func error(_ status: HTTPResponse.Status, _ reason: String) -> Response {
        make(status, "{\"error\":\(quoted(reason))}\n")
    }

    /// `text` as a JSON string.
    static func quoted(_ text: String) -> String {
        (try? JSONEncoder().encode(text)).map { String(decoding: $0, as: UTF8.self) } ?? "\"\""
    }
}

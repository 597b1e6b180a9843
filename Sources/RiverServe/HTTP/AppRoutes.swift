import Foundation
import Hummingbird

/// What `GET /healthz` reports: 200 when `healthy`, else 503; the fields become its JSON body.
public struct HealthReport: Sendable {
    public var healthy: Bool
    public var fields: [String: Int]

    public init(healthy: Bool = true, fields: [String: Int] = [:]) {
        self.healthy = healthy
        self.fields = fields
    }
}

/// The web app (`Sources/RiverServe/App`, plain ES modules, no build step) and `/healthz`.
///
/// The app's files are read once from the module's resource bundle and served from memory; only
/// names found in that folder are served, so a request path can never reach another file.
public struct AppRoutes: Sendable {
    struct File: Sendable {
        var contentType: String
        var bytes: ByteBuffer
    }

    private let files: [String: File]

    /// A missing or unreadable resource folder (a binary copied away from its `.resources`).
    public struct MissingApp: Error, CustomStringConvertible {
        public var folder: String
        public var description: String { "the web app's files are missing: no readable folder \(folder)" }
    }

    /// Loads the bundled app.
    public init() throws {
        guard let folder = Bundle.module.url(forResource: "App", withExtension: nil) else {
            throw MissingApp(folder: "App in \(Bundle.module.bundlePath)")
        }
        try self.init(folder: folder)
    }

    /// Loads the app from `folder` (tests point it elsewhere).
    public init(folder: URL) throws {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else {
            throw MissingApp(folder: folder.path)
        }
        var files: [String: File] = [:]
        for name in names {
            guard let type = Self.contentType(of: name),
                let data = FileManager.default.contents(atPath: folder.appendingPathComponent(name).path)
            else { continue }
            files[name] = File(contentType: type, bytes: ByteBuffer(bytes: data))
        }
        guard files["index.html"] != nil else {
            throw MissingApp(folder: folder.appendingPathComponent("index.html").path)
        }
        self.files = files
    }

    /// Names of the files served (for tests and logs).
    public var fileNames: [String] { files.keys.sorted() }

    /// Content types by extension; JavaScript must be `text/javascript` or browsers refuse the
    /// modules (HTML spec, "module script" MIME check).
    static func contentType(of name: String) -> String? {
        switch (name as NSString).pathExtension.lowercased() {
        case "html": "text/html; charset=utf-8"
        case "js", "mjs": "text/javascript; charset=utf-8"
        case "css": "text/css; charset=utf-8"
        case "json": "application/json"
        case "svg": "image/svg+xml"
        case "png": "image/png"
        case "ico": "image/x-icon"
        default: nil
        }
    }

    /// Adds `GET /`, `GET /{file}`, `GET /watch/{session}` (the viewer's page: it reads the session
    /// from its own path) and `GET /healthz`.
    public func addRoutes<Context: RequestContext>(
        to router: Router<Context>,
        health: @escaping @Sendable () async -> HealthReport = { HealthReport() }
    ) {
        let files = self.files
        @Sendable func serve(_ name: String) -> Response {
            guard let file = files[name] else {
                return Signalling.text(.notFound, "no such file: \(name)\n")
            }
            var headers = HTTPFields()
            headers[.contentType] = file.contentType
            // The page must never run yesterday's modules against today's server.
            headers[.cacheControl] = "no-cache"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: file.bytes))
        }
        router.get("/") { _, _ in serve("index.html") }
        router.get("/watch/:session") { _, _ in serve("watch.html") }
        router.get("/healthz") { _, _ -> Response in
            let report = await health()
            let fields = (["ok": report.healthy ? 1 : 0].merging(report.fields) { a, _ in a })
                .sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ")
            return JSONResponse.make(report.healthy ? .ok : .serviceUnavailable, "{\(fields)}\n")
        }
        router.get("/:file") { _, context -> Response in
            serve(try context.parameters.require("file"))
        }
    }
}

import Hummingbird
import NIOCore
import RiverSCTP

/// What an operator reads, not a browser: `GET /metrics` (Prometheus text format, pipeline mode
/// only), `GET /debug/sessions` and `GET /debug/datachannels`.
///
/// They are served on the public port, behind the bearer token when one is set
/// (``BearerTokenMiddleware``), or with `--admin-port` only on a plain-HTTP loopback port of their own
/// (``ServeApp``), so a Prometheus on the same host scrapes them without the token and nobody else
/// reaches them at all.
enum AdminRoutes {
    static func add<Context: RequestContext>(
        to router: Router<Context>, sessions: some WHIPSessionFactory, metrics: ServeMetrics?
    ) {
        if let metrics {
            router.get("/metrics") { _, _ -> Response in
                var headers = HTTPFields()
                // The Prometheus text exposition format, version 0.0.4.
                headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
                headers[.cacheControl] = "no-store"
                return Response(
                    status: .ok, headers: headers,
                    body: .init(byteBuffer: ByteBuffer(string: await metrics.renderFresh())))
            }
        }
        router.get("/debug/sessions") { _, _ -> Response in
            let counters = try await sessions.debugCounters()
            let fields = counters.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }
            return JSONResponse.make(.ok, "{\(fields.joined(separator: ", "))}\n")
        }
        // Live SCTP associations and data channels in this process (tests watch them return to 0).
        router.get("/debug/datachannels") { _, _ -> Response in
            JSONResponse.make(
                .ok,
                "{\"associations\": \(SCTPAssociation.liveCount), \"channels\": \(SCTPAssociation.channelCount)}\n"
            )
        }
    }
}

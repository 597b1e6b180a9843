import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
import UnixSignals

#if canImport(Glibc)
    import Glibc
#endif

/// serve's HTTP server: Hummingbird's HTTP/1.1 server and router, run as one `Service`.
///
/// Why not Hummingbird's `Application`: it adds a date-cache service whose timer fires every
/// second for the life of the process, which alone made an idle `river serve` wake about seven
/// times a second (the timer and the task hops on the Swift concurrency pool). Here the `Date`
/// header (RFC 9110 §6.6.1) is formatted when a response needs it, at most once per second, so an
/// idle server sleeps. Everything else is what `Application` does: each request gets a
/// ``ServeRequestContext`` (the request's logger and peer address), an error the router did not turn into a
/// response becomes a 500, and `Server: river` is set.
///
/// With a ``TLSIdentity`` it speaks HTTPS (``HTTPSChannel``: plain HTTP stays open to loopback
/// peers) and reloads the certificate on SIGHUP. A connection idle for a minute is closed.
struct HTTPService: Service, CustomStringConvertible {
    let responder: RouterResponder<ServeRequestContext>
    let host: String
    let port: Int
    /// The option that moves `port`, named when it cannot be bound.
    let portOption: String
    let identity: TLSIdentity?
    let logger: Logger
    let onServerRunning: @Sendable (any Channel) async -> Void
    var description: String { "http \(host):\(port)" }

    init(
        router: Router<ServeRequestContext>, host: String, port: Int, portOption: String = "--http-port",
        identity: TLSIdentity?, logger: Logger,
        onServerRunning: @escaping @Sendable (any Channel) async -> Void
    ) {
        responder = router.buildResponder()
        self.host = host
        self.port = port
        self.portOption = portOption
        self.identity = identity
        self.logger = logger
        self.onServerRunning = onServerRunning
    }

    func run() async throws {
        guard let identity else { return try await serve() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in await UnixSignalsSequence(trapping: .sighup) {
                    do {
                        let loaded = try identity.reload()
                        logger.info(
                            "reloaded the certificate \(loaded.certificatePath): sha256 \(loaded.fingerprint)"
                        )
                    } catch {
                        logger.error("SIGHUP: \(error); the certificate in use stays")
                    }
                }
            }
            defer { group.cancelAll() }
            try await serve()
        }
    }

    static let maxConnections = 512

    private var builder: HTTPServerBuilder {
        let configuration = HTTP1Channel.Configuration(idleTimeout: .seconds(60))
        guard let identity else { return .http1(configuration: configuration) }
        return HTTPServerBuilder { responder in
            HTTPSChannel(
                app: HTTP1Channel(responder: responder, configuration: configuration),
                redirect: HTTP1Channel(
                    responder: HTTPSChannel.redirectResponder(), configuration: configuration),
                identity: identity, firstByteTimeout: .seconds(10))
        }
    }

    private func serve() async throws {
        let (responder, logger) = (self.responder, self.logger)
        let server = try builder.buildServer(
            configuration: ServerConfiguration(
                address: .hostname(host, port: port), serverName: "river",
                // Past this many open connections the server stops accepting until some close, so
                // idle or slow clients cannot take every file descriptor.
                availableConnectionsDelegate: MaximumAvailableConnections(Self.maxConnections, logger: logger)
            ),
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger,
            responder: { request, responseWriter, channel in
                let context = ServeRequestContext(source: .init(channel: channel, logger: logger))
                var response: Response
                do {
                    response = try await responder.respond(to: request, context: context)
                } catch {
                    logger.debug("unhandled error: \(error)")
                    response = Response(status: .internalServerError)
                }
                response.headers[.date] = HTTPDate.now
                response.headers[.server] = "river"
                try await responseWriter.write(response: response.head, body: response.body)
            }, onServerRunning: onServerRunning)
        do {
            try await server.run()
        } catch let error as IOError where error.errnoCode == EADDRINUSE || error.errnoCode == EADDRNOTAVAIL {
            throw BindFailure(what: "HTTP", host: host, port: port, option: portOption, error)
        }
    }
}

/// The `Date` header value (IMF-fixdate, RFC 9110 §5.6.7), formatted at most once a second.
enum HTTPDate {
    private static let cache = Mutex<(second: Int, text: String)>((-1, ""))
    private static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]

    static var now: String {
        var seconds = time(nil)
        return cache.withLock { cache in
            if cache.second != seconds {
                cache = (seconds, format(&seconds))
            }
            return cache.text
        }
    }

    static func format(_ seconds: inout time_t) -> String {
        var t = tm()
        gmtime_r(&seconds, &t)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(days[Int(t.tm_wday)]), \(two(t.tm_mday)) \(months[Int(t.tm_mon)]) \(1900 + t.tm_year) "
            + "\(two(t.tm_hour)):\(two(t.tm_min)):\(two(t.tm_sec)) GMT"
    }
}

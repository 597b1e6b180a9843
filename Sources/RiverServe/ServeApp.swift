import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import RiverBroker
import RiverCore
import RiverMedia
import RiverSession
import RiverWebRTC
import ServiceLifecycle

/// Settings for `river serve`.
public struct ServeOptions: Sendable {
    /// Address the HTTP and UDP sockets bind to.
    public var host: String
    public var httpPort: Int
    /// The one UDP port for every WebRTC session; 0 picks a free one.
    public var udpPort: Int
    /// Addresses to announce as candidates (NAT 1:1); empty announces the bound address.
    public var publicIPs: [String]
    /// REMB cap sent upstream, bits per second.
    public var rembBitrate: UInt64
    public var consentTimeout: Duration
    /// With a token, POST/PATCH/DELETE and `/metrics`, `/debug/*` need `Authorization: Bearer`
    /// (``BearerTokenMiddleware``).
    public var token: String?
    /// HTTPS, or nil for plain HTTP (loopback only: see ``HTTPS/required(host:)``).
    public var https: HTTPS?
    /// The ICE-TCP port (RFC 6544 passive candidates, for networks that block UDP).
    public var tcp: WebRTCServer.Configuration.TCPPort = .sameAsUDP
    /// Admission caps and session lifetimes.
    public var limits = SessionService.Limits()
    /// `--admin-port`: serve `/metrics` and `/debug/*` (``AdminRoutes``) on plain HTTP at
    /// 127.0.0.1 on this port (0 picks one), without the token, and not on the public port. nil
    /// keeps them on the public port, behind the token when one is set.
    public var adminPort: Int?

    /// Where serve's HTTPS certificate comes from.
    public enum HTTPS: Sendable, Equatable {
        /// `--tls-cert`/`--tls-key`.
        case certificate(chain: String, key: String)
        /// A self-signed certificate made once and kept under the state directory.
        case selfSigned(stateDirectory: String)

        /// A browser gives a page the camera only in a secure context: `http://` is one on
        /// loopback alone (W3C Secure Contexts §3.1), so any other bound address needs HTTPS.
        public static func required(host: String) -> Bool {
            !(host == "localhost" || host == "::1" || host.hasPrefix("127."))
        }

        /// `$XDG_STATE_HOME/river`, else `~/.local/state/river` (XDG Base Directory).
        public static var defaultStateDirectory: String {
            let environment = ProcessInfo.processInfo.environment
            if let state = environment["XDG_STATE_HOME"], state.hasPrefix("/") {
                return (state as NSString).appendingPathComponent("river")
            }
            let home = environment["HOME"] ?? NSHomeDirectory()
            return (home as NSString).appendingPathComponent(".local/state/river")
        }
    }

    public init(
        host: String = "127.0.0.1", httpPort: Int = 8080, udpPort: Int = 0, publicIPs: [String] = [],
        rembBitrate: UInt64 = 2_500_000, consentTimeout: Duration = .seconds(10), token: String? = nil,
        https: HTTPS? = nil
    ) {
        self.token = token
        self.https = https
        self.host = host
        self.httpPort = httpPort
        self.udpPort = udpPort
        self.publicIPs = publicIPs
        self.rembBitrate = rembBitrate
        self.consentTimeout = consentTimeout
    }
}

/// Settings of `river serve --proxy …` beyond ``ServeOptions``.
public struct PipelineServeOptions: Sendable {
    /// The proxy's frontend endpoint, e.g. `tcp://127.0.0.1:5555`.
    public var proxy: String
    public var delay: PipelineDelay
    /// Inference requests each session keeps out at once. nil (the default) follows the proxy:
    /// its total worker slots (CAPACITY, learned at every heartbeat) shared among the live
    /// sessions, see `SessionConfiguration.Inference.fairShare(totalSlots:sessions:)`.
    public var maxInFlight: Int?
    /// Metrics to record into (`/metrics`); a fresh registry when nil.
    public var metrics: ServeMetrics?
    /// The most pixels a decoded picture may have (`--max-pixels`); larger streams' frames are
    /// answered `decodeError`.
    public var maxPixels: Int
    /// The proxy's public key and serve's own pair; nil for the NULL mechanism.
    public var curve: PeerCurve?
    /// Each session's recording (`--record`), or none.
    public var recording: RecordingOptions?
    /// Where every session's results are POSTed in batches (`--results-webhook`), or nowhere.
    public var resultsWebhook: WebhookEndpoint?

    public init(
        proxy: String, delay: PipelineDelay = .fixed(.seconds(3)), maxInFlight: Int? = nil,
        metrics: ServeMetrics? = nil, maxPixels: Int = H264Decoder.defaultMaxPixels, curve: PeerCurve? = nil
    ) {
        self.proxy = proxy
        self.curve = curve
        self.delay = delay
        self.maxInFlight = maxInFlight
        self.metrics = metrics
        self.maxPixels = maxPixels
    }
}

/// `river serve`: the WHIP routes, the page, and the shared WebRTC UDP port.
///
/// Each runs its parts as services of one `ServiceGroup` until SIGINT or SIGTERM: `services`
/// (the caller's, e.g. a watch on the parent process), the broker client when there is one, the
/// UDP server, and the HTTP server (``HTTPService``). Shutdown is graceful and in the reverse order:
/// the HTTP server stops taking requests, then every session is closed and the UDP socket with
/// it, then the broker client; then the run returns. Any of them returning or throwing on its own
/// shuts the rest down the same way.
public enum ServeApp {
    /// `river serve --reflect`: every session's video goes back to the same browser. Prints one
    /// line `river serve: http=<port> udp=<port>` once both sockets are bound, so scripts and tests
    /// can use port 0.
    public static func runReflect(
        _ options: ServeOptions, logger: Logger, services: [any Service] = []
    ) async throws {
        try warmUp(decoder: false, logger: logger)
        let identity = try tlsIdentity(options, logger: logger)
        let server = try await bindUDP(options, logger: logger)
        let announced = try candidateAddresses(options)
        let service = SessionService(
            server: server, candidateAddresses: announced, rembBitrate: options.rembBitrate,
            limits: options.limits,
            logger: logger)
        let router = Router(context: ServeRequestContext.self)
        if let token = options.token { router.add(middleware: BearerTokenMiddleware(token: token)) }
        Signalling.addRoutes(to: router, sessions: service)
        SessionRoutes.add(to: router, sessions: service, tokenRequired: options.token != nil)
        let admin = adminRouter(options)
        AdminRoutes.add(to: admin ?? router, sessions: service, metrics: nil)
        router.get("/") { _, _ -> Response in
            var headers = HTTPFields()
            headers[.contentType] = "text/html; charset=utf-8"
            return Response(
                status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: ReflectPage.html)))
        }
        try await run(
            services + [UDPServerService(server: server)], router: router, admin: admin, options: options,
            identity: identity,
            logger: logger
        ) { httpPort in
            "river serve: http=\(httpPort) udp=\(server.port) tcp=\(server.tcpPort ?? 0) candidates=\(announced.joined(separator: ","))"
        }
    }

    /// `river serve --proxy …`: every session's video comes back after the delay, with a result
    /// message per frame on data channel `river` from the workers behind the proxy. Prints the same
    /// `river serve: http=… udp=…` line as reflect once both sockets are bound.
    public static func runPipeline(
        _ options: ServeOptions, pipeline: PipelineServeOptions, logger: Logger, services: [any Service] = [],
        addRoutes: @Sendable (Router<ServeRequestContext>) throws -> Void = { _ in }
    ) async throws {
        try warmUp(decoder: true, logger: logger)
        let identity = try tlsIdentity(options, logger: logger)
        let server = try await bindUDP(options, logger: logger)
        let announced = try candidateAddresses(options)
        let client = BrokerClient(
            connect: pipeline.proxy, configuration: ClientConfiguration(curve: pipeline.curve), logger: logger
        )
        let metrics = pipeline.metrics ?? ServeMetrics()
        // The proxy reports its workers and queue with every heartbeat answer (CAPACITY); /metrics
        // reads the last report, and the UDP server's drop counters, when it renders.
        metrics.refreshBeforeRender {
            metrics.record(capacity: client.capacity)
            if let counters = try? await server.counters() {
                metrics.record(
                    datagramsDropped: counters.droppedByLimits.merging([
                        "unknownKind": counters.droppedUnknownKind, "unrouted": counters.droppedUnrouted,
                        "session": counters.droppedBySessions, "addressInUse": counters.droppedAddressInUse,
                        "unwritable": counters.droppedUnwritable,
                    ]) { $1 })
            }
        }
        let service = SessionService(
            server: server, candidateAddresses: announced, rembBitrate: options.rembBitrate,
            pipeline: .init(
                delay: pipeline.delay, backend: client, maxInFlight: pipeline.maxInFlight,
                totalSlots: { client.capacity?.totalSlots }, maxPixels: pipeline.maxPixels,
                recording: pipeline.recording),
            metrics: metrics, limits: options.limits,
            webhook: pipeline.resultsWebhook.map {
                ResultsWebhook(endpoint: $0, metrics: metrics, logger: logger)
            },
            logger: logger)
        let router = Router(context: ServeRequestContext.self)
        if let token = options.token { router.add(middleware: BearerTokenMiddleware(token: token)) }
        Signalling.addRoutes(to: router, sessions: service)
        SessionRoutes.add(to: router, sessions: service, tokenRequired: options.token != nil)
        let admin = adminRouter(options)
        AdminRoutes.add(to: admin ?? router, sessions: service, metrics: metrics)
        InferRoute.add(to: router, inference: client, maxPixels: pipeline.maxPixels)
        // Readiness, unlike /healthz (liveness): a session started now would get results only
        // with a proxy that answers and at least one worker behind it.
        router.get("/readyz") { _, _ -> Response in
            let capacity = client.answeringCapacity
            let workers = capacity?.workers ?? 0
            let reason =
                capacity == nil
                ? "no answer from the proxy" : workers == 0 ? "no worker behind the proxy" : nil
            let body =
                "{\"ready\": \(reason == nil), \"workers\": \(workers)"
                + (reason.map { ", \"reason\": \"\($0)\"" } ?? "") + "}\n"
            return JSONResponse.make(reason == nil ? .ok : .serviceUnavailable, body)
        }
        do {
            try addRoutes(router)
        } catch {
            client.close()
            try? await server.shutdown()
            throw error
        }
        let parts: [any Service] =
            [BrokerClientService(client: client), UDPServerService(server: server)]
            + (service.webhook.map { [$0] } ?? [])
        try await run(
            services + parts, router: router, admin: admin, options: options, identity: identity,
            logger: logger
        ) {
            httpPort in
            "river serve: http=\(httpPort) udp=\(server.port) tcp=\(server.tcpPort ?? 0) candidates=\(announced.joined(separator: ","))"
                + " proxy=\(pipeline.proxy) delay=\(pipeline.delay)"
        }
    }

    /// Start-up, before any socket is bound: tunes glibc malloc (``HeapTrim/tuneMalloc()``), then runs
    /// the one-time initialisation every session would otherwise trigger — OpenSSL, libsrtp and
    /// usrsctp (``MediaStackWarmUp``) and, when sessions decode, libavcodec's H264 decoder
    /// (`H264Decoder.warmUp()`). Those libraries keep what they set up for the life of the
    /// process, so done here it is part of the ready server's footprint, instead of arriving with
    /// the first session and staying after it ends; and a broken library stops the start with a
    /// clear error instead of failing every session.
    static func warmUp(decoder: Bool, logger: Logger) throws {
        HeapTrim.tuneMalloc()
        let start = ContinuousClock.now
        try MediaStackWarmUp.run()
        if decoder { try H264Decoder.warmUp() }
        logger.debug("media stack warmed up in \(ContinuousClock.now - start)")
    }

    /// Runs `services` and then the HTTP server for `router` in one group (see ``ServeApp``). Once
    /// the HTTP socket is bound it prints `announcement(httpPort)` as one unbuffered line, so a
    /// parent reading our stdout through a pipe (`river up`, the tests) learns the ports at once.
    /// The line ends with `urls=` (where a browser opens the page, ``pageURLs(_:port:https:)``)
    /// and, with HTTPS, `sha256=` (the certificate's fingerprint).
    ///
    /// With an `admin` router (``adminRouter(_:)``) a second HTTP server serves it on 127.0.0.1 at
    /// `--admin-port` and prints `river serve admin: http://127.0.0.1:<port>/` once bound.
    private static func run(
        _ services: [any Service], router: Router<ServeRequestContext>, admin: Router<ServeRequestContext>?,
        options: ServeOptions, identity: TLSIdentity?, logger: Logger,
        announcement: @escaping @Sendable (Int) -> String
    ) async throws {
        var services = services
        if let admin, let adminPort = options.adminPort {
            services.append(
                HTTPService(
                    router: admin, host: "127.0.0.1", port: adminPort, portOption: "--admin-port",
                    identity: nil,
                    logger: logger,
                    onServerRunning: { channel in
                        let port = channel.localAddress?.port ?? adminPort
                        FileHandle.standardOutput.write(
                            Data("river serve admin: http://127.0.0.1:\(port)/\n".utf8))
                    }))
        }
        let http = HTTPService(
            router: router, host: options.host, port: options.httpPort, identity: identity, logger: logger,
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? options.httpPort
                let urls = (try? pageURLs(options, port: port, https: identity != nil)) ?? []
                var line = announcement(port) + " urls=\(urls.joined(separator: ","))"
                if let identity { line += " sha256=\(identity.loaded.fingerprint)" }
                FileHandle.standardOutput.write(Data((line + "\n").utf8))
            })
        try await ServiceRunner.run(services + [http], logger: logger)
    }

    /// The router for ``AdminRoutes`` when `--admin-port` gives them a loopback server of their own;
    /// nil puts them on the public router.
    static func adminRouter(_ options: ServeOptions) -> Router<ServeRequestContext>? {
        options.adminPort == nil ? nil : Router(context: ServeRequestContext.self)
    }

    /// The shared UDP port; a port that cannot be bound fails naming it and the option that moves it.
    static func bindUDP(_ options: ServeOptions, logger: Logger) async throws -> WebRTCServer {
        do {
            return try await WebRTCServer.bind(
                .init(
                    host: options.host, port: options.udpPort, consentTimeout: options.consentTimeout,
                    tcp: options.tcp),
                logger: logger)
        } catch let failure as TCPBindFailure {
            throw BindFailure(
                what: "ICE-TCP", host: options.host, port: failure.port,
                option: "--tcp-port (or --no-ice-tcp)", failure.underlying)
        } catch {
            throw BindFailure(
                what: "UDP", host: options.host, port: options.udpPort, option: "--udp-port", error)
        }
    }

    /// The addresses announced as host candidates: the `--public-ip`s, else the bound address,
    /// else (bound to `0.0.0.0` or `::`) every usable interface address of that family
    /// (``interfaceAddresses(ipv6:)``), or loopback when the machine has none.
    static func candidateAddresses(_ options: ServeOptions) throws -> [String] {
        if !options.publicIPs.isEmpty { return options.publicIPs }
        guard isWildcard(options.host) else { return [options.host] }
        let addresses = try interfaceAddresses(ipv6: options.host == "::")
        return addresses.isEmpty ? ["127.0.0.1"] : addresses
    }

    /// Where a browser opens the page: on a wildcard bind one `https://` URL per interface address
    /// and plain `http://127.0.0.1` (served to loopback peers, ``HTTPSChannel``); else the bound
    /// address. IPv6 addresses in brackets (RFC 3986 §3.2.2).
    static func pageURLs(_ options: ServeOptions, port: Int, https: Bool) throws -> [String] {
        let scheme = https ? "https" : "http"
        func url(_ scheme: String, _ host: String) -> String {
            let shown = host.contains(":") ? "[\(host)]" : host
            return "\(scheme)://\(shown):\(port)/"
        }
        guard isWildcard(options.host) else { return [url(scheme, options.host)] }
        return try interfaceAddresses(ipv6: options.host == "::").map { url(scheme, $0) }
            + [url("http", "127.0.0.1")]
    }

    /// Every address of an interface that is up, without loopback and IPv6 link-local
    /// (fe80::/10, which needs a zone that neither candidates nor URLs can carry): IPv4 ones,
    /// and IPv6 ones too when `ipv6` (a socket bound to `::` takes both).
    static func interfaceAddresses(ipv6: Bool) throws -> [String] {
        var seen = Set<String>()
        var v4: [String] = []
        var v6: [String] = []
        for device in try System.enumerateDevices() {
            guard let address = device.address, let ip = address.ipAddress, seen.insert(ip).inserted else {
                continue
            }
            switch address {
            case .v4 where !ip.hasPrefix("127."): v4.append(ip)
            case .v6
            where ipv6 && ip != "::1" && !ip.lowercased().hasPrefix("fe8") && !ip.hasPrefix("::ffff:"):
                v6.append(ip)
            default: break
            }
        }
        return v4 + v6
    }

    static func isWildcard(_ host: String) -> Bool { host == "0.0.0.0" || host == "::" }

    /// The HTTPS certificate, loaded (and, self-signed, made) before any socket is bound, so a
    /// bad file stops the start naming it. The self-signed one covers every name the server is
    /// reached by: `localhost`, this host's name, loopback, the interface addresses and the
    /// `--public-ip`s.
    static func tlsIdentity(_ options: ServeOptions, logger: Logger) throws -> TLSIdentity? {
        switch options.https {
        case nil:
            return nil
        case .certificate(let chain, let key):
            return try TLSIdentity(.files(certificate: chain, key: key))
        case .selfSigned(let directory):
            var names = ["localhost", "127.0.0.1", "::1"]
            var hostname = [CChar](repeating: 0, count: 256)
            if gethostname(&hostname, hostname.count - 1) == 0 {
                let name = String(cString: hostname)
                if !name.isEmpty && !name.contains(" ") { names.append(name) }
            }
            names += isWildcard(options.host) ? try interfaceAddresses(ipv6: true) : [options.host]
            names += options.publicIPs
            var unique = Set<String>()
            names = names.filter { unique.insert($0).inserted }
            let identity = try TLSIdentity(.selfSigned(stateDirectory: directory, names: names))
            let loaded = identity.loaded
            if loaded.created {
                logger.notice(
                    "made a self-signed certificate \(loaded.certificatePath) for \(names.joined(separator: ", ")): sha256 \(loaded.fingerprint); a browser must trust it once (README, HTTPS)"
                )
            }
            return identity
        }
    }
}

/// `--delay`, as the engine takes it (re-exported so the command line needs only RiverServe).
public typealias PipelineDelay = RiverSession.PipelineDelay

/// The shared UDP port: it serves sessions from the moment it is bound; when the group shuts down
/// (or is cancelled) every session is closed (`serverShutdown`), and the socket with them.
private struct UDPServerService: Service, CustomStringConvertible {
    let server: WebRTCServer
    var description: String { "webrtc-udp" }

    func run() async throws {
        try? await gracefulShutdown()
        try await server.shutdown()
    }
}

/// The proxy client of `river serve --proxy`: when the group shuts down (or is cancelled) it is
/// closed, ending the requests still out with `BrokerError.closed`. It stops after the UDP
/// server, so no session is left sending to a closed client.
private struct BrokerClientService: Service, CustomStringConvertible {
    let client: BrokerClient
    var description: String { "broker-client" }

    func run() async {
        try? await gracefulShutdown()
        client.close()
    }
}

/// A socket serve could not bind: which one, the option that changes it, and why.
public struct BindFailure: Error, CustomStringConvertible {
    public let description: String

    init(what: String, host: String, port: Int, option: String, _ error: any Error) {
        let reason: String
        if let io = error as? IOError, io.errnoCode == EADDRINUSE {
            reason = "the port is already in use; choose another with \(option), or 0 for a free one"
        } else if let io = error as? IOError, io.errnoCode == EADDRNOTAVAIL {
            reason = "\(host) is not an address of this machine (--host)"
        } else {
            reason = "\(error) (\(option), --host)"
        }
        description = "cannot bind \(what) \(host):\(port): \(reason)"
    }
}

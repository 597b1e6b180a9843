import CZMQ
import Logging

/// `river proxy`: a ROUTER facing clients (frontend) and a ROUTER facing workers (backend), with
/// `ProxyCore` deciding who gets what.
///
/// Both ROUTERs are libzmq sockets served by one thread (``ProxyLoop``). With ``ProxyCurve`` every
/// connection is CURVE (RFC 26) and authenticated by the proxy's own ZAP handler (RFC 27): client
/// keys on the frontend only, worker keys on the backend only. Without it the NULL mechanism is
/// used, and only loopback addresses may be bound unless the caller says otherwise.
public final class BrokerProxy: Sendable {
    /// The endpoints actually bound (a `*` port resolved to the real one).
    public let frontendEndpoint: String
    public let backendEndpoint: String
    /// Whether connections are CURVE.
    public let isCurve: Bool

    private let loop: ProxyLoop
    private let context: ZMQContext
    /// libzmq names the proxy's I/O thread `1/ZMQbg/IO/0`; with `river-proxy` it does all the
    /// proxy's work (the benchmark sums the CPU time of both).
    public static let ioThreadNamePrefix: Int32 = 1

    /// Binds both endpoints (`tcp://HOST:PORT`; `*` as host means every interface, as port a
    /// free one) and starts serving.
    ///
    /// - Parameters:
    ///   - curve: the proxy's key pair and the allowed keys; nil for the NULL mechanism.
    ///   - insecure: allow binding a non-loopback address without `curve` (anyone who can reach
    ///     the backend could then register as a worker and receive users' frames).
    public init(
        frontend: String, backend: String, configuration: ProxyConfiguration = .init(),
        curve: ProxyCurve? = nil, insecure: Bool = false,
        logger: Logger = Logger(label: "river.proxy"), statsInterval: Duration? = .seconds(10)
    ) throws {
        let frontAddress = try TCPEndpoint(frontend)
        let backAddress = try TCPEndpoint(backend)
        if curve == nil, !insecure {
            for address in [frontAddress, backAddress] where !address.isLoopback {
                throw BrokerProxyError.insecure(address.text)
            }
        }
        let context = ZMQContext(threadNamePrefix: BrokerProxy.ioThreadNamePrefix)
        var zap: ZMQSocket?
        var authorizer: ZAPAuthorizer?
        if let curve {
            guard zmq_has("curve") == 1 else { throw CurveKeyError.unavailable }
            // Bound before either ROUTER: libzmq lets every CURVE peer in when no ZAP handler is
            // there to ask.
            let socket = try ZMQSocket(context, type: ZMQ_REP)
            try socket.bind("inproc://zeromq.zap.01")
            zap = socket
            authorizer = ZAPAuthorizer(clients: curve.clients, workers: curve.workers)
        }
        let front: ProxyLoop.Listener
        let back: ProxyLoop.Listener
        do {
            front = try Self.listen(frontAddress, side: .frontend, curve: curve, context: context)
            do {
                back = try Self.listen(backAddress, side: .backend, curve: curve, context: context)
            } catch {
                front.close()
                throw error
            }
        } catch {
            // Every socket is closed before the context goes, or terminating it would wait forever.
            zap?.close()
            throw error
        }
        self.context = context
        self.isCurve = curve != nil
        self.frontendEndpoint = front.router.lastEndpoint
        self.backendEndpoint = back.router.lastEndpoint
        let loop = ProxyLoop(
            context: context, frontend: front, backend: back, zap: zap, authorizer: authorizer,
            configuration: configuration, logger: logger, statsInterval: statsInterval)
        self.loop = loop
        // The sockets move to the loop thread here; starting a thread is a full memory barrier,
        // which is what libzmq asks of a socket changing threads. The benchmark and `top -H`
        // find the thread by its name.
        loop.thread.start(name: "river-proxy") { loop.run() }
        logger.info(
            "proxy listening",
            metadata: [
                "frontend": "\(frontendEndpoint)", "backend": "\(backendEndpoint)",
                "mechanism": "\(curve == nil ? "NULL" : "CURVE")",
            ])
    }

    private static func listen(
        _ endpoint: TCPEndpoint, side: ProxySide, curve: ProxyCurve?, context: ZMQContext
    ) throws -> ProxyLoop.Listener {
        let router = try ZMQSocket(context, type: ZMQ_ROUTER)
        // A send to a peer that is gone or full fails instead of vanishing, so it is counted.
        router.setOption(ZMQ_ROUTER_MANDATORY, 1)
        // A connection that never finishes its handshake (a port scanner) is closed after this.
        router.setOption(ZMQ_HANDSHAKE_IVL, 5000)
        if endpoint.host.contains(":") { router.setOption(ZMQ_IPV6, 1) }
        if let curve {
            router.setOption(ZMQ_CURVE_SERVER, 1)
            router.setKey(ZMQ_CURVE_SECRETKEY, curve.keyPair.secretKey)
            router.setOption(
                ZMQ_ZAP_DOMAIN, side == .frontend ? ZAPAuthorizer.frontendDomain : ZAPAuthorizer.backendDomain
            )
        }
        let address = "inproc://river-proxy-monitor-\(side)"
        let events =
            ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
            | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
        guard zmq_socket_monitor(router.handle, address, events) == 0 else {
            router.close()
            throw ZMQError("zmq_socket_monitor")
        }
        let monitor: ZMQSocket
        do {
            monitor = try ZMQSocket(context, type: ZMQ_PAIR)
            try monitor.connect(address)
        } catch {
            router.close()
            throw error
        }
        do {
            try router.bind(endpoint.zmqText)
        } catch {
            router.close()
            monitor.close()
            throw BrokerProxyError.cannotBind(
                endpoint.text, reason: String(cString: zmq_strerror(error.code)))
        }
        return ProxyLoop.Listener(side: side, router: router, monitor: monitor)
    }

    /// Counters as of the last turn of the proxy's loop.
    public var counters: ProxyCounters { loop.snapshot.withLock { $0.counters } }
    /// Registered workers as of the last turn (refreshed at most every 20 ms).
    public var workers: [WorkerStats] { loop.snapshot.withLock { $0.workers } }

    /// Closes both sockets, and with them every connection, and stops the thread. Idempotent.
    public func stop() {
        loop.thread.stop()
    }
}

/// Why the proxy could not start.
public enum BrokerProxyError: Error, CustomStringConvertible {
    case badEndpoint(String, reason: String)
    case cannotBind(String, reason: String)
    /// A non-loopback endpoint without CURVE and without `insecure`.
    case insecure(String)

    public var description: String {
        switch self {
        case .badEndpoint(let endpoint, let reason): "bad endpoint '\(endpoint)': \(reason)"
        case .cannotBind(let endpoint, let reason): "cannot bind \(endpoint): \(reason)"
        case .insecure(let endpoint):
            "refusing to bind \(endpoint) without CURVE: anyone who reaches it could take users' frames; "
                + "give --curve-secret with --allow-clients and --allow-workers (see river keys), or --insecure"
        }
    }
}

/// A `tcp://HOST:PORT` endpoint as ZeroMQ writes it: `*` for every interface or a free port.
struct TCPEndpoint {
    var text: String
    var host: String
    var port: Int

    init(_ text: String) throws(BrokerProxyError) {
        self.text = text
        guard text.hasPrefix("tcp://") else {
            throw .badEndpoint(text, reason: "only tcp:// endpoints can be bound by the proxy")
        }
        let rest = text.dropFirst("tcp://".count)
        guard let colon = rest.lastIndex(of: ":") else { throw .badEndpoint(text, reason: "no port") }
        var host = String(rest[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let port = rest[rest.index(after: colon)...]
        self.host = host
        if port == "*" {
            self.port = 0
        } else if let number = Int(port), (0...65535).contains(number) {
            self.port = number
        } else {
            throw .badEndpoint(text, reason: "port '\(port)' is not a number from 0 to 65535 or *")
        }
        guard !host.isEmpty else { throw .badEndpoint(text, reason: "no host") }
    }

    /// Only the loopback interface: 127.0.0.0/8, ::1 or localhost. `*`, an interface name or any
    /// other address may be reachable from other hosts.
    var isLoopback: Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// The text libzmq binds: IPv6 literals in brackets, `*` as a port for a free one.
    var zmqText: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "tcp://\(shownHost):\(port == 0 ? "*" : "\(port)")"
    }
}

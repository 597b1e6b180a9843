import CZMQ
import Logging
import NIOCore
import NIOPosix

/// `river proxy`: a ROUTER facing clients (frontend) and a ROUTER facing workers (backend), with
/// `ProxyCore` deciding who gets what.
///
/// Both ROUTERs are river's own ZMTP 3 endpoints (`ZMTPConnection`) on one SwiftNIO event loop
/// thread: a request is read, routed and written by that thread alone, with no hand-over to
/// libzmq's I/O threads, and a worker whose TCP connection closes is known gone at once. Clients
/// and workers are plain libzmq DEALERs.
public final class BrokerProxy: Sendable {
    /// The endpoints actually bound (a `*` port resolved to the real one).
    public let frontendEndpoint: String
    public let backendEndpoint: String

    private let group: MultiThreadedEventLoopGroup
    private let engine: ProxyEngine
    private let listeners: [Channel]

    /// Binds both endpoints (`tcp://HOST:PORT`; `*` as host means every interface, as port a
    /// free one) and starts serving.
    public init(
        frontend: String, backend: String, configuration: ProxyConfiguration = .init(),
        logger: Logger = Logger(label: "river.proxy"), statsInterval: Duration? = .seconds(10)
    ) throws {
        let frontAddress = try TCPEndpoint(frontend)
        let backAddress = try TCPEndpoint(backend)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let engine = ProxyEngine(
            eventLoop: loop, configuration: configuration, logger: logger, statsInterval: statsInterval)
        // The benchmark and `top -H` find the proxy's thread by this name.
        loop.execute { river_name_thread("river-proxy") }
        var listeners: [Channel] = []
        do {
            for (side, address) in [(ProxySide.frontend, frontAddress), (.backend, backAddress)] {
                listeners.append(try Self.listen(on: address, side: side, engine: engine, group: group))
            }
        } catch {
            for listener in listeners { try? listener.close().wait() }
            try? group.syncShutdownGracefully()
            throw error
        }
        self.group = group
        self.engine = engine
        self.listeners = listeners
        self.frontendEndpoint = frontAddress.resolved(listeners[0].localAddress)
        self.backendEndpoint = backAddress.resolved(listeners[1].localAddress)
        engine.eventLoop.execute { engine.endOfBatch() }
        logger.info(
            "proxy listening", metadata: ["frontend": "\(frontendEndpoint)", "backend": "\(backendEndpoint)"])
    }

    private static func listen(
        on endpoint: TCPEndpoint, side: ProxySide, engine: ProxyEngine, group: EventLoopGroup
    ) throws -> Channel {
        do {
            return try ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                // Large reads take a video frame in few syscalls; small ones stay cheap.
                .childChannelOption(
                    .recvAllocator,
                    value: AdaptiveRecvByteBufferAllocator(minimum: 2048, initial: 65536, maximum: 1 << 20)
                )
                // A peer that stops reading holds at most this much; beyond it messages to it are
                // dropped and counted, like libzmq's high-water mark.
                .childChannelOption(.writeBufferWaterMark, value: .init(low: 16 << 20, high: 64 << 20))
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            ProxyConnectionHandler(side: side, engine: engine))
                    }
                }
                .bind(host: endpoint.host, port: endpoint.port).wait()
        } catch {
            throw BrokerProxyError.cannotBind(endpoint.text, reason: "\(error)")
        }
    }

    /// Counters as of the last batch the proxy handled.
    public var counters: ProxyCounters { engine.snapshot.withLock { $0.counters } }
    /// Registered workers as of the last batch (refreshed at most every 20 ms).
    public var workers: [WorkerStats] { engine.snapshot.withLock { $0.workers } }

    /// Closes the listeners and every connection, and stops the event loop. Idempotent.
    public func stop() {
        guard !group.next().inEventLoop else {
            preconditionFailure("BrokerProxy.stop() on its own event loop")
        }
        try? group.syncShutdownGracefully()
    }
}

/// Why the proxy could not start.
public enum BrokerProxyError: Error, CustomStringConvertible {
    case badEndpoint(String, reason: String)
    case cannotBind(String, reason: String)

    public var description: String {
        switch self {
        case .badEndpoint(let endpoint, let reason): "bad endpoint '\(endpoint)': \(reason)"
        case .cannotBind(let endpoint, let reason): "cannot bind \(endpoint): \(reason)"
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
        self.host = host == "*" ? "0.0.0.0" : host
        if port == "*" {
            self.port = 0
        } else if let number = Int(port), (0...65535).contains(number) {
            self.port = number
        } else {
            throw .badEndpoint(text, reason: "port '\(port)' is not a number from 0 to 65535 or *")
        }
        guard !host.isEmpty else { throw .badEndpoint(text, reason: "no host") }
    }

    /// The endpoint as bound: the real port in place of `*`.
    func resolved(_ address: SocketAddress?) -> String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "tcp://\(shownHost):\(address?.port ?? port)"
    }
}

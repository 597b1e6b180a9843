import Logging
import NIOCore
import NIOPosix
import RiverDTLS
import RiverICE

/// One UDP port for every session (RFC 8843 BUNDLE + RFC 7983 demultiplexing), on SwiftNIO.
///
/// STUN is routed by the local half of its USERNAME (our ufrag, RFC 8445 §7.2.2); an address
/// that passed a connectivity check is then bound to that session, and DTLS, SRTP and SRTCP are
/// routed by source address. Everything else is dropped and counted.
///
/// `@unchecked Sendable`: the demux tables, counters and sessions are only touched on
/// ``eventLoop`` (the channel's loop); the public async methods hop there.
public final class WebRTCServer: @unchecked Sendable {
    public struct Configuration: Sendable {
        public var host: String
        /// 0 picks a free port.
        public var port: Int
        /// Close a session whose peer is silent this long (RFC 7675 suggests 30 s; WebRTC peers
        /// check every few seconds, so 10 s frees dead sessions sooner).
        public var consentTimeout: Duration
        /// How often DTLS retransmission and consent timers are checked.
        public var tickInterval: Duration

        public init(
            host: String = "0.0.0.0", port: Int = 0, consentTimeout: Duration = .seconds(10),
            tickInterval: Duration = .milliseconds(100)
        ) {
            self.host = host
            self.port = port
            self.consentTimeout = consentTimeout
            self.tickInterval = tickInterval
        }
    }

    /// Datagrams the server could not route (read on the event loop or via ``counters()``).
    public struct Counters: Sendable, Equatable {
        public var received = 0
        /// Not STUN, DTLS, RTP or RTCP by RFC 7983's first-byte ranges.
        public var droppedUnknownKind = 0
        /// STUN naming no session, or DTLS/RTP/RTCP from an address no session authenticated.
        public var droppedUnrouted = 0
        /// Routed to a session but refused there: SRTP/SRTCP that failed to authenticate or
        /// parse, DTLS after failure, STUN with bad integrity. Live and closed sessions together.
        public var droppedBySessions = 0
        public var stunRejected = 0
    }

    public let configuration: Configuration
    public let eventLoop: EventLoop
    public let localAddress: SocketAddress
    public var port: Int { localAddress.port ?? 0 }
    let logger: Logger
    private let channel: Channel
    private var byUfrag: [String: PeerConnection] = [:]
    private var byAddress: [SocketAddress: PeerConnection] = [:]
    private var localCounters = Counters()
    private var ticker: RepeatedTask?

    private init(configuration: Configuration, channel: Channel, logger: Logger) {
        self.configuration = configuration
        self.channel = channel
        self.eventLoop = channel.eventLoop
        self.localAddress = channel.localAddress!
        self.logger = logger
    }

    /// Binds the UDP port and starts the timers.
    public static func bind(
        _ configuration: Configuration, group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "river.webrtc")
    ) async throws -> WebRTCServer {
        let holder = ServerHolder()
        let channel = try await DatagramBootstrap(group: group)
            // No SO_REUSEADDR: on Linux it would let a second process bind the same UDP port and
            // silently take a share of our sessions' datagrams.
            .channelOption(.socketOption(.so_rcvbuf), value: 4 << 20)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 2048))
            .channelOption(.maxMessagesPerRead, value: 16)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(DemuxHandler(holder: holder))
                }
            }
            .bind(host: configuration.host, port: configuration.port).get()
        let server = WebRTCServer(configuration: configuration, channel: channel, logger: logger)
        try await channel.eventLoop.submit {
            holder.server = server
            let interval = TimeAmount.nanoseconds(
                Int64(configuration.tickInterval.components.seconds) * 1_000_000_000
                    + configuration.tickInterval.components.attoseconds / 1_000_000_000)
            server.ticker = channel.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) {
                _ in
                server.tick()
            }
        }.get()
        logger.info("WebRTC UDP listening on \(server.localAddress)")
        return server
    }

    /// A new session with fresh ICE credentials, not yet routed; set its ``PeerConnection/onEvent``
    /// then ``register(_:)`` it.
    public func makePeerConnection(
        id: String, localUfrag: String = ICECredentials.randomUfrag(),
        localPassword: String = ICECredentials.randomPassword(), remoteUfrag: String,
        remoteFingerprint: String
    ) throws(DTLSError) -> PeerConnection {
        let connection = try PeerConnection(
            id: id, localUfrag: localUfrag, localPassword: localPassword,
            remoteUfrag: remoteUfrag, remoteFingerprint: remoteFingerprint,
            consentTimeout: configuration.consentTimeout, eventLoop: eventLoop, logger: logger)
        return connection
    }

    /// Routes STUN naming the session's ufrag to it (event loop only).
    public func register(_ connection: PeerConnection) {
        eventLoop.preconditionInEventLoop()
        connection.server = self
        byUfrag[connection.localUfrag] = connection
    }

    /// Live sessions (event loop only); ``sessionCount()`` from elsewhere.
    public var sessions: [PeerConnection] {
        eventLoop.preconditionInEventLoop()
        return Array(byUfrag.values)
    }

    public func sessionCount() async throws -> Int {
        try await eventLoop.submit { self.byUfrag.count }.get()
    }

    /// Demux entries (ufrags + addresses) still held: zero once every session is closed.
    public func routeCount() async throws -> Int {
        try await eventLoop.submit { self.byUfrag.count + self.byAddress.count }.get()
    }

    public func counters() async throws -> Counters {
        try await eventLoop.submit {
            var counters = self.localCounters
            for connection in self.byUfrag.values {
                counters.droppedBySessions += connection.counters.dropped
                counters.stunRejected += connection.counters.stunRejected
            }
            return counters
        }.get()
    }

    /// Closes the registered session whose ``PeerConnection/id`` is `id`; false when there is none.
    public func closeSession(id: String) async throws -> Bool {
        try await eventLoop.submit {
            guard let connection = self.byUfrag.values.first(where: { $0.id == id }) else { return false }
            connection.close()
            return true
        }.get()
    }

    /// Closes every session and the socket.
    public func shutdown() async throws {
        try await eventLoop.submit {
            self.ticker?.cancel()
            for connection in Array(self.byUfrag.values) { connection.close(reason: .serverShutdown) }
        }.get()
        try await channel.close()
    }

    // MARK: Event loop internals

    func unregister(_ connection: PeerConnection) {
        if byUfrag[connection.localUfrag] === connection {
            byUfrag[connection.localUfrag] = nil
            localCounters.droppedBySessions += connection.counters.dropped
            localCounters.stunRejected += connection.counters.stunRejected
        }
        for address in connection.authenticatedAddresses where byAddress[address] === connection {
            byAddress[address] = nil
        }
    }

    func send(_ bytes: [UInt8], to address: SocketAddress) {
        let buffer = channel.allocator.buffer(bytes: bytes)
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: buffer), promise: nil)
    }

    fileprivate func receive(_ bytes: [UInt8], from address: SocketAddress) {
        localCounters.received += 1
        let kind = DatagramKind.classify(bytes)
        switch kind {
        case .unknown, .zrtp, .turnChannel:
            localCounters.droppedUnknownKind += 1
        case .stun:
            guard let ufrag = ICELiteResponder.localUfrag(of: bytes), let connection = byUfrag[ufrag] else {
                localCounters.droppedUnrouted += 1
                return
            }
            if connection.receiveSTUN(bytes, from: address) {
                // A NAT rebinding or a second candidate pair moves the address to this session.
                byAddress[address] = connection
            }
        case .dtls, .rtp, .rtcp:
            guard let connection = byAddress[address] else {
                localCounters.droppedUnrouted += 1
                return
            }
            connection.receive(bytes, kind: kind, from: address)
        }
    }

    private func tick() {
        let now = ContinuousClock.now
        for connection in Array(byUfrag.values) { connection.tick(now: now) }
    }
}

/// Lets the channel handler, created before the server object exists, reach it.
/// `@unchecked Sendable`: written once on the event loop before the first read, then only read there.
private final class ServerHolder: @unchecked Sendable {
    var server: WebRTCServer?
}

/// Hands each datagram to the server's demux on the channel's event loop.
private final class DemuxHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let holder: ServerHolder

    init(holder: ServerHolder) {
        self.holder = holder
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let bytes = Array(envelope.data.readableBytesView)
        holder.server?.receive(bytes, from: envelope.remoteAddress)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // ICMP port-unreachable surfaces as a read error on Linux; keep serving other peers.
        holder.server?.logger.debug("UDP error: \(error)")
    }
}

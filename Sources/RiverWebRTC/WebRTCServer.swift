import Logging
import NIOCore
import NIOPosix
import RiverCore
import RiverDTLS
import RiverICE
import RiverSession

/// The I/O shell of every session: one UDP port (RFC 8843 BUNDLE + RFC 7983 demultiplexing) on
/// SwiftNIO, and the only media code that touches a socket or arms a timer.
///
/// STUN is routed by the local half of its USERNAME (our ufrag, RFC 8445 §7.2.2); an address that
/// passed a connectivity check is then bound to that session, and DTLS, SRTP and SRTCP are routed by
/// source address. Everything else is dropped and counted. Each routed datagram goes into its
/// session's ``SessionEngine``; the server then drains the engine's outputs (datagrams to write,
/// work for the session's ``SessionOffload``, events for the owner) and arms the session's one timer
/// at the deadline the engine returns. Nothing repeats on a fixed tick.
///
/// All mutable state lives in a loop-bound box on the channel's event loop; the async methods hop
/// there.
public final class WebRTCServer: Sendable {
    public struct Configuration: Sendable {
        public var host: String
        /// 0 picks a free port.
        public var port: Int
        /// Close a session whose peer is silent this long (RFC 7675 §5.1).
        public var consentTimeout: Duration

        public init(host: String = "0.0.0.0", port: Int = 0, consentTimeout: Duration = .seconds(10)) {
            self.host = host
            self.port = port
            self.consentTimeout = consentTimeout
        }
    }

    /// Datagrams the server could not route, and what sessions refused.
    public struct Counters: Sendable, Equatable {
        public var received = 0
        /// Not STUN, DTLS, RTP or RTCP by RFC 7983's first-byte ranges.
        public var droppedUnknownKind = 0
        /// STUN naming no session, or DTLS/RTP/RTCP from an address no session authenticated.
        public var droppedUnrouted = 0
        /// Routed to a session but refused there: SRTP/SRTCP that failed to authenticate or
        /// parse, DTLS before or after its time. Live and closed sessions together.
        public var droppedBySessions = 0
        public var stunRejected = 0
    }

    /// What the owner of a session hears, on the event loop: the event, the engine's counters, and
    /// its one-line summary, which is only formatted when called (events come once per frame).
    public typealias EventHandler =
        @Sendable (SessionEvent, SessionEngine.Counters, _ summary: () -> String) -> Void

    public let configuration: Configuration
    public let eventLoop: EventLoop
    public let localAddress: SocketAddress
    public var port: Int { localAddress.port ?? 0 }
    let logger: Logger
    private let channel: Channel
    private let state: NIOLoopBoundBox<ServerState>

    private init(
        configuration: Configuration, channel: Channel, state: NIOLoopBoundBox<ServerState>, logger: Logger
    ) {
        self.configuration = configuration
        self.channel = channel
        self.eventLoop = channel.eventLoop
        self.localAddress = channel.localAddress!
        self.state = state
        self.logger = logger
    }

    /// Binds the UDP port.
    public static func bind(
        _ configuration: Configuration, group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "river.webrtc")
    ) async throws -> WebRTCServer {
        let eventLoop = group.next()
        let state = try await eventLoop.submit { NIOLoopBoundBox(ServerState(), eventLoop: eventLoop) }.get()
        let channel = try await DatagramBootstrap(group: eventLoop)
            // No SO_REUSEADDR: on Linux it would let a second process bind the same UDP port and
            // silently take a share of our sessions' datagrams.
            .channelOption(.socketOption(.so_rcvbuf), value: 4 << 20)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 2048))
            .channelOption(.maxMessagesPerRead, value: 16)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(DemuxHandler(state: state, logger: logger))
                }
            }
            .bind(host: configuration.host, port: configuration.port).get()
        try await eventLoop.submit {
            state.value.channel = channel
            state.value.box = state
        }.get()
        let server = WebRTCServer(
            configuration: configuration, channel: channel, state: state, logger: logger)
        logger.info("WebRTC UDP listening on \(server.localAddress)")
        return server
    }

    /// Starts a session: its engine exists from now on and STUN naming its ufrag reaches it.
    ///
    /// - Parameters:
    ///   - makeOffload: builds the session's decode/inference worker (nil for reflect) around the
    ///     inputs that feed the engine back; called once, on the event loop.
    ///   - onEvent: the owner's view of the session's events, on the event loop.
    public func open(
        _ session: SessionConfiguration,
        makeOffload: (@Sendable (SessionInputs) -> any SessionOffload)? = nil,
        onEvent: @escaping WebRTCServer.EventHandler
    ) async throws {
        var session = session
        session.consentTimeout = configuration.consentTimeout
        let logger = self.logger
        let box = state
        try await eventLoop.submit { [session] in
            try box.value.open(session, box: box, logger: logger, makeOffload: makeOffload, onEvent: onEvent)
        }.get()
    }

    public func sessionCount() async throws -> Int {
        try await eventLoop.submit { [state] in state.value.byUfrag.count }.get()
    }

    /// Demux entries (ufrags + addresses) still held: zero once every session is closed.
    public func routeCount() async throws -> Int {
        try await eventLoop.submit { [state] in state.value.byUfrag.count + state.value.byAddress.count }
            .get()
    }

    /// Socket addresses the sessions keep (one per authenticated address); failed checks add none.
    public func addressCount() async throws -> Int {
        try await eventLoop.submit { [state] in state.value.byUfrag.values.reduce(0) { $0 + $1.sockets.count }
        }.get()
    }

    public func counters() async throws -> Counters {
        try await eventLoop.submit { [state] in state.value.totalCounters }.get()
    }

    /// Counters of the live sessions' engines, by session id.
    public func sessionCounters() async throws -> [String: SessionEngine.Counters] {
        try await eventLoop.submit { [state] in
            Dictionary(
                uniqueKeysWithValues: state.value.byUfrag.values.map { ($0.engine.id, $0.engine.counters) })
        }.get()
    }

    /// Closes the session whose id is `id`; false when there is none.
    public func closeSession(id: String) async throws -> Bool {
        try await eventLoop.submit { [state] in
            guard let session = state.value.byUfrag.values.first(where: { $0.engine.id == id }) else {
                return false
            }
            state.value.input(.close(.local), to: session)
            return true
        }.get()
    }

    /// Closes every session and the socket.
    public func shutdown() async throws {
        try await eventLoop.submit { [state] in
            for session in Array(state.value.byUfrag.values) {
                state.value.input(.close(.serverShutdown), to: session)
            }
        }.get()
        try await channel.close()
    }
}

/// One session as the shell holds it: the engine, the socket addresses it authenticated, its timer
/// and its off-loop worker.
final class SessionHandle {
    let engine: SessionEngine
    var offload: (any SessionOffload)?
    let onEvent: WebRTCServer.EventHandler
    let logger: Logger
    /// The socket address behind each transport address the engine knows.
    var sockets: [TransportAddress: SocketAddress] = [:]
    var timer: Scheduled<Void>?
    var timerAt: Instant?

    init(
        engine: SessionEngine, logger: Logger,
        onEvent: @escaping WebRTCServer.EventHandler
    ) {
        self.engine = engine
        self.logger = logger
        self.onEvent = onEvent
    }
}

/// The server's tables and the drain loop, confined to the channel's event loop.
final class ServerState {
    var channel: Channel?
    /// The box this state lives in, for closures that must be `Sendable` (timers, hops).
    weak var box: NIOLoopBoundBox<ServerState>?
    var byUfrag: [String: SessionHandle] = [:]
    var byAddress: [SocketAddress: (session: SessionHandle, address: TransportAddress)] = [:]
    var counters = WebRTCServer.Counters()

    var totalCounters: WebRTCServer.Counters {
        var total = counters
        for session in byUfrag.values {
            total.droppedBySessions += session.engine.counters.dropped
            total.stunRejected += session.engine.counters.stunRejected
        }
        return total
    }

    func open(
        _ configuration: SessionConfiguration, box: NIOLoopBoundBox<ServerState>, logger: Logger,
        makeOffload: (@Sendable (SessionInputs) -> any SessionOffload)?,
        onEvent: @escaping WebRTCServer.EventHandler
    ) throws {
        guard let eventLoop = channel?.eventLoop else { return }
        var logger = logger
        logger[metadataKey: "session"] = "\(configuration.logID)"
        let ufrag = configuration.localUfrag
        // The SCTP executor and the offload reach the session by ufrag, never by a strong
        // reference, so a closed session is freed even while their jobs are still queued.
        let find: @Sendable () -> SessionHandle? = { box.value.byUfrag[ufrag] }
        let executor = SessionSCTPExecutor(eventLoop: eventLoop) {
            if let session = find() { box.value.drain(session) }
        }
        let engine = try SessionEngine(configuration: configuration, now: .now, sctpExecutor: executor)
        let session = SessionHandle(engine: engine, logger: logger, onEvent: onEvent)
        byUfrag[ufrag] = session
        if let makeOffload {
            let identity = ObjectIdentifier(session)
            session.offload = makeOffload(
                SessionInputs { input in
                    eventLoop.execute {
                        guard let session = find(), ObjectIdentifier(session) == identity else { return }
                        box.value.input(input, to: session)
                    }
                })
        }
        drain(session)
    }

    func input(_ input: SessionInput, to session: SessionHandle) {
        session.engine.handle(input, now: .now)
        drain(session)
    }

    /// A datagram from the socket.
    func receive(_ bytes: [UInt8], from address: SocketAddress) {
        counters.received += 1
        let kind = DatagramKind.classify(bytes)
        switch kind {
        case .unknown, .zrtp, .turnChannel:
            counters.droppedUnknownKind += 1
        case .stun:
            guard let ufrag = ICELiteResponder.localUfrag(of: bytes), let session = byUfrag[ufrag],
                let source = byAddress[address]?.address ?? TransportAddress(address)
            else {
                counters.droppedUnrouted += 1
                return
            }
            // The socket address is kept only for addresses that authenticate, so checks that fail
            // (a stranger who learned a ufrag) cannot grow the table.
            let known = session.sockets[source] != nil
            session.sockets[source] = address
            input(.datagram(Datagram(source: source, kind: kind, bytes: bytes)), to: session)
            if !known && !session.engine.authenticatedAddresses.contains(source) {
                session.sockets[source] = nil
            }
        case .dtls, .rtp, .rtcp:
            guard let (session, source) = byAddress[address] else {
                counters.droppedUnrouted += 1
                return
            }
            input(.datagram(Datagram(source: source, kind: kind, bytes: bytes)), to: session)
        }
    }

    /// Writes and hands out everything the engine produced, then arms its timer.
    func drain(_ session: SessionHandle) {
        guard let channel else { return }
        var wrote = false
        loop: while true {
            switch session.engine.poll() {
            case .transmit(let transmit):
                guard let address = session.sockets[transmit.destination] else { continue }
                let buffer = channel.allocator.buffer(bytes: transmit.bytes)
                channel.write(AddressedEnvelope(remoteAddress: address, data: buffer), promise: nil)
                wrote = true
            case .decode(let job):
                session.offload?.decode(job)
            case .infer(let job):
                session.offload?.infer(job)
            case .event(let event):
                handle(event, of: session)
            case .timeout(let deadline):
                arm(session, at: deadline)
                break loop
            }
        }
        if wrote { channel.flush() }
    }

    private func handle(_ event: SessionEvent, of session: SessionHandle) {
        switch event {
        case .addressAuthenticated(let address):
            // A NAT rebinding or a second candidate pair moves the address to this session.
            if let socket = session.sockets[address] { byAddress[socket] = (session, address) }
        case .connected:
            session.logger.info("connected")
        case .closed(let reason):
            session.logger.info("closed: \(reason)")
            unregister(session)
        case .channelOpened, .frameFinished:
            break
        }
        session.onEvent(event, session.engine.counters) { session.engine.summary }
    }

    private func unregister(_ session: SessionHandle) {
        let ufrag = session.engine.configuration.localUfrag
        if byUfrag[ufrag] === session {
            byUfrag[ufrag] = nil
            counters.droppedBySessions += session.engine.counters.dropped
            counters.stunRejected += session.engine.counters.stunRejected
        }
        for socket in session.sockets.values where byAddress[socket]?.session === session {
            byAddress[socket] = nil
        }
        session.offload?.close()
        session.offload = nil
    }

    /// One timer per session, moved only when the engine's deadline moves.
    private func arm(_ session: SessionHandle, at deadline: Instant?) {
        guard deadline != session.timerAt else { return }
        session.timer?.cancel()
        session.timer = nil
        session.timerAt = deadline
        guard let deadline, let eventLoop = channel?.eventLoop, let box else { return }
        let ufrag = session.engine.configuration.localUfrag
        let identity = ObjectIdentifier(session)
        session.timer = eventLoop.scheduleTask(deadline: .uptimeNanoseconds(deadline.nanoseconds)) {
            let state = box.value
            guard let session = state.byUfrag[ufrag], ObjectIdentifier(session) == identity else { return }
            session.timerAt = nil
            session.timer = nil
            state.input(.timeout, to: session)
        }
    }
}

/// Hands each datagram to the server's demux on the channel's event loop.
private final class DemuxHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let state: NIOLoopBoundBox<ServerState>
    let logger: Logger

    init(state: NIOLoopBoundBox<ServerState>, logger: Logger) {
        self.state = state
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        state.value.receive(Array(envelope.data.readableBytesView), from: envelope.remoteAddress)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // ICMP port-unreachable surfaces as a read error on Linux; keep serving other peers.
        logger.debug("UDP error: \(error)")
    }
}

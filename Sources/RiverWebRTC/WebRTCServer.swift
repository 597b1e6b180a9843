import Logging
import NIOCore
import NIOPosix
import RiverCore
import RiverDTLS
import RiverICE
import RiverSession

/// The I/O shell of every session: one UDP port (RFC 8843 BUNDLE + RFC 7983 demultiplexing) and
/// one TCP port for ICE over TCP (RFC 6544, ``TCPConnection``) on SwiftNIO, and the only media code
/// that touches a socket or arms a timer.
///
/// STUN is routed by the local half of its USERNAME (our ufrag, RFC 8445 §7.2.2); an address that
/// passed a connectivity check is then bound to that session, and DTLS, SRTP and SRTCP are routed by
/// source address. Everything else is dropped and counted. Each routed datagram goes into its
/// session's ``SessionEngine``; the server then drains the engine's outputs (datagrams to write,
/// work for the session's ``SessionOffload``, events for the owner) and arms the session's one timer
/// at the deadline the engine returns. Nothing repeats on a fixed tick.
///
/// A viewer (WHEP) is a session of its own, tied to the session it watches: while a session has
/// viewers, each packet of its stream and each result message it sends is handed to every viewer's
/// engine, in the same turn of the loop, and a viewer's key-frame request goes back to it. Ending
/// a viewer leaves the publisher and the other viewers as they were; ending the publisher ends
/// its viewers (``SessionCloseReason/publisherClosed``).
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
        /// The TCP port for passive ICE-TCP candidates.
        public var tcp: TCPPort
        /// A TCP connection that has not passed a STUN check this long after it was accepted is
        /// closed, so a connection costs nothing to hold for anyone without a session's password.
        public var tcpBindingTimeout: Duration
        /// TCP connections open at once; more are closed on accept and counted.
        public var maxTCPConnections: Int

        public enum TCPPort: Sendable, Equatable {
            case off
            /// The number the UDP port got (the default: one number to open in a firewall).
            case sameAsUDP
            /// 0 picks a free one.
            case port(Int)
        }

        public init(
            host: String = "0.0.0.0", port: Int = 0, consentTimeout: Duration = .seconds(10),
            tcp: TCPPort = .sameAsUDP, tcpBindingTimeout: Duration = .seconds(5), maxTCPConnections: Int = 256
        ) {
            self.host = host
            self.port = port
            self.consentTimeout = consentTimeout
            self.tcp = tcp
            self.tcpBindingTimeout = tcpBindingTimeout
            self.maxTCPConnections = maxTCPConnections
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
        /// TCP connections closed on accept because ``Configuration/maxTCPConnections`` were open.
        public var tcpRefused = 0
        /// TCP connections closed because no STUN check on them authenticated in time.
        public var tcpUnbound = 0
        /// Packets for a TCP peer that was not reading (its socket over the high-water mark).
        public var droppedUnwritable = 0
        /// Checks for one session from an address another live session holds: never answered, so
        /// one session cannot take another's address (and with it its media).
        public var droppedAddressInUse = 0
        /// What sessions' bounds refused, by reason (``SessionEngine/Counters/limitDrops``), live
        /// and closed sessions together.
        public var droppedByLimits: [String: Int] = [:]

        mutating func add(_ session: SessionEngine.Counters) {
            droppedBySessions += session.dropped
            stunRejected += session.stunRejected
            droppedByLimits.merge(session.limitDrops, uniquingKeysWith: +)
        }
    }

    /// What the owner of a session hears, on the event loop: the event, the engine's counters, and
    /// its one-line summary, which is only formatted when called (events come once per frame).
    public typealias EventHandler =
        @Sendable (SessionEvent, SessionEngine.Counters, _ summary: () -> String) -> Void

    public let configuration: Configuration
    public let eventLoop: EventLoop
    public let localAddress: SocketAddress
    public var port: Int { localAddress.port ?? 0 }
    /// The ICE-TCP port, when on.
    public var tcpPort: Int? { tcpChannel?.localAddress?.port }
    let logger: Logger
    private let channel: Channel
    private let tcpChannel: Channel?
    private let state: NIOLoopBoundBox<ServerState>

    private init(
        configuration: Configuration, channel: Channel, tcpChannel: Channel?,
        state: NIOLoopBoundBox<ServerState>,
        logger: Logger
    ) {
        self.configuration = configuration
        self.channel = channel
        self.tcpChannel = tcpChannel
        self.eventLoop = channel.eventLoop
        self.localAddress = channel.localAddress!
        self.state = state
        self.logger = logger
    }

    /// Binds the UDP port, then the TCP port (``Configuration/tcp``). A TCP port that cannot be
    /// bound throws ``TCPBindFailure`` after the UDP socket is closed again.
    public static func bind(
        _ configuration: Configuration, group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "river.webrtc")
    ) async throws -> WebRTCServer {
        // With a free UDP port picked for us, its number may be taken on TCP: pick another.
        let retries = configuration.port == 0 && configuration.tcp == .sameAsUDP ? 8 : 0
        for attempt in 0... {
            do {
                return try await bindOnce(configuration, group: group, logger: logger)
            } catch let failure as TCPBindFailure
                where attempt < retries && (failure.underlying as? IOError)?.errnoCode == EADDRINUSE
            {
                continue
            }
        }
        fatalError("unreachable")
    }

    private static func bindOnce(
        _ configuration: Configuration, group: EventLoopGroup, logger: Logger
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
            state.value.tcpBindingTimeout = configuration.tcpBindingTimeout
            state.value.maxTCPConnections = configuration.maxTCPConnections
        }.get()
        var tcpChannel: Channel?
        let tcpPort: Int? =
            switch configuration.tcp {
            case .off: nil
            case .sameAsUDP: channel.localAddress?.port
            case .port(let port): port
            }
        if let tcpPort {
            do {
                tcpChannel = try await ServerBootstrap(group: eventLoop)
                    .serverChannelOption(.backlog, value: 64)
                    .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
                    .childChannelInitializer { child in
                        child.eventLoop.makeCompletedFuture {
                            try child.pipeline.syncOperations.addHandler(
                                ByteToMessageHandler(RFC4571FrameDecoder()))
                            try child.pipeline.syncOperations.addHandler(TCPFrameHandler(state: state))
                        }
                    }
                    .bind(host: configuration.host, port: tcpPort).get()
            } catch {
                try? await channel.close()
                throw TCPBindFailure(port: tcpPort, underlying: error)
            }
        }
        let server = WebRTCServer(
            configuration: configuration, channel: channel, tcpChannel: tcpChannel, state: state,
            logger: logger)
        logger.info(
            "WebRTC UDP listening on \(server.localAddress)\(tcpChannel.map { ", ICE-TCP on \($0.localAddress!)" } ?? "")"
        )
        return server
    }

    /// Starts a session: its engine exists from now on and STUN naming its ufrag reaches it.
    ///
    /// - Parameters:
    ///   - makeOffload: builds the session's decode/inference worker (nil for reflect) around the
    ///     inputs that feed the engine back; called once, on the event loop, when the session
    ///     connects, so a session that never gets past ICE and DTLS costs no thread or decoder.
    ///   - viewing: for a viewer (``SessionConfiguration/viewer``), the session it watches and
    ///     the most viewers that session may have; ``ViewerRefused`` when it has no room or is gone.
    ///   - onEvent: the owner's view of the session's events, on the event loop.
    public func open(
        _ session: SessionConfiguration, viewing: (id: String, maxViewers: Int)? = nil,
        makeOffload: (@Sendable (SessionInputs) -> any SessionOffload)? = nil,
        onEvent: @escaping WebRTCServer.EventHandler
    ) async throws {
        var session = session
        session.consentTimeout = configuration.consentTimeout
        let logger = self.logger
        let box = state
        try await eventLoop.submit { [session] in
            try box.value.open(
                session, viewing: viewing, box: box, logger: logger, makeOffload: makeOffload,
                onEvent: onEvent)
        }.get()
    }

    /// The viewers the session with this id has now (nil: no such session).
    public func viewerCount(of id: String) async throws -> Int? {
        try await eventLoop.submit { [state] in state.value.session(id: id)?.viewers.count }.get()
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

    /// Open ICE-TCP connections, bound to a session or not.
    public func tcpConnectionCount() async throws -> Int {
        try await eventLoop.submit { [state] in state.value.tcpConnections.count }.get()
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
            guard let session = state.value.session(id: id) else { return false }
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
            for connection in state.value.tcpConnections.values { connection.channel.close(promise: nil) }
        }.get()
        try? await tcpChannel?.close()
        try await channel.close()
    }
}

/// One session as the shell holds it: the engine, the socket addresses it authenticated, its timer
/// and its off-loop worker.
final class SessionHandle {
    let engine: SessionEngine
    var offload: (any SessionOffload)?
    /// Builds `offload` once the session connects.
    var makeOffload: (() -> any SessionOffload)?
    let onEvent: WebRTCServer.EventHandler
    let logger: Logger
    /// The socket address or TCP connection behind each transport address the engine knows.
    var sockets: [TransportAddress: Route] = [:]
    var timer: Scheduled<Void>?
    var timerAt: Instant?
    /// The sessions that watch this one, in the order they came.
    var viewers: [SessionHandle] = []
    /// The session this one watches, when it is a viewer.
    weak var publisher: SessionHandle?

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
    var tcpConnections: [ObjectIdentifier: TCPConnection] = [:]
    var tcpBindingTimeout: Duration = .seconds(5)
    var maxTCPConnections = 256
    var counters = WebRTCServer.Counters()

    var totalCounters: WebRTCServer.Counters {
        var total = counters
        for session in byUfrag.values { total.add(session.engine.counters) }
        return total
    }

    /// The live session with this id.
    func session(id: String) -> SessionHandle? {
        byUfrag.values.first { $0.engine.id == id }
    }

    func open(
        _ configuration: SessionConfiguration, viewing: (id: String, maxViewers: Int)?,
        box: NIOLoopBoundBox<ServerState>, logger: Logger,
        makeOffload: (@Sendable (SessionInputs) -> any SessionOffload)?,
        onEvent: @escaping WebRTCServer.EventHandler
    ) throws {
        guard let eventLoop = channel?.eventLoop else { return }
        var publisher: SessionHandle?
        if let viewing {
            guard let watched = session(id: viewing.id), watched.publisher == nil else {
                throw ViewerRefused.noSuchSession
            }
            guard watched.viewers.count < viewing.maxViewers else {
                throw ViewerRefused.tooManyViewers(limit: viewing.maxViewers)
            }
            publisher = watched
        }
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
        if let publisher {
            session.publisher = publisher
            publisher.viewers.append(session)
            publisher.engine.forwardsToViewers = true
        }
        if let makeOffload {
            let identity = ObjectIdentifier(session)
            session.makeOffload = {
                makeOffload(
                    SessionInputs { input in
                        eventLoop.execute {
                            guard let session = find(), ObjectIdentifier(session) == identity else { return }
                            box.value.input(input, to: session)
                        }
                    })
            }
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
            if let owner = byAddress[address]?.session, owner !== session {
                counters.droppedAddressInUse += 1
                return
            }
            check(bytes, from: source, route: .udp(address), transport: .udp, for: session)
        case .dtls, .rtp, .rtcp:
            guard let (session, source) = byAddress[address] else {
                counters.droppedUnrouted += 1
                return
            }
            input(.datagram(Datagram(source: source, kind: kind, bytes: bytes)), to: session)
        }
    }

    /// A STUN check for `session`. The route is kept only for addresses that authenticate, so
    /// checks that fail (a stranger who learned a ufrag) cannot grow the table.
    private func check(
        _ bytes: [UInt8], from source: TransportAddress, route: Route, transport: Transport,
        for session: SessionHandle
    ) {
        let previous = session.sockets[source]
        session.sockets[source] = route
        input(
            .datagram(Datagram(source: source, transport: transport, kind: .stun, bytes: bytes)), to: session)
        if !session.engine.authenticatedAddresses.contains(source) { session.sockets[source] = previous }
    }

    // MARK: ICE-TCP

    /// A new TCP connection: refused past the cap, closed unless a check on it authenticates in time.
    func accepted(_ channel: Channel) -> TCPConnection? {
        guard tcpConnections.count < maxTCPConnections, let remote = channel.remoteAddress, let box else {
            counters.tcpRefused += 1
            channel.close(promise: nil)
            return nil
        }
        let connection = TCPConnection(channel: channel, remote: remote)
        let id = ObjectIdentifier(connection)
        tcpConnections[id] = connection
        connection.deadline = channel.eventLoop.scheduleTask(
            in: .nanoseconds(tcpBindingTimeout.nanosecondsClamped)
        ) {
            guard let connection = box.value.tcpConnections[id], connection.session == nil else { return }
            box.value.counters.tcpUnbound += 1
            connection.channel.close(promise: nil)
        }
        return connection
    }

    /// One RFC 4571 frame: STUN is routed by ufrag as on UDP, and binds the connection to the
    /// session it authenticates for; the rest goes to the bound session only.
    func receive(_ bytes: [UInt8], over connection: TCPConnection) {
        counters.received += 1
        let kind = DatagramKind.classify(bytes)
        guard let source = TransportAddress(connection.remote) else { return }
        switch kind {
        case .stun:
            guard let ufrag = ICELiteResponder.localUfrag(of: bytes), let session = byUfrag[ufrag],
                connection.session == nil || connection.session === session
            else {
                counters.droppedUnrouted += 1
                return
            }
            check(bytes, from: source, route: .tcp(connection), transport: .tcp, for: session)
            if connection.session == nil, session.engine.authenticatedAddresses.contains(source) {
                connection.session = session
                connection.deadline?.cancel()
            }
        case .dtls, .rtp, .rtcp:
            guard let session = connection.session,
                byUfrag[session.engine.configuration.localUfrag] === session
            else {
                counters.droppedUnrouted += 1
                return
            }
            input(.datagram(Datagram(source: source, transport: .tcp, kind: kind, bytes: bytes)), to: session)
        case .unknown, .zrtp, .turnChannel:
            counters.droppedUnknownKind += 1
        }
    }

    func closed(_ connection: TCPConnection) {
        connection.deadline?.cancel()
        tcpConnections[ObjectIdentifier(connection)] = nil
        guard let session = connection.session, let source = TransportAddress(connection.remote),
            case .tcp(let routed) = session.sockets[source], routed === connection
        else { return }
        // Media for that address has nowhere to go now; consent expiry ends the session unless
        // the peer comes back on another pair.
        session.sockets[source] = nil
    }

    /// Writes and hands out everything the engine produced, then arms its timer.
    func drain(_ session: SessionHandle) {
        guard let channel else { return }
        var wrote = false
        var wroteTCP: [TCPConnection] = []
        loop: while true {
            switch session.engine.poll() {
            case .transmit(let transmit):
                switch session.sockets[transmit.destination] {
                case .udp(let address):
                    let buffer = channel.allocator.buffer(bytes: transmit.bytes)
                    channel.write(AddressedEnvelope(remoteAddress: address, data: buffer), promise: nil)
                    wrote = true
                case .tcp(let connection):
                    if connection.write(transmit.bytes) {
                        if !wroteTCP.contains(where: { $0 === connection }) { wroteTCP.append(connection) }
                    } else {
                        counters.droppedUnwritable += 1
                    }
                case nil:
                    continue
                }
            case .decode(let job):
                session.offload?.decode(job)
            case .infer(let job):
                session.offload?.infer(job)
            case .record(let item):
                session.offload?.record(item)
            case .forward(let packet):
                for viewer in session.viewers { input(.forwarded(packet), to: viewer) }
            case .event(let event):
                handle(event, of: session)
            case .timeout(let deadline):
                arm(session, at: deadline)
                break loop
            }
        }
        if wrote { channel.flush() }
        for connection in wroteTCP { connection.channel.flush() }
    }

    private func handle(_ event: SessionEvent, of session: SessionHandle) {
        switch event {
        case .addressAuthenticated(let address):
            // A NAT rebinding or a second candidate pair moves the address to this session.
            if case .udp(let socket) = session.sockets[address] { byAddress[socket] = (session, address) }
        case .connected:
            session.logger.info("connected")
            session.offload = session.makeOffload?()
            session.makeOffload = nil
            // A viewer joins mid-stream: its picture starts at the publisher's next key frame.
            if let publisher = session.publisher { input(.keyFrameRequest, to: publisher) }
        case .closed(let reason):
            session.logger.info("closed: \(reason)")
            unregister(session)
        case .keyFrameWanted:
            if let publisher = session.publisher { input(.keyFrameRequest, to: publisher) }
        case .frameFinished(_, let json, _, _):
            for viewer in session.viewers { input(.forwardedResult(json: json), to: viewer) }
        case .channelOpened:
            break
        }
        session.onEvent(event, session.engine.counters) { session.engine.summary }
    }

    private func unregister(_ session: SessionHandle) {
        let ufrag = session.engine.configuration.localUfrag
        if byUfrag[ufrag] === session {
            byUfrag[ufrag] = nil
            counters.add(session.engine.counters)
        }
        for route in session.sockets.values {
            switch route {
            case .udp(let socket) where byAddress[socket]?.session === session: byAddress[socket] = nil
            case .tcp(let connection): connection.channel.close(promise: nil)
            default: break
            }
        }
        session.offload?.close()
        session.offload = nil
        session.makeOffload = nil
        if let publisher = session.publisher {
            publisher.viewers.removeAll { $0 === session }
            publisher.engine.forwardsToViewers = !publisher.viewers.isEmpty
            session.publisher = nil
        }
        let viewers = session.viewers
        session.viewers = []
        for viewer in viewers {
            viewer.publisher = nil
            input(.close(.publisherClosed), to: viewer)
        }
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

/// Why a viewer could not be opened (``WebRTCServer/open(_:viewing:makeOffload:onEvent:)``).
public enum ViewerRefused: Error, Equatable, CustomStringConvertible {
    /// No live session has that id (or it is itself a viewer).
    case noSuchSession
    /// The session has as many viewers as it may.
    case tooManyViewers(limit: Int)

    public var description: String {
        switch self {
        case .noSuchSession: "no such session"
        case .tooManyViewers(let limit): "this session already has \(limit) viewers"
        }
    }
}

/// The ICE-TCP port could not be bound; the UDP one was, and is closed again.
public struct TCPBindFailure: Error, CustomStringConvertible {
    public let port: Int
    public let underlying: any Error
    public var description: String { "cannot bind the ICE-TCP port \(port): \(underlying)" }
}

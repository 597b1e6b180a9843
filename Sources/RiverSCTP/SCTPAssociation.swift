import CUsrsctp

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One SCTP association over DTLS (RFC 8261) carrying WebRTC data channels (RFC 8831, 8832),
/// implemented with usrsctp in AF_CONN mode: usrsctp never sees a socket of its own, it takes
/// the SCTP packets that arrived as DTLS application data through ``receive(_:)`` and gives
/// the packets to send to `output`, which the session encrypts with its DTLS endpoint.
///
/// **Threading.** An association belongs to one serial ``SCTPExecutor`` (the session's event
/// loop): create it there, call it there; `output` and ``onEvent`` run there; the class is not
/// `Sendable`. usrsctp calls back on whatever thread is inside it: the timer thread that drives
/// its clock (we start usrsctp without its own timer thread, see `UsrsctpRuntime` for why), its
/// iterator thread, or an owner's thread during `receive`/`send`. Those callbacks only copy packets into a locked
/// outbox and queue one job on the executor (`UsrsctpBridge`), so association state is never
/// touched concurrently; usrsctp's `void*` context is a registry key, not a pointer, so a late
/// callback after ``close()`` finds nothing instead of freed memory.
///
/// **Lifetime.** Both ends connect at once (SCTP copes with the collision, RFC 4960 §5.2.1), so
/// creating the association starts the handshake. Call ``close()`` when the session ends; an
/// abortive close frees usrsctp's association at once (``liveCount`` goes down).
public final class SCTPAssociation {
    public enum State: Sendable, Hashable {
        case connecting
        case connected
        case closed
    }

    /// Why an association ended.
    public enum CloseReason: Sendable, Hashable {
        /// ``close()`` was called.
        case local
        /// The peer shut the association down or aborted it.
        case peerClosed
        /// usrsctp gave up (retransmissions exhausted, or the handshake failed).
        case communicationLost
    }

    /// What the association reports to its owner, on the owner's executor.
    public enum Event {
        /// The handshake finished; channels we opened before are open now. (Channels we open
        /// later are open at once and not announced.)
        case connected
        /// The peer opened a channel (we received DATA_CHANNEL_OPEN and answered with the ACK).
        case channelOpened(DataChannel)
        case message(DataChannel, DataChannelMessage)
        /// ``DataChannel/bufferedAmount`` fell to ``DataChannel/bufferedAmountLowThreshold``.
        case bufferedAmountLow(DataChannel)
        /// Both directions of the channel's stream were reset; its id is free again.
        case channelClosed(DataChannel)
        /// The association ended for a reason other than our own ``close()``; every channel was
        /// reported closed just before.
        case closed(CloseReason)
    }

    /// Errors creating the association.
    public enum SetupError: Error, Sendable, Hashable, CustomStringConvertible {
        case usrsctp(call: String, errno: Int32)

        public var description: String {
            switch self {
            case .usrsctp(let call, let code): "usrsctp \(call) failed: \(String(cString: strerror(code)))"
            }
        }
    }

    public let configuration: SCTPConfiguration
    public internal(set) var state: State = .connecting
    public internal(set) var statistics = SCTPAssociationStatistics()
    /// Receives events; set it right after creating the association.
    public var onEvent: ((Event) -> Void)?

    /// Channels by stream id, including closing ones until both directions are reset.
    public internal(set) var channels: [UInt16: DataChannel] = [:] {
        didSet { UsrsctpRuntime.shared.adjustChannelCount(by: channels.count - oldValue.count) }
    }

    /// While true, incoming messages stay in usrsctp's receive buffer, whose shrinking window
    /// (RFC 4960 §6.2) slows the peer down: the receive side of backpressure, e.g. for an echo
    /// that has to wait for ``Event/bufferedAmountLow(_:)``.
    public var isReadingPaused = false {
        didSet { if oldValue && !isReadingPaused { service() } }
    }

    let output: ([UInt8]) -> Void
    let bridge: UsrsctpBridge
    var socket: OpaquePointer?
    var sendQueue = OutgoingMessageQueue()
    var reassembler: MessageReassembler
    var readBuffer = [UInt8](repeating: 0, count: 64 << 10)
    var notificationBuffer: [UInt8] = []
    var checkScratch: [UInt8] = []
    /// Outbound streams agreed in the handshake; ids at or above are unusable.
    var outboundStreams: UInt16
    var servicing = false
    /// Set when work arrives while ``service()`` runs (an event handler resumed reading, say), so
    /// that it makes another pass instead of leaving data in usrsctp until the next upcall.
    var serviceAgain = false
    var flushingSends = false

    /// usrsctp's `void*` for this association: the bridge's key, never a pointer.
    var context: UnsafeMutableRawPointer { UnsafeMutableRawPointer(bitPattern: bridge.key)! }

    /// Starts the process-wide usrsctp stack (its timer and iterator threads, its tables) now
    /// rather than at the first association; `river serve` calls it at start-up. Idempotent.
    public static func startStack() {
        _ = UsrsctpRuntime.shared
    }

    /// Associations in this process whose usrsctp socket is still open.
    public static var liveCount: Int { UsrsctpRuntime.shared.registeredCount }

    /// Data channels in this process, open or closing, over all associations.
    public static var channelCount: Int { UsrsctpRuntime.shared.channelCount }

    /// usrsctp's own gauge of associations in the ESTABLISHED state (RFC 3873 sctpCurrEstab),
    /// process-wide.
    public static var usrsctpEstablishedCount: Int {
        _ = UsrsctpRuntime.shared
        var stats = sctpstat()
        usrsctp_get_stat(&stats)
        return Int(stats.sctps_currestab)
    }

    /// Creates the usrsctp socket and starts the handshake.
    ///
    /// - Parameters:
    ///   - executor: the serial context that owns this association and runs `output`/events.
    ///   - output: takes each outgoing SCTP packet, to be sent as DTLS application data.
    public init(
        configuration: SCTPConfiguration, executor: any SCTPExecutor,
        output: @escaping ([UInt8]) -> Void
    ) throws(SetupError) {
        self.configuration = configuration
        self.output = output
        self.reassembler = MessageReassembler(maxMessageSize: configuration.maxMessageSize)
        self.outboundStreams = configuration.streams
        self.bridge = UsrsctpRuntime.shared.register(executor: executor)
        bridge.association = self
        do {
            try openSocket()
        } catch {
            teardown(reason: .local, notify: false)
            throw error
        }
    }

    deinit {
        if let socket {
            usrsctp_set_upcall(socket, nil, nil)
            usrsctp_close(socket)
            usrsctp_deregister_address(context)
            UsrsctpRuntime.shared.unregister(bridge.key)
        }
        UsrsctpRuntime.shared.adjustChannelCount(by: -channels.count)
    }

    /// Feeds one SCTP packet: the plaintext of a DTLS application-data record from the peer.
    /// Packets that fail the length, port or checksum check are dropped and counted.
    public func receive(_ packet: UnsafeRawBufferPointer) {
        guard socket != nil else { return }
        if SCTPPacketCheck.validate(packet, localPort: configuration.localPort, scratch: &checkScratch) != nil
        {
            statistics.malformedPackets += 1
            return
        }
        usrsctp_conninput(context, packet.baseAddress, packet.count, 0)
        service()
    }

    public func receive(_ packet: [UInt8]) {
        packet.withUnsafeBytes { receive($0) }
    }

    /// Opens a channel of our own: picks a free stream id of our parity and sends
    /// DATA_CHANNEL_OPEN (RFC 8832 §6). The channel is usable at once; messages sent before the
    /// association is up are queued.
    public func openChannel(_ parameters: DataChannelParameters) throws(DataChannelError) -> DataChannel {
        guard socket != nil else { throw .associationClosed }
        guard channels.count < configuration.maxChannels, let id = freeStreamID() else {
            throw .noStreamAvailable
        }
        let channel = DataChannel(
            id: id, parameters: parameters, openedByPeer: false,
            state: state == .connected ? .open : .connecting, association: self,
            limit: configuration.bufferedAmountLimit, lowThreshold: configuration.bufferedAmountLowThreshold)
        channels[id] = channel
        enqueueControl(.open(parameters), on: channel)
        flushSends()
        flushOutput()
        return channel
    }

    /// Opens a channel labelled `label`, ordered and reliable unless told otherwise.
    public func openChannel(label: String) throws(DataChannelError) -> DataChannel {
        try openChannel(DataChannelParameters(label: label))
    }

    /// Open and closing channels.
    public var openChannelCount: Int { channels.count }

    /// Ends the association at once with an ABORT (SO_LINGER 0), which the session sends out
    /// through `output` before this returns. No events are reported for a local close.
    public func close() {
        teardown(reason: .local, notify: false)
    }

    /// Runs the work usrsctp's callbacks queued: incoming data, freed send space, packets out.
    func runQueuedWork() {
        service()
    }

    func service() {
        guard !servicing else {
            serviceAgain = true
            return
        }
        servicing = true
        defer { servicing = false }
        repeat {
            serviceAgain = false
            drainReads()
            flushSends()
            flushOutput()
        } while serviceAgain && socket != nil
    }

    /// Hands usrsctp's packets to `output`, in order, including ones produced while doing so.
    func flushOutput() {
        while true {
            let packets = bridge.takeOutput()
            if packets.isEmpty { return }
            for packet in packets { output(packet) }
        }
    }

    func emit(_ event: Event) {
        onEvent?(event)
    }

    /// Closes the socket (once), frees every channel and optionally reports it.
    func teardown(reason: CloseReason, notify: Bool) {
        if let socket {
            self.socket = nil
            usrsctp_set_upcall(socket, nil, nil)
            usrsctp_close(socket)
            usrsctp_deregister_address(context)
        }
        if state == .closed { return }
        state = .closed
        // Unregister only after usrsctp_close, so the ABORT it produced is still in our outbox.
        UsrsctpRuntime.shared.unregister(bridge.key)
        flushOutput()
        sendQueue.removeAll()
        let closed = channels.values.sorted { $0.id < $1.id }
        channels.removeAll()
        for channel in closed {
            channel.state = .closed
            channel.bufferedAmount = 0
            channel.queuedMessages = 0
        }
        guard notify else { return }
        for channel in closed { emit(.channelClosed(channel)) }
        emit(.closed(reason))
    }

    /// The lowest free stream id of our parity below the negotiated stream count.
    func freeStreamID() -> UInt16? {
        var id: UInt16 = configuration.role == .server ? 1 : 0
        while id < outboundStreams {
            if channels[id] == nil { return id }
            id += 2
        }
        return nil
    }

    /// Whether the peer may open a channel on `id` (the parity opposite to ours).
    func isPeerStreamID(_ id: UInt16) -> Bool {
        (id % 2 == 1) == (configuration.role == .client)
    }
}

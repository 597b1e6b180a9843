import Logging
import NIOCore
import RiverDTLS
import RiverICE
import RiverRTP
import RiverSCTP
import RiverSRTP

/// What a ``PeerConnection`` tells its owner, always on the server's event loop.
public enum PeerConnectionEvent {
    /// ICE, DTLS and SRTP are up: media can flow.
    case connected
    /// A decrypted RTP packet from the peer.
    case rtp(RTPPacket)
    /// A decrypted RTCP compound packet from the peer (parse it with RiverRTP's RTCP types).
    case rtcp([UInt8])
    /// DTLS application data: SCTP packets for data channels (RFC 8261).
    case applicationData([UInt8])
    /// The session ended and its demux entries, DTLS and SRTP state are gone.
    case closed(PeerConnection.CloseReason)
}

/// One WebRTC session on the shared UDP port: ICE-lite (RFC 8445 §2.5) → DTLS-SRTP server
/// (RFC 5764) → SRTP/SRTCP (RFC 3711) → RTP/RTCP.
///
/// `@unchecked Sendable`: the handle may be passed between tasks (signalling creates it, the
/// server's event loop runs it), but every mutable field is touched only on ``eventLoop``; the
/// public methods that mutate assert that with `preconditionInEventLoop`.
public final class PeerConnection: @unchecked Sendable {
    public enum CloseReason: Sendable, Equatable {
        /// The owner called ``close()`` (e.g. WHIP `DELETE`).
        case local
        /// The peer sent DTLS close_notify.
        case remoteClosed
        /// No valid connectivity check from the peer for the consent timeout (RFC 7675 §5.1).
        case consentExpired
        /// The DTLS handshake failed, e.g. the certificate did not match `a=fingerprint`.
        case dtlsFailed(String)
        /// The UDP server shut down.
        case serverShutdown
    }

    public enum State: Sendable, Equatable {
        case new, connected
        case closed(CloseReason)
    }

    /// Per-session counters (read on the event loop).
    public struct Counters: Sendable, Equatable {
        public var rtpReceived = 0
        public var rtcpReceived = 0
        public var rtpSent = 0
        public var rtcpSent = 0
        /// Binding requests answered / refused (bad integrity, wrong username).
        public var stunAnswered = 0
        public var stunRejected = 0
        /// SRTP/SRTCP that failed authentication, replay or parsing; DTLS input after failure.
        public var dropped = 0
    }

    public let id: String
    public let localUfrag: String
    public let localPassword: String
    public let remoteUfrag: String
    public let remoteFingerprint: String
    public let eventLoop: EventLoop
    var logger: Logger

    // Event-loop confined state.
    /// Called on ``eventLoop`` for every event; set it before the server sees the first datagram.
    public var onEvent: ((PeerConnectionEvent) -> Void)?
    public private(set) var state: State = .new
    public private(set) var counters = Counters()
    /// The nominated address (USE-CANDIDATE), else the first one that passed a connectivity check.
    public private(set) var selectedAddress: SocketAddress?
    /// Every address that authenticated with our ICE credentials; the demux routes them here.
    var authenticatedAddresses: Set<SocketAddress> = []
    private var dtls: DTLSEndpoint?
    private var srtp: SRTPSession?
    private var ice: ICELiteResponder
    weak var server: WebRTCServer?

    /// Data channels (RFC 8831): set before DTLS connects, and an SCTP association runs over this
    /// connection's DTLS once it does (RFC 8261).
    public var sctpConfiguration: SCTPConfiguration?
    /// The association, from DTLS `connected` until the session closes.
    public private(set) var sctp: SCTPAssociation?
    /// Called on the event loop when ``sctp`` was created; set its `onEvent` there.
    public var onSCTPAssociation: ((SCTPAssociation) -> Void)?

    init(
        id: String, localUfrag: String, localPassword: String, remoteUfrag: String,
        remoteFingerprint: String, consentTimeout: Duration, eventLoop: EventLoop, logger: Logger
    ) throws(DTLSError) {
        self.id = id
        self.localUfrag = localUfrag
        self.localPassword = localPassword
        self.remoteUfrag = remoteUfrag
        self.remoteFingerprint = remoteFingerprint
        self.eventLoop = eventLoop
        self.logger = logger
        self.logger[metadataKey: "session"] = "\(id)"
        self.ice = ICELiteResponder(
            localUfrag: localUfrag, localPwd: localPassword, remoteUfrag: remoteUfrag,
            consentTimeout: consentTimeout,
            now: .now)
        self.dtls = try DTLSEndpoint(role: .server, expectedPeerFingerprint: remoteFingerprint)
    }

    // MARK: Owner API (event loop only)

    /// Protects and sends one RTP packet to the selected address; dropped before `connected`.
    public func send(rtp packet: RTPPacket) {
        eventLoop.preconditionInEventLoop()
        guard state == .connected, let srtp, let address = selectedAddress else { return }
        do {
            server?.send(try srtp.protectRTP(packet.serialized()), to: address)
            counters.rtpSent += 1
        } catch {
            logger.debug("SRTP protect failed: \(error)")
        }
    }

    /// Protects and sends one serialized RTCP compound packet.
    public func send(rtcp compound: [UInt8]) {
        eventLoop.preconditionInEventLoop()
        guard state == .connected, let srtp, let address = selectedAddress else { return }
        do {
            server?.send(try srtp.protectRTCP(compound), to: address)
            counters.rtcpSent += 1
        } catch {
            logger.debug("SRTCP protect failed: \(error)")
        }
    }

    /// Sends application data (an SCTP packet, RFC 8261) in one DTLS record.
    public func send(applicationData data: [UInt8]) throws(DTLSError) {
        eventLoop.preconditionInEventLoop()
        guard let dtls else { throw .notConnected }
        try dtls.send(data)
        flushDTLS(to: nil)
    }

    /// Ends the session: sends DTLS close_notify, frees DTLS and SRTP, leaves the demux.
    public func close() {
        eventLoop.preconditionInEventLoop()
        close(reason: .local)
    }

    // MARK: Datagrams from the server's demux

    /// A STUN message whose USERNAME names this session. Returns true when it authenticated, so
    /// the demux may route the source address here.
    func receiveSTUN(_ bytes: [UInt8], from address: SocketAddress) -> Bool {
        if case .closed = state { return false }
        return answerSTUN(bytes, from: address)
    }

    private func answerSTUN(_ bytes: [UInt8], from address: SocketAddress) -> Bool {
        guard let source = TransportAddress(address),
            let reply = ice.handle(bytes, from: source, now: .now)
        else {
            counters.stunRejected += 1
            return false
        }
        counters.stunAnswered += 1
        authenticatedAddresses.insert(address)
        // Media follows the nominated pair (USE-CANDIDATE); before nomination, the first address
        // that passed a check, so later checks on other pairs do not make media hop around.
        if let nominated = reply.newlySelected { logger.debug("nominated \(nominated)") }
        if reply.newlySelected != nil || selectedAddress == nil { selectedAddress = address }
        server?.send(reply.response, to: address)
        return true
    }

    /// DTLS, RTP or RTCP from an address that passed a connectivity check.
    func receive(_ bytes: [UInt8], kind: DatagramKind, from address: SocketAddress) {
        switch kind {
        case .dtls: receiveDTLS(bytes, from: address)
        case .rtp:
            guard let srtp else { return drop() }
            guard let plain = try? srtp.unprotectRTP(bytes), let packet = try? RTPPacket(parsing: plain)
            else {
                return drop()
            }
            counters.rtpReceived += 1
            onEvent?(.rtp(packet))
        case .rtcp:
            guard let srtp, let plain = try? srtp.unprotectRTCP(bytes) else { return drop() }
            counters.rtcpReceived += 1
            onEvent?(.rtcp(plain))
        default: drop()
        }
    }

    private func drop() {
        counters.dropped += 1
    }

    private func receiveDTLS(_ bytes: [UInt8], from address: SocketAddress) {
        guard let dtls else { return drop() }
        let events = dtls.receive(bytes)
        flushDTLS(to: address)
        handle(events)
    }

    private func flushDTLS(to address: SocketAddress?) {
        guard let dtls, let address = address ?? selectedAddress else { return }
        for datagram in dtls.takeOutgoing() { server?.send(datagram, to: address) }
    }

    private func handle(_ events: [DTLSEndpoint.Event]) {
        for event in events {
            switch event {
            case .connected(let keys):
                do {
                    srtp = try SRTPSession(
                        profileID: keys.profileID, localKeyAndSalt: keys.localKeyAndSalt,
                        remoteKeyAndSalt: keys.remoteKeyAndSalt)
                    state = .connected
                    logger.info("connected (SRTP profile 0x\(String(keys.profileID, radix: 16)))")
                    onEvent?(.connected)
                    startSCTP()
                } catch {
                    close(reason: .dtlsFailed("\(error)"))
                }
            case .applicationData(let data):
                // With an association the data is its SCTP packets; otherwise the owner's.
                if let sctp { sctp.receive(data) } else { onEvent?(.applicationData(data)) }
            case .failed(let error):
                logger.warning("DTLS failed: \(error)")
                close(reason: .dtlsFailed(error.description))
            case .closed:
                close(reason: .remoteClosed)
            }
            if case .closed = state { return }
        }
    }

    private func startSCTP() {
        guard let configuration = sctpConfiguration, sctp == nil else { return }
        do {
            let association = try SCTPAssociation(
                configuration: configuration, executor: EventLoopSCTPExecutor(eventLoop: eventLoop)
            ) { [weak self] packet in self?.sendSCTP(packet) }
            sctp = association
            onSCTPAssociation?(association)
        } catch {
            logger.warning("no data channels: \(error)")
        }
    }

    /// One SCTP packet out as one DTLS application-data record.
    private func sendSCTP(_ packet: [UInt8]) {
        guard dtls != nil else { return }
        do {
            try send(applicationData: packet)
        } catch {
            logger.debug("DTLS send of an SCTP packet failed: \(error)")
        }
    }

    /// Called by the server every tick: DTLS retransmissions and consent expiry.
    func tick(now: ContinuousClock.Instant) {
        if case .closed = state { return }
        if ice.consentExpired(at: now) {
            logger.info("consent expired: no valid connectivity check for \(ice.consent.timeout)")
            close(reason: .consentExpired)
            return
        }
        guard let dtls, let due = dtls.nextTimeout(now: now), due <= now else { return }
        let events = dtls.handleTimeout(now: now)
        flushDTLS(to: nil)
        handle(events)
    }

    func close(reason: CloseReason) {
        if case .closed = state { return }
        // The association's ABORT still goes out through DTLS.
        sctp?.close()
        sctp = nil
        onSCTPAssociation = nil
        if let dtls {
            dtls.close()
            flushDTLS(to: nil)
        }
        dtls = nil
        srtp = nil
        state = .closed(reason)
        logger.info("closed: \(reason)")
        server?.unregister(self)
        let handler = onEvent
        onEvent = nil  // break owner ↔ connection cycles
        handler?(.closed(reason))
    }
}
